//! Status sync: asks each active, healthy provider about its open orders (leased
//! claims, up to 100 ids per call) and applies each call's answers as one batch
//! through `domain::upstream`, which records the history, publishes the events
//! and refunds CANCELED and PARTIAL orders exactly once, set-based.
//!
//! Calls overlap: up to `dispatch_concurrency` are in flight all the time, and the
//! next round of orders is claimed while the calls of the previous round run, so
//! a run takes about (calls / in flight) x latency.

use std::{collections::HashSet, sync::Mutex};

use futures_util::{FutureExt, StreamExt, future::BoxFuture, stream};
use tokio::task::JoinHandle;

use super::provider_clients::{Clients, record_health, timed};
use crate::{
    app::AppState,
    db::{orders::OrderRow, providers::ProviderRow},
    domain::{
        provider_health::{self, CallRecord},
        upstream,
    },
    error::{AppError, AppResult},
    providers::{self, ProviderClient},
};

super::job!(StatusSync, "status sync", upstream.status_sync_interval);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub checked: usize,
    pub changed: usize,
    pub errors: usize,
}

impl SyncReport {
    fn add(&mut self, other: SyncReport) {
        self.checked += other.checked;
        self.changed += other.changed;
        self.errors += other.errors;
    }
}

/// Checks the open orders of every active, healthy provider in batches of 100.
pub async fn run(state: &AppState) -> AppResult<SyncReport> {
    let clients = Clients::active(state).await?;
    let mut report = SyncReport::default();
    for (provider, client) in clients.providers.values() {
        if !provider_health::is_healthy(provider) {
            continue;
        }
        report.add(sync_provider(state, provider, client.as_ref()).await?);
    }
    Ok(report)
}

/// Where the claims of one provider's run stand.
struct Claims {
    /// Each order once per run, whatever the lease.
    seen: HashSet<i64>,
    /// The claim of the next round, already under way.
    next: Option<JoinHandle<AppResult<Vec<OrderRow>>>>,
}

async fn sync_provider(
    state: &AppState,
    provider: &ProviderRow,
    client: &dyn ProviderClient,
) -> AppResult<SyncReport> {
    let config = &state.config.upstream;
    let in_flight = config.dispatch_concurrency.max(1);
    // A round fills every call slot once.
    let round = (in_flight * providers::MAX_BATCH) as i64;
    let rounds = rounds(state, provider.id, round);
    // The calls' health records, written a round at a time rather than two
    // statements per call.
    let calls = Mutex::new(Vec::with_capacity(in_flight));
    let calls = &calls;
    let mut results = std::pin::pin!(
        rounds
            .flat_map(stream::iter)
            .map(
                |batch: AppResult<Vec<OrderRow>>| -> BoxFuture<'_, AppResult<SyncReport>> {
                    // Boxed: an unboxed future over borrowed state trips the compiler's
                    // Send inference inside tokio::spawn.
                    async move { sync_batch(state, provider, client, &batch?, calls).await }.boxed()
                },
            )
            .buffer_unordered(in_flight)
    );
    let mut report = SyncReport::default();
    let mut first_error = None;
    while let Some(result) = results.next().await {
        match result {
            Ok(batch) => report.add(batch),
            // The batches still under way are dropped: their orders are leased
            // and simply checked again after the lease.
            Err(error) => {
                first_error = Some(error);
                break;
            }
        }
    }
    let calls = std::mem::take(&mut *calls.lock().unwrap_or_else(|e| e.into_inner()));
    record_health(state, &calls).await;
    first_error.map_or(Ok(report), Err)
}

/// The rounds of a provider's open orders. Each round is claimed ahead, while
/// the calls of the previous one run, so the calls never wait for a claim.
fn rounds(
    state: &AppState,
    provider_id: i64,
    round: i64,
) -> impl futures_util::Stream<Item = Round> + Send + '_ {
    let claims = Claims {
        seen: HashSet::new(),
        next: start_claim(state, provider_id, round),
    };
    stream::unfold(claims, move |claims| {
        next_round(state, provider_id, round, claims).boxed()
    })
}

