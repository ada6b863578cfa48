//! Writing status changes, one or a batch, in a constant number of statements:
//! the order rows (status, counts, `refunded`), the refunds with their ledger rows
//! (`wallet::credit_many`), one history row per order and its event (with the
//! resellers' callback deliveries, `db::callbacks`), the
//! services' average completion time, and the notices of orders that ended.
//! `record_status` and `settle` are this with one change, so a batch from the
//! status sync and a single admin action write exactly the same things.
//!
//! The caller decides the changes (`settlement_change`, the status-sync rules in
//! `domain::upstream`) on rows it locked in its transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        callbacks,
        enums::{LedgerKind, OrderStatus},
        order_events::{NewOrderEvent, OrderEventRow},
        orders::OrderRow,
        schema::order_events,
        services::ServiceRow,
    },
    domain::{
        notifications,
        wallet::{self, Credit, LedgerRef},
    },
    error::{AppError, AppResult},
    events,
};

/// One order's next state, decided on its locked row.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// The order as locked by the caller's transaction.
    pub order: OrderRow,
    pub status: OrderStatus,
    /// Written when set; the order keeps its own otherwise.
    pub start_count: Option<i64>,
    /// Written when set; the order keeps its own otherwise.
    pub remains: Option<i64>,
    /// Money going back to the customer with this change.
    pub refund: Option<Refund>,
    /// The history row's note (customers see it).
    pub note: String,
}

/// A refund credited with a change: added to the balance and to
/// `orders.refunded`, with its ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// > 0.
    pub amount: i64,
    pub kind: LedgerKind,
    /// The admin who caused it, if one did.
    pub actor_id: Option<i64>,
    /// The ledger row's note.
    pub note: String,
}

impl StatusChange {
    /// A change to `status` with nothing else: no counts, no refund.
    pub fn to(order: &OrderRow, status: OrderStatus, note: impl Into<String>) -> StatusChange {
        StatusChange {
            order: order.clone(),
            status,
            start_count: None,
            remains: None,
            refund: None,
            note: note.into(),
        }
    }

    /// Whether the order row itself changes (a history note alone, such as the
    /// first PENDING row, does not).
    fn touches_row(&self) -> bool {
        self.refund.is_some()
            || self.status != self.order.status
            || self
                .start_count
                .is_some_and(|c| Some(c) != self.order.start_count)
            || self.remains.is_some_and(|r| Some(r) != self.order.remains)
    }
}

/// Writes `changes` (at most one per order) in the caller's transaction and returns
/// each order as it now stands with its history row, in the order given.
///
/// Statements, however many changes: one UPDATE of the orders, one for the
/// refunds, one INSERT of history rows, one notify; two for completion times when
/// an order completed; four for notices when an order ended.
pub async fn write_changes(
    conn: &mut AsyncPgConnection,
    changes: Vec<StatusChange>,
) -> AppResult<Vec<(OrderRow, OrderEventRow)>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = std::collections::HashSet::new();
    if !changes.iter().all(|c| seen.insert(c.order.id)) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "one status change per order and batch"
        )));
    }
    let mut updated: HashMap<i64, OrderRow> = update_orders(conn, &changes)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let orders: Vec<OrderRow> = changes
        .iter()
        .map(|c| {
            updated
                .remove(&c.order.id)
                .unwrap_or_else(|| c.order.clone())
        })
        .collect();
    let history: Vec<NewOrderEvent> = changes
        .iter()
        .zip(&orders)
        .map(|(change, order)| NewOrderEvent {
            order_id: order.id,
            status: change.status,
            start_count: order.start_count,
            remains: order.remains,
            note: change.note.clone(),
        })
        .collect();
    let mut written: HashMap<i64, OrderEventRow> = diesel::insert_into(order_events::table)
        .values(&history)
        .returning(OrderEventRow::as_returning())
        .get_results::<OrderEventRow>(conn)
        .await?
        .into_iter()
        .map(|row| (row.order_id, row))
        .collect();
    let mut event_ids: Vec<i64> = written.values().map(|row| row.id).collect();
    event_ids.sort_unstable();
    // Resellers' callbacks hear of status changes (not of notes alone), queued in
    // the statement that announces the events.
    let mut changed: Vec<i64> = changes
        .iter()
        .filter(|c| c.status != c.order.status)
        .filter_map(|c| written.get(&c.order.id).map(|row| row.id))
        .collect();
    changed.sort_unstable();
    callbacks::queue_and_notify(conn, events::ORDER_CHANNEL, &changed, &event_ids).await?;
    let rows: Vec<(OrderRow, OrderEventRow)> = orders
        .into_iter()
        .map(|order| {
            let row = written.remove(&order.id).ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("no history row for order {}", order.id))
            })?;
            Ok((order, row))
        })
        .collect::<AppResult<_>>()?;
    let ended: Vec<OrderRow> = changes
        .iter()
        .zip(&rows)
        .filter(|(change, _)| change.status.is_final() && !change.order.status.is_final())
        .map(|(_, (order, _))| order.clone())
        .collect();
    notifications::orders_ended(conn, &ended).await?;
    // The refunds and the services' averages last: they lock rows that many
    // batches share (a customer's, a service's), so they are held for as short a
    // time as possible before the commit.
    refund(conn, &changes).await?;
    let completions: Vec<(i64, i64)> = changes
        .iter()
        .zip(&rows)
        .filter(|(change, _)| {
            change.status == OrderStatus::Completed && change.order.status != OrderStatus::Completed
        })
        .map(|(_, (order, row))| (order.service_id, completion_seconds(order, row.created_at)))
        .collect();
    record_completion_times(conn, &completions).await?;
    Ok(rows)
}

