//! Import, the writing half: services created for new provider services, priced
//! by the markup rule, in one transaction with multi-row inserts; idempotent by a
//! unique index. As `upstream::sync` does it, the decisions are a pure plan
//! (`import_plan.rs`: what to create, at what price and limits, in which
//! category, what to skip and why); [`import`] reads what the plan needs and
//! writes it, set-based.

use std::collections::{HashMap, HashSet};

use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::{
    db::{
        catalog_changes::NewCatalogChange,
        categories::CategoryRow,
        enums::{CatalogChangeKind, Fulfillment},
        providers::ProviderRow,
        schema::{service_categories, services},
        services::NewService,
    },
    error::{AppError, AppResult},
    providers::RemoteService,
};

use super::{
    INSERT_CHUNK, Markups,
    import_plan::{CategoryChoice, ImportPlan, PlannedService, Selection, Target, plan, skip},
    *,
};

#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Ids of the services created.
    pub imported: Vec<i64>,
    pub skipped: Vec<Skipped>,
    pub categories_created: Vec<CategoryRow>,
}

/// Imports the selected services of `remote` (the provider's catalogue, fetched by
/// the caller) in one transaction: all of them or, on any database error, none.
/// Reads what the plan needs, plans ([`plan`]) and writes the plan.
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
        let plan = plan(&existing, remote, selection, target, &markups);
        write_plan(conn, provider.id, plan).await
    })
    .await
}

/// Writes an import plan in the caller's transaction: the missing categories,
/// the services (multi-row inserts, a concurrent import's rows left alone) and a
/// change-log row for each service created.
async fn write_plan(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    plan: ImportPlan<'_>,
) -> AppResult<ImportReport> {
    let mut report = ImportReport {
        skipped: plan.skipped,
        ..Default::default()
    };
    if plan.create.is_empty() {
        return Ok(report);
    }
    let category_ids = if plan.categories.is_empty() {
        HashMap::new()
    } else {
        let (ids, created) = ensure_categories(conn, &plan.categories).await?;
        report.categories_created = created;
        ids
    };
    let category_of: Vec<i64> = plan
        .create
        .iter()
        .map(|p| match &p.category {
            CategoryChoice::Existing(id) => *id,
            CategoryChoice::Named(name) => category_ids[&name.to_lowercase()],
        })
        .collect();
    let next_sort = next_sort_orders(conn, &category_of).await?;
    let rows = new_service_rows(provider_id, &plan.create, &category_of, next_sort);
    let inserted = insert_services(conn, &rows).await?;
    let mut changes = Vec::with_capacity(inserted.len());
    for p in &plan.create {
        match inserted.get(&p.remote.id) {
            Some(&id) => {
                report.imported.push(id);
                changes.push(imported_change(provider_id, id, p));
            }
            // A concurrent import got there first.
            None => report.skipped.push(skip(&p.remote.id, "already imported")),
        }
    }
    NewCatalogChange::insert_all(conn, &changes).await?;
    Ok(report)
}

/// The next free `sort_order` of each category: after the services already in
/// it.
async fn next_sort_orders(
    conn: &mut AsyncPgConnection,
    category_of: &[i64],
) -> AppResult<HashMap<i64, i32>> {
    let categories: Vec<i64> = category_of
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    Ok(services::table
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
        .collect())
}

/// The rows to insert: each category's new services after those already in it,
/// in the provider's order.
fn new_service_rows(
    provider_id: i64,
    create: &[PlannedService<'_>],
    category_of: &[i64],
    mut next_sort: HashMap<i64, i32>,
) -> Vec<NewService> {
    create
        .iter()
        .zip(category_of)
        .map(|(p, &category_id)| {
            let sort = next_sort.entry(category_id).or_insert(0);
            let sort_order = *sort;
            *sort = sort.saturating_add(1);
            let r = p.remote;
            NewService {
                category_id,
                name: if r.name.is_empty() {
                    format!("Service {}", r.id)
                } else {
                    r.name.clone()
                },
                description: r.description.clone(),
                platform: guess_platform(&r.name, &r.category),
                service_type: p.service_type,
                provider_id: Some(provider_id),
                provider_service_id: Some(r.id.clone()),
                provider_rate: Some(r.rate.clone()),
                markup_bps: None,
                fulfillment: Fulfillment::Provider,
                price_per_1000: p.price_per_1000,
                min_quantity: p.min_quantity,
                max_quantity: p.max_quantity,
                quantity_step: 1,
                refill: r.refill,
                cancel: r.cancel,
                dripfeed: r.dripfeed,
                active: true,
                sort_order,
            }
        })
        .collect()
}

/// Inserts the services in chunks; returns the ids of those inserted by provider
/// service id.
async fn insert_services(
    conn: &mut AsyncPgConnection,
    rows: &[NewService],
) -> AppResult<HashMap<String, i64>> {
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
    Ok(inserted)
}

fn imported_change(provider_id: i64, service_id: i64, p: &PlannedService<'_>) -> NewCatalogChange {
    NewCatalogChange {
        provider_id,
        service_id: Some(service_id),
        provider_service_id: p.remote.id.clone(),
        kind: CatalogChangeKind::Imported,
        old_values: None,
        new_values: Some(json!({
            "providerRate": p.remote.rate.normalized().to_plain_string(),
            "pricePer1000": p.price_per_1000,
        })),
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
