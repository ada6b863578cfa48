//! Customer levels: admins define them and may set a user's level by hand.

use async_graphql::{Context, ID, Object};

use crate::{
    domain::{audit::Subject, levels},
    graphql::{
        admin_write, conn,
        error::GraphqlResult,
        guards::RoleGuard,
        load,
        loaders::UserId,
        parse_id, parse_opt_id,
        types::{
            account::User,
            levels::{CustomerLevel, CustomerLevelInput},
        },
    },
};

#[derive(Default)]
pub struct LevelMutation;

#[Object]
impl LevelMutation {
    /// Adds a customer level.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_create_customer_level(
        &self,
        ctx: &Context<'_>,
        input: CustomerLevelInput,
    ) -> GraphqlResult<CustomerLevel> {
        let row = admin_write(ctx, "customer_level.create")?
            .create(
                &mut *conn(ctx).await?,
                Subject::CustomerLevel,
                async |conn| levels::save(conn, None, input.into()).await,
            )
            .await?;
        Ok(CustomerLevel(row))
    }

    /// Rewrites a level; its customers' discount follows at once.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_update_customer_level(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CustomerLevelInput,
    ) -> GraphqlResult<CustomerLevel> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "customer_level.update")?
            .change(
                &mut *conn(ctx).await?,
                Subject::CustomerLevel,
                id,
                async |conn| levels::save(conn, Some(id), input.into()).await,
            )
            .await?;
        Ok(CustomerLevel(row))
    }

    /// Sets a user's level by hand (money moving may raise it, never lower it);
    /// null gives them back the level their money earns.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_set_user_level(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        level_id: Option<ID>,
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let level_id = parse_opt_id("levelId", level_id.as_ref())?;
        admin_write(ctx, "user.set_level")?
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| levels::set_for_user(conn, user_id, level_id).await,
            )
            .await?;
        Ok(User(load(ctx, UserId(user_id), "user").await?))
    }
}