/// Starts claiming a round in a task of its own, unless the process is stopping.
/// A claim only sets a lease, so one whose round is never synced (the run ended
/// or stopped first) only means those orders wait for the lease to end.
fn start_claim(
    state: &AppState,
    provider_id: i64,
    round: i64,
) -> Option<JoinHandle<AppResult<Vec<OrderRow>>>> {
    if state.is_stopping() {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        let mut conn = state.pool.get().await?;
        upstream::claim_for_sync(
            &mut conn,
            provider_id,
            round,
            state.config.upstream.status_sync_lease,
        )
        .await
    }))
}

/// The batches of one claimed round (or the claim's error).
type Round = Vec<AppResult<Vec<OrderRow>>>;

/// The next round of a provider's open orders, cut into call batches (and the
/// round after it started); None when nothing is left.
async fn next_round(
    state: &AppState,
    provider_id: i64,
    round: i64,
    mut claims: Claims,
) -> Option<(Round, Claims)> {
    let claimed = match claims.next.take()?.await {
        Ok(Ok(claimed)) => claimed,
        Ok(Err(error)) => return Some((vec![Err(error)], claims)),
        Err(error) => {
            let error = AppError::Internal(anyhow::anyhow!("status sync claim: {error}"));
            return Some((vec![Err(error)], claims));
        }
    };
    if claimed.len() as i64 == round {
        claims.next = start_claim(state, provider_id, round);
    }
    let fresh: Vec<OrderRow> = claimed
        .into_iter()
        .filter(|o| claims.seen.insert(o.id))
        .collect();
    if fresh.is_empty() {
        return None;
    }
    let batches = fresh
        .chunks(providers::MAX_BATCH)
        .map(|batch| Ok(batch.to_vec()))
        .collect();
    Some((batches, claims))
}

/// One status call for up to 100 orders, its answers applied as one batch.
async fn sync_batch(
    state: &AppState,
    provider: &ProviderRow,
    client: &dyn ProviderClient,
    batch: &[OrderRow],
    calls: &Mutex<Vec<CallRecord>>,
) -> AppResult<SyncReport> {
    let ids: Vec<String> = batch
        .iter()
        .filter_map(|o| o.provider_order_id.clone())
        .collect();
    let mut report = SyncReport::default();
    let (statuses, call) = timed(provider, "status", client.statuses(&ids)).await;
    let full_round = {
        let mut calls = calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.push(call);
        let in_flight = state.config.upstream.dispatch_concurrency.max(1);
        (calls.len() >= in_flight).then(|| std::mem::take(&mut *calls))
    };
    if let Some(full_round) = full_round {
        record_health(state, &full_round).await;
    }
    let statuses = match statuses {
        Ok(statuses) => statuses,
        Err(error) => {
            tracing::warn!(provider = provider.id, %error, "status sync call failed; the orders are checked again after the lease");
            report.errors += batch.len();
            return Ok(report);
        }
    };
    let mut reports = Vec::with_capacity(batch.len());
    let mut errors = Vec::new();
    for order in batch {
        let Some(remote_id) = &order.provider_order_id else {
            continue;
        };
        report.checked += 1;
        match statuses.get(remote_id) {
            Some(Ok(remote)) => reports.push((order.id, remote)),
            Some(Err(error)) => errors.push((order.id, error.as_str())),
            None => report.errors += 1,
        }
    }
    report.errors += errors.len();
    let mut conn = state.pool.get().await?;
    let updated = upstream::apply_remote_statuses(&mut conn, &reports).await?;
    report.changed = updated
        .iter()
        .filter(|updated| {
            batch.iter().any(|order| {
                order.id == updated.id
                    && (updated.status != order.status
                        || updated.remains != order.remains
                        || updated.start_count != order.start_count)
            })
        })
        .count();
    upstream::note_sync_errors(&mut conn, &errors).await?;
    Ok(report)
}
