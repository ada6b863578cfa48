//! Read-your-writes for the caches (`cache`): a mutation an admin makes through
//! this process empties the catalogue and credential caches as soon as it has
//! committed, instead of when PostgreSQL's notice of it arrives a moment later.
//! Admin mutations are rare, so emptying everything costs nothing worth
//! tracking per mutation; other processes still learn of the change from the
//! notice. A customer's own credential changes (sign-out, revoking a key,
//! settings) forget that customer in their resolvers.

use async_graphql::{
    Response, ServerResult, extensions::ExtensionContext, parser::types::ExecutableDocument,
};

use super::document_rule::DocumentRule;
use crate::{app::AppState, auth::Viewer};

/// Looks at the document once (is there a mutation?) rather than at every field.
#[derive(Default, Clone)]
pub struct CacheCoherence;

impl DocumentRule for CacheCoherence {
    fn read(&self, _: &ExtensionContext<'_>, document: &ExecutableDocument) -> ServerResult<bool> {
        Ok(super::has_mutation(document))
    }

    fn after(&self, ctx: &ExtensionContext<'_>, mutation: bool, _: &mut Response) {
        if mutation
            && ctx
                .data_opt::<Viewer>()
                .is_some_and(|v| v.require_staff().is_ok())
            && let Ok(state) = ctx.data::<AppState>()
        {
            state.caches.clear();
        }
    }
}
