//! Deposits: money paid in through a gateway or by a transfer to the owner's
//! account. One file per concern: `methods` (what admins set up: methods, bonus
//! rules, vouchers), `create` (a deposit and its payment page at a gateway),
//! `manual` (a transfer or QRIS deposit with its unique amount), `matching`
//! (bank mutations and the deposits they pay), `credit` (the one way money
//! paid in reaches a balance, with its bonus: `bonus`), `report` (what a
//! gateway's report does to a deposit: a pure transition, applied exactly once
//! whatever the number and order of the reports), `reconcile` (the job's claim
//! and local expiry) and `resolve` (an admin's decision on a flagged deposit).
//! Webhooks and the reconciliation job both go through [`apply_report`]. The
//! reads and the claim of the tables are in `db::deposits`.

pub mod bonus;
mod create;
mod credit;
pub mod manual;
pub mod matching;
pub mod methods;
pub mod proof;
mod reconcile;
mod report;
mod resolve;
mod start;
pub mod statement;

pub use create::{GatewayExtras, create};
pub use start::{DepositRequest, start};

/// The deposit if `viewer` may see it (its owner, or an admin); `None` for
/// anyone else, exactly like a missing deposit.
pub async fn find_visible(
    conn: &mut diesel_async::AsyncPgConnection,
    viewer: &crate::identity::AuthUser,
    deposit_id: i64,
) -> AppResult<Option<crate::db::deposits::DepositRow>> {
    let found = crate::db::deposits::DepositRow::find(conn, deposit_id).await?;
    Ok(found
        .filter(|deposit| viewer.may_see(deposit.user_id, crate::db::enums::Permission::Deposits)))
}
pub use reconcile::{claim_for_reconcile, expire};
pub use report::{Transition, apply_report, transition};
pub use resolve::{DepositResolution, awaits_decision, resolve_flagged};

use crate::{
    config::PaymentsConfig,
    error::{AppError, AppResult},
};

/// What applying a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The deposit was paid and its amount credited now.
    Credited,
    /// Paid after it had been marked failed or expired: credited now (the gateway has
    /// the money), and recorded as such.
    CreditedLate,
    /// Already paid and credited: nothing changed.
    Duplicate,
    /// Something needs an admin (amount mismatch, reversal after payment): flagged,
    /// no money moved.
    Flagged,
    Failed,
    Expired,
    /// Still pending at the gateway.
    Waiting,
    /// Stale or unknown news (e.g. `pending` after `settlement`): nothing changed.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Credited => "CREDITED",
            Outcome::CreditedLate => "CREDITED_LATE",
            Outcome::Duplicate => "DUPLICATE",
            Outcome::Flagged => "FLAGGED",
            Outcome::Failed => "FAILED",
            Outcome::Expired => "EXPIRED",
            Outcome::Waiting => "WAITING",
            Outcome::Ignored => "IGNORED",
        }
    }
}

pub fn validate_amount(config: &PaymentsConfig, amount: i64) -> AppResult<()> {
    if amount < config.deposit_min {
        return Err(AppError::validation(
            "amount",
            format!("the smallest deposit is {} rupiah", config.deposit_min),
        ));
    }
    if amount > config.deposit_max {
        return Err(AppError::validation(
            "amount",
            format!("the largest deposit is {} rupiah", config.deposit_max),
        ));
    }
    Ok(())
}

/// A 50,000 rupiah Midtrans deposit at `status`, last seen `pending`: the
/// fixture of this folder's unit tests.
#[cfg(test)]
pub(crate) fn test_deposit(
    status: crate::db::enums::DepositStatus,
) -> crate::db::deposits::DepositRow {
    let now = chrono::Utc::now();
    crate::db::deposits::DepositRow {
        id: 5,
        user_id: 1,
        amount: 50_000,
        gateway: crate::db::enums::PaymentGateway::Midtrans,
        status,
        merchant_ref: "DEP-5-0000beef".into(),
        gateway_ref: None,
        payment_url: Some("https://pay.example/5".into()),
        snap_token: None,
        expires_at: now,
        paid_at: None,
        flagged: false,
        flag_reason: None,
        gateway_status: Some("pending".into()),
        failure_reason: None,
        next_check_at: None,
        created_at: now,
        updated_at: now,
        resolution: None,
        resolved_by: None,
        resolved_at: None,
        resolution_note: None,
        method_id: None,
        payable_amount: 50_000,
        unique_code: 0,
        qris_payload: None,
        customer_note: None,
        voucher_id: None,
        bonus_amount: 0,
    }
}
