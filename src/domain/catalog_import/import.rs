//! Import: services created for new provider services, priced by the markup
//! rule, in one transaction with multi-row inserts; idempotent by a unique index.
//! Two halves, as `fulfillment::sync` does it: [`plan`] decides (pure: what to
//! create, at what price and limits, in which category, what to skip and why),
//! [`import`] reads what the plan needs and writes it, set-based.

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

/// Where a planned service goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryChoice {
    /// An existing category (`Target::Category`).
    Existing(i64),
    /// The category of this name (compared without case), created when missing.
    Named(String),
}

/// A provider service the import will create, with everything decided.
#[derive(Debug, Clone)]
pub struct PlannedService<'a> {
    pub remote: &'a RemoteService,
    pub service_type: ServiceType,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub price_per_1000: i64,
    pub category: CategoryChoice,
}

/// What an import will write, decided before anything is written.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan<'a> {
    /// The services to create, in the provider's order.
    pub create: Vec<PlannedService<'a>>,
    /// The provider categories the services go into, each once (the first
    /// spelling; compared without case), in order of first use.
    pub categories: Vec<String>,
    /// The services not imported, each with its reason.
    pub skipped: Vec<Skipped>,
}

/// Decides which of `remote` an import creates and how; `existing` are the
/// provider service ids imported already. Pure: the apply half
/// ([`import`]) writes what this returns.
pub fn plan<'a>(
    existing: &HashSet<String>,
    remote: &'a [RemoteService],
    selection: &Selection,
    target: Target,
    markups: &Markups,
) -> ImportPlan<'a> {
    let mut result = ImportPlan::default();
    let chosen = choose(existing, remote, selection, &mut result.skipped);
    for r in chosen {
        match plan_service(r, target, markups) {
            Ok(planned) => result.create.push(planned),
            Err(reason) => result.skipped.push(skip(&r.id, reason)),
        }
    }
    let mut seen = HashSet::new();
    result.categories = result
        .create
        .iter()
        .filter_map(|p| match &p.category {
            CategoryChoice::Named(name) if seen.insert(name.to_lowercase()) => Some(name.clone()),
            _ => None,
        })
        .collect();
    result
}

fn skip(provider_service_id: &str, reason: impl Into<String>) -> Skipped {
    Skipped {
        provider_service_id: provider_service_id.to_string(),
        reason: reason.into(),
    }
}

/// The remote services the selection names, in the provider's order for
/// `AllNew` and the caller's for `Ids` (each id once); ids that are unknown or
/// imported already are skipped with their reason.
fn choose<'a>(
    existing: &HashSet<String>,
    remote: &'a [RemoteService],
    selection: &Selection,
    skipped: &mut Vec<Skipped>,
) -> Vec<&'a RemoteService> {
    let ids = match selection {
        Selection::AllNew => {
            return remote
                .iter()
                .filter(|r| !existing.contains(&r.id))
                .collect();
        }
        Selection::Ids(ids) => ids,
    };
    let by_id: HashMap<&str, &RemoteService> = remote.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut seen = HashSet::new();
    let mut chosen = Vec::new();
    for id in ids.iter().map(|id| id.trim()) {
        if !seen.insert(id) {
            continue;
        }
        match by_id.get(id) {
            None => skipped.push(skip(id, "not in the provider's catalogue")),
            Some(_) if existing.contains(id) => skipped.push(skip(id, "already imported")),
            Some(r) => chosen.push(*r),
        }
    }
    chosen
}

/// One remote service as the catalogue would hold it, or why it cannot be.
fn plan_service<'a>(
    r: &'a RemoteService,
    target: Target,
    markups: &Markups,
) -> Result<PlannedService<'a>, String> {
    let service_type = ServiceType::from_provider_label(&r.type_label)
        .ok_or_else(|| format!("unknown service type {:?}", r.type_label))?;
    let (min_quantity, max_quantity) =
        quantities(r).ok_or_else(|| format!("maximum {} is below minimum {}", r.max, r.min))?;
    if !rate_fits(&r.rate) {
        return Err(format!("rate {} is out of range", r.rate));
    }
    let price_per_1000 = markups
        .price(&r.rate, None)
        .map_err(|_| "price does not fit in rupiah".to_string())?;
    let category = match target {
        Target::Category(id) => CategoryChoice::Existing(id),
        Target::ProviderCategories => CategoryChoice::Named(category_name(&r.category)),
    };
    Ok(PlannedService {
        remote: r,
        service_type,
        min_quantity,
        max_quantity,
        price_per_1000,
        category,
    })
}

