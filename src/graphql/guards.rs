//! Role guards, attached to every field that needs a signed-in user or an admin.

use async_graphql::{Context, Guard};

use super::{error::GraphqlError, viewer};

pub enum RoleGuard {
    /// Any signed-in user who is not banned.
    User,
    /// An admin who is not banned.
    Admin,
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = viewer(ctx);
        let result = match self {
            RoleGuard::User => viewer.require_user().map(|_| ()),
            RoleGuard::Admin => viewer.require_admin().map(|_| ()),
        };
        result.map_err(|e| GraphqlError::from(e).into())
    }
}
