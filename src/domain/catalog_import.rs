//! Importing a provider's catalogue and keeping imported services in step with it.
//!
//! - [`preview`] compares the provider's list with what was imported from it (one
//!   local service per provider + provider service id) and reports what is new,
//!   what changed (with the old and new price) and what the provider dropped.
//! - [`import`] creates services for new provider services, priced by the markup rule
//!   of [`pricing`], in one transaction with multi-row inserts; importing a service
//!   again is a no-op (a unique index makes it a database fact).
//! - [`sync`] (the scheduled job, and an admin's button) follows the provider's
//!   rate, limits and flags, reprices, deactivates what the provider dropped (never
//!   deletes: orders reference services) and logs every change in `catalog_changes`.
//!
//! Reappearance policy: a service the provider drops is deactivated by the sync and
//! marked `sync_deactivated`; if the provider lists it again, the sync reactivates
//! it only while that mark is still set. An admin setting `active` clears the mark,
//! so a service an admin deactivated (before or after the drop) stays inactive
//! until an admin says otherwise. This keeps a provider's short hiccup from
//! needing an admin, and never overrides an admin's decision.
//!
//! The provider is always asked before anything is written: an unreachable provider
//! fails the call with PROVIDER_ERROR and writes nothing.

use std::collections::{HashMap, HashSet};

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::{
    db::{
        catalog_changes::NewCatalogChange,
        categories::CategoryRow,
        enums::{CatalogChangeKind, Fulfillment, Platform, ServiceType},
        providers::ProviderRow,
        schema::{catalog_changes, providers, service_categories, services},
        services::NewService,
    },
    domain::pricing::{self, RepriceScope},
    error::{AppError, AppResult},
    providers::{ProviderClient, RemoteService},
};

/// Rows per multi-row INSERT: 1000 services x 19 columns stays far below
/// PostgreSQL's 65,535 bind parameters.
const INSERT_CHUNK: usize = 1000;
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
/// `services.provider_rate` is NUMERIC(20, 6).
const RATE_SCALE: i64 = 6;
const RATE_INTEGER_DIGITS: u64 = 14;
/// The category of services a provider files under no category.
const FALLBACK_CATEGORY: &str = "Other";
/// `pg_try_advisory_xact_lock(class, provider id)`: the class keeps these locks
/// apart from any other advisory lock of the application ("CS" = catalogue sync).
const SYNC_LOCK_CLASS: i32 = 0x4353;

// ---------------------------------------------------------------- reading

pub async fn find_provider(conn: &mut AsyncPgConnection, id: i64) -> AppResult<ProviderRow> {
    ProviderRow::find(conn, id)
        .await?
        .ok_or(AppError::NotFound("provider"))
}

/// The provider's catalogue, cleaned: one entry per service id (the first), rates
/// at the precision stored, names and descriptions cut to what the catalogue holds.
pub async fn fetch_catalog(client: &dyn ProviderClient) -> AppResult<Vec<RemoteService>> {
    let list = client.services().await?;
    let mut seen = HashSet::new();
    Ok(list
        .into_iter()
        .filter(|s| !s.id.is_empty() && seen.insert(s.id.clone()))
        .map(|mut s| {
            s.rate = s.rate.with_scale_round(RATE_SCALE, RoundingMode::HalfUp);
            s.name = cut(&s.name, MAX_NAME);
            s.category = cut(&s.category, MAX_NAME);
            s.description = cut(&s.description, MAX_DESCRIPTION);
            s
        })
        .collect())
}

