//! The provider side of fulfillment: dispatch of pending orders, status sync of open
//! ones, forwarding of cancel and refill requests, and provider health checks. The
//! rules (claims, state changes, refunds) live in `domain::fulfillment`; this file
//! only talks to providers and reports what happened.

use std::{collections::HashMap, future::Future, time::Instant};

use futures_util::{FutureExt, StreamExt, future::BoxFuture, stream};

use crate::{
    app::AppState,
    db::{
        enums::{OrderRequestKind, OrderRequestStatus},
        orders::OrderRow,
        providers::ProviderRow,
        services::ServiceRow,
    },
    domain::{
        fulfillment::{self, RefusalOutcome},
        provider_health,
    },
    error::AppResult,
    providers::{self, ProviderClient, ProviderError, RemoteOrderRequest},
};

/// Runs one provider call and records its outcome and latency for the provider's
/// health. A refusal is the provider working as designed, not a failure of it.
async fn tracked<T>(
    state: &AppState,
    provider: &ProviderRow,
    action: &str,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let started = Instant::now();
    let result = call.await;
    let error = match &result {
        Err(ProviderError::Transient(e)) | Err(ProviderError::Unclear(e)) => Some(e.clone()),
        _ => None,
    };
    match state.pool.get().await {
        Ok(mut conn) => {
            if let Err(e) = provider_health::record_call(
                &mut conn,
                provider.id,
                action,
                started.elapsed(),
                error.as_deref(),
            )
            .await
            {
                tracing::warn!(error = %e, "recording provider call failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "recording provider call failed"),
    }
    result
}

struct Clients {
    providers: HashMap<i64, (ProviderRow, Box<dyn ProviderClient>)>,
}

impl Clients {
    async fn load(state: &AppState, ids: impl IntoIterator<Item = i64>) -> AppResult<Clients> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut conn = state.pool.get().await?;
        let mut providers = HashMap::new();
        for provider in ProviderRow::load_many(&mut conn, &ids).await? {
            match state.provider_client(&provider) {
                Ok(client) => {
                    providers.insert(provider.id, (provider, client));
                }
                Err(e) => {
                    tracing::error!(provider = provider.id, error = %e, "no client for provider")
                }
            }
        }
        Ok(Clients { providers })
    }
}

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
pub async fn dispatch_once(state: &AppState) -> AppResult<DispatchReport> {
    let config = &state.config.fulfillment;
    let mut report = DispatchReport::default();
    {
        let mut conn = state.pool.get().await?;
        report.recovered_stuck =
            fulfillment::recover_stuck_submissions(&mut conn, config.submit_stuck_after)
                .await?
                .len();
    }
    loop {
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

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub checked: usize,
    pub changed: usize,
    pub errors: usize,
}

/// Checks the open orders of every active, healthy provider in batches of 100.
pub async fn sync_once(state: &AppState) -> AppResult<SyncReport> {
    let config = &state.config.fulfillment;
    let provider_ids: Vec<i64> = {
        use crate::db::schema::providers;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = state.pool.get().await?;
        providers::table
            .filter(providers::active.eq(true))
            .select(providers::id)
            .load(&mut conn)
            .await?
    };
    let clients = Clients::load(state, provider_ids).await?;
    let mut report = SyncReport::default();
    for (provider, client) in clients.providers.values() {
        if !provider_health::is_healthy(provider) {
            continue;
        }
        const CLAIM: i64 = 1000;
        let mut seen = std::collections::HashSet::new();
        loop {
            let claimed = {
                let mut conn = state.pool.get().await?;
                fulfillment::claim_for_sync(&mut conn, provider.id, CLAIM, config.status_sync_lease)
                    .await?
            };
            // Each order once per run, whatever the lease.
            let claimed: Vec<OrderRow> =
                claimed.into_iter().filter(|o| seen.insert(o.id)).collect();
            if claimed.is_empty() {
                break;
            }
            let last_round = (claimed.len() as i64) < CLAIM;
            let batches: Vec<&[OrderRow]> = claimed.chunks(providers::MAX_BATCH).collect();
            let calls: Vec<BoxFuture<'_, AppResult<SyncReport>>> = batches
                .into_iter()
                .map(|batch| sync_batch(state, provider, client.as_ref(), batch).boxed())
                .collect();
            let results: Vec<AppResult<SyncReport>> = stream::iter(calls)
                .buffer_unordered(config.dispatch_concurrency.max(1))
                .collect()
                .await;
            for result in results {
                let batch = result?;
                report.checked += batch.checked;
                report.changed += batch.changed;
                report.errors += batch.errors;
            }
            if last_round {
                break;
            }
        }
    }
    Ok(report)
}

async fn sync_batch(
    state: &AppState,
    provider: &ProviderRow,
    client: &dyn ProviderClient,
    batch: &[OrderRow],
) -> AppResult<SyncReport> {
    let ids: Vec<String> = batch
        .iter()
        .filter_map(|o| o.provider_order_id.clone())
        .collect();
    let mut report = SyncReport::default();
    let statuses = match tracked(state, provider, "status", client.statuses(&ids)).await {
        Ok(statuses) => statuses,
        Err(error) => {
            tracing::warn!(provider = provider.id, %error, "status sync call failed; the orders are checked again after the lease");
            report.errors += batch.len();
            return Ok(report);
        }
    };
    let mut conn = state.pool.get().await?;
    for order in batch {
        let Some(remote_id) = &order.provider_order_id else {
            continue;
        };
        report.checked += 1;
        match statuses.get(remote_id) {
            Some(Ok(remote)) => {
                let updated = fulfillment::apply_remote_status(&mut conn, order.id, remote).await?;
                if updated.status != order.status
                    || updated.remains != order.remains
                    || updated.start_count != order.start_count
                {
                    report.changed += 1;
                }
            }
            Some(Err(error)) => {
                report.errors += 1;
                fulfillment::note_sync_error(&mut conn, order.id, error).await?;
            }
            None => report.errors += 1,
        }
    }
    Ok(report)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestsReport {
    pub forwarded: usize,
    pub completed: usize,
    pub rejected: usize,
}

/// Forwards customers' cancel and refill requests and follows refills to their end.
pub async fn forward_requests_once(state: &AppState) -> AppResult<RequestsReport> {
    let lease = state.config.fulfillment.status_sync_lease;
    let claimed = {
        let mut conn = state.pool.get().await?;
        fulfillment::claim_requests(&mut conn, 500, lease).await?
    };
    let mut report = RequestsReport::default();
    if claimed.is_empty() {
        return Ok(report);
    }
    let clients = Clients::load(state, claimed.iter().filter_map(|(_, o)| o.provider_id)).await?;
    let mut conn = state.pool.get().await?;
    for (request, order) in claimed {
        let (Some((provider, client)), Some(remote_id)) = (
            order.provider_id.and_then(|id| clients.providers.get(&id)),
            order.provider_order_id.clone(),
        ) else {
            // Not at a provider (yet): a cancel waits for the order to be accepted.
            continue;
        };
        match (request.kind, request.status) {
            (OrderRequestKind::Cancel, OrderRequestStatus::Pending) => {
                match tracked(
                    state,
                    provider,
                    "cancel",
                    client.cancel(std::slice::from_ref(&remote_id)),
                )
                .await
                {
                    Ok(outcomes) => {
                        let (status, note) = match outcomes.get(&remote_id) {
                            Some(Ok(())) => (
                                OrderRequestStatus::Accepted,
                                "the provider accepted the cancellation".to_string(),
                            ),
                            Some(Err(e)) => (
                                OrderRequestStatus::Rejected,
                                format!("the provider refused: {e}"),
                            ),
                            None => (
                                OrderRequestStatus::Rejected,
                                "the provider did not answer for this order".to_string(),
                            ),
                        };
                        if status == OrderRequestStatus::Rejected {
                            report.rejected += 1;
                        } else {
                            report.forwarded += 1;
                        }
                        fulfillment::update_request(&mut conn, &request, status, None, &note)
                            .await?;
                    }
                    Err(ProviderError::Refused(e)) => {
                        report.rejected += 1;
                        fulfillment::update_request(
                            &mut conn,
                            &request,
                            OrderRequestStatus::Rejected,
                            None,
                            &format!("the provider refused: {e}"),
                        )
                        .await?;
                    }
                    Err(e) => {
                        tracing::warn!(request = request.id, error = %e, "forwarding a cancel failed; retried later")
                    }
                }
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Pending) => {
                match tracked(state, provider, "refill", client.refill(&remote_id)).await {
                    Ok(refill_id) => {
                        report.forwarded += 1;
                        fulfillment::update_request(
                            &mut conn,
                            &request,
                            OrderRequestStatus::Submitted,
                            Some(&refill_id),
                            "refill requested at the provider",
                        )
                        .await?;
                    }
                    Err(ProviderError::Refused(e)) => {
                        report.rejected += 1;
                        fulfillment::update_request(
                            &mut conn,
                            &request,
                            OrderRequestStatus::Rejected,
                            None,
                            &format!("the provider refused: {e}"),
                        )
                        .await?;
                    }
                    Err(e) => {
                        tracing::warn!(request = request.id, error = %e, "forwarding a refill failed; retried later")
                    }
                }
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Submitted) => {
                let Some(refill_id) = request.provider_ref.clone() else {
                    continue;
                };
                match tracked(
                    state,
                    provider,
                    "refill_status",
                    client.refill_status(&refill_id),
                )
                .await
                {
                    Ok(label) => match label.to_ascii_lowercase().as_str() {
                        "completed" | "success" => {
                            report.completed += 1;
                            fulfillment::update_request(
                                &mut conn,
                                &request,
                                OrderRequestStatus::Completed,
                                None,
                                "refill completed",
                            )
                            .await?;
                        }
                        "rejected" | "canceled" | "cancelled" | "error" => {
                            report.rejected += 1;
                            fulfillment::update_request(
                                &mut conn,
                                &request,
                                OrderRequestStatus::Rejected,
                                None,
                                &format!("refill {label}"),
                            )
                            .await?;
                        }
                        _ => {}
                    },
                    Err(e) => {
                        tracing::warn!(request = request.id, error = %e, "refill status check failed")
                    }
                }
            }
            _ => {}
        }
    }
    Ok(report)
}

/// Fetches every active provider's balance (also a liveness probe).
pub async fn check_health_once(state: &AppState) -> AppResult<usize> {
    let ids: Vec<i64> = {
        use crate::db::schema::providers;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = state.pool.get().await?;
        providers::table
            .filter(providers::active.eq(true))
            .select(providers::id)
            .load(&mut conn)
            .await?
    };
    let clients = Clients::load(state, ids).await?;
    let mut checked = 0;
    for (provider, client) in clients.providers.values() {
        if let Ok((balance, _currency)) =
            tracked(state, provider, "balance", client.balance()).await
        {
            let mut conn = state.pool.get().await?;
            provider_health::record_balance(&mut conn, provider, &balance).await?;
            checked += 1;
        }
    }
    let mut conn = state.pool.get().await?;
    provider_health::prune_calls(&mut conn).await?;
    Ok(checked)
}
