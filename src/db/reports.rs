//! The back office's aggregates: money and counts over a period, computed by
//! PostgreSQL (`sum`, `count`, `GROUP BY`), never by loading rows.
//!
//! An order counts in the period it was placed. Its revenue is what the customer
//! paid less what they got back (`charge - refunded`); its provider cost is what
//! was recorded when the provider accepted it, only for what was delivered: none
//! for CANCELED and FAILED orders, the delivered share (rounded down) for PARTIAL.

use chrono::{DateTime, Utc};
use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{BoxedSqlQuery, SqlQuery},
    sql_types::{BigInt, Nullable, Text, Timestamp, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// One order's provider cost in rupiah, counting only what was delivered.
const DELIVERED_COST: &str = "CASE WHEN o.status IN ('CANCELED', 'FAILED') THEN 0 \
     WHEN o.status = 'PARTIAL' \
       THEN COALESCE(o.provider_cost, 0) * (o.quantity - LEAST(GREATEST(COALESCE(o.remains, 0), 0), o.quantity)) / o.quantity \
     ELSE COALESCE(o.provider_cost, 0) END";

/// A period: `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `sql` with the period bound: `$1` its start, `$2` its end.
fn in_period(sql: impl Into<String>, period: Period) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<Timestamptz, _>(period.start)
        .bind::<Timestamptz, _>(period.end)
}

/// The money of a set of orders: how many, their revenue (charges less refunds)
/// and their delivered provider cost.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct OrderFigures {
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue: i64,
    #[diesel(sql_type = BigInt)]
    pub provider_cost: i64,
}

/// Orders of one status placed in the period, with their money.
#[derive(Debug, Clone, QueryableByName)]
pub struct StatusFigures {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(embed)]
    pub money: OrderFigures,
}

/// The period's orders: their figures per status and how many customers placed
/// them.
#[derive(Debug, Clone)]
pub struct PeriodOrders {
    pub by_status: Vec<StatusFigures>,
    pub active_buyers: i64,
}

/// Orders by status and their distinct buyers, in one scan of the period's
/// orders (one statement): grouped by status and buyer first (a few thousand
/// groups, hashed in parallel), then summed per status, the buyers counted from
/// the same groups.
pub async fn orders_by_status(
    conn: &mut AsyncPgConnection,
    period: Period,
) -> QueryResult<PeriodOrders> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        figures: StatusFigures,
        /// The same on every row.
        #[diesel(sql_type = BigInt)]
        buyers: i64,
    }
    let rows: Vec<Row> = in_period(
        format!(
            "WITH per_buyer AS ( \
               SELECT o.status, o.user_id, count(*) AS orders, sum(o.charge - o.refunded) AS revenue, \
                 sum({DELIVERED_COST}) AS provider_cost \
               FROM orders o WHERE o.created_at >= $1 AND o.created_at < $2 \
               GROUP BY o.status, o.user_id \
             ) \
             SELECT status, sum(orders)::bigint AS orders, COALESCE(sum(revenue), 0)::bigint AS revenue, \
               COALESCE(sum(provider_cost), 0)::bigint AS provider_cost, \
               (SELECT count(DISTINCT user_id) FROM per_buyer) AS buyers \
             FROM per_buyer GROUP BY status ORDER BY status"
        ),
        period,
    )
    .load(conn)
    .await?;
    Ok(PeriodOrders {
        active_buyers: rows.iter().map(|row| row.buyers).next().unwrap_or(0),
        by_status: rows.into_iter().map(|row| row.figures).collect(),
    })
}

/// Deposits credited in the period, per gateway (manual credits of flagged
/// deposits included: they are DEPOSIT entries in the ledger too). Bonuses are
/// BONUS entries, counted apart: they are not money received.
#[derive(Debug, Clone, QueryableByName)]
pub struct GatewayFigures {
    #[diesel(sql_type = Text)]
    pub gateway: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = BigInt)]
    pub bonus: i64,
}

pub async fn deposits_by_gateway(
    conn: &mut AsyncPgConnection,
    period: Period,
) -> QueryResult<Vec<GatewayFigures>> {
    in_period(
        "SELECT d.gateway, count(*) FILTER (WHERE l.kind = 'DEPOSIT') AS count, \
           COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'DEPOSIT'), 0)::bigint AS amount, \
           COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'BONUS'), 0)::bigint AS bonus \
         FROM ledger_entries l JOIN deposits d ON d.id = l.deposit_id \
         WHERE l.kind IN ('DEPOSIT', 'BONUS') AND l.created_at >= $1 AND l.created_at < $2 \
         GROUP BY d.gateway ORDER BY d.gateway",
        period,
    )
    .load(conn)
    .await
}

/// Customers who signed up in the period.
pub async fn new_users(conn: &mut AsyncPgConnection, period: Period) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        new_users: i64,
    }
    let count: Count = in_period(
        "SELECT count(*) AS new_users FROM users WHERE created_at >= $1 AND created_at < $2",
        period,
    )
    .get_result(conn)
    .await?;
    Ok(count.new_users)
}

