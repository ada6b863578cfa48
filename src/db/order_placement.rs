//! The paid placements of `orders`, each one statement of data-modifying CTEs
//! that debits the balance, inserts the orders, their `ORDER_CHARGE` ledger rows
//! and first history rows, and announces the history rows with `pg_notify`: one
//! order alone (`NewOrder::insert_paid`), or several orders of one account placed
//! together (`NewOrder::insert_paid_group`, the group commit of
//! `domain::orders::group_commit`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::OrderStatus,
    orders::{NewOrder, OrderRow},
};

/// The one statement that places a paid order from a provider or by hand
/// (`domain::orders::place_order`): the balance debit guarded by
/// `balance >= charge`, the order, its `ORDER_CHARGE` ledger row, the first
/// history row and its event's `pg_notify`, as data-modifying CTEs. One
/// statement is one transaction and one round trip; every part sees the debit's
/// outcome, so when the balance does not cover the charge nothing is written
/// and no row comes back. The unique index on `(user_id, idempotency_key)` and
/// the ledger's once-per-order index hold here as everywhere.
const PLACE_PAID_ORDER: &str = "\
WITH debit AS ( \
    UPDATE users SET balance = balance - $7 \
    WHERE id = $1 AND balance >= $7 \
    RETURNING balance \
), placed AS ( \
    INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, \
                        extra, remains, provider_id, provider_service_id, idempotency_key, \
                        link_guard, scheduled_at, next_attempt_at) \
    SELECT $1, $2, $3, $4, $5, $7, 'PENDING', $6, $4, $8, $9, $10, $12, $13, $13 FROM debit \
    RETURNING * \
), charged AS ( \
    INSERT INTO ledger_entries (user_id, amount, balance_after, kind, order_id, note) \
    SELECT $1, -$7, debit.balance, 'ORDER_CHARGE', placed.id, '' FROM debit, placed \
), event AS ( \
    INSERT INTO order_events (order_id, status, start_count, remains, note) \
    SELECT id, 'PENDING', start_count, remains, 'order placed' FROM placed \
    RETURNING id \
) \
SELECT placed.*, pg_notify($11, event.id::text)::text AS notified \
FROM placed, event";

/// Several paid orders of one account in one statement, as `PLACE_PAID_ORDER`
/// places one: the orders come as arrays, in arrival order (`position`, from 1),
/// each with the `balance_after` its ledger row records, running down from the
/// balance the caller locked. The debit is of their sum, guarded like the single
/// one, and everything else is written only from its outcome, so a balance that
/// moved under the caller writes nothing. The order ids are drawn in the `input`
/// CTE (volatile, so evaluated once a row) and join the ledger rows to their
/// orders; every row comes back with its position.
const PLACE_PAID_GROUP: &str = "\
WITH input AS ( \
    SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id, i.* \
    FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::jsonb[], \
                $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], \
                $12::timestamptz[], $13::bigint[]) \
         WITH ORDINALITY AS i(service_id, link, quantity, price_per_1000, extra, charge, \
                              provider_id, provider_service_id, idempotency_key, link_guard, \
                              scheduled_at, balance_after, position) \
), debit AS ( \
    UPDATE users SET balance = balance - (SELECT sum(charge) FROM input) \
    WHERE id = $1 AND balance >= (SELECT sum(charge) FROM input) \
    RETURNING balance \
), placed AS ( \
    INSERT INTO orders (id, user_id, service_id, link, quantity, price_per_1000, charge, status, \
                        extra, remains, provider_id, provider_service_id, idempotency_key, \
                        link_guard, scheduled_at, next_attempt_at) \
    SELECT input.id, $1, service_id, link, quantity, price_per_1000, charge, 'PENDING', \
           extra, quantity, provider_id, provider_service_id, idempotency_key, link_guard, \
           scheduled_at, scheduled_at \
    FROM input, debit \
    ORDER BY input.position \
    RETURNING * \
), charged AS ( \
    INSERT INTO ledger_entries (user_id, amount, balance_after, kind, order_id, note) \
    SELECT $1, -input.charge, input.balance_after, 'ORDER_CHARGE', placed.id, '' \
    FROM placed JOIN input ON input.id = placed.id \
    ORDER BY input.position \
), event AS ( \
    INSERT INTO order_events (order_id, status, start_count, remains, note) \
    SELECT placed.id, 'PENDING', placed.start_count, placed.remains, 'order placed' \
    FROM placed JOIN input ON input.id = placed.id \
    ORDER BY input.position \
    RETURNING id, order_id \
) \
SELECT placed.*, input.position, pg_notify($14, event.id::text)::text AS notified \
FROM placed JOIN input ON input.id = placed.id JOIN event ON event.order_id = placed.id \
ORDER BY input.position";

