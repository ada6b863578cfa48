//! The one job runner. Each job runs on its own tick and never overlaps itself;
//! each run is its own task, so a panic is logged and the next tick runs as usual.
//! On shutdown (`AppState::shutdown`, cancelled by SIGTERM/SIGINT) no new run
//! starts, and [`Runner::stop`] waits for the runs in flight up to a deadline:
//! they finish the provider calls they started and claim nothing new.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use super::Job;
use crate::app::AppState;

pub struct Runner {
    loops: Vec<JoinHandle<()>>,
}

impl Runner {
    /// Starts every enabled job of `jobs` on the runtime.
    pub fn start(state: &AppState, jobs: Vec<Box<dyn Job>>) -> Runner {
        let loops = jobs
            .into_iter()
            .filter_map(|job| {
                let interval = job.interval(&state.config);
                if interval.is_zero() {
                    tracing::info!(job = job.name(), "job disabled");
                    return None;
                }
                Some(tokio::spawn(run_forever(
                    state.clone(),
                    job.into(),
                    interval,
                )))
            })
            .collect();
        Runner { loops }
    }

    /// Waits until every job has seen the shutdown and finished its current run, or
    /// `deadline` passes (then the runs still going are abandoned: whatever they
    /// claimed is recovered by its lease or by the stuck-submission check).
    pub async fn stop(self, deadline: Duration) {
        let all = futures_util::future::join_all(self.loops);
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!(?deadline, "jobs still running at the shutdown deadline");
        }
    }
}

/// Counts the run, and remembers a success in `job_runs` (what `/readyz` reads,
/// whichever process ran the job).
async fn record_run(state: &AppState, name: &'static str, outcome: &'static str, took: Duration) {
    use crate::metrics::{JOB_DURATION, JOB_LAST_SUCCESS, JOB_RUNS};
    metrics::counter!(JOB_RUNS, "job" => name, "outcome" => outcome).increment(1);
    metrics::histogram!(JOB_DURATION, "job" => name).record(took.as_secs_f64());
    let succeeded = outcome == "ok";
    if succeeded {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        metrics::gauge!(JOB_LAST_SUCCESS, "job" => name).set(now.as_secs_f64());
    }
    let recorded = async {
        let mut conn = state.pool.get().await?;
        crate::db::job_runs::record(&mut conn, name, succeeded).await?;
        anyhow::Ok(())
    };
    if let Err(error) = recorded.await {
        tracing::warn!(job = name, %error, "could not record the job run");
    }
}

async fn run_forever(state: AppState, job: Arc<dyn Job>, interval: Duration) {
    let name = job.name();
    loop {
        if state.is_stopping() {
            break;
        }
        let run = {
            let (state, job) = (state.clone(), job.clone());
            tokio::spawn(async move { job.run_once(&state).await })
        };
        let started = std::time::Instant::now();
        let outcome = match run.await {
            Ok(Ok(Some(summary))) => {
                tracing::info!(job = name, %summary, "job ran");
                "ok"
            }
            Ok(Ok(None)) => "ok",
            Ok(Err(error)) => {
                tracing::warn!(job = name, %error, "job failed");
                "failed"
            }
            Err(error) if error.is_panic() => {
                tracing::error!(job = name, %error, "job panicked; it runs again next tick");
                "panicked"
            }
            Err(error) => {
                tracing::error!(job = name, %error, "job run was cancelled");
                "cancelled"
            }
        };
        record_run(&state, name, outcome, started.elapsed()).await;
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    tracing::debug!(job = name, "job stopped");
}
