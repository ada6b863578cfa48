//! Settlement: moving an order to CANCELED, FAILED or PARTIAL with its refund,
//! exactly once whoever calls and however often; an admin's manual status
//! change, which settles through the same path; and an admin's manual refund.
//!
//! An order's `refunded` is everything it got back. A manual refund is an advance
//! on what a settlement would owe: a settlement pays only what is owed beyond
//! `refunded`, so the two together never exceed the charge (the table's CHECK
//! `refunded <= charge` backs this up).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::*;
use crate::{
    db::{
        drip_feeds::DripFeedRow,
        enums::{LedgerKind, OrderStatus},
        orders::OrderRow,
        schema::orders,
    },
    domain::text::check_reason,
    domain::wallet::{self, Credit, LedgerRef},
    error::{AppError, AppResult},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Nothing delivered: full refund.
    Canceled,
    /// Refused or unrecoverable: full refund.
    Failed,
    /// `remains` units were not delivered: refund `charge * remains / quantity`, rounded down.
    Partial { remains: i64 },
}

/// The refund an outcome is owed.
pub fn refund_amount(order: &OrderRow, settlement: Settlement) -> i64 {
    match settlement {
        Settlement::Canceled | Settlement::Failed => order.charge,
        Settlement::Partial { remains } => {
            let remains = remains.clamp(0, order.quantity);
            (i128::from(order.charge) * i128::from(remains) / i128::from(order.quantity)) as i64
        }
    }
}

/// Moves an order to CANCELED, FAILED or PARTIAL and refunds what it is owed, exactly
/// once whoever calls it and however often: an order already settled is returned
/// unchanged. The order row is locked, and the ledger's unique index backs it up.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    settlement: Settlement,
    note: &str,
    actor_id: Option<i64>,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status.is_final() {
            return Ok(order);
        }
        if let Settlement::Partial { remains } = settlement
            && (remains <= 0 || remains >= order.quantity)
        {
            return Err(AppError::validation(
                "remains",
                "a partial order has remains between 1 and quantity - 1",
            ));
        }
        let change = settlement_change(&order, settlement, note, actor_id);
        let (order, _) = write_changes(conn, vec![change])
            .await?
            .pop()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("settlement not written")))?;
        Ok(order)
    })
    .await
}

/// What settling `order` (locked, not final) writes: the final status and its
/// remains, and the refund it is still owed. A manual refund given earlier counts
/// towards what is owed now; the ledger row carries `note`, the history row says
/// how much went back.
pub fn settlement_change(
    order: &OrderRow,
    settlement: Settlement,
    note: &str,
    actor_id: Option<i64>,
) -> StatusChange {
    let amount = (refund_amount(order, settlement) - order.refunded).max(0);
    let (status, remains) = match settlement {
        Settlement::Canceled => (OrderStatus::Canceled, order.quantity),
        Settlement::Failed => (OrderStatus::Failed, order.quantity),
        Settlement::Partial { remains } => (OrderStatus::Partial, remains),
    };
    let refund = (amount > 0).then(|| Refund {
        amount,
        kind: LedgerKind::Refund,
        actor_id,
        note: note.to_string(),
    });
    let note = if amount > 0 {
        format!("{note} (refunded {amount} rupiah)")
    } else {
        note.to_string()
    };
    StatusChange {
        remains: Some(remains),
        refund,
        ..StatusChange::to(order, status, note)
    }
}

/// How much of an order an admin refunds by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManualRefund {
    /// Everything not refunded yet.
    Full,
    /// This many rupiah (at most what is not refunded yet).
    Amount(i64),
}

