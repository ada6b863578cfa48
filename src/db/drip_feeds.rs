//! `drip_feeds`: the plan of each drip-feed order the panel runs itself (runs,
//! interval, quantity per run, what the whole feed cost) and how far it has got;
//! the claim of the feeds whose next run is due, the stop, and the reads the API
//! shows. The rules are `domain::orders::drip`'s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::OrderStatus,
    orders::OrderRow,
    schema::{drip_feed_runs, drip_feeds, orders},
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = drip_feeds, check_for_backend(diesel::pg::Pg))]
pub struct DripFeedRow {
    /// The drip-feed order (the parent of its runs).
    pub order_id: i64,
    pub runs: i32,
    pub interval_minutes: i32,
    pub quantity_per_run: i64,
    /// What the whole feed cost; the order's `charge` keeps only the share of the
    /// runs not placed yet.
    pub total_charge: i64,
    pub runs_placed: i32,
    /// When the next run is due; `None` once every run is placed or it stopped.
    pub next_run_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

// The feeds of some orders (orders without one are not drip-fed by the panel).
super::reads_by_order!(DripFeedRow, drip_feeds, drip_feeds::order_id);
super::inserts_row!(DripFeedRow, drip_feeds);

impl DripFeedRow {
    /// The feed of `order_id`, locked until the transaction ends.
    pub async fn find_for_update(
        conn: &mut AsyncPgConnection,
        order_id: i64,
    ) -> QueryResult<Option<DripFeedRow>> {
        drip_feeds::table
            .find(order_id)
            .select(DripFeedRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// Up to `limit` feeds whose next run is due, each with its order, both rows
    /// locked; feeds or orders another transaction holds (a worker placing a run,
    /// a customer canceling) are skipped, so no run waits on a lock or is placed
    /// twice.
    pub async fn claim_due(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<(DripFeedRow, OrderRow)>> {
        drip_feeds::table
            .inner_join(orders::table)
            .filter(drip_feeds::next_run_at.le(diesel::dsl::now))
            .order(drip_feeds::next_run_at.asc())
            .limit(limit)
            .select((DripFeedRow::as_select(), OrderRow::as_select()))
            .for_update()
            .skip_locked()
            .load(conn)
            .await
    }

    /// Records that run `runs_placed` was placed, and when the next one is due.
    pub async fn record_run(
        conn: &mut AsyncPgConnection,
        order_id: i64,
        runs_placed: i32,
        next_run_at: Option<DateTime<Utc>>,
    ) -> QueryResult<()> {
        diesel::update(drip_feeds::table.find(order_id))
            .set((
                drip_feeds::runs_placed.eq(runs_placed),
                drip_feeds::next_run_at.eq(next_run_at),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// No further run is placed.
    pub async fn stop(conn: &mut AsyncPgConnection, order_id: i64) -> QueryResult<()> {
        diesel::update(drip_feeds::table.find(order_id))
            .set((
                drip_feeds::next_run_at.eq(None::<DateTime<Utc>>),
                drip_feeds::stopped_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Up to `limit` drip-feed orders still IN_PROGRESS that will place no more runs
    /// and whose runs have all ended, locked (skipping those another transaction
    /// holds): ready to take their final status.
    pub async fn claim_ended(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<(DripFeedRow, OrderRow)>> {
        // Runs still open: neither placed to the end nor settled.
        let no_open_run = diesel::dsl::sql::<diesel::sql_types::Bool>(
            "NOT EXISTS (SELECT 1 FROM drip_feed_runs r JOIN orders o ON o.id = r.order_id \
             WHERE r.parent_order_id = drip_feeds.order_id \
             AND o.status NOT IN ('COMPLETED', 'PARTIAL', 'CANCELED', 'FAILED'))",
        );
        drip_feeds::table
            .inner_join(orders::table)
            .filter(drip_feeds::next_run_at.is_null())
            .filter(orders::status.eq(OrderStatus::InProgress))
            .filter(no_open_run)
            .order(drip_feeds::order_id)
            .limit(limit)
            .select((DripFeedRow::as_select(), OrderRow::as_select()))
            .for_update()
            .skip_locked()
            .load(conn)
            .await
    }
}

/// Which drip-feed order a run belongs to, and which run it is.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = drip_feed_runs, check_for_backend(diesel::pg::Pg))]
pub struct DripFeedRunRow {
    /// The run's own order.
    pub order_id: i64,
    pub parent_order_id: i64,
    pub run_number: i32,
}

// The runs among some orders (orders that are runs of a drip-feed order).
super::reads_by_order!(DripFeedRunRow, drip_feed_runs, drip_feed_runs::order_id);
super::inserts_row!(
    /// Records whose run `order_id` is; the unique index refuses a second order
    /// for one run number.
    DripFeedRunRow,
    drip_feed_runs
);

impl DripFeedRunRow {
    /// The runs of the drip-feed orders `parent_ids` with their orders, by parent
    /// then run number.
    pub async fn with_orders_of(
        conn: &mut AsyncPgConnection,
        parent_ids: &[i64],
    ) -> QueryResult<Vec<(DripFeedRunRow, OrderRow)>> {
        drip_feed_runs::table
            .inner_join(orders::table)
            .filter(drip_feed_runs::parent_order_id.eq_any(parent_ids))
            .order((drip_feed_runs::parent_order_id, drip_feed_runs::run_number))
            .select((DripFeedRunRow::as_select(), OrderRow::as_select()))
            .load(conn)
            .await
    }
}
