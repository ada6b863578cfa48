//! Provider health: every call's outcome and latency is recorded; a provider that
//! keeps failing is marked unhealthy for a cool-down, during which dispatch leaves
//! its orders waiting (they are not failed); a low balance warns the admins once per
//! crossing of the threshold.

use std::time::Duration;

use bigdecimal::BigDecimal;
use chrono::Utc;
use diesel_async::AsyncPgConnection;

use crate::{
    db::{
        provider_calls::{self, NewProviderCall},
        providers::ProviderRow,
    },
    domain::notifications::{self, About, Audience},
    error::AppResult,
};

/// Consecutive failed calls after which a provider is skipped for a while.
pub const FAILURES_BEFORE_UNHEALTHY: i32 = 5;
pub const COOL_DOWN: Duration = Duration::from_secs(120);

/// One provider call's outcome, as its health counts it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub provider_id: i64,
    pub action: &'static str,
    pub latency: Duration,
    /// None for a success; refusals of a single order ("incorrect link") are
    /// successes of the provider and are recorded as such by the caller.
    pub error: Option<String>,
}

/// Records one call. `error` is None for a success; refusals of a single order
/// ("incorrect link") are successes of the provider and are recorded as such by
/// the caller.
pub async fn record_call(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    action: &'static str,
    latency: Duration,
    error: Option<&str>,
) -> AppResult<()> {
    let call = CallRecord {
        provider_id,
        action,
        latency,
        error: error.map(str::to_string),
    };
    record_calls(conn, std::slice::from_ref(&call)).await
}

/// Records calls in the order they ended: one INSERT of their rows and one UPDATE
/// per provider, with the same result as recording them one by one: a success
/// resets the consecutive failures (and any cool-down), each failure after the
/// last success counts, and reaching [`FAILURES_BEFORE_UNHEALTHY`] pauses the
/// provider and warns the admins once; failing on past it extends the pause.
pub async fn record_calls(conn: &mut AsyncPgConnection, calls: &[CallRecord]) -> AppResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let latency_ms = |call: &CallRecord| call.latency.as_millis().min(i32::MAX as u128) as i32;
    for call in calls {
        use crate::metrics::{PROVIDER_CALL_DURATION, PROVIDER_CALLS};
        let provider = call.provider_id.to_string();
        let outcome = if call.error.is_none() { "ok" } else { "error" };
        metrics::counter!(PROVIDER_CALLS, "provider" => provider.clone(), "action" => call.action, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(PROVIDER_CALL_DURATION, "provider" => provider)
            .record(call.latency.as_secs_f64());
    }
    let rows: Vec<_> = calls
        .iter()
        .map(|call| NewProviderCall {
            provider_id: call.provider_id,
            action: call.action,
            ok: call.error.is_none(),
            latency_ms: latency_ms(call),
            error: call.error.as_deref(),
        })
        .collect();
    provider_calls::insert_many(conn, &rows).await?;
    let mut provider_ids: Vec<i64> = calls.iter().map(|c| c.provider_id).collect();
    provider_ids.sort_unstable();
    provider_ids.dedup();
    for provider_id in provider_ids {
        let calls: Vec<&CallRecord> = calls
            .iter()
            .filter(|c| c.provider_id == provider_id)
            .collect();
        let last = calls[calls.len() - 1];
        // The failures since the last success; all of them when none succeeded.
        let since_success = calls.iter().rev().take_while(|c| c.error.is_some()).count() as i32;
        let succeeded = since_success < calls.len() as i32;
        let last_error = calls.iter().rev().find_map(|c| c.error.as_deref());
        let until = Utc::now() + chrono::Duration::from_std(COOL_DOWN).unwrap_or_default();
        let (before, failures): (i32, i32) = if succeeded {
            let pause = (since_success >= FAILURES_BEFORE_UNHEALTHY).then_some(until);
            let latency = latency_ms(last);
            ProviderRow::record_success(
                conn,
                provider_id,
                since_success,
                pause,
                latency,
                last_error,
            )
            .await?;
            (0, since_success)
        } else {
            let failures = ProviderRow::add_failures(
                conn,
                provider_id,
                since_success,
                last_error,
                latency_ms(last),
            )
            .await?;
            if failures >= FAILURES_BEFORE_UNHEALTHY {
                // Reaching the threshold pauses; failing on past it extends the pause.
                ProviderRow::pause_until(conn, provider_id, until).await?;
            }
            (failures - since_success, failures)
        };
        if before < FAILURES_BEFORE_UNHEALTHY && failures >= FAILURES_BEFORE_UNHEALTHY {
            let error = last_error.unwrap_or_default();
            let message = format!(
                "provider {provider_id} failed {failures} calls in a row and is paused until {until}; last error: {error}"
            );
            notifications::notify(
                conn,
                Audience::Admins,
                "PROVIDER_UNHEALTHY",
                &message,
                About {
                    provider_id: Some(provider_id),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    Ok(())
}

pub fn is_healthy(provider: &ProviderRow) -> bool {
    provider
        .unhealthy_until
        .is_none_or(|until| until <= Utc::now())
}

/// Stores a fetched balance and warns the admins when it has just fallen below the
/// provider's threshold.
pub async fn record_balance(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    balance: &BigDecimal,
) -> AppResult<()> {
    ProviderRow::record_balance(conn, provider.id, balance).await?;
    if let Some(threshold) = &provider.low_balance_threshold {
        let was_above = provider
            .balance
            .as_ref()
            .is_none_or(|previous| previous >= threshold);
        if balance < threshold && was_above {
            let message = format!(
                "provider {} balance is {} {}, below the threshold of {}: top it up or orders will be refused",
                provider.name, balance, provider.currency, threshold
            );
            notifications::notify(
                conn,
                Audience::Admins,
                "PROVIDER_LOW_BALANCE",
                &message,
                About {
                    provider_id: Some(provider.id),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Drops call records older than a day.
pub async fn prune_calls(conn: &mut AsyncPgConnection) -> AppResult<usize> {
    let before = Utc::now() - chrono::Duration::days(1);
    Ok(provider_calls::delete_before(conn, before).await?)
}
