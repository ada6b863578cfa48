//! `order_requests`: customers' cancel and refill requests, forwarded to the
//! provider by a job; one open request of each kind per order.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{OrderRequestKind, OrderRequestStatus},
    schema::{order_requests, orders},
};

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

impl OrderRequestRow {
    /// Leases up to `limit` requests due for work (PENDING ones, and SUBMITTED
    /// refills for a status check) whose lease has run out, until `lease_until`,
    /// oldest first; rows another worker holds are skipped.
    pub async fn lease_due(
        conn: &mut AsyncPgConnection,
        limit: i64,
        lease_until: DateTime<Utc>,
    ) -> QueryResult<Vec<OrderRequestRow>> {
        let ids: Vec<i64> = order_requests::table
            .filter(
                order_requests::status
                    .eq(OrderRequestStatus::Pending)
                    .or(order_requests::status
                        .eq(OrderRequestStatus::Submitted)
                        .and(order_requests::kind.eq(OrderRequestKind::Refill))),
            )
            .filter(
                order_requests::lease_until
                    .is_null()
                    .or(order_requests::lease_until.lt(diesel::dsl::now)),
            )
            .order(order_requests::id)
            .limit(limit)
            .select(order_requests::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        diesel::update(order_requests::table.filter(order_requests::id.eq_any(&ids)))
            .set(order_requests::lease_until.eq(lease_until))
            .returning(OrderRequestRow::as_returning())
            .get_results(conn)
            .await
    }

    /// Those of `request_ids` that are refill requests of `user_id`'s orders, in
    /// one statement.
    pub async fn find_refills_owned(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        request_ids: &[i64],
    ) -> QueryResult<Vec<OrderRequestRow>> {
        order_requests::table
            .inner_join(orders::table)
            .filter(order_requests::id.eq_any(request_ids))
            .filter(order_requests::kind.eq(OrderRequestKind::Refill))
            .filter(orders::user_id.eq(user_id))
            .select(OrderRequestRow::as_select())
            .load(conn)
            .await
    }
}

/// The unique index that allows one open request of each kind per order.
pub const OPEN_REQUEST_INDEX: &str = "order_requests_open_idx";

impl OrderRequestRow {
    /// Records what became of a request at the provider; a refill id once given is
    /// kept when a later answer brings none.
    pub async fn record_answer(
        conn: &mut AsyncPgConnection,
        request: &OrderRequestRow,
        status: OrderRequestStatus,
        provider_ref: Option<&str>,
        note: &str,
    ) -> QueryResult<usize> {
        diesel::update(order_requests::table.find(request.id))
            .set((
                order_requests::status.eq(status),
                order_requests::provider_ref.eq(provider_ref.or(request.provider_ref.as_deref())),
                order_requests::note.eq(note),
            ))
            .execute(conn)
            .await
    }

    /// Opens a PENDING request; fails on [`OPEN_REQUEST_INDEX`] when one of the same
    /// kind is already open for the order.
    pub async fn open(
        conn: &mut AsyncPgConnection,
        order_id: i64,
        kind: OrderRequestKind,
    ) -> QueryResult<OrderRequestRow> {
        diesel::insert_into(order_requests::table)
            .values((
                order_requests::order_id.eq(order_id),
                order_requests::kind.eq(kind),
                order_requests::status.eq(OrderRequestStatus::Pending),
            ))
            .returning(OrderRequestRow::as_returning())
            .get_result(conn)
            .await
    }
}

// The cancel and refill requests of several orders, each order's oldest first.
super::reads_by_order!(
    OrderRequestRow,
    order_requests,
    (order_requests::order_id, order_requests::id)
);
