//! `stock_items`: the panel's own stock (account credentials and the like),
//! encrypted at rest; here, the claim that sells items to an order.

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(QueryableByName)]
struct TakenId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Marks up to `quantity` unsold items of `service_id` as sold to `order_id`,
/// oldest first, and answers their ids. Rows another buyer is taking at this
/// moment are skipped (`SKIP LOCKED`), so an item is never sold twice; fewer
/// ids than `quantity` means the stock ran out.
pub async fn take_unsold(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    order_id: i64,
    quantity: i64,
) -> diesel::QueryResult<Vec<i64>> {
    let taken: Vec<TakenId> = diesel::sql_query(
        "UPDATE stock_items SET order_id = $1, sold_at = now() WHERE id IN ( \
           SELECT id FROM stock_items WHERE service_id = $2 AND order_id IS NULL \
           ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<BigInt, _>(service_id)
    .bind::<BigInt, _>(quantity)
    .load(conn)
    .await?;
    Ok(taken.into_iter().map(|t| t.id).collect())
}