fn cut(text: &str, max: usize) -> String {
    text.trim()
        .chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Guesses the network a service works on from its name, then its category.
pub fn guess_platform(name: &str, category: &str) -> Platform {
    fn from_text(text: &str) -> Option<Platform> {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let has = |needle: &str| lower.contains(needle);
        let word = |w: &str| words.contains(&w);
        if has("twitter") || has("tweet") || word("x") {
            Some(Platform::Twitter)
        } else if has("instagram") || word("ig") {
            Some(Platform::Instagram)
        } else if has("tiktok") || has("tik tok") {
            Some(Platform::Tiktok)
        } else if has("youtube") || word("yt") {
            Some(Platform::Youtube)
        } else if has("facebook") || word("fb") {
            Some(Platform::Facebook)
        } else if has("telegram") || word("tg") {
            Some(Platform::Telegram)
        } else if has("spotify") {
            Some(Platform::Spotify)
        } else {
            None
        }
    }
    from_text(name)
        .or_else(|| from_text(category))
        .unwrap_or(Platform::Other)
}

/// An imported service as the comparison needs it.
#[derive(Debug, Clone, Queryable)]
struct Imported {
    id: i64,
    provider_service_id: Option<String>,
    name: String,
    provider_rate: Option<BigDecimal>,
    markup_bps: Option<i32>,
    price_per_1000: i64,
    min_quantity: i64,
    max_quantity: i64,
    refill: bool,
    cancel: bool,
    dripfeed: bool,
    active: bool,
    upstream_missing_since: Option<DateTime<Utc>>,
    sync_deactivated: bool,
}

type ImportedColumns = (
    services::id,
    services::provider_service_id,
    services::name,
    services::provider_rate,
    services::markup_bps,
    services::price_per_1000,
    services::min_quantity,
    services::max_quantity,
    services::refill,
    services::cancel,
    services::dripfeed,
    services::active,
    services::upstream_missing_since,
    services::sync_deactivated,
);

const IMPORTED_COLUMNS: ImportedColumns = (
    services::id,
    services::provider_service_id,
    services::name,
    services::provider_rate,
    services::markup_bps,
    services::price_per_1000,
    services::min_quantity,
    services::max_quantity,
    services::refill,
    services::cancel,
    services::dripfeed,
    services::active,
    services::upstream_missing_since,
    services::sync_deactivated,
);

async fn load_imported(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    lock: bool,
) -> AppResult<Vec<Imported>> {
    let query = services::table
        .filter(services::provider_id.eq(provider_id))
        .order(services::id)
        .select(IMPORTED_COLUMNS);
    Ok(if lock {
        query.for_update().load(conn).await?
    } else {
        query.load(conn).await?
    })
}

/// The fields of a service the provider decides, with the price they give.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    pub name: String,
    pub provider_rate: BigDecimal,
    pub price_per_1000: i64,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
}

impl ServiceSnapshot {
    fn local(s: &Imported) -> Self {
        ServiceSnapshot {
            name: s.name.clone(),
            provider_rate: s.provider_rate.clone().unwrap_or_default(),
            price_per_1000: s.price_per_1000,
            min_quantity: s.min_quantity,
            max_quantity: s.max_quantity,
            refill: s.refill,
            cancel: s.cancel,
            dripfeed: s.dripfeed,
        }
    }

    fn remote(r: &RemoteService, price_per_1000: i64) -> Self {
        let (min_quantity, max_quantity) = quantities(r).unwrap_or((r.min, r.max));
        ServiceSnapshot {
            name: r.name.clone(),
            provider_rate: r.rate.clone(),
            price_per_1000,
            min_quantity,
            max_quantity,
            refill: r.refill,
            cancel: r.cancel,
            dripfeed: r.dripfeed,
        }
    }

    /// The names (GraphQL field names) of what differs.
    fn changed_fields(&self, new: &ServiceSnapshot) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.provider_rate != new.provider_rate {
            fields.push("providerRate");
        }
        if self.min_quantity != new.min_quantity {
            fields.push("minQuantity");
        }
        if self.max_quantity != new.max_quantity {
            fields.push("maxQuantity");
        }
        if self.name != new.name {
            fields.push("name");
        }
        if self.refill != new.refill {
            fields.push("refill");
        }
        if self.cancel != new.cancel {
            fields.push("cancel");
        }
        if self.dripfeed != new.dripfeed {
            fields.push("dripfeed");
        }
        fields
    }
}

