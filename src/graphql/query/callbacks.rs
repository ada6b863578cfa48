//! A reseller's callback URL and the log of its deliveries.

use async_graphql::{Context, Object};

use crate::{
    db::callbacks::{CallbackRow, DeliveryRow},
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        pagination::{Page, keyset_args, keyset_connection, list_complexity},
        types::callbacks::{CallbackDelivery, OrderCallback},
    },
};

#[derive(Default)]
pub struct CallbackQuery;

#[Object]
impl CallbackQuery {
    /// The caller's callback URL, if set.
    #[graphql(guard = "RoleGuard::User")]
    async fn my_order_callback(&self, ctx: &Context<'_>) -> GraphqlResult<Option<OrderCallback>> {
        let user = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        Ok(CallbackRow::find(&mut conn, user).await?.map(OrderCallback))
    }

    /// The pushes to the caller's callback URL, newest first: status, attempts,
    /// the receiver's last answer.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_callback_deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<CallbackDelivery>> {
        let user = current_user(ctx)?.id();
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = DeliveryRow::of_user(&mut *conn(ctx).await?, user, page).await?;
        Ok(keyset_connection(rows, |d| d.id, CallbackDelivery))
    }
}
