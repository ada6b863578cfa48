//! Status sync: asks each active, healthy provider about its open orders (leased
//! claims, up to 100 ids per call) and applies the answers through
//! `domain::fulfillment`, which records the history, publishes the events and
//! refunds CANCELED and PARTIAL orders exactly once.

use futures_util::{FutureExt, StreamExt, future::BoxFuture, stream};

use super::provider_calls::{Clients, tracked};
use crate::{
    app::AppState,
    db::{orders::OrderRow, providers::ProviderRow},
    domain::{
        fulfillment::{self},
        provider_health,
    },
    error::AppResult,
    providers::{self, ProviderClient},
};

super::job!(StatusSync, "status sync", fulfillment.status_sync_interval);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub checked: usize,
    pub changed: usize,
    pub errors: usize,
}

/// Checks the open orders of every active, healthy provider in batches of 100.
pub async fn run(state: &AppState) -> AppResult<SyncReport> {
    let config = &state.config.fulfillment;
    let clients = Clients::active(state).await?;
    let mut report = SyncReport::default();
    for (provider, client) in clients.providers.values() {
        if !provider_health::is_healthy(provider) {
            continue;
        }
        const CLAIM: i64 = 1000;
        let mut seen = std::collections::HashSet::new();
        while !state.is_stopping() {
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