/// A provider's limits as the catalogue stores them (minimum at least 1), or None
/// when they make no sense (maximum below minimum).
fn quantities(r: &RemoteService) -> Option<(i64, i64)> {
    let min = r.min.max(1);
    (r.max >= min).then_some((min, r.max))
}

fn rate_fits(rate: &BigDecimal) -> bool {
    !rate.is_negative() && rate.with_scale(0).abs().digits() <= RATE_INTEGER_DIGITS
}

trait Negative {
    fn is_negative(&self) -> bool;
}

impl Negative for BigDecimal {
    fn is_negative(&self) -> bool {
        self < &BigDecimal::zero()
    }
}

/// The markups in force for a provider: its own and the panel default.
struct Markups {
    provider: Option<i32>,
    default: i32,
}

impl Markups {
    async fn load(conn: &mut AsyncPgConnection, provider: &ProviderRow) -> AppResult<Self> {
        Ok(Markups {
            provider: provider.markup_bps,
            default: pricing::default_markup_bps(conn).await?,
        })
    }

    fn price(
        &self,
        provider: &ProviderRow,
        rate: &BigDecimal,
        service_markup: Option<i32>,
    ) -> AppResult<i64> {
        let markup = pricing::effective_markup_bps(service_markup, self.provider, self.default);
        pricing::imported_price_per_1000(rate, &provider.exchange_rate, markup)
    }
}

// ---------------------------------------------------------------- preview

#[derive(Debug, Clone)]
pub struct NewEntry {
    pub remote: RemoteService,
    /// None when the provider's type label is unknown: such a service is skipped.
    pub service_type: Option<ServiceType>,
    pub platform: Platform,
    /// The price it would be imported at; None when the rate cannot be priced.
    pub price_per_1000: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ChangedEntry {
    pub service_id: i64,
    pub provider_service_id: String,
    pub changed_fields: Vec<&'static str>,
    pub old: ServiceSnapshot,
    pub new: ServiceSnapshot,
}

#[derive(Debug, Clone)]
pub struct RemovedEntry {
    pub service_id: i64,
    pub provider_service_id: String,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CatalogPreview {
    pub new: Vec<NewEntry>,
    pub changed: Vec<ChangedEntry>,
    pub removed: Vec<RemovedEntry>,
}

/// Compares the provider's catalogue with the services imported from it. Reads only.
pub async fn preview(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    remote: &[RemoteService],
) -> AppResult<CatalogPreview> {
    let markups = Markups::load(conn, provider).await?;
    let local = load_imported(conn, provider.id, false).await?;
    let by_id: HashMap<&str, &Imported> = local
        .iter()
        .filter_map(|s| s.provider_service_id.as_deref().map(|id| (id, s)))
        .collect();
    let upstream: HashSet<&str> = remote.iter().map(|r| r.id.as_str()).collect();
    let mut result = CatalogPreview::default();
    for r in remote {
        match by_id.get(r.id.as_str()) {
            None => result.new.push(NewEntry {
                service_type: ServiceType::from_provider_label(&r.type_label),
                platform: guess_platform(&r.name, &r.category),
                price_per_1000: rate_fits(&r.rate)
                    .then(|| markups.price(provider, &r.rate, None).ok())
                    .flatten(),
                remote: r.clone(),
            }),
            Some(s) => {
                let old = ServiceSnapshot::local(s);
                let price = if rate_fits(&r.rate) {
                    markups.price(provider, &r.rate, s.markup_bps)?
                } else {
                    old.price_per_1000
                };
                let new = ServiceSnapshot::remote(r, price);
                let changed_fields = old.changed_fields(&new);
                if !changed_fields.is_empty() {
                    result.changed.push(ChangedEntry {
                        service_id: s.id,
                        provider_service_id: r.id.clone(),
                        changed_fields,
                        old,
                        new,
                    });
                }
            }
        }
    }
    for s in &local {
        let Some(id) = s.provider_service_id.as_deref() else {
            continue;
        };
        if !upstream.contains(id) {
            result.removed.push(RemovedEntry {
                service_id: s.id,
                provider_service_id: id.to_string(),
                name: s.name.clone(),
                active: s.active,
            });
        }
    }
    Ok(result)
}

// ---------------------------------------------------------------- import

#[derive(Debug, Clone)]
pub enum Selection {
    /// Every service the provider lists that is not imported yet.
    AllNew,
    /// These provider service ids.
    Ids(Vec<String>),
}

#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Everything into one existing category.
    Category(i64),
    /// Into categories named as the provider names them, created when missing.
    ProviderCategories,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub provider_service_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Ids of the services created.
    pub imported: Vec<i64>,
    pub skipped: Vec<Skipped>,
    pub categories_created: Vec<CategoryRow>,
}

/// A provider service ready to insert.
struct Candidate<'a> {
    remote: &'a RemoteService,
    service_type: ServiceType,
    min: i64,
    max: i64,
    price: i64,
}

