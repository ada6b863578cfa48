//! Sync: follows the provider's rates, limits and flags, reprices, deactivates
//! what the provider dropped and logs every change, under a per-provider
//! advisory lock so that two processes never sync one provider at once.

use std::collections::{HashMap, HashSet};

use bigdecimal::BigDecimal;
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::{
    db::{
        catalog_changes::NewCatalogChange, enums::CatalogChangeKind, providers::ProviderRow,
        schema::catalog_changes,
    },
    domain::pricing::{self, RepriceScope},
    error::{AppError, AppResult},
    providers::{ProviderClient, RemoteService},
};

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Services the provider lists that were not seen before (not imported).
    pub new: usize,
    pub rate_changed: usize,
    pub details_changed: usize,
    /// Deactivated because the provider dropped them.
    pub removed: usize,
    /// Listed again after a drop.
    pub reappeared: usize,
    /// Reactivated on reappearing (the sync had deactivated them).
    pub reactivated: usize,
    /// Services whose price changed.
    pub repriced: u64,
}

fn rate_text(rate: &BigDecimal) -> String {
    rate.normalized().to_plain_string()
}

/// Brings the provider's imported services in line with `remote` (its catalogue,
/// fetched by the caller), in one transaction.
pub async fn sync(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    remote: &[RemoteService],
) -> AppResult<SyncReport> {
    conn.transaction(async |conn| {
        let local = load_imported(conn, provider.id, true).await?;
        if remote.is_empty() && local.iter().any(|s| s.upstream_missing_since.is_none()) {
            // An empty list is far likelier a provider glitch than a provider that
            // dropped everything: deactivating the whole catalogue would be worse.
            return Err(AppError::ProviderError(
                "the provider listed no services; nothing was changed".into(),
            ));
        }
        let markups = Markups::load(conn, provider).await?;
        let by_id: HashMap<&str, &RemoteService> =
            remote.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut report = SyncReport::default();
        let mut changes = Vec::new();
        let mut update = LimitsUpdate::default();
        let mut removed = Vec::new();
        let mut reappeared = Vec::new();
        let mut known: HashSet<&str> = HashSet::with_capacity(local.len());

        for s in &local {
            let Some(psid) = s.provider_service_id.as_deref() else {
                continue;
            };
            known.insert(psid);
            let change = |kind, old_values, new_values| NewCatalogChange {
                provider_id: provider.id,
                service_id: Some(s.id),
                provider_service_id: psid.to_string(),
                kind,
                old_values,
                new_values,
            };
            let Some(r) = by_id.get(psid) else {
                if s.upstream_missing_since.is_none() {
                    removed.push(s.id);
                    report.removed += 1;
                    changes.push(change(
                        CatalogChangeKind::Removed,
                        Some(json!({ "active": s.active })),
                        Some(json!({ "active": false })),
                    ));
                }
                continue;
            };
            if s.upstream_missing_since.is_some() {
                reappeared.push(s.id);
                report.reappeared += 1;
                let reactivate = s.sync_deactivated && !s.active;
                if reactivate {
                    report.reactivated += 1;
                }
                changes.push(change(
                    CatalogChangeKind::Reappeared,
                    Some(json!({ "active": s.active })),
                    Some(json!({ "active": s.active || reactivate })),
                ));
            }
            let old_rate = s.provider_rate.clone().unwrap_or_default();
            let rate = if rate_fits(&r.rate) {
                r.rate.clone()
            } else {
                old_rate.clone()
            };
            let (min, max) = quantities(r).unwrap_or((s.min_quantity, s.max_quantity));
            let rate_changed = rate != old_rate;
            let mut old_details = serde_json::Map::new();
            let mut new_details = serde_json::Map::new();
            let mut detail = |field: &str, old: serde_json::Value, new: serde_json::Value| {
                if old != new {
                    old_details.insert(field.into(), old);
                    new_details.insert(field.into(), new);
                }
            };
            detail("minQuantity", s.min_quantity.into(), min.into());
            detail("maxQuantity", s.max_quantity.into(), max.into());
            detail("refill", s.refill.into(), r.refill.into());
            detail("cancel", s.cancel.into(), r.cancel.into());
            detail("dripfeed", s.dripfeed.into(), r.dripfeed.into());
            if rate_changed {
                report.rate_changed += 1;
                let new_price = markups.price(&rate, s.markup_bps)?;
                changes.push(change(
                    CatalogChangeKind::RateChanged,
                    Some(json!({
                        "providerRate": rate_text(&old_rate),
                        "pricePer1000": s.price_per_1000,
                    })),
                    Some(json!({
                        "providerRate": rate_text(&rate),
                        "pricePer1000": new_price,
                    })),
                ));
            }
            if !old_details.is_empty() {
                report.details_changed += 1;
                changes.push(change(
                    CatalogChangeKind::DetailsChanged,
                    Some(old_details.into()),
                    Some(new_details.into()),
                ));
            }
            if rate_changed || !changes_nothing(s, min, max, r) {
                update.push(s.id, rate, min, max, r);
            }
        }

        // Services offered but not imported: logged once each.
        let unseen: Vec<&RemoteService> = remote
            .iter()
            .filter(|r| !known.contains(r.id.as_str()))
            .collect();
        if !unseen.is_empty() {
            let logged: HashSet<String> = catalog_changes::table
                .filter(catalog_changes::provider_id.eq(provider.id))
                .filter(catalog_changes::kind.eq(CatalogChangeKind::New))
                .select(catalog_changes::provider_service_id)
                .load::<String>(conn)
                .await?
                .into_iter()
                .collect();
            for r in unseen.into_iter().filter(|r| !logged.contains(&r.id)) {
                report.new += 1;
                changes.push(NewCatalogChange {
                    provider_id: provider.id,
                    service_id: None,
                    provider_service_id: r.id.clone(),
                    kind: CatalogChangeKind::New,
                    old_values: None,
                    new_values: Some(json!({
                        "name": r.name,
                        "category": r.category,
                        "providerRate": rate_text(&r.rate),
                    })),
                });
            }
        }

        update.apply(conn).await?;
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
            crate::domain::notifications::notify(
                conn,
                crate::domain::notifications::Audience::Admins,
                "PROVIDER_SERVICES_REMOVED",
                &message,
                crate::domain::notifications::About { provider_id: Some(provider.id), ..Default::default() },
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
    })
    .await
}

fn changes_nothing(s: &Imported, min: i64, max: i64, r: &RemoteService) -> bool {
    s.min_quantity == min
        && s.max_quantity == max
        && s.refill == r.refill
        && s.cancel == r.cancel
        && s.dripfeed == r.dripfeed
}

/// The provider-decided columns of many services, written in one statement.
#[derive(Default)]
struct LimitsUpdate {
    ids: Vec<i64>,
    rates: Vec<BigDecimal>,
    mins: Vec<i64>,
    maxs: Vec<i64>,
    refills: Vec<bool>,
    cancels: Vec<bool>,
    dripfeeds: Vec<bool>,
}

impl LimitsUpdate {
    fn push(&mut self, id: i64, rate: BigDecimal, min: i64, max: i64, r: &RemoteService) {
        self.ids.push(id);
        self.rates.push(rate);
        self.mins.push(min);
        self.maxs.push(max);
        self.refills.push(r.refill);
        self.cancels.push(r.cancel);
        self.dripfeeds.push(r.dripfeed);
    }

    async fn apply(&self, conn: &mut AsyncPgConnection) -> AppResult<()> {
        if self.ids.is_empty() {
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
        .bind::<sql_types::Array<sql_types::BigInt>, _>(&self.ids)
        .bind::<sql_types::Array<sql_types::Numeric>, _>(&self.rates)
        .bind::<sql_types::Array<sql_types::BigInt>, _>(&self.mins)
        .bind::<sql_types::Array<sql_types::BigInt>, _>(&self.maxs)
        .bind::<sql_types::Array<sql_types::Bool>, _>(&self.refills)
        .bind::<sql_types::Array<sql_types::Bool>, _>(&self.cancels)
        .bind::<sql_types::Array<sql_types::Bool>, _>(&self.dripfeeds)
        .execute(conn)
        .await?;
        Ok(())
    }
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
