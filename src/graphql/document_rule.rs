//! The shape of an extension that reads the parsed document once, may refuse it,
//! and then acts on the answer (no mutations over the WebSocket, the cache
//! coherence after an admin's mutation, the cache hint of an answer): a
//! [`DocumentRule`] says what it reads and what it does, and
//! [`ByDocument`] runs it, one flag per request rather than a look at every field.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery},
    parser::types::ExecutableDocument,
};

pub trait DocumentRule: Send + Sync + Clone + 'static {
    /// What the rule needs to know of the document; an error refuses it.
    fn read(&self, ctx: &ExtensionContext<'_>, document: &ExecutableDocument)
    -> ServerResult<bool>;
    /// Runs once the operation has executed (every write committed or rolled
    /// back), with what `read` found.
    fn after(&self, _ctx: &ExtensionContext<'_>, _found: bool, _response: &mut Response) {}
}

/// The schema extension running `R`.
pub struct ByDocument<R>(pub R);

impl<R: DocumentRule> ExtensionFactory for ByDocument<R> {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RuleExtension {
            rule: self.0.clone(),
            found: AtomicBool::new(false),
        })
    }
}

struct RuleExtension<R> {
    rule: R,
    found: AtomicBool,
}

#[async_trait::async_trait]
impl<R: DocumentRule> Extension for RuleExtension<R> {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.found
            .store(self.rule.read(ctx, &document)?, Ordering::Relaxed);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let found = self.found.load(Ordering::Relaxed);
        self.rule.after(ctx, found, &mut response);
        response
    }
}
