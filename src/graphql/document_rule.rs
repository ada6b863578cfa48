//! The shape of an extension that reads the parsed document once, may refuse it,
//! and then acts on the answer (no mutations over the WebSocket, the cache
//! coherence after an admin's mutation, the cache hint of an answer): a
//! [`DocumentRule`] says what it reads and what it does, and
//! [`ByDocument`] runs them all in one extension, one flag per rule and request
//! rather than a look at every field.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery},
    parser::types::ExecutableDocument,
};

pub trait DocumentRule: Send + Sync + 'static {
    /// What the rule needs to know of the document; an error refuses it.
    fn read(&self, ctx: &ExtensionContext<'_>, document: &ExecutableDocument)
    -> ServerResult<bool>;
    /// Runs once the operation has executed (every write committed or rolled
    /// back), with what `read` found.
    fn after(&self, _ctx: &ExtensionContext<'_>, _found: bool, _response: &mut Response) {}
}

/// The schema extension running the rules, all in one: every extension on the
/// schema is a step (a boxed future) in the resolution of every field of every
/// answer, so the rules share one rather than taking one each (three extensions
/// cost a customer's 100-row page a tenth of its throughput).
pub struct ByDocument(Vec<Arc<dyn DocumentRule>>);

impl ByDocument {
    /// The rules, read in this order; the first refusal refuses the document.
    pub fn new(rules: Vec<Arc<dyn DocumentRule>>) -> ByDocument {
        ByDocument(rules)
    }
}

impl ExtensionFactory for ByDocument {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RulesExtension {
            rules: self.0.clone(),
            found: self.0.iter().map(|_| AtomicBool::new(false)).collect(),
        })
    }
}

/// One per request: the rules and what each found.
struct RulesExtension {
    rules: Vec<Arc<dyn DocumentRule>>,
    found: Vec<AtomicBool>,
}

#[async_trait::async_trait]
impl Extension for RulesExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        for (rule, found) in self.rules.iter().zip(&self.found) {
            found.store(rule.read(ctx, &document)?, Ordering::Relaxed);
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        for (rule, found) in self.rules.iter().zip(&self.found) {
            rule.after(ctx, found.load(Ordering::Relaxed), &mut response);
        }
        response
    }
}
