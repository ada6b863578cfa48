//! The caller's own account: `me` (with a fresh balance) and their API keys.

use async_graphql::{Context, Object};

use crate::{
    auth,
    db::users::UserRow,
    error::AppError,
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        types::account::{ApiKey, User},
        viewer,
    },
};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user, or null for anonymous requests.
    async fn me(&self, ctx: &Context<'_>) -> GraphqlResult<Option<User>> {
        match &viewer(ctx).0 {
            None => Ok(None),
            // Read afresh: the credential (perhaps from the cache) does not carry a
            // current balance.
            Some(_) => {
                let id = current_user(ctx)?.id();
                let user = UserRow::find(&mut *conn(ctx).await?, id).await?;
                Ok(Some(User(user.ok_or(AppError::unauthenticated())?)))
            }
        }
    }

    /// The caller's API keys, newest first (prefixes only).
    #[graphql(guard = "RoleGuard::User")]
    async fn my_api_keys(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<ApiKey>> {
        let user = current_user(ctx)?;
        let mut conn = conn(ctx).await?;
        Ok(auth::list_api_keys(&mut conn, user.id())
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }
}
