//! Admin writes to user accounts: role, discount, ban and unban, each audited.

use async_graphql::{Context, ID, Object};

use crate::{
    db::enums::Role,
    domain::{accounts, audit::Subject},
    graphql::{
        admin_write, conn, error::GraphqlResult, guards::RoleGuard, parse_id, types::account::User,
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
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let write = admin_write(ctx, "user.set_role")?;
        let row = write
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| accounts::set_role(conn, write.admin_id, user_id, role).await,
            )
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
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let row = admin_write(ctx, "user.set_discount")?
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| accounts::set_discount(conn, user_id, discount_bps).await,
            )
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
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let write = admin_write(ctx, "user.ban")?.because(&reason);
        let row = write
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| {
                    accounts::set_banned(conn, write.admin_id, user_id, Some(&reason)).await
                },
            )
            .await?;
        Ok(User(row))
    }

    /// Lifts a ban (admins); the user can sign in and order again.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_unban_user(&self, ctx: &Context<'_>, user_id: ID) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let write = admin_write(ctx, "user.unban")?;
        let row = write
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| accounts::set_banned(conn, write.admin_id, user_id, None).await,
            )
            .await?;
        Ok(User(row))
    }
}
