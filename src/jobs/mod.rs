//! Background work run inside `booster serve`, one file per job. Every job claims
//! its rows with `FOR UPDATE SKIP LOCKED`, so any number of processes can run it.

pub mod catalog_sync;
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
    let interval = state.config.catalog.sync_interval;
    if !interval.is_zero() {
        handles.push(tokio::spawn(catalog_sync::run_forever(
            state.clone(),
            interval,
        )));
    }
    handles
}
