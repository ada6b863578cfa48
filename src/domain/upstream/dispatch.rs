//! Dispatch, order side: claiming PENDING orders (committed as SUBMITTING before
//! any call), and what each kind of answer does to the order: accepted, retried
//! with backoff, refused (fallback service or failure with a full refund).

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::*;
use crate::{
    db::{
        enums::{Fulfillment, OrderStatus},
        order_events::{NewOrderEvent, OrderEventRow},
        orders::OrderRow,
        providers::ProviderRow,
        schema::{order_events, orders},
        services::ServiceRow,
    },
    domain::orders::{Settlement, StatusChange, lock_order, record_status, settle, write_changes},
    error::{AppError, AppResult},
    events,
};

/// Claims up to `limit` PENDING orders of active, healthy providers and moves them
/// to SUBMITTING, committing before any provider is called. Rows another worker is
/// claiming are skipped.
pub async fn claim_for_dispatch(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> AppResult<Vec<OrderRow>> {
    conn.transaction(async |conn| {
        let claimed = OrderRow::claim_pending_for_dispatch(conn, limit).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        write_events(
            conn,
            &claimed,
            OrderStatus::Submitting,
            "sending to the provider",
        )
        .await?;
        Ok(claimed)
    })
    .await
}

/// History rows and events for many orders moving to the same status, two statements.
pub(super) async fn write_events(
    conn: &mut AsyncPgConnection,
    changed: &[OrderRow],
    status: OrderStatus,
    note: &str,
) -> AppResult<()> {
    let rows: Vec<NewOrderEvent> = changed
        .iter()
        .map(|o| NewOrderEvent {
            order_id: o.id,
            status,
            start_count: o.start_count,
            remains: o.remains,
            note: note.to_string(),
        })
        .collect();
    let written: Vec<OrderEventRow> = diesel::insert_into(order_events::table)
        .values(&rows)
        .returning(OrderEventRow::as_returning())
        .get_results(conn)
        .await?;
    let event_ids: Vec<i64> = written.iter().map(|r| r.id).collect();
    events::publish(conn, &event_ids).await?;
    Ok(())
}

/// The provider accepted the order: store its id and move to PROCESSING
/// ([`mark_accepted_many`] with one).
pub async fn mark_accepted(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    provider_order_id: &str,
) -> AppResult<OrderRow> {
    mark_accepted_many(conn, &[(order_id, provider_order_id.to_string())])
        .await?
        .pop()
        .ok_or(AppError::NotFound("order"))
}

/// Providers accepted these orders (`(order id, provider order id)`): in one
/// transaction and a constant number of statements, store each provider id, record
/// the provider cost at this moment and move them to PROCESSING with their history
/// rows and events. Returns the orders as they now stand, in id order.
///
/// An order an admin settled (and refunded) while its call was in flight keeps the
/// provider id and goes to NEEDS_REVIEW: the provider will now deliver what the
/// customer got back, so a person must decide (cancel upstream, or charge again).
pub async fn mark_accepted_many(
    conn: &mut AsyncPgConnection,
    accepted: &[(i64, String)],
) -> AppResult<Vec<OrderRow>> {
    use diesel::sql_types::{Array, BigInt, Text};
    if accepted.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = accepted.iter().map(|(id, _)| *id).collect();
    conn.transaction(async |conn| {
        // Locked in id order, so concurrent groups never deadlock.
        orders::table
            .filter(orders::id.eq_any(&ids))
            .order(orders::id)
            .select(orders::id)
            .for_update()
            .load::<i64>(conn)
            .await?;
        let mut stored: Vec<OrderRow> = diesel::sql_query(
            "UPDATE orders o SET provider_order_id = a.provider_order_id, last_error = NULL \
             FROM unnest($1::bigint[], $2::text[]) AS a(id, provider_order_id) \
             WHERE o.id = a.id RETURNING o.*",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<Text>, _>(accepted.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>())
        .load(conn)
        .await?;
        stored.sort_by_key(|o| o.id);
        let mut processing = Vec::new();
        let mut review = Vec::new();
        for order in &stored {
            if order.status.is_final() {
                review.push(order.clone());
            } else if order.status == OrderStatus::Submitting {
                // Which provider fills an order, and its id there, are for admins only
                // (`providerOrderId`); customers see a neutral note.
                processing.push(StatusChange::to(
                    order,
                    OrderStatus::Processing,
                    "accepted for processing",
                ));
            } else {
                tracing::warn!(order_id = order.id, status = %order.status, "provider accepted an order that is no longer SUBMITTING");
            }
        }
        let accepted_ids: Vec<i64> = processing.iter().map(|c| c.order.id).collect();
        OrderRow::record_provider_costs(conn, &accepted_ids).await?;
        let mut now: HashMap<i64, OrderRow> = write_changes(conn, processing)
            .await?
            .into_iter()
            .map(|(order, _)| (order.id, order))
            .collect();
        for order in review {
            let detail = format!(
                "the provider accepted it as order {} after it was {} and refunded; reconcile it",
                order.provider_order_id.as_deref().unwrap_or_default(),
                order.status
            );
            let order = send_to_review(conn, &order, &detail).await?;
            now.insert(order.id, order);
        }
        Ok(stored
            .into_iter()
            .map(|order| now.remove(&order.id).unwrap_or(order))
            .collect())
    })
    .await
}

/// The provider could not be reached: back to PENDING, retried after `backoff`.
pub async fn mark_retry(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    error: &str,
    backoff: Duration,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status != OrderStatus::Submitting {
            return Ok(order);
        }
        let at = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
        send_again(
            conn,
            order.id,
            Some(at),
            Some(error),
            "provider unreachable; will retry",
        )
        .await
    })
    .await
}

