//! Admin settlement of an order waiting for review (NEEDS_REVIEW).

use async_graphql::{Context, ID, Object};

use crate::{
    domain::{audit::Subject, upstream},
    graphql::{
        admin_write, conn, error::GraphqlResult, guards::RoleGuard, parse_id, types::orders::Order,
    },
};

#[derive(Default)]
pub struct OrderReviewMutation;

#[Object]
impl OrderReviewMutation {
    /// Settles an order in NEEDS_REVIEW after checking the provider: give the
    /// provider's order id if it has the order (it is synced from then on), or leave
    /// it out to send the order again.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Orders)")]
    async fn admin_resolve_order_review(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        provider_order_id: Option<String>,
    ) -> GraphqlResult<Order> {
        let order_id = parse_id("orderId", &order_id)?;
        let provider_order_id = provider_order_id.as_deref();
        let order = admin_write(ctx, "order.resolve_review")?
            .change(
                &mut *conn(ctx).await?,
                Subject::Order,
                order_id,
                async |conn| upstream::resolve_review(conn, order_id, provider_order_id).await,
            )
            .await?;
        Ok(Order(order))
    }
}