/// An admin gives money back for an order, in full or in part, once per order and
/// never more than the charge less what was refunded already. The order keeps its
/// status; its history gets a row and the customer an event. Concurrent calls
/// serialize on the order's row lock, and the ledger's unique index on manual
/// refunds makes "once" a database fact: the second one is a CONFLICT.
pub async fn admin_refund(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    order_id: i64,
    refund: ManualRefund,
    reason: &str,
) -> AppResult<OrderRow> {
    let reason = check_reason(reason)?;
    let reason = reason.as_str();
    if let ManualRefund::Amount(amount) = refund
        && amount <= 0
    {
        return Err(AppError::validation("amount", "a refund must be positive"));
    }
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        let refundable = order.charge - order.refunded;
        if refundable <= 0 {
            return Err(AppError::conflict("this order has nothing left to refund"));
        }
        let amount = match refund {
            ManualRefund::Full => refundable,
            ManualRefund::Amount(amount) if amount > refundable => {
                return Err(AppError::validation(
                    "amount",
                    format!("at most {refundable} rupiah of this order can still be refunded"),
                ));
            }
            ManualRefund::Amount(amount) => amount,
        };
        let reference = LedgerRef {
            order_id: Some(order.id),
            actor_id: Some(actor_id),
            note: reason.to_string(),
            ..Default::default()
        };
        let refund = Credit {
            user_id: order.user_id,
            amount,
            kind: LedgerKind::ManualRefund,
            reference,
        };
        wallet::credit(conn, refund).await?;
        let order: OrderRow = diesel::update(orders::table.find(order.id))
            .set(orders::refunded.eq(orders::refunded + amount))
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .await?;
        let note = format!("refunded {amount} rupiah");
        let (order, _) = record_status(conn, &order, order.status, None, None, &note).await?;
        Ok(order)
    })
    .await
}

/// An admin's manual status update (for MANUAL services, or to correct a provider
/// order). Terminal failures go through `settle` so the refund happens.
pub async fn admin_set_status(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    order_id: i64,
    status: OrderStatus,
    start_count: Option<i64>,
    remains: Option<i64>,
    note: &str,
) -> AppResult<OrderRow> {
    // A drip-feed the panel runs takes its status from its runs; an admin stops
    // the runs not placed (refunding them), as the customer would.
    if !DripFeedRow::for_orders(conn, &[order_id]).await?.is_empty() {
        if status != OrderStatus::Canceled {
            return Err(AppError::validation(
                "status",
                "a drip-feed order run by the panel follows its runs; cancel it to stop the runs not placed",
            ));
        }
        return conn
            .transaction(async |conn| {
                let order = lock_order(conn, order_id).await?;
                super::drip::stop(conn, &order, Some(actor_id))
                    .await?
                    .ok_or(AppError::NotFound("order"))
            })
            .await;
    }
    match status {
        OrderStatus::Canceled => {
            return settle(conn, order_id, Settlement::Canceled, note, Some(actor_id)).await;
        }
        OrderStatus::Failed => {
            return settle(conn, order_id, Settlement::Failed, note, Some(actor_id)).await;
        }
        OrderStatus::Partial => {
            let remains =
                remains.ok_or_else(|| AppError::validation("remains", "PARTIAL needs remains"))?;
            return settle(
                conn,
                order_id,
                Settlement::Partial { remains },
                note,
                Some(actor_id),
            )
            .await;
        }
        OrderStatus::Submitting | OrderStatus::Pending => {
            return Err(AppError::validation(
                "status",
                "PENDING and SUBMITTING are set by the system only",
            ));
        }
        _ => {}
    }
    if start_count.is_some_and(|c| c < 0) {
        return Err(AppError::validation(
            "startCount",
            "startCount must not be negative",
        ));
    }
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status.is_final() {
            return Err(AppError::conflict(format!(
                "order is already {}",
                order.status
            )));
        }
        let remains = if status == OrderStatus::Completed {
            Some(0)
        } else {
            remains
        };
        let (order, _) = record_status(conn, &order, status, start_count, remains, note).await?;
        Ok(order)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_refund_rounds_down() {
        let order = crate::db::orders::tests::order(OrderStatus::InProgress);
        assert_eq!(
            refund_amount(&order, Settlement::Partial { remains: 157 }),
            2486
        ); // 2486.88
        assert_eq!(refund_amount(&order, Settlement::Canceled), 15840);
        assert_eq!(
            refund_amount(&order, Settlement::Partial { remains: -5 }),
            0
        );
    }
}
