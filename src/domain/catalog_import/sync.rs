//! Sync, the writing half: follows the provider's rates, limits and flags,
//! reprices, deactivates what the provider dropped and logs every change, under a
//! per-provider advisory lock so that two processes never sync one provider at
//! once. What changes is decided by the pure `sync_diff::diff`; this file reads
//! what the diff needs and writes it set-based.

use std::collections::HashSet;

use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{
    Markups, SYNC_LOCK_CLASS, fetch_catalog, load_imported,
    sync_diff::{LimitsUpdate, SyncDiff, SyncReport, diff, refuse_empty_list},
};
use crate::{
    db::{
        catalog_changes::NewCatalogChange, enums::CatalogChangeKind, providers::ProviderRow,
        schema::catalog_changes,
    },
    domain::{
        notifications,
        pricing::{self, RepriceScope},
    },
    error::AppResult,
    providers::{ProviderClient, RemoteService},
};

/// Brings the provider's imported services in line with `remote` (its catalogue,
/// fetched by the caller), in one transaction: the services are locked, compared
/// ([`diff`], pure) and the differences written set-based.
pub async fn sync(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    remote: &[RemoteService],
) -> AppResult<SyncReport> {
    conn.transaction(async |conn| {
        let local = load_imported(conn, provider.id, true).await?;
        refuse_empty_list(&local, remote)?;
        let markups = Markups::load(conn, provider).await?;
        let mut diff = diff(provider.id, &local, remote, &markups)?;
        if !diff.unseen.is_empty() {
            let logged: HashSet<String> = catalog_changes::table
                .filter(catalog_changes::provider_id.eq(provider.id))
                .filter(catalog_changes::kind.eq(CatalogChangeKind::New))
                .select(catalog_changes::provider_service_id)
                .load::<String>(conn)
                .await?
                .into_iter()
                .collect();
            diff.log_new(provider.id, &logged);
        }
        write_diff(conn, provider, diff).await
    })
    .await
}

/// Writes a sync's changes in the caller's transaction: the provider's columns,
/// deactivations (with an alert to the admins), reappearances, the new prices
/// and the change log.
async fn write_diff(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    diff: SyncDiff<'_>,
) -> AppResult<SyncReport> {
    let SyncDiff {
        mut report,
        changes,
        limits,
        removed,
        reappeared,
        unseen: _,
    } = diff;
    write_limits(conn, &limits).await?;
    if !removed.is_empty() {
        // `sync_deactivated = active` reads the value before this update: only a
        // service the sync itself turns off is marked.
        diesel::sql_query(
            "UPDATE services SET sync_deactivated = active, active = FALSE, \
             upstream_missing_since = now() WHERE id = ANY($1)",
        )
        .bind::<sql_types::Array<sql_types::BigInt>, _>(&removed)
        .execute(conn)
        .await?;
        let message = format!(
            "{} service(s) of provider {} vanished from its catalogue and were deactivated: {:?}",
            removed.len(),
            provider.name,
            removed
        );
        notifications::notify(
            conn,
            notifications::Audience::Admins,
            "PROVIDER_SERVICES_REMOVED",
            &message,
            notifications::About {
                provider_id: Some(provider.id),
                ..Default::default()
            },
        )
        .await?;
    }
    if !reappeared.is_empty() {
        diesel::sql_query(
            "UPDATE services SET active = active OR sync_deactivated, \
             sync_deactivated = FALSE, upstream_missing_since = NULL WHERE id = ANY($1)",
        )
        .bind::<sql_types::Array<sql_types::BigInt>, _>(&reappeared)
        .execute(conn)
        .await?;
    }
    report.repriced =
        pricing::reprice_imported_services(conn, RepriceScope::Provider(provider.id)).await?;
    NewCatalogChange::insert_all(conn, &changes).await?;
    Ok(report)
}

/// The provider-decided columns of many services, in one statement.
async fn write_limits(conn: &mut AsyncPgConnection, limits: &LimitsUpdate) -> AppResult<()> {
    if limits.ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE services SET provider_rate = v.rate, min_quantity = v.min, \
         max_quantity = v.max, refill = v.refill, cancel = v.cancel, dripfeed = v.dripfeed \
         FROM unnest($1::bigint[], $2::numeric[], $3::bigint[], $4::bigint[], \
                     $5::boolean[], $6::boolean[], $7::boolean[]) \
              AS v(id, rate, min, max, refill, cancel, dripfeed) \
         WHERE services.id = v.id",
    )
    .bind::<sql_types::Array<sql_types::BigInt>, _>(&limits.ids)
    .bind::<sql_types::Array<sql_types::Numeric>, _>(&limits.rates)
    .bind::<sql_types::Array<sql_types::BigInt>, _>(&limits.mins)
    .bind::<sql_types::Array<sql_types::BigInt>, _>(&limits.maxs)
    .bind::<sql_types::Array<sql_types::Bool>, _>(&limits.refills)
    .bind::<sql_types::Array<sql_types::Bool>, _>(&limits.cancels)
    .bind::<sql_types::Array<sql_types::Bool>, _>(&limits.dripfeeds)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = sql_types::Bool)]
    locked: bool,
}

/// Fetches the provider's catalogue and syncs it, holding the provider's advisory
/// lock so two processes never sync one provider at once. `Ok(None)`: another
/// process is syncing it now.
///
/// The lock is the transaction-scoped `pg_try_advisory_xact_lock`: PostgreSQL
/// releases it at commit or rollback, so a cancelled task or a pooled connection
/// can never keep it. The catalogue is fetched while the lock is held, so a second
/// process does not even ask the provider.
pub async fn sync_provider(
    conn: &mut AsyncPgConnection,
    client: &dyn ProviderClient,
    provider: &ProviderRow,
) -> AppResult<Option<SyncReport>> {
    conn.transaction(async |conn| {
        let lock: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1, $2) AS locked")
            .bind::<sql_types::Integer, _>(SYNC_LOCK_CLASS)
            // Provider ids stay far below 2^31; a wrap would only share a lock.
            .bind::<sql_types::Integer, _>(provider.id as i32)
            .get_result(conn)
            .await?;
        if !lock.locked {
            return Ok(None);
        }
        let remote = fetch_catalog(client).await?;
        sync(conn, provider, &remote).await.map(Some)
    })
    .await
}
