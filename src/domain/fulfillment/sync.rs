//! Status sync, order side: leased claims of open orders and applying a
//! provider's report (history, events, exactly-once refunds).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{enums::OrderStatus, orders::OrderRow, schema::orders},
    domain::orders::{Settlement, lock_order, record_status, settle},
    error::AppResult,
    providers::RemoteStatus,
};

/// Claims up to `limit` open orders of a provider for a status check, oldest check
/// first. The claim is a lease (`last_synced_at`), so concurrent workers split the
/// work and a crashed worker's share is picked up after `lease`.
pub async fn claim_for_sync(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    limit: i64,
    lease: Duration,
) -> AppResult<Vec<OrderRow>> {
    let before = Utc::now() - chrono::Duration::from_std(lease).unwrap_or_default();
    conn.transaction(async |conn| {
        let ids: Vec<i64> = orders::table
            .filter(orders::provider_id.eq(provider_id))
            .filter(orders::status.eq_any([OrderStatus::Processing, OrderStatus::InProgress]))
            .filter(orders::provider_order_id.is_not_null())
            .filter(
                orders::last_synced_at
                    .is_null()
                    .or(orders::last_synced_at.lt(before)),
            )
            .order((orders::last_synced_at.asc().nulls_first(), orders::id))
            .limit(limit)
            .select(orders::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        Ok(
            diesel::update(orders::table.filter(orders::id.eq_any(&ids)))
                .set(orders::last_synced_at.eq(diesel::dsl::now))
                .returning(OrderRow::as_returning())
                .get_results(conn)
                .await?,
        )
    })
    .await
}

/// Applies a provider's report to an order. Idempotent: the same report twice, or
/// two workers applying it at once, change the order and refund at most once.
pub async fn apply_remote_status(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    remote: &RemoteStatus,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if !matches!(
            order.status,
            OrderStatus::Processing | OrderStatus::InProgress
        ) {
            return Ok(order);
        }
        let note = format!("provider reports {}", remote.label);
        match remote.status {
            OrderStatus::Processing | OrderStatus::InProgress => {
                let changed = remote.status != order.status
                    || (remote.start_count.is_some() && remote.start_count != order.start_count)
                    || (remote.remains.is_some() && remote.remains != order.remains);
                if !changed {
                    return Ok(order);
                }
                Ok(record_status(
                    conn,
                    &order,
                    remote.status,
                    remote.start_count,
                    remote.remains.map(|r| r.max(0)),
                    &note,
                )
                .await?
                .0)
            }
            OrderStatus::Completed => Ok(record_status(
                conn,
                &order,
                OrderStatus::Completed,
                remote.start_count,
                Some(0),
                &note,
            )
            .await?
            .0),
            OrderStatus::Partial => match remote.remains {
                Some(remains) if remains > 0 && remains < order.quantity => {
                    if remote.start_count.is_some() {
                        diesel::update(orders::table.find(order.id))
                            .set(orders::start_count.eq(remote.start_count))
                            .execute(conn)
                            .await?;
                    }
                    settle(conn, order.id, Settlement::Partial { remains }, &note, None).await
                }
                Some(remains) if remains >= order.quantity => {
                    settle(conn, order.id, Settlement::Canceled, &note, None).await
                }
                // Partial with nothing remaining is a completion.
                Some(_) => Ok(record_status(
                    conn,
                    &order,
                    OrderStatus::Completed,
                    remote.start_count,
                    Some(0),
                    &note,
                )
                .await?
                .0),
                None => {
                    tracing::warn!(
                        order_id,
                        "provider reported Partial without remains; waiting for a complete report"
                    );
                    Ok(order)
                }
            },
            OrderStatus::Canceled | OrderStatus::Failed => {
                settle(conn, order.id, Settlement::Canceled, &note, None).await
            }
            OrderStatus::Pending | OrderStatus::Submitting | OrderStatus::NeedsReview => Ok(order),
        }
    })
    .await
}

/// Notes a per-order error from a status call (e.g. "Incorrect order ID").
pub async fn note_sync_error(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    error: &str,
) -> AppResult<()> {
    diesel::update(orders::table.find(order_id))
        .set(orders::last_error.eq(error))
        .execute(conn)
        .await?;
    Ok(())
}