/// Imports the selected services of `remote` (the provider's catalogue, fetched by
/// the caller) in one transaction: all of them or, on any database error, none.
pub async fn import(
    conn: &mut AsyncPgConnection,
    provider: &ProviderRow,
    remote: &[RemoteService],
    selection: &Selection,
    target: Target,
) -> AppResult<ImportReport> {
    conn.transaction(async |conn| {
        if let Target::Category(id) = target {
            let found: Option<i64> = service_categories::table
                .find(id)
                .select(service_categories::id)
                .first(conn)
                .await
                .optional()?;
            found.ok_or(AppError::NotFound("category"))?;
        }
        let markups = Markups::load(conn, provider).await?;
        let existing: HashSet<String> = services::table
            .filter(services::provider_id.eq(provider.id))
            .select(services::provider_service_id)
            .load::<Option<String>>(conn)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut report = ImportReport::default();
        let skip = |report: &mut ImportReport, id: &str, reason: String| {
            report.skipped.push(Skipped {
                provider_service_id: id.to_string(),
                reason,
            })
        };

        let chosen: Vec<&RemoteService> = match selection {
            Selection::AllNew => remote
                .iter()
                .filter(|r| !existing.contains(&r.id))
                .collect(),
            Selection::Ids(ids) => {
                let by_id: HashMap<&str, &RemoteService> =
                    remote.iter().map(|r| (r.id.as_str(), r)).collect();
                let mut seen = HashSet::new();
                let mut chosen = Vec::new();
                for id in ids.iter().map(|id| id.trim()) {
                    if !seen.insert(id) {
                        continue;
                    }
                    match by_id.get(id) {
                        None => skip(&mut report, id, "not in the provider's catalogue".into()),
                        Some(_) if existing.contains(id) => {
                            skip(&mut report, id, "already imported".into())
                        }
                        Some(r) => chosen.push(*r),
                    }
                }
                chosen
            }
        };

        let mut candidates = Vec::with_capacity(chosen.len());
        for r in chosen {
            let Some(service_type) = ServiceType::from_provider_label(&r.type_label) else {
                skip(
                    &mut report,
                    &r.id,
                    format!("unknown service type {:?}", r.type_label),
                );
                continue;
            };
            let Some((min, max)) = quantities(r) else {
                skip(
                    &mut report,
                    &r.id,
                    format!("maximum {} is below minimum {}", r.max, r.min),
                );
                continue;
            };
            if !rate_fits(&r.rate) {
                skip(
                    &mut report,
                    &r.id,
                    format!("rate {} is out of range", r.rate),
                );
                continue;
            }
            let price = match markups.price(provider, &r.rate, None) {
                Ok(price) => price,
                Err(_) => {
                    skip(&mut report, &r.id, "price does not fit in rupiah".into());
                    continue;
                }
            };
            candidates.push(Candidate {
                remote: r,
                service_type,
                min,
                max,
                price,
            });
        }
        if candidates.is_empty() {
            return Ok(report);
        }

        // Category of each candidate.
        let category_of: Vec<i64> = match target {
            Target::Category(id) => vec![id; candidates.len()],
            Target::ProviderCategories => {
                let names: Vec<String> = candidates
                    .iter()
                    .map(|c| category_name(&c.remote.category))
                    .collect();
                let (ids, created) = ensure_categories(conn, &names).await?;
                report.categories_created = created;
                names.iter().map(|n| ids[&n.to_lowercase()]).collect()
            }
        };

        // Each category's services go after those already in it, in provider order.
        let mut next_sort: HashMap<i64, i32> = {
            let categories: Vec<i64> = category_of
                .iter()
                .copied()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            services::table
                .filter(services::category_id.eq_any(&categories))
                .group_by(services::category_id)
                .select((
                    services::category_id,
                    diesel::dsl::max(services::sort_order),
                ))
                .load::<(i64, Option<i32>)>(conn)
                .await?
                .into_iter()
                .map(|(id, max)| (id, max.map_or(0, |m| m.saturating_add(1))))
                .collect()
        };
        let rows: Vec<NewService> = candidates
            .iter()
            .zip(&category_of)
            .map(|(c, &category_id)| {
                let sort = next_sort.entry(category_id).or_insert(0);
                let sort_order = *sort;
                *sort = sort.saturating_add(1);
                NewService {
                    category_id,
                    name: if c.remote.name.is_empty() {
                        format!("Service {}", c.remote.id)
                    } else {
                        c.remote.name.clone()
                    },
                    description: c.remote.description.clone(),
                    platform: guess_platform(&c.remote.name, &c.remote.category),
                    service_type: c.service_type,
                    provider_id: Some(provider.id),
                    provider_service_id: Some(c.remote.id.clone()),
                    provider_rate: Some(c.remote.rate.clone()),
                    markup_bps: None,
                    fulfillment: Fulfillment::Provider,
                    price_per_1000: c.price,
                    min_quantity: c.min,
                    max_quantity: c.max,
                    quantity_step: 1,
                    refill: c.remote.refill,
                    cancel: c.remote.cancel,
                    dripfeed: c.remote.dripfeed,
                    active: true,
                    sort_order,
                }
            })
            .collect();

        let mut inserted: HashMap<String, i64> = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            let ids: Vec<(i64, Option<String>)> = diesel::insert_into(services::table)
                .values(chunk)
                // A concurrent import got there first: not an error, not a duplicate.
                .on_conflict((services::provider_id, services::provider_service_id))
                .do_nothing()
                .returning((services::id, services::provider_service_id))
                .get_results(conn)
                .await?;
            inserted.extend(ids.into_iter().filter_map(|(id, p)| p.map(|p| (p, id))));
        }
        let mut changes = Vec::with_capacity(inserted.len());
        for c in &candidates {
            match inserted.get(&c.remote.id) {
                Some(&id) => {
                    report.imported.push(id);
                    changes.push(NewCatalogChange {
                        provider_id: provider.id,
                        service_id: Some(id),
                        provider_service_id: c.remote.id.clone(),
                        kind: CatalogChangeKind::Imported,
                        old_values: None,
                        new_values: Some(json!({
                            "providerRate": c.remote.rate.normalized().to_plain_string(),
                            "pricePer1000": c.price,
                        })),
                    });
                }
                None => skip(&mut report, &c.remote.id, "already imported".into()),
            }
        }
        insert_changes(conn, &changes).await?;
        Ok(report)
    })
    .await
}

