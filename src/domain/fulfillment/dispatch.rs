//! Dispatch, order side: claiming PENDING orders (committed as SUBMITTING before
//! any call), and what each kind of answer does to the order: accepted, retried
//! with backoff, refused (fallback service or failure with a full refund).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::*;
use crate::{
    db::{
        enums::{Fulfillment, OrderStatus},
        orders::{NewOrderEvent, OrderEventRow, OrderRow},
        providers::ProviderRow,
        schema::{order_events, orders, providers},
        services::ServiceRow,
    },
    domain::{
        notifications::{self, About, Audience},
        orders::{Settlement, lock_order, record_status, settle},
    },
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
        let dispatchable = providers::table
            .filter(providers::active.eq(true))
            .filter(
                providers::unhealthy_until
                    .is_null()
                    .or(providers::unhealthy_until.le(diesel::dsl::now)),
            )
            .select(providers::id.nullable());
        let ids: Vec<i64> = orders::table
            .filter(orders::status.eq(OrderStatus::Pending))
            .filter(
                orders::next_attempt_at
                    .is_null()
                    .or(orders::next_attempt_at.le(diesel::dsl::now)),
            )
            .filter(orders::provider_id.eq_any(dispatchable))
            .order(orders::id)
            .limit(limit)
            .select(orders::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let claimed: Vec<OrderRow> = diesel::update(orders::table.filter(orders::id.eq_any(&ids)))
            .set((
                orders::status.eq(OrderStatus::Submitting),
                orders::submitted_at.eq(diesel::dsl::now),
                orders::submit_attempts.eq(orders::submit_attempts + 1),
            ))
            .returning(OrderRow::as_returning())
            .get_results(conn)
            .await?;
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

/// The provider accepted the order: store its id and move to PROCESSING.
pub async fn mark_accepted(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    provider: &ProviderRow,
    provider_order_id: &str,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        let order: OrderRow = diesel::update(orders::table.find(order.id))
            .set((orders::provider_order_id.eq(provider_order_id), orders::last_error.eq(None::<String>)))
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .await?;
        if order.status.is_final() {
            // An admin settled (and refunded) it while the call was in flight: the
            // provider will now deliver what the customer got back. A person must
            // decide (cancel upstream, or charge again); the provider id is kept.
            let detail = format!(
                "the provider accepted it as order {provider_order_id} after it was {} and refunded; reconcile it",
                order.status
            );
            return send_to_review(conn, &order, &detail).await;
        }
        if order.status != OrderStatus::Submitting {
            tracing::warn!(order_id, status = %order.status, "provider accepted an order that is no longer SUBMITTING");
            return Ok(order);
        }
        // Which provider fills an order, and its id there, are for admins only
        // (`providerOrderId`); customers see a neutral note.
        tracing::debug!(order_id, provider = provider.id, provider_order_id, "accepted upstream");
        OrderRow::record_provider_cost(conn, order.id).await?;
        Ok(record_status(conn, &order, OrderStatus::Processing, None, None, "accepted for processing").await?.0)
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
        let order: OrderRow = diesel::update(orders::table.find(order.id))
            .set((orders::next_attempt_at.eq(at), orders::last_error.eq(error)))
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .await?;
        Ok(record_status(
            conn,
            &order,
            OrderStatus::Pending,
            None,
            None,
            "provider unreachable; will retry",
        )
        .await?
        .0)
    })
    .await
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
        let message = format!(
            "Order {} could not be placed and was refunded in full.",
            order.id
        );
        notifications::notify(
            conn,
            Audience::User(order.user_id),
            "ORDER_FAILED",
            &message,
            About {
                order_id: Some(order.id),
                ..Default::default()
            },
        )
        .await?;
        Ok(RefusalOutcome::Failed)
    })
    .await
}
