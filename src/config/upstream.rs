//! Catalogue sync and the upstream jobs' pacing (dispatch, status sync, provider calls).

use std::time::Duration;

use super::parse_var;

/// Provider catalogues.
#[derive(Clone, Debug)]
pub struct CatalogConfig {
    /// Zero: `booster serve` does not run the catalogue sync job.
    pub sync_interval: Duration,
    /// The largest reseller discount (basis points) on a service whose cost is not
    /// known (the panel's own stock and manual services): they never become free.
    pub own_product_max_discount_bps: i32,
}

impl CatalogConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(CatalogConfig {
            sync_interval: Duration::from_secs(parse_var("CATALOG_SYNC_INTERVAL_SECONDS", 3600)?),
            own_product_max_discount_bps: own_product_max_discount_bps(parse_var(
                "OWN_PRODUCT_MAX_DISCOUNT_BPS",
                DEFAULT_OWN_PRODUCT_MAX_DISCOUNT_BPS,
            )?)?,
        })
    }
}

/// The default of `OWN_PRODUCT_MAX_DISCOUNT_BPS`: half price at most for own
/// products, whose cost the panel does not know.
pub const DEFAULT_OWN_PRODUCT_MAX_DISCOUNT_BPS: i32 = 5_000;

/// `OWN_PRODUCT_MAX_DISCOUNT_BPS` must be 0 to 9999: a whole discount (10000
/// basis points) would make the panel's own products free.
fn own_product_max_discount_bps(bps: i32) -> anyhow::Result<i32> {
    if !(0..10_000).contains(&bps) {
        anyhow::bail!("OWN_PRODUCT_MAX_DISCOUNT_BPS must be between 0 and 9999");
    }
    Ok(bps)
}

/// The upstream jobs: dispatch, status sync, request forwarding, provider health.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    pub run_jobs_in_serve: bool,
    pub dispatch_interval: Duration,
    pub dispatch_batch: i64,
    pub dispatch_concurrency: usize,
    pub dispatch_retry: Duration,
    pub submit_stuck_after: Duration,
    pub status_sync_interval: Duration,
    pub status_sync_lease: Duration,
    pub health_interval: Duration,
    /// One provider call's timeout, and the first pause before retrying a call that
    /// failed before reaching the provider (3 attempts, doubling).
    pub provider_timeout: Duration,
    pub provider_retry_backoff: Duration,
}

impl UpstreamConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(UpstreamConfig {
            run_jobs_in_serve: parse_var("RUN_JOBS", true)?,
            dispatch_interval: Duration::from_millis(parse_var("DISPATCH_INTERVAL_MS", 1000)?),
            dispatch_batch: parse_var("DISPATCH_BATCH", 100)?,
            dispatch_concurrency: parse_var("DISPATCH_CONCURRENCY", 16)?,
            dispatch_retry: Duration::from_secs(parse_var("DISPATCH_RETRY_SECONDS", 30)?),
            submit_stuck_after: Duration::from_secs(parse_var("SUBMIT_STUCK_AFTER_SECONDS", 300)?),
            status_sync_interval: Duration::from_secs(parse_var(
                "STATUS_SYNC_INTERVAL_SECONDS",
                60,
            )?),
            status_sync_lease: Duration::from_secs(parse_var("STATUS_SYNC_LEASE_SECONDS", 120)?),
            health_interval: Duration::from_secs(parse_var(
                "PROVIDER_HEALTH_INTERVAL_SECONDS",
                300,
            )?),
            provider_timeout: Duration::from_secs(parse_var("PROVIDER_TIMEOUT_SECONDS", 20)?),
            provider_retry_backoff: Duration::from_millis(parse_var(
                "PROVIDER_RETRY_BACKOFF_MS",
                200,
            )?),
        })
    }
}
