//! The wallet: the code that changes a balance. Every change is one guarded
//! UPDATE of `users.balance` plus one `ledger_entries` row, in the caller's
//! transaction, so a balance and its ledger can never disagree. The one other
//! writer, the single-statement order placement (`NewOrder::insert_paid`),
//! writes the same guarded UPDATE and ledger row inside its statement.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        enums::LedgerKind,
        ledger::{LedgerEntryRow, NewLedgerEntry},
        schema::{ledger_entries, users},
    },
    error::{AppError, AppResult, is_unique_violation},
};

/// What a balance change refers to; at most one of the ids is usually set.
#[derive(Debug, Default, Clone)]
pub struct LedgerRef {
    pub order_id: Option<i64>,
    pub mass_order_id: Option<i64>,
    pub deposit_id: Option<i64>,
    /// The admin who made an adjustment.
    pub actor_id: Option<i64>,
    pub note: String,
}

/// Takes `amount` (> 0) from the balance. Atomic against concurrent debits: the
/// balance check and the subtraction are one statement, so two requests can never
/// both spend the same rupiah. Fails with INSUFFICIENT_BALANCE, writing nothing.
pub async fn debit(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    amount: i64,
    kind: LedgerKind,
    reference: &LedgerRef,
) -> AppResult<LedgerEntryRow> {
    if amount <= 0 {
        return Err(AppError::validation("amount", "a debit must be positive"));
    }
    let balance_after: Option<i64> = diesel::update(users::table.find(user_id))
        .filter(users::balance.ge(amount))
        .set(users::balance.eq(users::balance - amount))
        .returning(users::balance)
        .get_result(conn)
        .await
        .optional()?;
    let Some(balance_after) = balance_after else {
        return match available(conn, user_id).await? {
            Some(available) => Err(AppError::InsufficientBalance {
                needed: amount,
                available,
            }),
            None => Err(AppError::NotFound("user")),
        };
    };
    record(conn, user_id, -amount, balance_after, kind, reference).await
}

/// The user's balance now (`None`: no such user).
pub async fn available(conn: &mut AsyncPgConnection, user_id: i64) -> AppResult<Option<i64>> {
    Ok(users::table
        .find(user_id)
        .select(users::balance)
        .first(conn)
        .await
        .optional()?)
}

/// Adds `amount` (> 0) to the balance.
pub async fn credit(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    amount: i64,
    kind: LedgerKind,
    reference: &LedgerRef,
) -> AppResult<LedgerEntryRow> {
    if amount <= 0 {
        return Err(AppError::validation("amount", "a credit must be positive"));
    }
    let balance_after: i64 = diesel::update(users::table.find(user_id))
        .set(users::balance.eq(users::balance + amount))
        .returning(users::balance)
        .get_result(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("user"))?;
    record(conn, user_id, amount, balance_after, kind, reference).await
}

async fn record(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    amount: i64,
    balance_after: i64,
    kind: LedgerKind,
    reference: &LedgerRef,
) -> AppResult<LedgerEntryRow> {
    diesel::insert_into(ledger_entries::table)
        .values(NewLedgerEntry {
            user_id,
            amount,
            balance_after,
            kind,
            order_id: reference.order_id,
            mass_order_id: reference.mass_order_id,
            deposit_id: reference.deposit_id,
            actor_id: reference.actor_id,
            note: &reference.note,
        })
        .returning(LedgerEntryRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| {
            let once = [
                "ledger_entries_once_per_order",
                "ledger_entries_once_per_mass_order",
                "ledger_entries_once_per_deposit",
                "ledger_entries_manual_refund_once",
            ];
            if once.iter().any(|c| is_unique_violation(&e, c)) {
                AppError::conflict(format!("{kind} was already applied"))
            } else {
                e.into()
            }
        })
}

/// Users whose balance differs from the sum of their ledger: `(user id, balance,
/// ledger sum)`. Empty when the books are consistent.
pub async fn audit(conn: &mut AsyncPgConnection) -> AppResult<Vec<(i64, i64, i64)>> {
    #[derive(QueryableByName)]
    struct Mismatch {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        balance: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ledger_sum: i64,
    }
    let rows: Vec<Mismatch> = diesel::sql_query(
        "SELECT u.id, u.balance, COALESCE(l.total, 0)::bigint AS ledger_sum \
         FROM users u LEFT JOIN (SELECT user_id, SUM(amount) AS total FROM ledger_entries GROUP BY user_id) l \
         ON l.user_id = u.id WHERE u.balance <> COALESCE(l.total, 0) ORDER BY u.id",
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|m| (m.id, m.balance, m.ledger_sum))
        .collect())
}

/// An admin's manual correction: `amount` is signed (non-zero), `reason` required.
/// A debit that would take the balance below zero is INSUFFICIENT_BALANCE and
/// writes nothing (the guarded UPDATE in [`debit`] decides, atomically).
/// The largest manual adjustment, either way (one trillion rupiah): far above any
/// real balance, far below where a balance could overflow.
pub const MAX_ADJUSTMENT: i64 = 1_000_000_000_000;

pub async fn adjust(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    user_id: i64,
    amount: i64,
    reason: &str,
) -> AppResult<LedgerEntryRow> {
    let reason = reason.trim();
    if amount == 0 || amount.unsigned_abs() > MAX_ADJUSTMENT as u64 {
        return Err(AppError::validation(
            "amount",
            format!("an adjustment is between 1 and {MAX_ADJUSTMENT} rupiah either way"),
        ));
    }
    if reason.is_empty() {
        return Err(AppError::validation("reason", "a reason is required"));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::validation(
            "reason",
            "the reason is too long (500 characters at most)",
        ));
    }
    let reference = LedgerRef {
        actor_id: Some(actor_id),
        note: reason.to_string(),
        ..Default::default()
    };
    conn.transaction(async |conn| {
        if amount > 0 {
            credit(conn, user_id, amount, LedgerKind::Adjustment, &reference).await
        } else {
            let magnitude = amount
                .checked_neg()
                .ok_or_else(|| AppError::validation("amount", "amount is out of range"))?;
            debit(conn, user_id, magnitude, LedgerKind::Adjustment, &reference).await
        }
    })
    .await
}
