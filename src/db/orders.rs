//! `orders`: the order rows and the reads and claims of the table (the paid
//! placements are `order_placement.rs`). Its history is `order_events`, its customer
//! requests `order_requests`, its batches `mass_orders`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    contains_pattern,
    enums::{OrderStatus, ServiceType},
    pagination::{KeysetPage, Paginated, paginate_keyset, paginate_owned},
    schema::{orders, providers, services},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, QueryableByName)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: i64,
    pub user_id: i64,
    pub service_id: i64,
    pub mass_order_id: Option<i64>,
    pub link: String,
    pub quantity: i64,
    pub price_per_1000: i64,
    pub charge: i64,
    pub status: OrderStatus,
    pub extra: serde_json::Value,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    pub provider_id: Option<i64>,
    pub provider_order_id: Option<String>,
    pub refunded: i64,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub provider_service_id: Option<String>,
    pub submit_attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub fallback_used: bool,
    /// What the provider charges for it, in rupiah, recorded when it accepted it.
    pub provider_cost: Option<i64>,
    /// When it reached COMPLETED or PARTIAL: the refill warranty counts from here.
    pub completed_at: Option<DateTime<Utc>>,
    /// When a scheduled order is dispatched; it waits PENDING until then.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The same-link guard's key (`domain::orders::link_guard`), when it applied.
    pub link_guard: Option<String>,
}

super::reads_by_id!(OrderRow, orders);

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder {
    pub user_id: i64,
    pub service_id: i64,
    pub mass_order_id: Option<i64>,
    pub link: String,
    pub quantity: i64,
    pub price_per_1000: i64,
    pub charge: i64,
    pub status: OrderStatus,
    pub extra: serde_json::Value,
    pub remains: Option<i64>,
    pub provider_id: Option<i64>,
    pub provider_service_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub link_guard: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Dispatch waits until then: the schedule's time, or none.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Which orders a list shows; `from` inclusive, `to` exclusive.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub user_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub service_id: Option<i64>,
    pub mass_order_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Text the link contains.
    pub link_search: Option<String>,
    /// Orders of services of this type (e.g. a customer's subscriptions).
    pub service_type: Option<ServiceType>,
}

impl OrderFilter {
    /// One owner's orders, nothing else: a page the page pool may read.
    pub fn owner_only(&self) -> bool {
        // Destructured without `..`, so a new filter has to be considered here.
        let OrderFilter {
            user_id,
            status,
            service_id,
            mass_order_id,
            from,
            to,
            link_search,
            service_type,
        } = self;
        user_id.is_some()
            && status.is_none()
            && service_id.is_none()
            && mass_order_id.is_none()
            && from.is_none()
            && to.is_none()
            && link_search.is_none()
            && service_type.is_none()
    }
}

