//! Fulfillment through providers: the order-side rules of dispatch and status sync.
//!
//! Dispatch is crash-safe: an order is claimed (`PENDING -> SUBMITTING`) in its own
//! committed transaction before the provider is called, and an order found in
//! SUBMITTING without a provider order id after its worker died is never resubmitted
//! automatically (API v2 has no idempotency key): it goes to NEEDS_REVIEW. The
//! provider calls themselves live in `jobs/`; everything here is database state.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        enums::{Fulfillment, OrderRequestKind, OrderRequestStatus, OrderStatus},
        orders::{NewOrderEvent, OrderEventRow, OrderRequestRow, OrderRow},
        providers::ProviderRow,
        schema::{order_events, order_requests, orders, providers},
        services::ServiceRow,
    },
    domain::{
        notifications::{self, About, Audience},
        orders::{Settlement, lock_order, record_status, settle},
    },
    error::{AppError, AppResult},
    events::{self, OrderEvent},
    providers::RemoteStatus,
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
async fn write_events(
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
    let events: Vec<OrderEvent> = changed
        .iter()
        .zip(&written)
        .map(|(o, r)| OrderEvent {
            event_id: r.id,
            order_id: o.id,
            user_id: o.user_id,
            status,
            start_count: r.start_count,
            remains: r.remains,
            note: r.note.clone(),
            at: r.created_at,
        })
        .collect();
    events::publish(conn, &events).await?;
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
async fn send_to_review(
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
                let order: OrderRow = diesel::update(orders::table.find(order.id))
                    .set(orders::next_attempt_at.eq(None::<chrono::DateTime<Utc>>))
                    .returning(OrderRow::as_returning())
                    .get_result(conn)
                    .await?;
                Ok(record_status(
                    conn,
                    &order,
                    OrderStatus::Pending,
                    None,
                    None,
                    "admin confirmed the provider does not have it; sending again",
                )
                .await?
                .0)
            }
        }
    })
    .await
}

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

/// Cancel and refill requests due for forwarding (PENDING) or for a refill status
/// check (SUBMITTED refills), leased like sync claims.
pub async fn claim_requests(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> AppResult<Vec<(OrderRequestRow, OrderRow)>> {
    let lease_until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    conn.transaction(async |conn| {
        // Every claim takes a lease, PENDING ones included: a request claimed by one
        // worker is not claimed by the next until its lease runs out (the forward
        // failed before reaching the provider), so it is never sent twice.
        let ids: Vec<i64> = order_requests::table
            .filter(
                order_requests::status
                    .eq(OrderRequestStatus::Pending)
                    .or(order_requests::status
                        .eq(OrderRequestStatus::Submitted)
                        .and(order_requests::kind.eq(OrderRequestKind::Refill))),
            )
            .filter(
                order_requests::lease_until
                    .is_null()
                    .or(order_requests::lease_until.lt(diesel::dsl::now)),
            )
            .order(order_requests::id)
            .limit(limit)
            .select(order_requests::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        let requests: Vec<OrderRequestRow> =
            diesel::update(order_requests::table.filter(order_requests::id.eq_any(&ids)))
                .set(order_requests::lease_until.eq(lease_until))
                .returning(OrderRequestRow::as_returning())
                .get_results(conn)
                .await?;
        let order_ids: Vec<i64> = requests.iter().map(|r| r.order_id).collect();
        let orders = OrderRow::load_many(conn, &order_ids).await?;
        Ok(requests
            .into_iter()
            .filter_map(|r| {
                orders
                    .iter()
                    .find(|o| o.id == r.order_id)
                    .cloned()
                    .map(|o| (r, o))
            })
            .collect())
    })
    .await
}

pub async fn update_request(
    conn: &mut AsyncPgConnection,
    request: &OrderRequestRow,
    status: OrderRequestStatus,
    provider_ref: Option<&str>,
    note: &str,
) -> AppResult<()> {
    diesel::update(order_requests::table.find(request.id))
        .set((
            order_requests::status.eq(status),
            order_requests::provider_ref.eq(provider_ref.or(request.provider_ref.as_deref())),
            order_requests::note.eq(note),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
