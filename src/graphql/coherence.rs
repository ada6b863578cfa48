//! Read-your-writes for the caches (`cache`): a mutation an admin makes through
//! this process empties the catalogue and credential caches as soon as it has
//! committed, instead of when PostgreSQL's notice of it arrives a moment later.
//! Admin mutations are rare, so emptying everything costs nothing worth
//! tracking per mutation; other processes still learn of the change from the
//! notice. A customer's own credential changes (sign-out, revoking a key,
//! settings) forget that customer in their resolvers.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};

use crate::{app::AppState, auth::Viewer};

#[derive(Default)]
pub struct CacheCoherence;

impl ExtensionFactory for CacheCoherence {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CacheCoherence)
    }
}

#[async_trait::async_trait]
impl Extension for CacheCoherence {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let admin_mutation = info.parent_type == "MutationRoot"
            && ctx.data_opt::<Viewer>().is_some_and(Viewer::is_admin);
        let result = next.run(ctx, info).await;
        if admin_mutation && let Ok(state) = ctx.data::<AppState>() {
            state.caches.clear();
        }
        result
    }
}
