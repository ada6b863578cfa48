//! Background work: one small [`Job`] trait, one file per job, one [`Runner`]
//! that runs them all (`runner.rs`). Every job claims its rows with
//! `FOR UPDATE SKIP LOCKED` (plus a lease where a claim outlives its transaction),
//! so any number of `serve` and `worker` processes can run the same jobs.
//!
//! To add a job: a file here with `pub async fn run(&AppState) -> AppResult<Report>`
//! and `job!(Name, "name", <concern>.<interval>)` (a `Config` field), which implements
//! [`Job`] for it, and one line in [`all`]. A run returns a
//! one-line summary when it did something; the runner logs it, isolates panics and
//! stops the job at shutdown. Long runs check [`AppState::is_stopping`] between
//! claims so that a stop never strands claimed work.

pub mod callback_outbox;
pub mod catalog_sync;
pub mod chat_outbox;
pub mod customer_levels;
pub mod dispatch;
pub mod drip_feed;
pub mod mail_outbox;
pub mod order_requests;
pub mod outbox;
pub mod provider_clients;
pub mod provider_health;
pub mod reconcile_deposits;
mod runner;
pub mod scheduled_posts;
pub mod service_figures;
pub mod sign_in_history;
pub mod status_sync;

use std::time::Duration;

use async_trait::async_trait;

pub use runner::Runner;

use crate::{app::AppState, config::Config, error::AppResult};

#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// The name in logs.
    fn name(&self) -> &'static str;

    /// How long between the end of one run and the start of the next; zero turns
    /// the job off.
    fn interval(&self, config: &Config) -> Duration;

    /// One run. `Some(summary)` when it did something worth a log line.
    async fn run_once(&self, state: &AppState) -> AppResult<Option<String>>;
}

/// Every job of the application, in the order they start.
pub fn all() -> Vec<Box<dyn Job>> {
    vec![
        Box::new(drip_feed::DripFeed),
        Box::new(dispatch::Dispatch),
        Box::new(status_sync::StatusSync),
        Box::new(order_requests::OrderRequests),
        Box::new(provider_health::ProviderHealth),
        Box::new(reconcile_deposits::ReconcileDeposits),
        Box::new(catalog_sync::CatalogSync),
        Box::new(mail_outbox::MailOutbox),
        Box::new(callback_outbox::CallbackOutbox),
        Box::new(chat_outbox::ChatOutbox),
        Box::new(scheduled_posts::ScheduledPosts),
        Box::new(sign_in_history::SignInHistory),
        Box::new(customer_levels::CustomerLevels),
        Box::new(service_figures::ServiceFigures),
    ]
}

/// Each job's name and interval under `config`: what readiness holds job runs to.
pub fn schedule(config: &Config) -> Vec<(&'static str, Duration)> {
    all()
        .iter()
        .map(|job| (job.name(), job.interval(config)))
        .collect()
}

/// A summary for a report that differs from "nothing happened".
pub(crate) fn summary<R: std::fmt::Debug + Default + PartialEq>(report: R) -> Option<String> {
    (report != R::default()).then(|| format!("{report:?}"))
}

/// The [`Job`] of a job file: a unit struct named `$job`, logged as `$name`, run
/// every `config.$interval`, whose run is the file's
/// `run(&AppState) -> AppResult<Report>`; a report other than `Report::default()`
/// is logged as the run's summary.
macro_rules! job {
    ($job:ident, $name:literal, $($interval:ident).+) => {
        pub struct $job;

        #[async_trait::async_trait]
        impl $crate::jobs::Job for $job {
            fn name(&self) -> &'static str {
                $name
            }

            fn interval(&self, config: &$crate::config::Config) -> std::time::Duration {
                config.$($interval).+
            }

            async fn run_once(
                &self,
                state: &$crate::app::AppState,
            ) -> $crate::error::AppResult<Option<String>> {
                run(state).await.map($crate::jobs::summary)
            }
        }
    };
}
use job;
