//! Dispatch: sends PENDING orders to their providers. Orders are claimed with
//! `SKIP LOCKED` and moved to SUBMITTING in their own committed transaction
//! before the call; the answer decides the next state (`domain::fulfillment`):
//! accepted, retried later with backoff, a fallback service, failed and refunded,
//! or NEEDS_REVIEW when the provider may have acted on it.

use std::collections::HashMap;

use futures_util::{FutureExt, StreamExt, future::BoxFuture, stream};

use super::provider_calls::{Clients, tracked};
use crate::{
    app::AppState,
    db::{orders::OrderRow, services::ServiceRow},
    domain::fulfillment::{self, RefusalOutcome},
    error::AppResult,
    providers::{self, ProviderError, RemoteOrderRequest},
};

super::job!(Dispatch, "dispatch", fulfillment.dispatch_interval);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub accepted: usize,
    pub retried: usize,
    pub fallback: usize,
    pub failed: usize,
    pub needs_review: usize,
    pub recovered_stuck: usize,
}

/// Sends pending orders to their providers until none is left to claim.
pub async fn run(state: &AppState) -> AppResult<DispatchReport> {
    let report = dispatch_all(state).await?;
    for (outcome, count) in [
        ("accepted", report.accepted),
        ("retried", report.retried),
        ("fallback", report.fallback),
        ("failed", report.failed),
        ("needs_review", report.needs_review),
    ] {
        if count > 0 {
            metrics::counter!(crate::metrics::ORDERS_DISPATCHED, "outcome" => outcome)
                .increment(count as u64);
        }
    }
    Ok(report)
}

async fn dispatch_all(state: &AppState) -> AppResult<DispatchReport> {
    let config = &state.config.fulfillment;
    let mut report = DispatchReport::default();
    {
        let mut conn = state.pool.get().await?;
        report.recovered_stuck =
            fulfillment::recover_stuck_submissions(&mut conn, config.submit_stuck_after)
                .await?
                .len();
    }
    // At shutdown, the batch in flight finishes and nothing new is claimed.
    while !state.is_stopping() {
        let claimed = {
            let mut conn = state.pool.get().await?;
            fulfillment::claim_for_dispatch(&mut conn, config.dispatch_batch).await?
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let full_batch = claimed.len() as i64 == config.dispatch_batch;
        report.claimed += claimed.len();
        let clients = Clients::load(state, claimed.iter().filter_map(|o| o.provider_id)).await?;
        let service_ids: Vec<i64> = claimed.iter().map(|o| o.service_id).collect();
        let services: HashMap<i64, ServiceRow> = {
            let mut conn = state.pool.get().await?;
            ServiceRow::load_many(&mut conn, &service_ids)
                .await?
                .into_iter()
                .map(|s| (s.id, s))
                .collect()
        };
        // Boxed futures built up front: a stream of closures over borrowed state trips
        // the compiler's Send inference inside tokio::spawn.
        let calls: Vec<BoxFuture<'_, AppResult<Outcome>>> = claimed
            .iter()
            .map(|order| submit(state, &clients, &services, order).boxed())
            .collect();
        let outcomes: Vec<AppResult<Outcome>> = stream::iter(calls)
            .buffer_unordered(config.dispatch_concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome? {
                Outcome::Accepted => report.accepted += 1,
                Outcome::Retry => report.retried += 1,
                Outcome::Fallback => report.fallback += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::Unclear => report.needs_review += 1,
            }
        }
        if !full_batch {
            return Ok(report);
        }
    }
    Ok(report)
}

enum Outcome {
    Accepted,
    Retry,
    Fallback,
    Failed,
    Unclear,
}

async fn submit(
    state: &AppState,
    clients: &Clients,
    services: &HashMap<i64, ServiceRow>,
    order: &OrderRow,
) -> AppResult<Outcome> {
    let config = &state.config.fulfillment;
    let (Some((provider, client)), Some(service), Some(remote_service)) = (
        order.provider_id.and_then(|id| clients.providers.get(&id)),
        services.get(&order.service_id),
        order.provider_service_id.as_deref(),
    ) else {
        let mut conn = state.pool.get().await?;
        fulfillment::mark_unclear(
            &mut conn,
            order.id,
            "the order has no usable provider or provider service",
        )
        .await?;
        return Ok(Outcome::Unclear);
    };
    let request = RemoteOrderRequest {
        service: remote_service,
        link: &order.link,
        quantity: providers::sends_quantity(service.service_type).then_some(order.quantity),
        extra: &order.extra,
    };
    let result = tracked(state, provider, "add", client.add_order(&request)).await;
    let mut conn = state.pool.get().await?;
    Ok(match result {
        Ok(provider_order_id) => {
            fulfillment::mark_accepted(&mut conn, order.id, provider, &provider_order_id).await?;
            Outcome::Accepted
        }
        Err(ProviderError::Transient(error)) => {
            let exponent = order.submit_attempts.clamp(1, 16) as u32 - 1;
            let backoff = config
                .dispatch_retry
                .saturating_mul(2u32.saturating_pow(exponent))
                .min(std::time::Duration::from_secs(1800));
            fulfillment::mark_retry(&mut conn, order.id, &error, backoff).await?;
            Outcome::Retry
        }
        Err(ProviderError::Refused(error)) => {
            match fulfillment::mark_refused(&mut conn, order.id, provider, &error).await? {
                RefusalOutcome::Fallback => Outcome::Fallback,
                RefusalOutcome::Failed => Outcome::Failed,
            }
        }
        Err(ProviderError::Unclear(error)) => {
            fulfillment::mark_unclear(&mut conn, order.id, &error).await?;
            Outcome::Unclear
        }
    })
}
