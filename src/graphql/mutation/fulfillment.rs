use async_graphql::{Context, ID, Object};
use diesel_async::AsyncConnection;

use crate::{
    domain::{
        audit::{Change, Subject},
        fulfillment,
        notifications::{self, Audience},
    },
    error::AppError,
    graphql::{
        conn, current_user, error::ApiResult, guards::RoleGuard, parse_id, types::orders::Order,
    },
};

#[derive(Default)]
pub struct FulfillmentMutation;

#[Object]
impl FulfillmentMutation {
    /// Settles an order in NEEDS_REVIEW after checking the provider: give the
    /// provider's order id if it has the order (it is synced from then on), or leave
    /// it out to send the order again.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_resolve_order_review(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        provider_order_id: Option<String>,
    ) -> ApiResult<Order> {
        let admin = current_user(ctx)?.id();
        let order_id = parse_id("orderId", &order_id)?;
        let mut conn = conn(ctx).await?;
        let order = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::Order, order_id).await?;
                let order =
                    fulfillment::resolve_review(conn, order_id, provider_order_id.as_deref())
                        .await?;
                change
                    .finish(conn, admin, "order.resolve_review", None)
                    .await?;
                Ok::<_, AppError>(order)
            })
            .await?;
        Ok(Order(order))
    }

    /// Marks the caller's notifications (or, for admins, admin notifications) read.
    #[graphql(guard = "RoleGuard::User")]
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        #[graphql(default = false)] admin_feed: bool,
    ) -> ApiResult<i32> {
        let user = current_user(ctx)?;
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<ApiResult<Vec<_>>>()?;
        let audience = if admin_feed && user.is_admin() {
            Audience::Admins
        } else {
            Audience::User(user.id())
        };
        let mut conn = conn(ctx).await?;
        Ok(notifications::mark_read(&mut conn, audience, &ids).await? as i32)
    }
}