/// What needs an admin now.
#[derive(Debug, Clone, QueryableByName)]
pub struct AttentionFigures {
    #[diesel(sql_type = BigInt)]
    pub orders_needing_review: i64,
    /// Orders that failed (last changed) since `failed_since`, the start of today
    /// in the admin's time zone.
    #[diesel(sql_type = BigInt)]
    pub orders_failed_today: i64,
    #[diesel(sql_type = BigInt)]
    pub flagged_deposits: i64,
    /// Active providers inside their unhealthy back-off.
    #[diesel(sql_type = BigInt)]
    pub unhealthy_providers: i64,
    /// Active providers whose last known balance is under their threshold.
    #[diesel(sql_type = BigInt)]
    pub low_balance_providers: i64,
    /// Active own-stock services with nothing left to sell.
    #[diesel(sql_type = BigInt)]
    pub services_out_of_stock: i64,
    /// Tickets waiting for staff (OPEN, or the customer replied).
    #[diesel(sql_type = BigInt)]
    pub open_tickets: i64,
}

pub async fn attention(
    conn: &mut AsyncPgConnection,
    failed_since: DateTime<Utc>,
) -> QueryResult<AttentionFigures> {
    diesel::sql_query(
        "SELECT \
           (SELECT count(*) FROM orders WHERE status = 'NEEDS_REVIEW') AS orders_needing_review, \
           (SELECT count(*) FROM orders WHERE status = 'FAILED' AND updated_at >= $1) \
             AS orders_failed_today, \
           (SELECT count(*) FROM deposits WHERE flagged) AS flagged_deposits, \
           (SELECT count(*) FROM providers WHERE active AND unhealthy_until > now()) AS unhealthy_providers, \
           (SELECT count(*) FROM providers WHERE active AND balance IS NOT NULL \
              AND low_balance_threshold IS NOT NULL AND balance < low_balance_threshold) AS low_balance_providers, \
           (SELECT count(*) FROM services s WHERE s.active AND s.fulfillment = 'STOCK' \
              AND NOT EXISTS (SELECT 1 FROM stock_items i WHERE i.service_id = s.id AND i.order_id IS NULL)) \
             AS services_out_of_stock, \
           (SELECT count(*) FROM tickets WHERE status IN ('OPEN', 'CUSTOMER_REPLY')) AS open_tickets",
    )
    .bind::<Timestamptz, _>(failed_since)
    .get_result(conn)
    .await
}

/// One row of a report: a time bucket or a service, category, provider or user.
#[derive(Debug, Clone, QueryableByName)]
pub struct ReportRow {
    /// The bucket's first local day (`YYYY-MM-DD`) or the id (as text).
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub label: Option<String>,
    #[diesel(embed)]
    pub money: OrderFigures,
}

/// A time bucket: PostgreSQL's `date_trunc` unit (weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    fn unit(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The bucket's length in hours where the zone's offset does not change, as an
    /// interval of fixed length (`'1 day'` added to a `timestamptz` follows the
    /// session's zone); none for months, whose lengths differ.
    fn fixed_hours(self) -> Option<u32> {
        match self {
            Bucket::Day => Some(24),
            Bucket::Week => Some(7 * 24),
            Bucket::Month => None,
        }
    }
}

