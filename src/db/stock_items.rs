//! `stock_items`: the panel's own stock (account credentials and the like),
//! encrypted at rest: adding, counting and removing sealed items, and the claim
//! that sells items to an order. Sealing and opening is `domain::stock`'s.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types::BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::stock_items;

/// One item to add: its sealed content and the hash that makes it unique per service.
pub struct SealedItem {
    pub content_encrypted: Vec<u8>,
    pub content_hash: Vec<u8>,
}

/// Adds the items a service does not hold yet (by content hash) and answers how
/// many were added, [`super::ROWS_PER_INSERT`] rows a statement.
pub async fn insert_new(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    items: &[SealedItem],
) -> QueryResult<i64> {
    let mut added = 0;
    for chunk in items.chunks(super::ROWS_PER_INSERT) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|item| {
                (
                    stock_items::service_id.eq(service_id),
                    stock_items::content_encrypted.eq(&item.content_encrypted),
                    stock_items::content_hash.eq(&item.content_hash),
                )
            })
            .collect();
        added += diesel::insert_into(stock_items::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await? as i64;
    }
    Ok(added)
}

/// How many of a service's items are unsold, and how many sold.
pub async fn count_unsold_and_sold(
    conn: &mut AsyncPgConnection,
    service_id: i64,
) -> QueryResult<(i64, i64)> {
    let unsold = stock_items::table
        .filter(stock_items::service_id.eq(service_id))
        .filter(stock_items::order_id.is_null())
        .count()
        .get_result(conn)
        .await?;
    let sold = stock_items::table
        .filter(stock_items::service_id.eq(service_id))
        .filter(stock_items::order_id.is_not_null())
        .count()
        .get_result(conn)
        .await?;
    Ok((unsold, sold))
}

/// Deletes those of `item_ids` that are the service's and unsold.
pub async fn delete_unsold(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    item_ids: &[i64],
) -> QueryResult<usize> {
    diesel::delete(
        stock_items::table
            .filter(stock_items::service_id.eq(service_id))
            .filter(stock_items::id.eq_any(item_ids))
            .filter(stock_items::order_id.is_null()),
    )
    .execute(conn)
    .await
}

/// The sealed contents sold to an order, in the order they were added.
pub async fn sealed_of_order(
    conn: &mut AsyncPgConnection,
    order_id: i64,
) -> QueryResult<Vec<Vec<u8>>> {
    stock_items::table
        .filter(stock_items::order_id.eq(order_id))
        .order(stock_items::id)
        .select(stock_items::content_encrypted)
        .load(conn)
        .await
}

/// A service's oldest unsold items: `(id, sealed content, added)`.
pub async fn unsold_sealed(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, Vec<u8>, DateTime<Utc>)>> {
    stock_items::table
        .filter(stock_items::service_id.eq(service_id))
        .filter(stock_items::order_id.is_null())
        .order(stock_items::id)
        .limit(limit)
        .select((
            stock_items::id,
            stock_items::content_encrypted,
            stock_items::created_at,
        ))
        .load(conn)
        .await
}

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
