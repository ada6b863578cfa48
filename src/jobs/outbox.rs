//! The one outbox runtime every channel's outbox job runs on (mail, resellers'
//! callbacks): a batch is claimed with `FOR UPDATE SKIP LOCKED` and leased in its
//! own committed statement, each item is delivered with no transaction open, and
//! its outcome is written only while the lease is still ours. An item whose call
//! could outlast its lease is not started (another worker may take it once the
//! lease has passed), so two workers never deliver one item at once and a worker
//! that dies mid-call leaves its items to others after the lease. Retries back off
//! by doubling, capped (`domain::retry::backoff`).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;

use crate::{app::AppState, db::claim::Claim, error::AppResult};

/// What recording an outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    /// Failed; tried again later.
    Retrying,
    /// Failed for good (refused, or out of attempts or time).
    GaveUp,
    /// The lease had passed: another worker owns the item now; nothing written.
    LeaseLost,
}

/// How an outbox works through its queue.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Items claimed at once.
    pub batch: i64,
    /// How long a claim holds its items.
    pub lease: Duration,
    /// The longest one delivery can take.
    pub call_timeout: Duration,
}

impl Pace {
    /// `lease` and `call_timeout` from settings, with fallbacks for durations
    /// too long for `chrono`.
    pub fn from_settings(
        batch: i64,
        lease: std::time::Duration,
        call_timeout: std::time::Duration,
    ) -> Pace {
        let or = |d: std::time::Duration, fallback| Duration::from_std(d).unwrap_or(fallback);
        Pace {
            batch,
            lease: or(lease, Duration::minutes(5)),
            // Absurdly long: never started within a lease rather than delivered twice.
            call_timeout: or(call_timeout, Duration::days(365)),
        }
    }
}

/// A channel's outbox: how its items are claimed, delivered and recorded.
#[async_trait]
pub trait Outbox: Send + Sync {
    type Item: Send + Sync;
    /// What a successful delivery tells (an answer's status, say).
    type Receipt: Send;
    type Failure: Send;

    fn pace(&self) -> Pace;
    /// Claims due items, with what their delivery needs.
    async fn claim(&self, conn: &mut AsyncPgConnection, claim: Claim)
    -> AppResult<Vec<Self::Item>>;
    /// The lease of a claimed item, as stored.
    fn lease_of(&self, item: &Self::Item) -> Option<DateTime<Utc>>;
    /// One delivery; no transaction is open.
    async fn deliver(&self, item: &Self::Item) -> Result<Self::Receipt, Self::Failure>;
    /// Writes the outcome, only if `lease_until` is still the item's lease.
    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        item: &Self::Item,
        lease_until: DateTime<Utc>,
        outcome: Result<Self::Receipt, Self::Failure>,
    ) -> AppResult<Recorded>;
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OutboxReport {
    pub delivered: usize,
    /// Failed attempts that will be tried again.
    pub retrying: usize,
    /// Items given up on.
    pub failed: usize,
}

/// At most this many batches per run, so one run always ends.
const MAX_BATCHES: usize = 50;

/// Delivers what is due, batch by batch, until a batch comes back short, the
/// process stops, or [`MAX_BATCHES`] ran.
pub async fn drain<O: Outbox>(state: &AppState, outbox: &O) -> AppResult<OutboxReport> {
    let mut report = OutboxReport::default();
    let pace = outbox.pace();
    for _ in 0..MAX_BATCHES {
        if state.is_stopping() {
            break;
        }
        let now = Utc::now();
        let claim = Claim {
            now,
            lease_until: now + pace.lease,
            limit: pace.batch,
        };
        let claimed = outbox.claim(&mut *state.pool.get().await?, claim).await?;
        let count = claimed.len();
        for item in &claimed {
            let Some(lease_until) = outbox.lease_of(item) else {
                continue;
            };
            if Utc::now() + pace.call_timeout >= lease_until {
                continue;
            }
            let outcome = outbox.deliver(item).await;
            let mut conn = state.pool.get().await?;
            match outbox.record(&mut conn, item, lease_until, outcome).await? {
                Recorded::Delivered => report.delivered += 1,
                Recorded::Retrying => report.retrying += 1,
                Recorded::GaveUp => report.failed += 1,
                Recorded::LeaseLost => {}
            }
        }
        if (count as i64) < pace.batch {
            break;
        }
    }
    Ok(report)
}
