//! Provider health: fetches every active provider's balance (also a liveness
//! probe), warns admins of a low balance once per crossing, and prunes the call log.

use async_trait::async_trait;

use super::{
    Job,
    provider_calls::{Clients, tracked},
};
use crate::{app::AppState, config::Config, domain::provider_health, error::AppResult};

pub struct ProviderHealth;

#[async_trait]
impl Job for ProviderHealth {
    fn name(&self) -> &'static str {
        "provider health"
    }
    fn interval(&self, config: &Config) -> std::time::Duration {
        config.fulfillment.health_interval
    }
    async fn run_once(&self, state: &AppState) -> AppResult<Option<String>> {
        run(state).await.map(|_| None)
    }
}

/// Fetches every active provider's balance (also a liveness probe).
pub async fn run(state: &AppState) -> AppResult<usize> {
    let clients = Clients::active(state).await?;
    let mut checked = 0;
    for (provider, client) in clients.providers.values() {
        if let Ok((balance, _currency)) =
            tracked(state, provider, "balance", client.balance()).await
        {
            let mut conn = state.pool.get().await?;
            provider_health::record_balance(&mut conn, provider, &balance).await?;
            checked += 1;
        }
    }
    let mut conn = state.pool.get().await?;
    provider_health::prune_calls(&mut conn).await?;
    Ok(checked)
}