fn category_name(provider_category: &str) -> String {
    let name = cut(provider_category, MAX_NAME);
    if name.is_empty() {
        FALLBACK_CATEGORY.to_string()
    } else {
        name
    }
}

#[derive(QueryableByName)]
struct IdAndKey {
    #[diesel(sql_type = sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = sql_types::Text)]
    key: String,
}

/// Makes sure a category exists for each name (compared without case, as the
/// unique index does); returns the ids by lower-cased name and the ones created.
async fn ensure_categories(
    conn: &mut AsyncPgConnection,
    names: &[String],
) -> AppResult<(HashMap<String, i64>, Vec<CategoryRow>)> {
    let mut seen = HashSet::new();
    let distinct: Vec<String> = names
        .iter()
        .filter(|n| seen.insert(n.to_lowercase()))
        .cloned()
        .collect();
    let created_ids: Vec<IdAndKey> = diesel::sql_query(
        "INSERT INTO service_categories (name, sort_order) \
         SELECT t.name, COALESCE((SELECT max(sort_order) FROM service_categories), -1) + t.ord::int \
         FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord) \
         ON CONFLICT (lower(name)) DO NOTHING \
         RETURNING id, lower(name) AS key",
    )
    .bind::<sql_types::Array<sql_types::Text>, _>(&distinct)
    .load(conn)
    .await?;
    let lowered: Vec<String> = distinct.iter().map(|n| n.to_lowercase()).collect();
    let all: Vec<IdAndKey> = diesel::sql_query(
        "SELECT id, lower(name) AS key FROM service_categories WHERE lower(name) = ANY($1)",
    )
    .bind::<sql_types::Array<sql_types::Text>, _>(&lowered)
    .load(conn)
    .await?;
    let created = if created_ids.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<i64> = created_ids.iter().map(|c| c.id).collect();
        service_categories::table
            .filter(service_categories::id.eq_any(&ids))
            .order(service_categories::sort_order)
            .select(CategoryRow::as_select())
            .load(conn)
            .await?
    };
    Ok((all.into_iter().map(|c| (c.key, c.id)).collect(), created))
}

