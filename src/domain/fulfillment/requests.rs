//! Cancel and refill requests, provider side: leased claims (never forwarded
//! twice) and recording what became of them.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        enums::OrderRequestStatus, order_requests::OrderRequestRow, orders::OrderRow,
        schema::order_requests,
    },
    error::AppResult,
};

/// Cancel and refill requests due for forwarding (PENDING) or for a refill status
/// check (SUBMITTED refills), leased like sync claims.
pub async fn claim_requests(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> AppResult<Vec<(OrderRequestRow, OrderRow)>> {
    let lease_until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    conn.transaction(async |conn| {
        // Every claim takes a lease, PENDING ones included: a request claimed by one
        // worker is not claimed by the next until its lease runs out (the forward
        // failed before reaching the provider), so it is never sent twice.
        let requests = OrderRequestRow::lease_due(conn, limit, lease_until).await?;
        let order_ids: Vec<i64> = requests.iter().map(|r| r.order_id).collect();
        let orders = OrderRow::load_many(conn, &order_ids).await?;
        Ok(requests
            .into_iter()
            .filter_map(|r| {
                orders
                    .iter()
                    .find(|o| o.id == r.order_id)
                    .cloned()
                    .map(|o| (r, o))
            })
            .collect())
    })
    .await
}

pub async fn update_request(
    conn: &mut AsyncPgConnection,
    request: &OrderRequestRow,
    status: OrderRequestStatus,
    provider_ref: Option<&str>,
    note: &str,
) -> AppResult<()> {
    diesel::update(order_requests::table.find(request.id))
        .set((
            order_requests::status.eq(status),
            order_requests::provider_ref.eq(provider_ref.or(request.provider_ref.as_deref())),
            order_requests::note.eq(note),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