/// Back to PENDING for dispatch to send again, at `at` (or at once), with `error`
/// as the last one seen and `note` in the history.
pub(super) async fn send_again(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    at: Option<chrono::DateTime<Utc>>,
    error: Option<&str>,
    note: &str,
) -> AppResult<OrderRow> {
    let order = OrderRow::reschedule(conn, order_id, at, error).await?;
    let (order, _) = record_status(conn, &order, OrderStatus::Pending, None, None, note).await?;
    Ok(order)
}

/// What became of a refused order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalOutcome {
    /// Re-queued for the service's fallback provider.
    Fallback,
    /// Failed and refunded in full; the customer was notified.
    Failed,
}

/// The provider refused the order for good. Use the service's fallback provider
/// once when one is configured; otherwise fail the order with a full refund.
pub async fn mark_refused(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    provider: &ProviderRow,
    error: &str,
) -> AppResult<RefusalOutcome> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status != OrderStatus::Submitting {
            return Ok(RefusalOutcome::Failed);
        }
        let service = ServiceRow::find(conn, order.service_id)
            .await?
            .ok_or(AppError::NotFound("service"))?;
        let fallback = match service.fallback_service_id.filter(|_| !order.fallback_used) {
            Some(id) => ServiceRow::find(conn, id)
                .await?
                .filter(|f| f.active && f.fulfillment == Fulfillment::Provider),
            None => None,
        };
        if let Some(fallback) = fallback {
            let order: OrderRow = diesel::update(orders::table.find(order.id))
                .set((
                    orders::provider_id.eq(fallback.provider_id),
                    orders::provider_service_id.eq(&fallback.provider_service_id),
                    orders::fallback_used.eq(true),
                    orders::next_attempt_at.eq(None::<chrono::DateTime<Utc>>),
                    orders::last_error.eq(error),
                ))
                .returning(OrderRow::as_returning())
                .get_result(conn)
                .await?;
            // The refusal stays in the admin-only `lastError`.
            tracing::debug!(
                order_id,
                provider = provider.id,
                "refused; using the fallback service"
            );
            record_status(
                conn,
                &order,
                OrderStatus::Pending,
                None,
                None,
                "rerouted for processing",
            )
            .await?;
            return Ok(RefusalOutcome::Fallback);
        }
        diesel::update(orders::table.find(order.id))
            .set(orders::last_error.eq(error))
            .execute(conn)
            .await?;
        settle(
            conn,
            order.id,
            Settlement::Failed,
            "the order could not be placed",
            None,
        )
        .await?;
        // `settle` ends the order, which notifies the customer (`notifications::order_ended`).
        Ok(RefusalOutcome::Failed)
    })
    .await
}