/// An order placed in a group, with its place in the group's arrival order.
#[derive(Debug, QueryableByName)]
pub struct PlacedInGroup {
    #[diesel(embed)]
    pub order: OrderRow,
    /// From 1, in the order the group was given.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub position: i64,
}

impl NewOrder {
    /// Writes a PENDING order with `charge > 0` and everything that goes with it in
    /// one statement (see `PLACE_PAID_ORDER`), announcing the history row on
    /// `channel` (`events::ORDER_CHANNEL`); `None` when the balance is short.
    pub async fn insert_paid(
        &self,
        conn: &mut AsyncPgConnection,
        channel: &str,
    ) -> QueryResult<Option<OrderRow>> {
        use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz};
        debug_assert!(self.charge > 0 && self.status == OrderStatus::Pending);
        debug_assert!(self.next_attempt_at == self.scheduled_at);
        diesel::sql_query(PLACE_PAID_ORDER)
            .bind::<BigInt, _>(self.user_id)
            .bind::<BigInt, _>(self.service_id)
            .bind::<Text, _>(&self.link)
            .bind::<BigInt, _>(self.quantity)
            .bind::<BigInt, _>(self.price_per_1000)
            .bind::<Jsonb, _>(&self.extra)
            .bind::<BigInt, _>(self.charge)
            .bind::<Nullable<BigInt>, _>(self.provider_id)
            .bind::<Nullable<Text>, _>(&self.provider_service_id)
            .bind::<Nullable<Text>, _>(&self.idempotency_key)
            .bind::<Text, _>(channel)
            .bind::<Nullable<Text>, _>(&self.link_guard)
            .bind::<Nullable<Timestamptz>, _>(self.scheduled_at)
            .get_result(conn)
            .await
            .optional()
    }

    /// Places `group`, paid orders of `user_id` (each as `insert_paid` takes it)
    /// with the balance each leaves, in one statement (see `PLACE_PAID_GROUP`),
    /// announcing the history rows on `channel`. Returns the orders by position;
    /// none when the balance no longer covers their sum.
    pub async fn insert_paid_group(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        group: &[(&NewOrder, i64)],
        channel: &str,
    ) -> QueryResult<Vec<PlacedInGroup>> {
        use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz};
        debug_assert!(group.iter().all(|(order, _)| order.user_id == user_id
            && order.charge > 0
            && order.status == OrderStatus::Pending
            && order.next_attempt_at == order.scheduled_at));
        let column = |read: fn(&NewOrder) -> i64| -> Vec<i64> {
            group.iter().map(|(order, _)| read(order)).collect()
        };
        let text = |read: fn(&NewOrder) -> Option<&str>| -> Vec<Option<&str>> {
            group.iter().map(|(order, _)| read(order)).collect()
        };
        diesel::sql_query(PLACE_PAID_GROUP)
            .bind::<BigInt, _>(user_id)
            .bind::<Array<BigInt>, _>(column(|o| o.service_id))
            .bind::<Array<Text>, _>(
                group
                    .iter()
                    .map(|(o, _)| o.link.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<BigInt>, _>(column(|o| o.quantity))
            .bind::<Array<BigInt>, _>(column(|o| o.price_per_1000))
            .bind::<Array<Jsonb>, _>(group.iter().map(|(o, _)| &o.extra).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(column(|o| o.charge))
            .bind::<Array<Nullable<BigInt>>, _>(
                group.iter().map(|(o, _)| o.provider_id).collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Text>>, _>(text(|o| o.provider_service_id.as_deref()))
            .bind::<Array<Nullable<Text>>, _>(text(|o| o.idempotency_key.as_deref()))
            .bind::<Array<Nullable<Text>>, _>(text(|o| o.link_guard.as_deref()))
            .bind::<Array<Nullable<Timestamptz>>, _>(
                group
                    .iter()
                    .map(|(o, _)| o.scheduled_at)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<BigInt>, _>(group.iter().map(|(_, after)| *after).collect::<Vec<_>>())
            .bind::<Text, _>(channel)
            .load(conn)
            .await
    }
}
