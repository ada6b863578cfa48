//! Prometheus metrics: the process-wide recorder, the names every module records
//! under, and `GET /metrics` (text format, behind `METRICS_TOKEN`).
//!
//! Counters and histograms are recorded where things happen (HTTP middleware, job
//! runner, webhooks, provider calls, sockets). Figures that belong to the database
//! rather than to one process (connections of the pool, open orders by status,
//! money credited and debited) are read when scraped, so every process reports the
//! same truth and a restart loses nothing. Labels carry routes, job names, gateway
//! names, provider ids, statuses and error codes: never a user id, a link or a
//! secret.

use std::sync::OnceLock;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::db::{PgPool, enums::OrderStatus, ledger::LedgerEntryRow, orders::OrderRow};

pub const HTTP_REQUESTS: &str = "booster_http_requests_total";
pub const HTTP_DURATION: &str = "booster_http_request_duration_seconds";
pub const GRAPHQL_REQUESTS: &str = "booster_graphql_requests_total";
pub const JOB_RUNS: &str = "booster_job_runs_total";
pub const JOB_DURATION: &str = "booster_job_duration_seconds";
pub const JOB_LAST_SUCCESS: &str = "booster_job_last_success_timestamp_seconds";
pub const WEBHOOKS: &str = "booster_webhooks_total";
pub const PROVIDER_CALLS: &str = "booster_provider_calls_total";
pub const PROVIDER_CALL_DURATION: &str = "booster_provider_call_duration_seconds";
pub const WEBSOCKETS: &str = "booster_websocket_connections";
pub const SUBSCRIPTIONS: &str = "booster_subscriptions";
pub const ORDERS_OPEN: &str = "booster_orders_open";
pub const ORDERS_PLACED: &str = "booster_orders_placed_total";
/// Orders placed in a group of one account's orders (`domain::orders::group_commit`).
pub const ORDERS_GROUP_COMMITTED: &str = "booster_orders_group_committed_total";
pub const LEDGER_RUPIAH: &str = "booster_ledger_rupiah_total";
pub const POOL_CONNECTIONS: &str = "booster_db_pool_connections";
pub const POOL_WAITING: &str = "booster_db_pool_waiting";
pub const POOL_TIMEOUTS: &str = "booster_db_pool_timeouts_total";
pub const GRAPHQL_FIELDS: &str = "booster_graphql_root_fields_total";
pub const ORDERS_DISPATCHED: &str = "booster_orders_dispatched_total";
pub const LEDGER_ENTRIES: &str = "booster_ledger_entries_total";
/// Mail send attempts by outcome (`sent`, `retrying`, `failed`).
pub const MAIL_SENDS: &str = "booster_mail_sends_total";

/// The recorder, installed once per process (tests start many apps in one).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        PrometheusBuilder::new()
            .set_buckets(&seconds)
            .expect("buckets are not empty")
            .install_recorder()
            .expect("one metrics recorder per process")
    })
}

/// Counts every request by route template (never the raw path), method and
/// status, with its latency.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_string();
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// The text exposition, with the database figures read now (`pool`, the main
/// pool, reads them; `page_pool`'s connections are reported beside its own).
pub async fn render(pool: &PgPool, page_pool: &PgPool) -> String {
    record_pool("pages", page_pool);
    if let Err(error) = record_database_figures(pool).await {
        tracing::warn!(%error, "metrics: database figures unavailable");
    }
    handle().render()
}

/// A pool's connections (in use, idle, max) and waiting callers, labelled
/// `pool="main"` or `pool="pages"`.
fn record_pool(name: &'static str, pool: &PgPool) {
    let status = pool.status();
    metrics::gauge!(POOL_CONNECTIONS, "pool" => name, "state" => "in_use")
        .set((status.size.saturating_sub(status.available)) as f64);
    metrics::gauge!(POOL_CONNECTIONS, "pool" => name, "state" => "idle")
        .set(status.available as f64);
    metrics::gauge!(POOL_CONNECTIONS, "pool" => name, "state" => "max").set(status.max_size as f64);
    metrics::gauge!(POOL_WAITING, "pool" => name).set(status.waiting as f64);
}

/// Figures read from the database at scrape time.
async fn record_database_figures(pool: &PgPool) -> anyhow::Result<()> {
    record_pool("main", pool);

    let mut conn = pool.get().await?;
    // Open orders only: they are few, whatever the history's size.
    let open = [
        OrderStatus::Pending,
        OrderStatus::Submitting,
        OrderStatus::Processing,
        OrderStatus::InProgress,
        OrderStatus::NeedsReview,
    ];
    let counts = OrderRow::count_by_status(&mut conn, &open).await?;
    for status in open {
        let count = counts
            .iter()
            .find(|(counted, _)| *counted == status)
            .map_or(0, |(_, count)| *count);
        metrics::gauge!(ORDERS_OPEN, "status" => status.as_str()).set(count as f64);
    }
    // The ledger is the truth about money: exact, and the same from every process.
    // Refunds are the REFUND kind's entries and amount.
    let money = LedgerEntryRow::totals_by_kind(&mut conn).await?;
    let (mut credited, mut debited) = (0, 0);
    for kind in &money {
        credited += kind.credited;
        debited += kind.debited;
        metrics::counter!(LEDGER_ENTRIES, "kind" => kind.kind.clone())
            .absolute(kind.entries as u64);
    }
    metrics::counter!(LEDGER_RUPIAH, "direction" => "credited").absolute(credited as u64);
    metrics::counter!(LEDGER_RUPIAH, "direction" => "debited").absolute(debited as u64);
    Ok(())
}
