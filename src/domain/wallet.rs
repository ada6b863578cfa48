//! The wallet: the code that changes a balance. Every change is one guarded
//! UPDATE of `users.balance` plus one `ledger_entries` row, in the caller's
//! transaction, so a balance and its ledger can never disagree. The other
//! writers, the single-statement order placements of `db/order_placement.rs`
//! (`NewOrder::insert_paid`, and `insert_paid_group` for one account's group),
//! write the same guarded UPDATE and ledger rows inside their statement.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        enums::LedgerKind,
        ledger::{LedgerEntryRow, NewLedgerEntry},
        schema::{ledger_entries, users},
    },
    domain::text::check_reason,
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

/// Adds the credit's amount (> 0) to the user's balance.
pub async fn credit(conn: &mut AsyncPgConnection, credit: Credit) -> AppResult<LedgerEntryRow> {
    let Credit {
        user_id,
        amount,
        kind,
        reference,
    } = credit;
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
    record(conn, user_id, amount, balance_after, kind, &reference).await
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
            note: reference.note.clone(),
        })
        .returning(LedgerEntryRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| once_violation(e, kind))
}

/// A unique violation of an exactly-once index is CONFLICT: the change was
/// already applied.
fn once_violation(e: diesel::result::Error, kind: LedgerKind) -> AppError {
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
}

/// One credit of [`credit_many`].
#[derive(Debug, Clone)]
pub struct Credit {
    pub user_id: i64,
    /// > 0.
    pub amount: i64,
    pub kind: LedgerKind,
    pub reference: LedgerRef,
}

/// Many credits (all of one kind) in one statement: each user's balance grows by
/// the sum of their credits, and each credit is a ledger row whose
/// `balance_after` runs in the given order from the balance before, exactly as
/// the same credits one by one would have written them. The users' rows are
/// locked in id order, so concurrent batches never deadlock on each other, and
/// with the strength an UPDATE takes (FOR NO KEY UPDATE: FOR UPDATE would also
/// wait for, and could deadlock with, transactions inserting their orders). The
/// exactly-once indexes apply to every row: one already applied makes the whole
/// statement CONFLICT, and nothing is written.
pub async fn credit_many(conn: &mut AsyncPgConnection, credits: &[Credit]) -> AppResult<()> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    let Some(kind) = credits.first().map(|c| c.kind) else {
        return Ok(());
    };
    if credits.iter().any(|c| c.amount <= 0) {
        return Err(AppError::validation("amount", "a credit must be positive"));
    }
    if credits.iter().any(|c| c.kind != kind) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "credit_many takes credits of one kind"
        )));
    }
    let column = |f: fn(&Credit) -> Option<i64>| credits.iter().map(f).collect::<Vec<_>>();
    let written = diesel::sql_query(
        "WITH c AS ( \
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], \
             $5::bigint[], $6::bigint[], $7::text[]) WITH ORDINALITY \
             AS c(user_id, amount, order_id, mass_order_id, deposit_id, actor_id, note, n)), \
         totals AS (SELECT user_id, sum(amount)::bigint AS total FROM c GROUP BY user_id), \
         locked AS (SELECT id FROM users WHERE id IN (SELECT user_id FROM totals) \
           ORDER BY id FOR NO KEY UPDATE), \
         credited AS (UPDATE users u SET balance = u.balance + t.total \
           FROM totals t, locked l WHERE u.id = t.user_id AND l.id = u.id \
           RETURNING u.id, u.balance) \
         INSERT INTO ledger_entries \
           (user_id, amount, balance_after, kind, order_id, mass_order_id, deposit_id, actor_id, note) \
         SELECT c.user_id, c.amount, \
           (cr.balance - t.total + sum(c.amount) OVER (PARTITION BY c.user_id ORDER BY c.n))::bigint, \
           $8, c.order_id, c.mass_order_id, c.deposit_id, c.actor_id, c.note \
         FROM c JOIN credited cr ON cr.id = c.user_id JOIN totals t ON t.user_id = c.user_id \
         ORDER BY c.n",
    )
    .bind::<Array<BigInt>, _>(credits.iter().map(|c| c.user_id).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(credits.iter().map(|c| c.amount).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(column(|c| c.reference.order_id))
    .bind::<Array<Nullable<BigInt>>, _>(column(|c| c.reference.mass_order_id))
    .bind::<Array<Nullable<BigInt>>, _>(column(|c| c.reference.deposit_id))
    .bind::<Array<Nullable<BigInt>>, _>(column(|c| c.reference.actor_id))
    .bind::<Array<Text>, _>(
        credits
            .iter()
            .map(|c| c.reference.note.as_str())
            .collect::<Vec<_>>(),
    )
    .bind::<Text, _>(kind.as_str())
    .execute(conn)
    .await
    .map_err(|e| once_violation(e, kind))?;
    // A credit whose user does not exist wrote neither balance nor ledger row; the
    // caller's transaction must not commit the others without it.
    if written != credits.len() {
        return Err(AppError::NotFound("user"));
    }
    Ok(())
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
    if amount == 0 || amount.unsigned_abs() > MAX_ADJUSTMENT as u64 {
        return Err(AppError::validation(
            "amount",
            format!("an adjustment is between 1 and {MAX_ADJUSTMENT} rupiah either way"),
        ));
    }
    let reason = check_reason(reason)?;
    let reason = reason.as_str();
    let reference = LedgerRef {
        actor_id: Some(actor_id),
        note: reason.to_string(),
        ..Default::default()
    };
    conn.transaction(async |conn| {
        if amount > 0 {
            let adjustment = Credit {
                user_id,
                amount,
                kind: LedgerKind::Adjustment,
                reference: reference.clone(),
            };
            credit(conn, adjustment).await
        } else {
            let magnitude = amount
                .checked_neg()
                .ok_or_else(|| AppError::validation("amount", "amount is out of range"))?;
            debit(conn, user_id, magnitude, LedgerKind::Adjustment, &reference).await
        }
    })
    .await
}
