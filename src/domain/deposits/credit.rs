//! Crediting a deposit: the one place money paid in reaches a balance, whoever
//! decided it (a gateway's report, a matched bank mutation, an admin). The
//! DEPOSIT entry, the BONUS entry (best bonus rule plus the voucher) and the
//! customer's notice are written in the caller's transaction, which holds the
//! deposit's row lock; the ledger's unique index allows each entry once per
//! deposit, so a second credit is a CONFLICT and writes nothing.

use diesel_async::AsyncPgConnection;

use super::bonus;
use crate::{
    db::{
        deposit_methods::BonusRuleRow,
        deposits::{DepositChangeset, DepositRow},
        enums::LedgerKind,
    },
    domain::{
        levels, notifications,
        wallet::{self, Credit, LedgerRef},
    },
    error::AppResult,
};

/// Who credited a deposit and the ledger note.
#[derive(Debug, Clone)]
pub struct CreditedBy {
    /// The admin, when one decided.
    pub actor_id: Option<i64>,
    pub note: String,
}

/// Credits the deposit's amount and its bonus; the bonus paid.
pub async fn credit(
    conn: &mut AsyncPgConnection,
    deposit: &DepositRow,
    by: CreditedBy,
) -> AppResult<i64> {
    let deposited = Credit {
        user_id: deposit.user_id,
        amount: deposit.amount,
        kind: LedgerKind::Deposit,
        reference: LedgerRef {
            deposit_id: Some(deposit.id),
            actor_id: by.actor_id,
            note: by.note,
            ..Default::default()
        },
    };
    let entry = wallet::credit(conn, deposited).await?;
    let paid_bonus = pay_bonus(conn, deposit).await?;
    let balance = entry.balance_after + paid_bonus;
    notifications::deposit_credited(
        conn,
        deposit.user_id,
        deposit.id,
        deposit.amount + paid_bonus,
        balance,
    )
    .await?;
    // Money moved: the customer may have reached a level.
    levels::recompute(conn, &[deposit.user_id]).await?;
    Ok(paid_bonus)
}

/// The best bonus rule's bonus plus the voucher's, as one BONUS entry, recorded
/// on the deposit. Bonuses are never money received: reports count them apart.
async fn pay_bonus(conn: &mut AsyncPgConnection, deposit: &DepositRow) -> AppResult<i64> {
    let rules = BonusRuleRow::active_for(conn, deposit.method_id).await?;
    let first_deposit = !DepositRow::has_paid_before(conn, deposit.user_id, deposit.id).await?;
    let mut paid = bonus::rule_bonus(&rules, deposit.amount, first_deposit);
    let mut parts = Vec::new();
    if paid > 0 {
        parts.push(format!("bonus rule {paid}"));
    }
    if let Some(voucher_id) = deposit.voucher_id {
        let from_voucher = bonus::take_voucher(
            conn,
            voucher_id,
            deposit.user_id,
            deposit.id,
            deposit.amount,
        )
        .await?;
        if from_voucher > 0 {
            parts.push(format!("voucher {from_voucher}"));
        }
        paid += from_voucher;
    }
    if paid == 0 {
        return Ok(0);
    }
    let bonus = Credit {
        user_id: deposit.user_id,
        amount: paid,
        kind: LedgerKind::Bonus,
        reference: LedgerRef {
            deposit_id: Some(deposit.id),
            note: format!(
                "bonus on deposit {}: {}",
                deposit.merchant_ref,
                parts.join(", ")
            ),
            ..Default::default()
        },
    };
    wallet::credit(conn, bonus).await?;
    let recorded = DepositChangeset {
        bonus_amount: Some(paid),
        ..Default::default()
    };
    DepositRow::update(conn, deposit.id, &recorded).await?;
    Ok(paid)
}