impl OrderRow {
    /// Sets each `(order id, error)` as the order's `last_error`, in one statement.
    pub async fn set_last_errors(
        conn: &mut AsyncPgConnection,
        errors: &[(i64, &str)],
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text};
        diesel::sql_query(
            "UPDATE orders o SET last_error = e.error \
             FROM unnest($1::bigint[], $2::text[]) AS e(id, error) WHERE o.id = e.id",
        )
        .bind::<Array<BigInt>, _>(errors.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(errors.iter().map(|(_, e)| *e).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map(drop)
    }

    /// Sets when dispatch may send the order next (`None`: at once) and, when
    /// given, why the last try failed; answers the row as it now is.
    pub async fn reschedule(
        conn: &mut AsyncPgConnection,
        id: i64,
        next_attempt_at: Option<DateTime<Utc>>,
        last_error: Option<&str>,
    ) -> QueryResult<OrderRow> {
        let query = diesel::update(orders::table.find(id));
        match last_error {
            Some(error) => {
                query
                    .set((
                        orders::next_attempt_at.eq(next_attempt_at),
                        orders::last_error.eq(error),
                    ))
                    .returning(OrderRow::as_returning())
                    .get_result(conn)
                    .await
            }
            None => {
                query
                    .set(orders::next_attempt_at.eq(next_attempt_at))
                    .returning(OrderRow::as_returning())
                    .get_result(conn)
                    .await
            }
        }
    }

    /// Claims up to `limit` PENDING orders that are due, of active providers
    /// outside an unhealthy period, oldest first, and marks them SUBMITTING
    /// (one more attempt). Rows another worker holds are skipped; run it in a
    /// transaction that commits before any provider is called.
    pub async fn claim_pending_for_dispatch(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<OrderRow>> {
        let dispatchable = providers::table
            .filter(providers::active.eq(true))
            .filter(
                providers::unhealthy_until
                    .is_null()
                    .or(providers::unhealthy_until.le(diesel::dsl::now)),
            )
            .select(providers::id.nullable());
        let ids: Vec<i64> = orders::table
            .filter(orders::status.eq(OrderStatus::Pending))
            .filter(
                orders::next_attempt_at
                    .is_null()
                    .or(orders::next_attempt_at.le(diesel::dsl::now)),
            )
            .filter(orders::provider_id.eq_any(dispatchable))
            .order(orders::id)
            .limit(limit)
            .select(orders::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(orders::table.filter(orders::id.eq_any(&ids)))
            .set((
                orders::status.eq(OrderStatus::Submitting),
                orders::submitted_at.eq(diesel::dsl::now),
                orders::submit_attempts.eq(orders::submit_attempts + 1),
            ))
            .returning(OrderRow::as_returning())
            .get_results(conn)
            .await
    }

    /// Leases up to `limit` open orders of `provider_id` whose last check was
    /// before `before` (never checked first, then oldest), skipping rows another
    /// worker holds, and stamps `last_synced_at` as the lease.
    pub async fn lease_for_sync(
        conn: &mut AsyncPgConnection,
        provider_id: i64,
        limit: i64,
        before: DateTime<Utc>,
    ) -> QueryResult<Vec<OrderRow>> {
        let ids: Vec<i64> = orders::table
            .filter(orders::provider_id.eq(provider_id))
            .filter(orders::status.eq_any([OrderStatus::Processing, OrderStatus::InProgress]))
            .filter(orders::provider_order_id.is_not_null())
            .filter(
                orders::last_synced_at
                    .is_null()
                    .or(orders::last_synced_at.lt(before)),
            )
            .order((orders::last_synced_at.asc().nulls_first(), orders::id))
            .limit(limit)
            .select(orders::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        diesel::update(orders::table.filter(orders::id.eq_any(&ids)))
            .set(orders::last_synced_at.eq(diesel::dsl::now))
            .returning(OrderRow::as_returning())
            .get_results(conn)
            .await
    }

    /// The same-link guard's keys held by `user_id`'s active orders.
    pub async fn active_link_guards(
        conn: &mut AsyncPgConnection,
        user_id: i64,
    ) -> QueryResult<std::collections::HashSet<String>> {
        let keys: Vec<Option<String>> = orders::table
            .filter(orders::user_id.eq(user_id))
            .filter(orders::link_guard.is_not_null())
            .filter(orders::status.eq_any(OrderStatus::ACTIVE))
            .select(orders::link_guard)
            .load(conn)
            .await?;
        Ok(keys.into_iter().flatten().collect())
    }

    /// Those of `order_ids` with a newer order on the same link that has not
    /// ended (anyone's: its start count covers the link), in one statement.
    pub async fn with_newer_active_on_link(
        conn: &mut AsyncPgConnection,
        order_ids: &[i64],
    ) -> QueryResult<Vec<i64>> {
        let newer = diesel::alias!(orders as newer);
        orders::table
            .filter(orders::id.eq_any(order_ids))
            .filter(diesel::dsl::exists(
                newer
                    .filter(newer.field(orders::link).eq(orders::link))
                    .filter(newer.field(orders::id).gt(orders::id))
                    .filter(newer.field(orders::status).eq_any(OrderStatus::ACTIVE)),
            ))
            .select(orders::id)
            .load(conn)
            .await
    }

    /// When the oldest order in `status` was placed, if any is.
    pub async fn oldest_with_status(
        conn: &mut AsyncPgConnection,
        status: OrderStatus,
    ) -> QueryResult<Option<DateTime<Utc>>> {
        orders::table
            .filter(orders::status.eq(status))
            .select(diesel::dsl::min(orders::created_at))
            .first(conn)
            .await
    }

    /// How many orders are in each of `statuses` (a status with none is absent).
    pub async fn count_by_status(
        conn: &mut AsyncPgConnection,
        statuses: &[OrderStatus],
    ) -> QueryResult<Vec<(OrderStatus, i64)>> {
        orders::table
            .filter(orders::status.eq_any(statuses))
            .group_by(orders::status)
            .select((orders::status, diesel::dsl::count_star()))
            .load(conn)
            .await
    }

    /// Records what the order costs at its provider, as of now: the provider
    /// service's rate per 1000 (provider currency), the provider's exchange rate,
    /// and the cost in rupiah, rounded. Called when the provider accepts it, so a
    /// later rate or exchange-rate change never rewrites a past order's cost.
    pub async fn record_provider_cost(
        conn: &mut AsyncPgConnection,
        order_id: i64,
    ) -> QueryResult<usize> {
        Self::record_provider_costs(conn, &[order_id]).await
    }

    /// [`OrderRow::record_provider_cost`] for many orders, in one statement.
    pub async fn record_provider_costs(
        conn: &mut AsyncPgConnection,
        order_ids: &[i64],
    ) -> QueryResult<usize> {
        if order_ids.is_empty() {
            return Ok(0);
        }
        diesel::sql_query(
            "UPDATE orders o SET provider_rate = s.provider_rate, \
               provider_exchange_rate = p.exchange_rate, \
               provider_cost = round(s.provider_rate * o.quantity / 1000 * p.exchange_rate)::bigint \
             FROM services s, providers p \
             WHERE o.id = ANY($1) AND s.provider_id = o.provider_id \
               AND s.provider_service_id = o.provider_service_id AND p.id = o.provider_id",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(order_ids)
        .execute(conn)
        .await
    }

    /// Those of `order_ids` that `user_id` owns, in one statement (others' and
    /// missing ids are simply absent).
    pub async fn find_many_owned(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        order_ids: &[i64],
    ) -> QueryResult<Vec<OrderRow>> {
        orders::table
            .filter(orders::id.eq_any(order_ids))
            .filter(orders::user_id.eq(user_id))
            .select(OrderRow::as_select())
            .load(conn)
            .await
    }

    /// Orders matching `filter`, newest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &OrderFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<OrderRow>> {
        let pattern = contains_pattern(filter.link_search.as_deref());
        let build = || {
            // The owner, when there is one, is `paginate_owned`'s.
            let mut q = orders::table.select(OrderRow::as_select()).into_boxed();
            if let Some(status) = filter.status {
                q = q.filter(orders::status.eq(status));
            }
            if let Some(service) = filter.service_id {
                q = q.filter(orders::service_id.eq(service));
            }
            if let Some(mass) = filter.mass_order_id {
                q = q.filter(orders::mass_order_id.eq(mass));
            }
            if let Some(from) = filter.from {
                q = q.filter(orders::created_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(orders::created_at.lt(to));
            }
            if let Some(pattern) = &pattern {
                q = q.filter(orders::link.ilike(pattern.clone()));
            }
            if let Some(service_type) = filter.service_type {
                let of_type = services::table
                    .filter(services::service_type.eq(service_type))
                    .select(services::id);
                q = q.filter(orders::service_id.eq_any(of_type));
            }
            q
        };
        match filter.user_id {
            Some(user) => {
                paginate_owned(conn, orders::user_id, user, build, orders::id, page).await
            }
            None => paginate_keyset(conn, build, orders::id, page).await,
        }
    }

    /// The order if `user_id` owns it.
    pub async fn find_owned(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        order_id: i64,
    ) -> QueryResult<Option<OrderRow>> {
        orders::table
            .filter(orders::id.eq(order_id))
            .filter(orders::user_id.eq(user_id))
            .select(OrderRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The user's own orders among `ids`, or ordered for one of `links`, oldest
    /// first, at most `limit` (someone else's order never matches).
    pub async fn owned_matching(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        ids: &[i64],
        links: &[String],
        limit: i64,
    ) -> QueryResult<Vec<OrderRow>> {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .filter(orders::id.eq_any(ids).or(orders::link.eq_any(links)))
            .order(orders::id.asc())
            .limit(limit)
            .select(OrderRow::as_select())
            .load(conn)
            .await
    }

    /// The user's order placed with this idempotency key, if any.
    pub async fn find_by_idempotency_key(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        key: &str,
    ) -> QueryResult<Option<OrderRow>> {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .filter(orders::idempotency_key.eq(key))
            .select(OrderRow::as_select())
            .first(conn)
            .await
            .optional()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// An order fixture for unit tests: 1000 ordered for 15,840 rupiah, at `status`, nothing refunded yet.
    pub(crate) fn order(status: OrderStatus) -> OrderRow {
        OrderRow {
            id: 1,
            user_id: 1,
            service_id: 1,
            mass_order_id: None,
            link: "https://x.com/jack".into(),
            quantity: 1000,
            price_per_1000: 15_840,
            charge: 15_840,
            status,
            extra: json!({}),
            start_count: None,
            remains: Some(1000),
            provider_id: Some(1),
            provider_order_id: Some("77".into()),
            refunded: 0,
            idempotency_key: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            provider_service_id: Some("101".into()),
            submit_attempts: 1,
            next_attempt_at: None,
            submitted_at: Some(Utc::now()),
            last_synced_at: None,
            last_error: None,
            fallback_used: false,
            provider_cost: None,
            completed_at: None,
            scheduled_at: None,
            link_guard: None,
        }
    }
}
