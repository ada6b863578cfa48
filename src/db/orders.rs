//! `orders`, `order_events`, `order_requests` and `mass_orders`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{OrderRequestKind, OrderRequestStatus, OrderStatus},
    schema::{mass_orders, order_events, order_requests, orders},
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
}

impl OrderRow {
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<OrderRow>> {
        orders::table
            .find(id)
            .select(OrderRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn load_many(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<OrderRow>> {
        orders::table
            .filter(orders::id.eq_any(ids))
            .select(OrderRow::as_select())
            .load(conn)
            .await
    }

    pub async fn find_for_update(
        conn: &mut AsyncPgConnection,
        id: i64,
    ) -> QueryResult<Option<OrderRow>> {
        orders::table
            .find(id)
            .select(OrderRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }
}

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
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = order_events, check_for_backend(diesel::pg::Pg))]
pub struct OrderEventRow {
    pub id: i64,
    pub order_id: i64,
    pub status: OrderStatus,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_events)]
pub struct NewOrderEvent {
    pub order_id: i64,
    pub status: OrderStatus,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mass_orders, check_for_backend(diesel::pg::Pg))]
pub struct MassOrderRow {
    pub id: i64,
    pub user_id: i64,
    pub order_count: i32,
    pub rejected_count: i32,
    pub total_charge: i64,
    pub all_or_nothing: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = order_requests, check_for_backend(diesel::pg::Pg))]
pub struct OrderRequestRow {
    pub id: i64,
    pub order_id: i64,
    pub kind: OrderRequestKind,
    pub status: OrderRequestStatus,
    pub provider_ref: Option<String>,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderEventRow {
    /// The history of several orders, each order's oldest first.
    pub async fn for_orders(
        conn: &mut AsyncPgConnection,
        order_ids: &[i64],
    ) -> QueryResult<Vec<OrderEventRow>> {
        order_events::table
            .filter(order_events::order_id.eq_any(order_ids))
            .order((order_events::order_id, order_events::id))
            .select(OrderEventRow::as_select())
            .load(conn)
            .await
    }
}

impl OrderRequestRow {
    /// The cancel and refill requests of several orders, each order's oldest first.
    pub async fn for_orders(
        conn: &mut AsyncPgConnection,
        order_ids: &[i64],
    ) -> QueryResult<Vec<OrderRequestRow>> {
        order_requests::table
            .filter(order_requests::order_id.eq_any(order_ids))
            .order((order_requests::order_id, order_requests::id))
            .select(OrderRequestRow::as_select())
            .load(conn)
            .await
    }
}
