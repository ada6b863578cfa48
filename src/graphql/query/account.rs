//! The caller's own account: `me` (with a fresh balance), their API keys,
//! sessions and sign-in history; an admin's view of a user's sign-ins.

use async_graphql::{Context, ID, Object};

use crate::{
    auth::{self, Credential},
    db::users::UserRow,
    domain::accounts::sign_in,
    error::AppError,
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        pagination::{Page, keyset_args, keyset_connection, list_complexity},
        parse_id,
        types::account::{ApiKey, Session, SignInAttempt, StaffRole, User},
        viewer,
    },
};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The OAuth client id a front end gives Google Identity Services for the
    /// "Sign in with Google" button (its ID token goes to `signInWithGoogle`);
    /// null while Google sign-in is off.
    #[graphql(cache_control(max_age = 60))]
    async fn google_client_id(&self, ctx: &Context<'_>) -> Option<String> {
        crate::graphql::state(ctx)
            .config
            .auth
            .google_client_id
            .clone()
    }

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

    /// The caller's sessions that still work, most recently used first.
    #[graphql(guard = "RoleGuard::User")]
    async fn my_sessions(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Session>> {
        let user = current_user(ctx)?;
        let current = match user.credential {
            Credential::Session(id) => Some(id),
            Credential::ApiKey(_) => None,
        };
        let rows = sign_in::sessions(&mut *conn(ctx).await?, user.id()).await?;
        Ok(rows
            .into_iter()
            .map(|row| Session {
                current: Some(row.id) == current,
                row,
            })
            .collect())
    }

    /// The caller's sign-in attempts (kept `SIGN_IN_HISTORY_DAYS`), newest first.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_sign_ins(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<SignInAttempt>> {
        let user = current_user(ctx)?;
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = sign_in::history(&mut *conn(ctx).await?, user.id(), page).await?;
        Ok(keyset_connection(rows, |r| r.id, SignInAttempt))
    }

    /// The staff roles and their permissions.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Staff)")]
    async fn admin_staff_roles(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<StaffRole>> {
        let roles = crate::domain::accounts::staff_roles::list(&mut *conn(ctx).await?).await?;
        Ok(roles.into_iter().map(StaffRole).collect())
    }

    /// A user's sign-in attempts, newest first.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_user_sign_ins(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<SignInAttempt>> {
        let user_id = parse_id("userId", &user_id)?;
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = sign_in::history(&mut *conn(ctx).await?, user_id, page).await?;
        Ok(keyset_connection(rows, |r| r.id, SignInAttempt))
    }
}
