//! Read-your-writes for the caches (`cache`): a mutation an admin makes through
//! this process empties the catalogue and credential caches as soon as it has
//! committed, instead of when PostgreSQL's notice of it arrives a moment later.
//! Admin mutations are rare, so emptying everything costs nothing worth
//! tracking per mutation; other processes still learn of the change from the
//! notice. A customer's own credential changes (sign-out, revoking a key,
//! settings) forget that customer in their resolvers.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery},
    parser::types::ExecutableDocument,
};

use crate::{app::AppState, auth::Viewer};

#[derive(Default)]
pub struct CacheCoherence;

impl ExtensionFactory for CacheCoherence {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CoherenceExtension::default())
    }
}

/// One per request; looks at the document once rather than at every field.
#[derive(Default)]
struct CoherenceExtension {
    mutation: AtomicBool,
}

#[async_trait::async_trait]
impl Extension for CoherenceExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.mutation
            .store(super::has_mutation(&document), Ordering::Relaxed);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        // Every write of the operation has committed (or rolled back) by now.
        if self.mutation.load(Ordering::Relaxed)
            && ctx
                .data_opt::<Viewer>()
                .is_some_and(|v| v.require_staff().is_ok())
            && let Ok(state) = ctx.data::<AppState>()
        {
            state.caches.clear();
        }
        response
    }
}
