//! `services`: what customers can buy, imported from a provider or sold from the
//! panel's own stock.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    contains_pattern,
    enums::{Fulfillment, Platform, ServiceType},
    pagination::{OffsetPage, Paginated, paginate_offset},
    schema::{service_categories, services},
};

/// A service as stored: what was written (`spec`, which the row reads as
/// through `Deref`), with what the panel keeps about it.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
pub struct ServiceRow {
    pub id: i64,
    #[diesel(embed)]
    pub spec: NewService,
    pub average_completion_seconds: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub fallback_service_id: Option<i64>,
    /// The URL name (`/services/<slug>`); see `domain::content::slugs`.
    pub slug: String,
    /// Days after completion a refill may be asked for (0: none; `None`: the
    /// panel's `REFILL_PERIOD_DAYS`). Only with `refill`.
    pub refill_period_days: Option<i32>,
    /// Hours between two refills of one order (`None`: `REFILL_COOLDOWN_HOURS`).
    pub refill_cooldown_hours: Option<i32>,
    /// Whether an order is refused while another active order of the caller
    /// runs on the same link.
    pub same_link_guard: bool,
    /// Drip-feed orders on it are run by the panel, one child order per run
    /// (`domain::orders::drip`), whether or not its provider runs drip-feed.
    pub dripfeed_by_panel: bool,
}

super::reads_by_id!(ServiceRow, services);

impl std::ops::Deref for ServiceRow {
    type Target = NewService;

    fn deref(&self) -> &NewService {
        &self.spec
    }
}

