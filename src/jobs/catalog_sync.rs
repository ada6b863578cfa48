//! Catalogue sync: every `CATALOG_SYNC_INTERVAL_SECONDS`, brings the services
//! imported from each active provider in line with its catalogue (rates, limits,
//! flags, prices; dropped services deactivated), through
//! [`catalog_import::sync_provider`]. A provider another process is syncing (its
//! advisory lock is taken) is skipped; one that fails is tried again next time.

use crate::{
    app::AppState,
    db::providers::ProviderRow,
    domain::catalog_import::{self, SyncReport},
    error::AppResult,
};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatalogSyncRun {
    /// Providers synced, with what changed.
    pub synced: Vec<(i64, SyncReport)>,
    /// Providers another process was syncing.
    pub busy: Vec<i64>,
    /// Providers that could not be synced (unreachable, refused, no client).
    pub failed: Vec<i64>,
}

super::job!(CatalogSync, "catalogue sync", catalog.sync_interval);

/// One pass over every active provider.
pub async fn run(state: &AppState) -> AppResult<CatalogSyncRun> {
    let mut conn = state.pool.get().await?;
    let mut run = CatalogSyncRun::default();
    for provider in ProviderRow::list_active(&mut conn).await? {
        if state.is_stopping() {
            break;
        }
        let outcome = match state.provider_client(&provider) {
            Ok(client) => {
                catalog_import::sync_provider(&mut conn, client.as_ref(), &provider).await
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(Some(report)) => {
                if report != SyncReport::default() {
                    tracing::info!(provider_id = provider.id, ?report, "catalogue synced");
                }
                run.synced.push((provider.id, report));
            }
            Ok(None) => run.busy.push(provider.id),
            Err(error) => {
                tracing::warn!(provider_id = provider.id, error = %error, "catalogue sync failed");
                run.failed.push(provider.id);
            }
        }
    }
    Ok(run)
}
