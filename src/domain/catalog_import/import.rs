//! Import: services created for new provider services, priced by the markup
//! rule, in one transaction with multi-row inserts; idempotent by a unique index.

use std::collections::{HashMap, HashSet};

use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::{
    db::{
        catalog_changes::NewCatalogChange,
        categories::CategoryRow,
        enums::{CatalogChangeKind, Fulfillment, ServiceType},
        providers::ProviderRow,
        schema::{service_categories, services},
        services::NewService,
    },
    error::{AppError, AppResult},
    providers::RemoteService,
};

use super::*;

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
        NewCatalogChange::insert_all(conn, &changes).await?;
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