impl std::ops::DerefMut for ServiceRow {
    fn deref_mut(&mut self) -> &mut NewService {
        &mut self.spec
    }
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
pub struct NewService {
    pub category_id: i64,
    pub name: String,
    pub description: String,
    pub platform: Platform,
    pub service_type: ServiceType,
    pub provider_id: Option<i64>,
    pub provider_service_id: Option<String>,
    pub provider_rate: Option<BigDecimal>,
    pub markup_bps: Option<i32>,
    pub fulfillment: Fulfillment,
    pub price_per_1000: i64,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub quantity_step: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
    pub active: bool,
    pub sort_order: i32,
}

#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = services)]
pub struct ServiceChangeset {
    pub category_id: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub platform: Option<Platform>,
    pub service_type: Option<ServiceType>,
    pub provider_rate: Option<Option<BigDecimal>>,
    pub markup_bps: Option<Option<i32>>,
    pub price_per_1000: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub quantity_step: Option<i64>,
    pub refill: Option<bool>,
    pub cancel: Option<bool>,
    pub dripfeed: Option<bool>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
    pub fallback_service_id: Option<Option<i64>>,
    /// Cleared when an admin sets `active`: the catalogue sync then no longer
    /// reactivates the service on its own (see `domain::catalog_import`).
    pub sync_deactivated: Option<bool>,
    pub refill_period_days: Option<Option<i32>>,
    pub refill_cooldown_hours: Option<Option<i32>>,
    pub same_link_guard: Option<bool>,
    pub dripfeed_by_panel: Option<bool>,
}

/// Which services a catalogue list shows.
#[derive(Debug, Default, Clone)]
pub struct ServiceFilter {
    pub category_id: Option<i64>,
    pub platform: Option<Platform>,
    /// Text the name or description contains.
    pub search: Option<String>,
    pub include_inactive: bool,
}

impl ServiceRow {
    /// The average completion times of `ids`, locked in id order (so concurrent
    /// batches never deadlock) until the transaction ends.
    pub async fn lock_average_completions(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<(i64, Option<i64>)>> {
        services::table
            .filter(services::id.eq_any(ids))
            .order(services::id)
            .select((services::id, services::average_completion_seconds))
            // The strength an UPDATE takes: FOR UPDATE would also wait for (and
            // deadlock with) transactions that only inserted orders of the service.
            .for_no_key_update()
            .load(conn)
            .await
    }

    /// Sets each `(service id, seconds)` average completion time, in one statement.
    pub async fn set_average_completions(
        conn: &mut AsyncPgConnection,
        averages: &[(i64, i64)],
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt};
        diesel::sql_query(
            "UPDATE services s SET average_completion_seconds = a.seconds \
             FROM unnest($1::bigint[], $2::bigint[]) AS a(id, seconds) WHERE s.id = a.id",
        )
        .bind::<Array<BigInt>, _>(averages.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(averages.iter().map(|(_, s)| *s).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map(drop)
    }

    /// The ids of a category's services, locked until the transaction ends (a reorder).
    pub async fn ids_in_category_for_update(
        conn: &mut AsyncPgConnection,
        category_id: i64,
    ) -> QueryResult<Vec<i64>> {
        services::table
            .filter(services::category_id.eq(category_id))
            .select(services::id)
            .for_update()
            .load(conn)
            .await
    }

    /// A category's services in display order.
    pub async fn in_category(
        conn: &mut AsyncPgConnection,
        category_id: i64,
    ) -> QueryResult<Vec<ServiceRow>> {
        services::table
            .filter(services::category_id.eq(category_id))
            .order((services::sort_order, services::id))
            .select(ServiceRow::as_select())
            .load(conn)
            .await
    }

    /// The active service (in an active category) whose current slug is `slug`.
    pub async fn find_active_by_slug(
        conn: &mut AsyncPgConnection,
        slug: &str,
    ) -> QueryResult<Option<ServiceRow>> {
        services::table
            .inner_join(service_categories::table)
            .filter(services::slug.eq(slug))
            .filter(services::active.eq(true))
            .filter(service_categories::active.eq(true))
            .select(ServiceRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The whole active catalogue with each service's category name, in display
    /// order (what the API v2 `services` action answers, in one statement).
    pub async fn active_with_categories(
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<Vec<(ServiceRow, String)>> {
        services::table
            .inner_join(service_categories::table)
            .filter(services::active.eq(true))
            .filter(service_categories::active.eq(true))
            .order((
                service_categories::sort_order,
                service_categories::id,
                services::sort_order,
                services::id,
            ))
            .select((ServiceRow::as_select(), service_categories::name))
            .load(conn)
            .await
    }

    /// The catalogue in display order (category order, then service order).
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &ServiceFilter,
        page: OffsetPage,
    ) -> QueryResult<Paginated<ServiceRow>> {
        let pattern = contains_pattern(filter.search.as_deref());
        let build = || {
            let mut q = services::table
                .inner_join(service_categories::table)
                .select(ServiceRow::as_select())
                .into_boxed();
            if !filter.include_inactive {
                q = q
                    .filter(services::active.eq(true))
                    .filter(service_categories::active.eq(true));
            }
            if let Some(category) = filter.category_id {
                q = q.filter(services::category_id.eq(category));
            }
            if let Some(platform) = filter.platform {
                q = q.filter(services::platform.eq(platform));
            }
            if let Some(pattern) = &pattern {
                q = q.filter(
                    services::name
                        .ilike(pattern.clone())
                        .or(services::description.ilike(pattern.clone())),
                );
            }
            q
        };
        paginate_offset(
            conn,
            build,
            |q| {
                q.order((
                    service_categories::sort_order,
                    service_categories::id,
                    services::sort_order,
                    services::id,
                ))
            },
            page,
        )
        .await
    }
}

/// An imported service as the catalogue sync compares it with the provider's list.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
pub struct ImportedService {
    pub id: i64,
    pub provider_service_id: Option<String>,
    pub name: String,
    pub provider_rate: Option<BigDecimal>,
    pub markup_bps: Option<i32>,
    pub price_per_1000: i64,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
    pub active: bool,
    pub upstream_missing_since: Option<DateTime<Utc>>,
    pub sync_deactivated: bool,
}

impl ImportedService {
    /// A provider's imported services by id; `lock` holds them until the
    /// transaction ends (a sync writes what it compared).
    pub async fn of_provider(
        conn: &mut AsyncPgConnection,
        provider_id: i64,
        lock: bool,
    ) -> QueryResult<Vec<ImportedService>> {
        let query = services::table
            .filter(services::provider_id.eq(provider_id))
            .order(services::id)
            .select(ImportedService::as_select());
        if lock {
            query.for_update().load(conn).await
        } else {
            query.load(conn).await
        }
    }
}