/// Imports the selected services of `remote` (the provider's catalogue, fetched by
/// the caller) in one transaction: all of them or, on any database error, none.
/// Reads what the plan needs, [`plan`]s, and writes the plan.
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use bigdecimal::BigDecimal;

    use super::*;

    fn remote(id: &str, category: &str, rate: &str) -> RemoteService {
        RemoteService {
            id: id.into(),
            name: format!("Twitter Followers {id}"),
            category: category.into(),
            type_label: "Default".into(),
            rate: BigDecimal::from_str(rate).unwrap(),
            min: 10,
            max: 5000,
            refill: false,
            cancel: false,
            dripfeed: false,
            description: String::new(),
        }
    }

    /// 10% by default, an exchange rate of 16,000 rupiah to the provider's unit.
    fn markups(provider: Option<i32>) -> Markups {
        Markups {
            provider,
            default: 1000,
            exchange_rate: BigDecimal::from(16_000),
        }
    }

    fn existing(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn ids<'p>(plan: &'p ImportPlan<'_>) -> Vec<&'p str> {
        plan.create.iter().map(|p| p.remote.id.as_str()).collect()
    }

    fn reasons<'p>(plan: &'p ImportPlan<'_>) -> Vec<(&'p str, &'p str)> {
        plan.skipped
            .iter()
            .map(|s| (s.provider_service_id.as_str(), s.reason.as_str()))
            .collect()
    }

    #[test]
    fn all_new_passes_over_what_is_imported() {
        let list = [
            remote("1", "A", "1"),
            remote("2", "A", "1"),
            remote("3", "A", "1"),
        ];
        let plan = plan(
            &existing(&["2"]),
            &list,
            &Selection::AllNew,
            Target::Category(9),
            &markups(None),
        );
        assert_eq!(ids(&plan), ["1", "3"]);
        // Not chosen, so not reported as skipped.
        assert!(plan.skipped.is_empty());
        assert!(plan.categories.is_empty());
        assert!(
            plan.create
                .iter()
                .all(|p| p.category == CategoryChoice::Existing(9))
        );
    }

    #[test]
    fn ids_are_taken_once_in_the_callers_order() {
        let list = [
            remote("1", "A", "1"),
            remote("2", "A", "1"),
            remote("3", "A", "1"),
        ];
        let selection = Selection::Ids(vec![
            " 3".into(),
            "1".into(),
            "3".into(),
            "2".into(),
            "9".into(),
        ]);
        let plan = plan(
            &existing(&["2"]),
            &list,
            &selection,
            Target::Category(9),
            &markups(None),
        );
        assert_eq!(ids(&plan), ["3", "1"]);
        assert_eq!(
            reasons(&plan),
            [
                ("2", "already imported"),
                ("9", "not in the provider's catalogue")
            ]
        );
    }

    #[test]
    fn unusable_services_are_skipped_with_their_reason() {
        let mut unknown_type = remote("1", "A", "1");
        unknown_type.type_label = "Weird Type".into();
        let mut bad_limits = remote("2", "A", "1");
        (bad_limits.min, bad_limits.max) = (500, 100);
        let negative_rate = remote("3", "A", "-1");
        let huge_rate = remote("4", "A", "123456789012345");
        // Fits the column, but not in rupiah once converted.
        let too_dear = remote("5", "A", "99999999999999");
        let fine = remote("6", "A", "0.5");
        let list = [
            unknown_type,
            bad_limits,
            negative_rate,
            huge_rate,
            too_dear,
            fine,
        ];
        let dear_currency = Markups {
            exchange_rate: BigDecimal::from(1_000_000),
            ..markups(None)
        };
        let plan = plan(
            &existing(&[]),
            &list,
            &Selection::AllNew,
            Target::Category(1),
            &dear_currency,
        );
        assert_eq!(ids(&plan), ["6"]);
        assert_eq!(
            reasons(&plan),
            [
                ("1", "unknown service type \"Weird Type\""),
                ("2", "maximum 100 is below minimum 500"),
                ("3", "rate -1 is out of range"),
                ("4", "rate 123456789012345 is out of range"),
                ("5", "price does not fit in rupiah"),
            ]
        );
    }

    #[test]
    fn limits_and_types_are_as_the_catalogue_stores_them() {
        let mut r = remote("1", "A", "1");
        r.min = 0;
        r.type_label = "Custom Comments".into();
        let list = [r];
        let plan = plan(
            &existing(&[]),
            &list,
            &Selection::AllNew,
            Target::Category(1),
            &markups(None),
        );
        let p = &plan.create[0];
        assert_eq!((p.min_quantity, p.max_quantity), (1, 5000));
        assert_eq!(p.service_type, ServiceType::CustomComments);
    }

    #[test]
    fn prices_follow_the_markup_in_force() {
        // 0.9 x 16,000 = 14,400 per 1000 before the markup.
        let list = [remote("1", "A", "0.9")];
        let price = |m: Markups| {
            plan(
                &existing(&[]),
                &list,
                &Selection::AllNew,
                Target::Category(1),
                &m,
            )
            .create[0]
                .price_per_1000
        };
        assert_eq!(price(markups(None)), 15_840); // the panel's 10%
        assert_eq!(price(markups(Some(2500))), 18_000); // the provider's 25%
        assert_eq!(price(markups(Some(0))), 14_400);
        // Rounded up to a whole rupiah: 0.000123 x 16,000 x 1.1 = 2.1648.
        let cheap = [remote("2", "A", "0.000123")];
        let plan = plan(
            &existing(&[]),
            &cheap,
            &Selection::AllNew,
            Target::Category(1),
            &markups(None),
        );
        assert_eq!(plan.create[0].price_per_1000, 3);
    }

    #[test]
    fn provider_categories_are_named_once_each() {
        let list = [
            remote("1", " Twitter Followers ", "1"),
            remote("2", "twitter followers", "1"),
            remote("3", "", "1"),
            remote("4", "Instagram Likes", "1"),
        ];
        let plan = plan(
            &existing(&[]),
            &list,
            &Selection::AllNew,
            Target::ProviderCategories,
            &markups(None),
        );
        let named: Vec<CategoryChoice> = plan.create.iter().map(|p| p.category.clone()).collect();
        assert_eq!(
            named,
            [
                CategoryChoice::Named("Twitter Followers".into()),
                CategoryChoice::Named("twitter followers".into()),
                CategoryChoice::Named(FALLBACK_CATEGORY.into()),
                CategoryChoice::Named("Instagram Likes".into()),
            ]
        );
        assert_eq!(
            plan.categories,
            ["Twitter Followers", FALLBACK_CATEGORY, "Instagram Likes"]
        );
    }
}
