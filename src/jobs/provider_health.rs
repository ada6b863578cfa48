//! Provider health: fetches every active provider's balance (also a liveness
//! probe), warns admins of a low balance once per crossing, and prunes the call log.

use super::provider_clients::{Clients, tracked};
use crate::{app::AppState, domain::provider_health, error::AppResult};

super::job!(ProviderHealth, "provider health", upstream.health_interval);

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
