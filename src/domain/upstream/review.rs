//! NEEDS_REVIEW: orders whose fate at the provider is unclear (an unclear answer,
//! a worker that died mid-submission, an acceptance after a refund) and the admin's
//! decision on them. They are never resent automatically.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{enums::OrderStatus, orders::OrderRow, schema::orders},
    domain::{
        notifications::{self, About, Audience},
        orders::{lock_order, record_status},
    },
    error::{AppError, AppResult},
};

/// The provider may or may not have the order: an admin must look.
pub async fn mark_unclear(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    error: &str,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status != OrderStatus::Submitting {
            return Ok(order);
        }
        diesel::update(orders::table.find(order.id))
            .set(orders::last_error.eq(error))
            .execute(conn)
            .await?;
        let detail =
            format!("unclear whether the provider accepted it ({error}); not resent automatically");
        send_to_review(conn, &order, &detail).await
    })
    .await
}

/// NEEDS_REVIEW, in the caller's transaction: customers see a neutral note, the
/// admins get `detail` in a notification.
pub(super) async fn send_to_review(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    detail: &str,
) -> AppResult<OrderRow> {
    let (order, _) = record_status(
        conn,
        order,
        OrderStatus::NeedsReview,
        None,
        None,
        "under review by our team",
    )
    .await?;
    notifications::notify(
        conn,
        Audience::Admins,
        "ORDER_NEEDS_REVIEW",
        &format!("order {}: {detail}", order.id),
        About {
            order_id: Some(order.id),
            provider_id: order.provider_id,
        },
    )
    .await?;
    Ok(order)
}

/// Orders left in SUBMITTING longer than `older_than` (their worker died between
/// claim and answer) go to NEEDS_REVIEW; they are never resubmitted blindly.
pub async fn recover_stuck_submissions(
    conn: &mut AsyncPgConnection,
    older_than: Duration,
) -> AppResult<Vec<i64>> {
    let before = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
    let stuck: Vec<i64> = orders::table
        .filter(orders::status.eq(OrderStatus::Submitting))
        .filter(orders::submitted_at.lt(before))
        .select(orders::id)
        .load(conn)
        .await?;
    let mut recovered = Vec::new();
    for id in stuck {
        let order = mark_unclear(conn, id, "the dispatch worker stopped while submitting").await?;
        if order.status == OrderStatus::NeedsReview {
            recovered.push(id);
        }
    }
    Ok(recovered)
}

/// An admin's decision on an order in NEEDS_REVIEW: either the provider has it
/// (give its order id: the order moves to PROCESSING and is synced from now on), or
/// it does not (the order goes back to PENDING and is sent again).
pub async fn resolve_review(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    provider_order_id: Option<&str>,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status != OrderStatus::NeedsReview {
            return Err(AppError::conflict(format!(
                "order is {}, not NEEDS_REVIEW",
                order.status
            )));
        }
        match provider_order_id.map(str::trim) {
            Some("") => Err(AppError::validation(
                "providerOrderId",
                "providerOrderId must not be empty",
            )),
            Some(id) => {
                let order: OrderRow = diesel::update(orders::table.find(order.id))
                    .set(orders::provider_order_id.eq(id))
                    .returning(OrderRow::as_returning())
                    .get_result(conn)
                    .await?;
                OrderRow::record_provider_cost(conn, order.id).await?;
                Ok(record_status(
                    conn,
                    &order,
                    OrderStatus::Processing,
                    None,
                    None,
                    "confirmed by our team",
                )
                .await?
                .0)
            }
            None => {
                let note = "admin confirmed the provider does not have it; sending again";
                super::dispatch::send_again(conn, order.id, None, None, note).await
            }
        }
    })
    .await
}