/// The money per time bucket in the admin's time zone, every bucket of the period
/// present (empty ones as zeros). `first_day` and `last_day` are the period's
/// local days (midnight, no zone).
///
/// The buckets' starts are computed once as instants (`grid`, with the start of
/// the bucket after the last), and each order finds its bucket from its own
/// instant rather than by converting it to the zone (`AT TIME ZONE` per row cost
/// half again a bare scan). Where those starts are evenly spaced (days and weeks
/// in a period without a change of the zone's offset, which is every period in
/// Asia/Jakarta), that is `date_bin`'s arithmetic; otherwise (months, and periods
/// across a daylight-saving change) a binary search of the starts by
/// `width_bucket`, a tenth slower. The choice is made by the statement from the
/// same starts it groups by, so both agree to the microsecond.
///
/// PostgreSQL cannot tell how few buckets that makes and, within the default
/// 4 MB of `work_mem`, would sort a million orders on disk to group them; so the
/// statement runs in a transaction that lets it hash them in memory, without JIT
/// (whose compiling outweighs its gain on one scan).
pub async fn time_series(
    conn: &mut AsyncPgConnection,
    period: Period,
    timezone: &str,
    first_day: chrono::NaiveDateTime,
    last_day: chrono::NaiveDateTime,
    bucket: Bucket,
) -> QueryResult<Vec<ReportRow>> {
    use diesel_async::AsyncConnection;
    let unit = bucket.unit();
    let searched =
        "(SELECT starts FROM grid)[width_bucket(o.created_at, (SELECT starts FROM grid))]";
    // Whether the starts are evenly spaced, and each order's bucket start.
    let (even, bucket_start) = match bucket.fixed_hours() {
        Some(hours) => (
            format!("bool_and(s.instant = f.instant + (s.n - 1) * interval '{hours} hours')"),
            format!(
                "CASE WHEN (SELECT even FROM grid) \
                   THEN date_bin(interval '{hours} hours', o.created_at, (SELECT starts[1] FROM grid)) \
                   ELSE {searched} END"
            ),
        ),
        None => ("false".to_string(), searched.to_string()),
    };
    let statement = in_period(format!(
        "WITH local AS ( \
           SELECT array_agg(local_start ORDER BY local_start) AS starts \
           FROM generate_series(date_trunc('{unit}', $4), date_trunc('{unit}', $5) + interval '1 {unit}', \
             interval '1 {unit}') AS local_start \
         ), instants AS ( \
           SELECT u.local_start AT TIME ZONE $3 AS instant, u.n \
           FROM local, unnest(local.starts) WITH ORDINALITY AS u(local_start, n) \
         ), grid AS ( \
           SELECT array_agg(s.instant ORDER BY s.n) AS starts, {even} AS even \
           FROM instants s CROSS JOIN (SELECT instant FROM instants WHERE n = 1) AS f \
         ), figures AS ( \
           SELECT {bucket_start} AS bucket_start, count(*) AS orders, \
             sum(o.charge - o.refunded) AS revenue, sum({DELIVERED_COST}) AS provider_cost \
           FROM orders o WHERE o.created_at >= $1 AND o.created_at < $2 GROUP BY 1 \
         ) \
         SELECT to_char(b.local_start, 'YYYY-MM-DD') AS key, NULL::text AS label, \
           COALESCE(f.orders, 0)::bigint AS orders, COALESCE(f.revenue, 0)::bigint AS revenue, \
           COALESCE(f.provider_cost, 0)::bigint AS provider_cost \
         FROM local CROSS JOIN grid \
           CROSS JOIN LATERAL unnest(local.starts[1:cardinality(local.starts) - 1]) WITH ORDINALITY AS b(local_start, n) \
           LEFT JOIN figures f ON f.bucket_start = grid.starts[b.n] \
         ORDER BY b.n"
    ), period)
    .bind::<Text, _>(timezone)
    .bind::<Timestamp, _>(first_day)
    .bind::<Timestamp, _>(last_day);
    conn.transaction(async move |conn| {
        diesel::sql_query(
            "SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true)",
        )
        .execute(conn)
        .await?;
        statement.load(conn).await
    })
    .await
}

/// What a breakdown groups orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Service,
    Category,
    /// Own products (no provider) form one row with an empty key.
    Provider,
    User,
}

impl Dimension {
    /// The order's column the orders are grouped by first, then the key, the
    /// label and the joins over those groups (`f.id`); constants, never input.
    fn sql(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Dimension::Service => (
                "o.service_id",
                "f.id::text",
                "s.name",
                "JOIN services s ON s.id = f.id",
            ),
            // Per service first, then their categories.
            Dimension::Category => (
                "o.service_id",
                "c.id::text",
                "c.name",
                "JOIN services s ON s.id = f.id JOIN service_categories c ON c.id = s.category_id",
            ),
            Dimension::Provider => (
                "o.provider_id",
                "COALESCE(f.id::text, '')",
                "COALESCE(p.name, 'own products')",
                "LEFT JOIN providers p ON p.id = f.id",
            ),
            Dimension::User => (
                "o.user_id",
                "f.id::text",
                "u.email",
                "JOIN users u ON u.id = f.id",
            ),
        }
    }
}

/// The top `limit` of a dimension by revenue in the period. The orders are summed
/// per id (a number: hashed cheaply, no join per order), and only those few sums
/// are joined to their names and summed again where several ids make one key
/// (the services of a category).
pub async fn breakdown(
    conn: &mut AsyncPgConnection,
    period: Period,
    dimension: Dimension,
    limit: i64,
) -> QueryResult<Vec<ReportRow>> {
    let (id, key, label, joins) = dimension.sql();
    in_period(
        format!(
            "WITH figures AS ( \
               SELECT {id} AS id, count(*) AS orders, sum(o.charge - o.refunded) AS revenue, \
                 sum({DELIVERED_COST}) AS provider_cost \
               FROM orders o WHERE o.created_at >= $1 AND o.created_at < $2 GROUP BY 1 \
             ) \
             SELECT {key} AS key, {label} AS label, sum(f.orders)::bigint AS orders, \
               COALESCE(sum(f.revenue), 0)::bigint AS revenue, \
               COALESCE(sum(f.provider_cost), 0)::bigint AS provider_cost \
             FROM figures f {joins} \
             GROUP BY 1, 2 ORDER BY revenue DESC, key LIMIT $3"
        ),
        period,
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
