//! A reseller's callback URL for signed pushes of order status changes.

use async_graphql::{Context, Object};

use crate::{
    domain::callbacks,
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        state,
        types::callbacks::{OrderCallback, OrderCallbackPayload},
    },
};

#[derive(Default)]
pub struct CallbackMutation;

#[Object]
impl CallbackMutation {
    /// Sets where each status change of the caller's orders is pushed (HTTPS to a
    /// public address) and resumes a paused callback. The first time it answers
    /// the signing secret, once.
    #[graphql(guard = "RoleGuard::User")]
    async fn set_order_callback(
        &self,
        ctx: &Context<'_>,
        url: String,
    ) -> GraphqlResult<OrderCallbackPayload> {
        let user = current_user(ctx)?.id();
        let app = state(ctx);
        let mut conn = conn(ctx).await?;
        let (row, secret) =
            callbacks::set_callback(&mut conn, &app.secrets, &app.config.callbacks, user, &url)
                .await?;
        Ok(OrderCallbackPayload {
            callback: OrderCallback(row),
            secret,
        })
    }

    /// A new signing secret, answered once; the old one stops working at once.
    #[graphql(guard = "RoleGuard::User")]
    async fn rotate_callback_secret(&self, ctx: &Context<'_>) -> GraphqlResult<String> {
        let user = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        Ok(callbacks::rotate_secret(&mut conn, &state(ctx).secrets, user).await?)
    }

    /// Stops the pushes; deliveries not sent yet are dropped.
    #[graphql(guard = "RoleGuard::User")]
    async fn remove_order_callback(&self, ctx: &Context<'_>) -> GraphqlResult<bool> {
        let user = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        Ok(callbacks::remove(&mut conn, user).await?)
    }
}
