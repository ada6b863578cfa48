//! Whether the panel is doing its work, for an uptime checker (`GET /readyz`): each
//! job's last success (from `job_runs`, whichever process ran it), the oldest order
//! still waiting to be sent, orders waiting for an admin, bank mutations no
//! deposit took, unhealthy providers. Any
//! figure past its threshold makes the panel not ready, so a plain uptime check can
//! page the owner. Counts only: no provider names, no user data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;

use crate::{
    config::ServerConfig,
    db::{
        bank_mutations::BankMutationRow, enums::OrderStatus, job_runs, orders::OrderRow,
        providers::ProviderRow,
    },
    error::AppResult,
};

/// A job as readiness sees it: its name and how often it should succeed (zero:
/// switched off). The caller passes the schedule, so the rule stays below `jobs/`.
pub type JobSchedule = [(&'static str, Duration)];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub name: &'static str,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// No success within the job's allowance (three intervals, at least
    /// `READY_JOB_GRACE_SECONDS`).
    pub stale: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub ready: bool,
    /// What is wrong, in words, when not ready.
    pub problems: Vec<String>,
    pub jobs: Vec<JobState>,
    pub oldest_pending_seconds: Option<i64>,
    /// The oldest bank mutation no deposit took (unmatched, ambiguous, expired match).
    pub oldest_unmatched_mutation_seconds: Option<i64>,
    pub needs_review: i64,
    pub unhealthy_providers: i64,
}

pub async fn check(
    conn: &mut AsyncPgConnection,
    thresholds: &ServerConfig,
    mutation_alert_after: Duration,
    schedule: &JobSchedule,
) -> AppResult<Readiness> {
    let now = Utc::now();
    let runs = job_runs::all(conn).await?;
    let mut problems = Vec::new();
    let mut jobs = Vec::new();
    for &(name, interval) in schedule {
        if interval.is_zero() {
            continue;
        }
        let allowance = (interval * 3).max(thresholds.ready_job_grace);
        let run = runs.iter().find(|r| r.name == name);
        let last_success_at = run.and_then(|r| r.last_success_at);
        let stale =
            last_success_at.is_none_or(|at| (now - at).to_std().unwrap_or_default() > allowance);
        if stale {
            problems.push(format!(
                "job {} has not succeeded in {} s",
                name,
                allowance.as_secs()
            ));
        }
        jobs.push(JobState {
            name,
            last_success_at,
            last_failure_at: run.and_then(|r| r.last_failure_at),
            stale,
        });
    }
    let oldest_pending = OrderRow::oldest_with_status(conn, OrderStatus::Pending).await?;
    let oldest_pending_seconds = oldest_pending.map(|at| (now - at).num_seconds().max(0));
    if let Some(age) = oldest_pending_seconds
        && age > thresholds.ready_max_pending_age.as_secs() as i64
    {
        problems.push(format!("an order has waited {age} s to be sent"));
    }
    let needs_review = OrderRow::count_by_status(conn, &[OrderStatus::NeedsReview])
        .await?
        .first()
        .map_or(0, |(_, count)| *count);
    if needs_review > thresholds.ready_max_needs_review {
        problems.push(format!("{needs_review} orders need review"));
    }
    let oldest_mutation = BankMutationRow::oldest_waiting(conn).await?;
    let oldest_unmatched_mutation_seconds =
        oldest_mutation.map(|at| (now - at).num_seconds().max(0));
    if let Some(age) = oldest_unmatched_mutation_seconds
        && age > mutation_alert_after.as_secs() as i64
    {
        problems.push(format!(
            "a bank mutation has waited {age} s for an admin to match it"
        ));
    }
    let unhealthy_providers = ProviderRow::count_unhealthy(conn, now).await?;
    if unhealthy_providers > thresholds.ready_max_unhealthy_providers {
        problems.push(format!("{unhealthy_providers} providers are unhealthy"));
    }
    Ok(Readiness {
        ready: problems.is_empty(),
        problems,
        jobs,
        oldest_pending_seconds,
        oldest_unmatched_mutation_seconds,
        needs_review,
        unhealthy_providers,
    })
}
