//! What the provider-facing jobs share: a client for each provider they touch, and
//! [`tracked`], which records every call's outcome and latency for the provider's
//! health ([`timed`] and [`record_health`] when a job records its calls in groups).

use std::{collections::HashMap, future::Future, time::Instant};

use crate::{
    app::AppState,
    db::providers::ProviderRow,
    domain::provider_health::{self, CallRecord},
    error::AppResult,
    providers::{ProviderClient, ProviderError},
};

/// Runs one provider call and records its outcome and latency for the provider's
/// health. A refusal is the provider working as designed, not a failure of it.
pub async fn tracked<T>(
    state: &AppState,
    provider: &ProviderRow,
    action: &'static str,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let (result, record) = timed(provider, action, call).await;
    record_health(state, &[record]).await;
    result
}

/// Runs one provider call and returns its outcome with the record its health
/// needs, for a caller that records many at once ([`record_health`]).
pub async fn timed<T>(
    provider: &ProviderRow,
    action: &'static str,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> (Result<T, ProviderError>, CallRecord) {
    let started = Instant::now();
    let result = call.await;
    let error = match &result {
        Err(ProviderError::Transient(e)) | Err(ProviderError::Unclear(e)) => Some(e.clone()),
        _ => None,
    };
    let record = CallRecord {
        provider_id: provider.id,
        action,
        latency: started.elapsed(),
        error,
    };
    (result, record)
}

/// Records calls for the providers' health. A failure to record is logged, never
/// the caller's failure: the call itself happened either way.
pub async fn record_health(state: &AppState, calls: &[CallRecord]) {
    if calls.is_empty() {
        return;
    }
    match state.pool.get().await {
        Ok(mut conn) => {
            if let Err(e) = provider_health::record_calls(&mut conn, calls).await {
                tracing::warn!(error = %e, "recording provider calls failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "recording provider calls failed"),
    }
}

pub struct Clients {
    pub providers: HashMap<i64, (ProviderRow, Box<dyn ProviderClient>)>,
}

impl Clients {
    pub async fn load(state: &AppState, ids: impl IntoIterator<Item = i64>) -> AppResult<Clients> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut conn = state.pool.get().await?;
        let mut providers = HashMap::new();
        for provider in ProviderRow::load_many(&mut conn, &ids).await? {
            match state.provider_client(&provider) {
                Ok(client) => {
                    providers.insert(provider.id, (provider, client));
                }
                Err(e) => {
                    tracing::error!(provider = provider.id, error = %e, "no client for provider")
                }
            }
        }
        Ok(Clients { providers })
    }
}

impl Clients {
    /// Clients for every active provider.
    pub async fn active(state: &AppState) -> AppResult<Clients> {
        let ids: Vec<i64> = {
            let mut conn = state.pool.get().await?;
            ProviderRow::list_active(&mut conn)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        Clients::load(state, ids).await
    }
}
