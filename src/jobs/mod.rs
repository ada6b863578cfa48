//! Background work run inside `booster serve`, one file per job. Every job claims
//! its rows with `FOR UPDATE SKIP LOCKED`, so any number of processes can run it.

pub mod catalog_sync;
pub mod fulfillment;
pub mod reconcile_deposits;

use crate::app::AppState;

/// Starts the periodic jobs; they stop with the runtime.
pub fn spawn(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    let interval = state.config.payments.reconcile_interval;
    if !interval.is_zero() {
        handles.push(tokio::spawn(reconcile_deposits::run_forever(
            state.clone(),
            interval,
        )));
    }
    let fulfillment = &state.config.fulfillment;
    handles.push(every(
        state,
        "dispatch",
        fulfillment.dispatch_interval,
        |s| async move {
            fulfillment::dispatch_once(&s)
                .await
                .map(|r| (r != Default::default()).then(|| format!("{r:?}")))
        },
    ));
    handles.push(every(
        state,
        "status sync",
        fulfillment.status_sync_interval,
        |s| async move {
            fulfillment::sync_once(&s)
                .await
                .map(|r| (r.checked > 0).then(|| format!("{r:?}")))
        },
    ));
    handles.push(every(
        state,
        "order requests",
        fulfillment.status_sync_interval,
        |s| async move {
            fulfillment::forward_requests_once(&s)
                .await
                .map(|r| (r != Default::default()).then(|| format!("{r:?}")))
        },
    ));
    handles.push(every(
        state,
        "provider health",
        fulfillment.health_interval,
        |s| async move { fulfillment::check_health_once(&s).await.map(|_| None) },
    ));
    let interval = state.config.catalog.sync_interval;
    if !interval.is_zero() {
        handles.push(tokio::spawn(catalog_sync::run_forever(
            state.clone(),
            interval,
        )));
    }
    handles
}

/// Runs `job` every `interval` (never overlapping itself), logging what it did.
fn every<F, Fut>(
    state: &AppState,
    name: &'static str,
    interval: std::time::Duration,
    job: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::error::AppResult<Option<String>>> + Send,
{
    let state = state.clone();
    tokio::spawn(async move {
        if interval.is_zero() {
            return;
        }
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match job(state.clone()).await {
                Ok(Some(summary)) => tracing::info!(job = name, %summary, "job ran"),
                Ok(None) => {}
                Err(error) => tracing::warn!(job = name, %error, "job failed"),
            }
        }
    })
}
