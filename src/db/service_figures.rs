//! `service_figures`: each service's measured figures (start time, speed,
//! outcomes, refills), recomputed for every service in one statement by the
//! `service figures` job and read by `Service.figures` and API v2 `services`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::service_figures;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = service_figures, primary_key(service_id), check_for_backend(diesel::pg::Pg))]
pub struct ServiceFiguresRow {
    pub service_id: i64,
    pub start_p50_seconds: Option<i64>,
    pub start_p90_seconds: Option<i64>,
    pub started_orders: i32,
    pub seconds_per_1000: Option<i64>,
    pub timed_orders: i32,
    pub partial_or_canceled_bps: Option<i32>,
    pub ended_orders: i32,
    pub refill_requests_bps: Option<i32>,
    pub window_days: i32,
    pub computed_at: DateTime<Utc>,
}

/// The figures of every service over the orders placed in the last `$1` days,
/// written over the previous ones (a service with no orders gets empty figures).
const RECOMPUTE: &str = "\
WITH placed AS ( \
    SELECT id, service_id, created_at, quantity, status, completed_at \
    FROM orders WHERE created_at >= now() - make_interval(days => $1) \
), starts AS ( \
    SELECT p.service_id, EXTRACT(EPOCH FROM min(e.created_at) - p.created_at) AS seconds \
    FROM placed p JOIN order_events e ON e.order_id = p.id \
     AND e.status IN ('IN_PROGRESS', 'COMPLETED', 'PARTIAL') \
    GROUP BY p.id, p.service_id, p.created_at \
), start_figures AS ( \
    SELECT service_id, \
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::bigint AS p50, \
           round(percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds))::bigint AS p90, \
           count(*)::int AS n \
    FROM starts GROUP BY service_id \
), completed AS ( \
    SELECT service_id, \
           EXTRACT(EPOCH FROM completed_at - created_at) * 1000 / quantity AS per_1000, \
           row_number() OVER (PARTITION BY service_id ORDER BY completed_at DESC, id DESC) AS newest \
    FROM placed WHERE status = 'COMPLETED' AND completed_at IS NOT NULL AND quantity > 0 \
), speed AS ( \
    SELECT service_id, round(avg(per_1000))::bigint AS per_1000, count(*)::int AS n \
    FROM completed WHERE newest <= 10 GROUP BY service_id \
), outcomes AS ( \
    SELECT service_id, \
           count(*) FILTER (WHERE status IN ('PARTIAL', 'CANCELED'))::int AS bad, \
           count(*) FILTER (WHERE status IN ('COMPLETED', 'PARTIAL', 'CANCELED', 'FAILED'))::int AS ended, \
           count(*) FILTER (WHERE status IN ('COMPLETED', 'PARTIAL'))::int AS completed \
    FROM placed GROUP BY service_id \
), refills AS ( \
    SELECT p.service_id, count(*)::int AS n \
    FROM placed p JOIN order_requests r ON r.order_id = p.id AND r.kind = 'REFILL' \
    GROUP BY p.service_id \
) \
INSERT INTO service_figures AS f (service_id, start_p50_seconds, start_p90_seconds, started_orders, \
    seconds_per_1000, timed_orders, partial_or_canceled_bps, ended_orders, refill_requests_bps, \
    window_days, computed_at) \
SELECT s.id, st.p50, st.p90, COALESCE(st.n, 0), sp.per_1000, COALESCE(sp.n, 0), \
       CASE WHEN o.ended > 0 THEN (o.bad * 10000 / o.ended) END, COALESCE(o.ended, 0), \
       CASE WHEN o.completed > 0 THEN (COALESCE(r.n, 0) * 10000 / o.completed) END, \
       $1, now() \
FROM services s \
LEFT JOIN start_figures st ON st.service_id = s.id \
LEFT JOIN speed sp ON sp.service_id = s.id \
LEFT JOIN outcomes o ON o.service_id = s.id \
LEFT JOIN refills r ON r.service_id = s.id \
ON CONFLICT (service_id) DO UPDATE SET \
    start_p50_seconds = excluded.start_p50_seconds, start_p90_seconds = excluded.start_p90_seconds, \
    started_orders = excluded.started_orders, seconds_per_1000 = excluded.seconds_per_1000, \
    timed_orders = excluded.timed_orders, partial_or_canceled_bps = excluded.partial_or_canceled_bps, \
    ended_orders = excluded.ended_orders, refill_requests_bps = excluded.refill_requests_bps, \
    window_days = excluded.window_days, computed_at = excluded.computed_at";

impl ServiceFiguresRow {
    /// Recomputes every service's figures over the last `window_days`; returns
    /// how many services were written.
    pub async fn recompute(conn: &mut AsyncPgConnection, window_days: i32) -> QueryResult<usize> {
        diesel::sql_query(RECOMPUTE)
            .bind::<diesel::sql_types::Integer, _>(window_days)
            .execute(conn)
            .await
    }

    /// The figures of several services (those never computed are absent).
    pub async fn for_services(
        conn: &mut AsyncPgConnection,
        service_ids: &[i64],
    ) -> QueryResult<Vec<ServiceFiguresRow>> {
        service_figures::table
            .filter(service_figures::service_id.eq_any(service_ids))
            .select(ServiceFiguresRow::as_select())
            .load(conn)
            .await
    }
}
