//! Customers' cancel and refill requests: a PENDING order is canceled and
//! refunded at once; a running one gets a request that the order-requests job
//! forwards to the provider. Refills follow the warranty in `refill`.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::{
    refill::{RefillFacts, RefillRefusal, refill_window},
    *,
};
use crate::{
    config::OrdersConfig,
    db::{
        drip_feeds::DripFeedRow,
        enums::{OrderRequestKind, OrderStatus},
        order_requests::OPEN_REQUEST_INDEX,
        order_requests::OrderRequestRow,
        orders::OrderRow,
        services::ServiceRow,
    },
    error::{AppError, AppResult, is_unique_violation},
    identity::AuthUser,
};

/// A customer's cancel request. A PENDING order (not yet sent upstream) is canceled
/// and refunded at once, and so is a scheduled one before its time even when
/// the service takes no cancel; a running one gets a request forwarded to the
/// provider.
pub async fn request_cancel(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order_id: i64,
) -> AppResult<(OrderRow, Option<OrderRequestRow>)> {
    let (order, service) = owned_order_and_service(conn, user_id, order_id).await?;
    let scheduled = |order: &OrderRow| {
        order.status == OrderStatus::Pending && order.scheduled_at.is_some_and(|at| at > Utc::now())
    };
    let no_cancel = || AppError::validation("orderId", "this service does not allow cancellation");
    conn.transaction(async |conn| {
        let order = lock_order(conn, order.id).await?;
        // A drip-feed the panel runs stops its runs not placed, whatever the
        // service's cancel rule: nothing of them was sent anywhere.
        if let Some(order) = drip::stop(conn, &order, None).await? {
            return Ok((order, None));
        }
        if !service.cancel && !scheduled(&order) {
            return Err(no_cancel());
        }
        match order.status {
            OrderStatus::Pending => {
                let order = settle(
                    conn,
                    order.id,
                    Settlement::Canceled,
                    "canceled by the customer before dispatch",
                    None,
                )
                .await?;
                Ok((order, None))
            }
            OrderStatus::Processing | OrderStatus::InProgress | OrderStatus::Submitting => {
                let request = open_request(conn, &order, OrderRequestKind::Cancel).await?;
                Ok((order, Some(request)))
            }
            other => Err(AppError::conflict(format!(
                "a {other} order cannot be canceled"
            ))),
        }
    })
    .await
}

/// A customer's refill request, under the refill warranty (`refill`): inside the
/// service's period from completion, past the cooldown, with no refill open and
/// no newer order running on the link. The facts are read with the order locked,
/// so two requests at once cannot both pass.
pub async fn request_refill(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    user_id: i64,
    order_id: i64,
) -> AppResult<OrderRequestRow> {
    let (order, service) = owned_order_and_service(conn, user_id, order_id).await?;
    conn.transaction(async |conn| {
        let order = lock_order(conn, order.id).await?;
        let requests = OrderRequestRow::for_orders(conn, &[order.id]).await?;
        let newer = OrderRow::with_newer_active_on_link(conn, &[order.id]).await?;
        let facts = RefillFacts {
            runs_by_panel: is_drip_feed(conn, order.id).await?,
            ..RefillFacts::from_requests(&requests, !newer.is_empty())
        };
        let window = refill_window(&order, &service, rules, &facts, Utc::now());
        if let Some(refusal) = window.refusal {
            return Err(refusal.error(&window));
        }
        open_request(conn, &order, OrderRequestKind::Refill).await
    })
    .await
}

/// Why `order` (of `service`) cannot be refilled now, if it cannot: the same rules
/// as [`request_refill`], read without a lock, for answers such as the bot's.
pub async fn refill_refusal(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    order: &OrderRow,
    service: &ServiceRow,
) -> AppResult<Option<RefillRefusal>> {
    let requests = OrderRequestRow::for_orders(conn, &[order.id]).await?;
    let newer = OrderRow::with_newer_active_on_link(conn, &[order.id]).await?;
    let facts = RefillFacts {
        runs_by_panel: is_drip_feed(conn, order.id).await?,
        ..RefillFacts::from_requests(&requests, !newer.is_empty())
    };
    Ok(refill_window(order, service, rules, &facts, Utc::now()).refusal)
}

/// Whether `order_id` is a drip-feed the panel runs.
async fn is_drip_feed(conn: &mut AsyncPgConnection, order_id: i64) -> AppResult<bool> {
    Ok(!DripFeedRow::for_orders(conn, &[order_id]).await?.is_empty())
}

/// Opens the customer's request of `kind` and notes it in the order's history (the
/// status stays).
async fn open_request(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    kind: OrderRequestKind,
) -> AppResult<OrderRequestRow> {
    let what = kind.as_str().to_lowercase();
    let request = OrderRequestRow::open(conn, order.id, kind)
        .await
        .map_err(|e| {
            if is_unique_violation(&e, OPEN_REQUEST_INDEX) {
                AppError::conflict(format!("a {what} request for this order is already open"))
            } else {
                e.into()
            }
        })?;
    let note = format!("{what} requested by the customer");
    record_status(conn, order, order.status, None, None, &note).await?;
    Ok(request)
}

/// The caller's order and its service, which says whether a request is allowed.
async fn owned_order_and_service(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order_id: i64,
) -> AppResult<(OrderRow, ServiceRow)> {
    let order = owned_order(conn, user_id, order_id).await?;
    let service = ServiceRow::find(conn, order.service_id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    Ok((order, service))
}

/// The order if `viewer` may see it (its owner, or an admin); anything else
/// is NOT_FOUND, exactly like a missing order (ids are not probeable).
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    viewer: &AuthUser,
    order_id: i64,
) -> AppResult<OrderRow> {
    OrderRow::find(conn, order_id)
        .await?
        .filter(|order| viewer.may_see(order.user_id, crate::db::enums::Permission::OrdersRead))
        .ok_or(AppError::NotFound("order"))
}

/// The order if `user_id` owns it; someone else's order is NOT_FOUND (ids are not probeable).
pub async fn owned_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order_id: i64,
) -> AppResult<OrderRow> {
    OrderRow::find_owned(conn, user_id, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))
}
