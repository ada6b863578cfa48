use async_graphql::{Context, ID, Object};
use diesel_async::AsyncConnection;

use crate::{
    db::enums::Role,
    domain::{
        accounts,
        audit::{Change, Subject},
    },
    error::AppError,
    graphql::{
        conn, current_user, error::ApiResult, guards::RoleGuard, parse_id, types::account::User,
    },
};

#[derive(Default)]
pub struct AdminUserMutation;

#[Object]
impl AdminUserMutation {
    /// Makes a user an admin or a customer (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
    ) -> ApiResult<User> {
        let actor = current_user(ctx)?.id();
        let user_id = parse_id("userId", &user_id)?;
        let mut conn = conn(ctx).await?;
        let row = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::User, user_id).await?;
                let row = accounts::set_role(conn, actor, user_id, role).await?;
                change.finish(conn, actor, "user.set_role", None).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(User(row))
    }

    /// Gives a reseller a discount on every list price, in basis points (1000 =
    /// 10.00%), in GraphQL and API v2 alike; a price never goes below the provider's
    /// cost (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_user_discount(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        discount_bps: i32,
    ) -> ApiResult<User> {
        let actor = current_user(ctx)?.id();
        let user_id = parse_id("userId", &user_id)?;
        let mut conn = conn(ctx).await?;
        let row = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::User, user_id).await?;
                let row = accounts::set_discount(conn, user_id, discount_bps).await?;
                change
                    .finish(conn, actor, "user.set_discount", None)
                    .await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(User(row))
    }

    /// Suspends a user: every request they make is refused until unbanned.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_ban_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> ApiResult<User> {
        let actor = current_user(ctx)?.id();
        let user_id = parse_id("userId", &user_id)?;
        let mut conn = conn(ctx).await?;
        let row = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::User, user_id).await?;
                let row = accounts::set_banned(conn, actor, user_id, Some(&reason)).await?;
                change
                    .finish(conn, actor, "user.ban", Some(&reason))
                    .await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(User(row))
    }

    /// Lifts a ban (admins); the user can sign in and order again.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_unban_user(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<User> {
        let actor = current_user(ctx)?.id();
        let user_id = parse_id("userId", &user_id)?;
        let mut conn = conn(ctx).await?;
        let row = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::User, user_id).await?;
                let row = accounts::set_banned(conn, actor, user_id, None).await?;
                change.finish(conn, actor, "user.unban", None).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(User(row))
    }
}