/// One UPDATE for every change that touches its order row; returns the new rows.
async fn update_orders(
    conn: &mut AsyncPgConnection,
    changes: &[StatusChange],
) -> AppResult<Vec<OrderRow>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    let touched: Vec<&StatusChange> = changes.iter().filter(|c| c.touches_row()).collect();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    // Counts given as NULL keep the order's own (COALESCE), read under the lock.
    Ok(diesel::sql_query(
        "UPDATE orders o SET status = c.status, \
           start_count = COALESCE(c.start_count, o.start_count), \
           remains = COALESCE(c.remains, o.remains), \
           refunded = o.refunded + c.refund, \
           completed_at = CASE WHEN c.status IN ('COMPLETED', 'PARTIAL') \
             THEN COALESCE(o.completed_at, now()) ELSE o.completed_at END \
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
           AS c(id, status, start_count, remains, refund) \
         WHERE o.id = c.id RETURNING o.*",
    )
    .bind::<Array<BigInt>, _>(touched.iter().map(|c| c.order.id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(
        touched
            .iter()
            .map(|c| c.status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<BigInt>>, _>(touched.iter().map(|c| c.start_count).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(touched.iter().map(|c| c.remains).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(
        touched
            .iter()
            .map(|c| c.refund.as_ref().map_or(0, |r| r.amount))
            .collect::<Vec<_>>(),
    )
    .load(conn)
    .await?)
}

/// The changes' refunds through the wallet, one statement per ledger kind.
async fn refund(conn: &mut AsyncPgConnection, changes: &[StatusChange]) -> AppResult<()> {
    let mut by_kind: Vec<(LedgerKind, Vec<Credit>)> = Vec::new();
    for change in changes {
        let Some(refund) = &change.refund else {
            continue;
        };
        let credit = Credit {
            user_id: change.order.user_id,
            amount: refund.amount,
            kind: refund.kind,
            reference: LedgerRef {
                order_id: Some(change.order.id),
                actor_id: refund.actor_id,
                note: refund.note.clone(),
                ..Default::default()
            },
        };
        match by_kind.iter_mut().find(|(kind, _)| *kind == refund.kind) {
            Some((_, credits)) => credits.push(credit),
            None => by_kind.push((refund.kind, vec![credit])),
        }
    }
    for (_, credits) in by_kind {
        wallet::credit_many(conn, &credits).await?;
    }
    Ok(())
}

/// Seconds from placing to completing.
fn completion_seconds(order: &OrderRow, completed_at: DateTime<Utc>) -> i64 {
    (completed_at - order.created_at).num_seconds().max(0)
}

/// Folds one completion into a service's "average completion time" shown in the
/// catalogue: an exponential moving average (weight 1/10), so it follows a
/// provider that speeds up or slows down without keeping every sample.
pub fn next_average_completion(average: Option<i64>, seconds: i64) -> i64 {
    match average {
        None => seconds,
        Some(average) => (average * 9 + seconds) / 10,
    }
}

/// Folds `(service id, seconds)` completions, in the order given, into the
/// services' averages: the rows are locked in id order (concurrent batches never
/// deadlock and never lose an update), folded here, written in one UPDATE.
async fn record_completion_times(
    conn: &mut AsyncPgConnection,
    completions: &[(i64, i64)],
) -> AppResult<()> {
    if completions.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = completions.iter().map(|(id, _)| *id).collect();
    let mut averages = ServiceRow::lock_average_completions(conn, &ids).await?;
    for (service_id, seconds) in completions {
        if let Some((_, average)) = averages.iter_mut().find(|(id, _)| id == service_id) {
            *average = Some(next_average_completion(*average, *seconds));
        }
    }
    let folded: Vec<(i64, i64)> = averages
        .into_iter()
        .filter_map(|(id, average)| average.map(|a| (id, a)))
        .collect();
    ServiceRow::set_average_completions(conn, &folded).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_starts_at_the_first_sample_and_moves_a_tenth() {
        assert_eq!(next_average_completion(None, 600), 600);
        assert_eq!(next_average_completion(Some(600), 1600), 700);
        assert_eq!(next_average_completion(Some(10), 15), 10); // 10.5 rounds down
    }
}
