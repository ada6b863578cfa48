//! Subscriptions: live order-status events. Events reach every server process
//! through PostgreSQL LISTEN/NOTIFY (see `events`), so a subscriber connected to
//! one process sees changes made by any other.

use async_graphql::{Context, ID, Subscription};
use futures_util::{StreamExt, stream, stream::BoxStream};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    db::orders::OrderRow,
    error::AppError,
    events::OrderEvent,
    graphql::{
        conn, current_user, error::ApiResult, guards::RoleGuard, parse_id, state,
        types::orders::OrderEvent as OrderEventObject,
    },
};

#[derive(Default)]
pub struct SubscriptionRoot;

/// The bus as a stream of events passing `keep`. A receiver that falls behind loses
/// events (broadcast drops the oldest); it then re-reads `resync` order ids' current
/// state from the database so the client still converges on the truth.
fn event_stream(
    ctx: &Context<'_>,
    keep: impl Fn(&OrderEvent) -> bool + Send + Sync + 'static,
    resync: Option<i64>,
) -> EventStream {
    let receiver = state(ctx).events.subscribe();
    let pool = state(ctx).pool.clone();
    stream::unfold((receiver, pool), move |(mut receiver, pool)| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((Some(event), (receiver, pool))),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "order event subscriber lagged; resynchronising");
                    let Some(order_id) = resync else { continue };
                    let current = match pool.get().await {
                        Ok(mut conn) => OrderRow::find(&mut conn, order_id).await.ok().flatten(),
                        Err(_) => None,
                    };
                    if let Some(order) = current {
                        let event = OrderEvent {
                            event_id: 0,
                            order_id: order.id,
                            user_id: order.user_id,
                            status: order.status,
                            start_count: order.start_count,
                            remains: order.remains,
                            note: "resynchronised after missed events".into(),
                            at: order.updated_at,
                        };
                        return Some((Some(event), (receiver, pool)));
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .filter_map(move |event| {
        let keep = event
            .filter(|e| keep(e))
            .map(|e| OrderEventObject(e.to_row()));
        async move { keep }
    })
    .boxed()
}

type EventStream = BoxStream<'static, OrderEventObject>;

async fn follow_order(ctx: &Context<'_>, order_id: ID) -> ApiResult<EventStream> {
    let user = current_user(ctx)?;
    let order_id = parse_id("orderId", &order_id)?;
    let mut conn = conn(ctx).await?;
    // Someone else's order is NOT_FOUND, like a missing one: ids are not probeable.
    OrderRow::find(&mut conn, order_id)
        .await?
        .filter(|order| order.user_id == user.id() || user.is_admin())
        .ok_or(AppError::NotFound("order"))?;
    drop(conn);
    Ok(event_stream(
        ctx,
        move |e| e.order_id == order_id,
        Some(order_id),
    ))
}

#[Subscription]
impl SubscriptionRoot {
    /// Every status change of one order. Only its owner and admins may subscribe.
    #[graphql(guard = "RoleGuard::User")]
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<EventStream> {
        Ok(follow_order(ctx, order_id).await?)
    }

    /// Every status change of the caller's orders.
    #[graphql(guard = "RoleGuard::User")]
    async fn my_order_updates(&self, ctx: &Context<'_>) -> async_graphql::Result<EventStream> {
        let user_id = current_user(ctx).map_err(async_graphql::Error::from)?.id();
        Ok(event_stream(ctx, move |e| e.user_id == user_id, None))
    }

    /// Every status change of every order (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_order_updates(&self, ctx: &Context<'_>) -> async_graphql::Result<EventStream> {
        Ok(event_stream(ctx, |_| true, None))
    }
}