async fn insert_changes(
    conn: &mut AsyncPgConnection,
    changes: &[NewCatalogChange],
) -> AppResult<()> {
    for chunk in changes.chunks(INSERT_CHUNK) {
        diesel::insert_into(catalog_changes::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- sync

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
                let new_price = markups.price(provider, &rate, s.markup_bps)?;
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
        insert_changes(conn, &changes).await?;
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

/// Active providers, for the scheduled sync.
pub async fn active_providers(conn: &mut AsyncPgConnection) -> AppResult<Vec<ProviderRow>> {
    Ok(providers::table
        .filter(providers::active.eq(true))
        .order(providers::id)
        .select(ProviderRow::as_select())
        .load(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_platforms() {
        assert_eq!(
            guess_platform("Twitter Followers [Real]", ""),
            Platform::Twitter
        );
        assert_eq!(guess_platform("X Followers", "Social"), Platform::Twitter);
        assert_eq!(
            guess_platform("Followers", "X / Twitter"),
            Platform::Twitter
        );
        assert_eq!(guess_platform("IG Likes", ""), Platform::Instagram);
        assert_eq!(
            guess_platform("Likes", "Instagram Likes"),
            Platform::Instagram
        );
        assert_eq!(guess_platform("TikTok Views", ""), Platform::Tiktok);
        assert_eq!(guess_platform("Youtube Subscribers", ""), Platform::Youtube);
        assert_eq!(
            guess_platform("Facebook Page Likes", ""),
            Platform::Facebook
        );
        assert_eq!(guess_platform("Telegram Members", ""), Platform::Telegram);
        assert_eq!(guess_platform("Spotify Plays", ""), Platform::Spotify);
        assert_eq!(
            guess_platform("Website Traffic", "10x Traffic"),
            Platform::Other
        );
    }

    #[test]
    fn limits_need_a_sane_range() {
        let mut r = RemoteService {
            id: "1".into(),
            name: String::new(),
            category: String::new(),
            type_label: "Default".into(),
            rate: BigDecimal::from(1),
            min: 0,
            max: 100,
            refill: false,
            cancel: false,
            dripfeed: false,
            description: String::new(),
        };
        assert_eq!(quantities(&r), Some((1, 100)));
        r.min = 200;
        assert_eq!(quantities(&r), None);
    }

    #[test]
    fn rates_must_fit_the_column() {
        use std::str::FromStr;
        assert!(rate_fits(&BigDecimal::from_str("0.90").unwrap()));
        assert!(!rate_fits(&BigDecimal::from_str("-1").unwrap()));
        assert!(!rate_fits(
            &BigDecimal::from_str("123456789012345").unwrap()
        ));
    }
}
