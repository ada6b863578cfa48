//! Provider health: every call's outcome and latency is recorded; a provider that
//! keeps failing is marked unhealthy for a cool-down, during which dispatch leaves
//! its orders waiting (they are not failed); a low balance warns the admins once per
//! crossing of the threshold.

use std::time::Duration;

use bigdecimal::BigDecimal;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        providers::ProviderRow,
        schema::{provider_calls, providers},
    },
    domain::notifications::{self, About, Audience},
    error::AppResult,
};

/// Consecutive failed calls after which a provider is skipped for a while.
pub const FAILURES_BEFORE_UNHEALTHY: i32 = 5;
pub const COOL_DOWN: Duration = Duration::from_secs(120);

/// Records one call. `error` is None for a success; refusals of a single order
/// ("incorrect link") are successes of the provider and are recorded as such by
/// the caller.
pub async fn record_call(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    action: &str,
    latency: Duration,
    error: Option<&str>,
) -> AppResult<()> {
    let latency_ms = latency.as_millis().min(i32::MAX as u128) as i32;
    {
        use crate::metrics::{PROVIDER_CALL_DURATION, PROVIDER_CALLS};
        let provider = provider_id.to_string();
        let outcome = if error.is_none() { "ok" } else { "error" };
        metrics::counter!(PROVIDER_CALLS, "provider" => provider.clone(), "action" => action.to_string(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(PROVIDER_CALL_DURATION, "provider" => provider)
            .record(latency.as_secs_f64());
    }
    diesel::insert_into(provider_calls::table)
        .values((
            provider_calls::provider_id.eq(provider_id),
            provider_calls::action.eq(action),
            provider_calls::ok.eq(error.is_none()),
            provider_calls::latency_ms.eq(latency_ms),
            provider_calls::error.eq(error),
        ))
        .execute(conn)
        .await?;
    match error {
        None => {
            diesel::update(providers::table.find(provider_id))
                .set((
                    providers::consecutive_failures.eq(0),
                    providers::unhealthy_until.eq(None::<chrono::DateTime<Utc>>),
                    providers::last_success_at.eq(diesel::dsl::now),
                    providers::last_latency_ms.eq(latency_ms),
                ))
                .execute(conn)
                .await?;
        }
        Some(error) => {
            let failures: i32 = diesel::update(providers::table.find(provider_id))
                .set((
                    providers::consecutive_failures.eq(providers::consecutive_failures + 1),
                    providers::last_error.eq(error),
                    providers::last_latency_ms.eq(latency_ms),
                ))
                .returning(providers::consecutive_failures)
                .get_result(conn)
                .await?;
            if failures == FAILURES_BEFORE_UNHEALTHY {
                let until = Utc::now() + chrono::Duration::from_std(COOL_DOWN).unwrap_or_default();
                diesel::update(providers::table.find(provider_id))
                    .set(providers::unhealthy_until.eq(until))
                    .execute(conn)
                    .await?;
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
            } else if failures > FAILURES_BEFORE_UNHEALTHY {
                // Still failing after the cool-down: extend it.
                let until = Utc::now() + chrono::Duration::from_std(COOL_DOWN).unwrap_or_default();
                diesel::update(providers::table.find(provider_id))
                    .set(providers::unhealthy_until.eq(until))
                    .execute(conn)
                    .await?;
            }
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
    diesel::update(providers::table.find(provider.id))
        .set((
            providers::balance.eq(balance),
            providers::balance_checked_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
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
    Ok(
        diesel::delete(provider_calls::table.filter(provider_calls::created_at.lt(before)))
            .execute(conn)
            .await?,
    )
}
