//! `order_events`: an order's history, one row per status change; the bus
//! announces each row's id (`events`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::OrderStatus,
    schema::{order_events, orders},
};

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

super::reads_by_id!(OrderEventRow, order_events);

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_events)]
pub struct NewOrderEvent {
    pub order_id: i64,
    pub status: OrderStatus,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    pub note: String,
}

/// Which orders' events a reader wants.
#[derive(Debug, Clone, Copy)]
pub enum EventScope {
    Order(i64),
    User(i64),
    All,
}

impl OrderEventRow {
    /// Events by id with the id of the user who owns each order, oldest first
    /// (what a notification names, loaded by the process that received it).
    pub async fn with_owners(
        conn: &mut AsyncPgConnection,
        event_ids: &[i64],
    ) -> QueryResult<Vec<(OrderEventRow, i64)>> {
        order_events::table
            .inner_join(orders::table)
            .filter(order_events::id.eq_any(event_ids))
            .order(order_events::id)
            .select((OrderEventRow::as_select(), orders::user_id))
            .load(conn)
            .await
    }

    /// Up to `limit` events in `scope` after event `after`, oldest first, with
    /// their owners: what a subscriber that fell behind missed.
    pub async fn since(
        conn: &mut AsyncPgConnection,
        after: i64,
        scope: EventScope,
        limit: i64,
    ) -> QueryResult<Vec<(OrderEventRow, i64)>> {
        let mut query = order_events::table
            .inner_join(orders::table)
            .filter(order_events::id.gt(after))
            .order(order_events::id)
            .limit(limit)
            .select((OrderEventRow::as_select(), orders::user_id))
            .into_boxed();
        query = match scope {
            EventScope::Order(id) => query.filter(order_events::order_id.eq(id)),
            EventScope::User(id) => query.filter(orders::user_id.eq(id)),
            EventScope::All => query,
        };
        query.load(conn).await
    }

    /// The newest event's id (0 when there is none): where a subscriber starts.
    pub async fn latest_id(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
        order_events::table
            .select(diesel::dsl::max(order_events::id))
            .first::<Option<i64>>(conn)
            .await
            .map(|id| id.unwrap_or(0))
    }
}

// The history of several orders, each order's oldest first.
super::reads_by_order!(
    OrderEventRow,
    order_events,
    (order_events::order_id, order_events::id)
);
