//! An admin's decision on a deposit that waits for one: a flagged deposit, or a
//! manual transfer not matched automatically. Credit it (once, through
//! [`super::credit`]) or reject it; the flag clears, its reason stays as
//! history, the decision is recorded on the row and the customer is told.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::credit::{CreditedBy, credit};
use crate::{
    db::{
        deposits::{DepositResolved, DepositRow},
        enums::{DepositStatus, PaymentGateway},
    },
    domain::{notifications, text::check_reason},
    error::{AppError, AppResult},
};

/// What an admin decides about a flagged deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositResolution {
    /// The money arrived: credit the deposit's amount (once, through the wallet).
    Credit,
    /// Nothing to credit: clear the flag; a pending deposit becomes FAILED.
    Reject,
}

/// Resolves a flagged deposit, once: the row is locked, a deposit that is not
/// flagged (or was resolved already) is a CONFLICT, and a credit goes through the
/// wallet, whose unique index allows one DEPOSIT credit per deposit, so a deposit
/// that was credited before it was flagged (a reversal after payment) can only be
/// rejected. The flag's reason stays as history.
pub async fn resolve_flagged(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    deposit_id: i64,
    resolution: DepositResolution,
    reason: &str,
) -> AppResult<DepositRow> {
    let reason = check_reason(reason)?;
    let reason = reason.as_str();
    conn.transaction(async |conn| {
        let deposit = DepositRow::find_for_update(conn, deposit_id)
            .await?
            .ok_or(AppError::NotFound("deposit"))?;
        if !awaits_decision(&deposit) {
            return Err(AppError::conflict(
                "this deposit is not waiting for a decision",
            ));
        }
        let now = Utc::now();
        if resolution == DepositResolution::Credit {
            credit_by_admin(conn, &deposit, admin_id, reason).await?;
        }
        let resolved = resolved_state(&deposit, resolution, now);
        let record = DepositResolved {
            status: resolved.status,
            paid_at: resolved.paid_at,
            flagged: false,
            resolution: resolved.label,
            resolved_by: admin_id,
            resolved_at: now,
            resolution_note: reason,
            updated_at: now,
        };
        let resolved = DepositRow::resolve(conn, deposit.id, &record).await?;
        if resolution == DepositResolution::Reject && deposit.status != DepositStatus::Paid {
            notifications::deposit_rejected(conn, deposit.user_id, deposit.id, reason).await?;
        }
        Ok(resolved)
    })
    .await
}

/// A flagged deposit nobody resolved yet, or a manual transfer still open or
/// expired (a late transfer an admin confirms by hand). Pure.
pub fn awaits_decision(deposit: &DepositRow) -> bool {
    if deposit.resolution.is_some() {
        return false;
    }
    deposit.flagged
        || (deposit.gateway == PaymentGateway::Manual
            && matches!(
                deposit.status,
                DepositStatus::Pending | DepositStatus::Expired
            ))
}

/// A resolved deposit's status, payment time and `resolution` label.
#[derive(Debug, PartialEq, Eq)]
struct Resolved {
    status: DepositStatus,
    paid_at: Option<DateTime<Utc>>,
    label: &'static str,
}

/// What a resolution makes of the deposit. Pure. A credit makes it PAID (paid
/// now unless it was paid before); a rejection fails a pending deposit and
/// leaves any other status.
fn resolved_state(
    deposit: &DepositRow,
    resolution: DepositResolution,
    now: DateTime<Utc>,
) -> Resolved {
    match resolution {
        DepositResolution::Credit => Resolved {
            status: DepositStatus::Paid,
            paid_at: Some(deposit.paid_at.unwrap_or(now)),
            label: "CREDITED",
        },
        DepositResolution::Reject => Resolved {
            status: if deposit.status == DepositStatus::Pending {
                DepositStatus::Failed
            } else {
                deposit.status
            },
            paid_at: deposit.paid_at,
            label: "REJECTED",
        },
    }
}

/// Credits the deposit (and its bonus) on an admin's word; a deposit credited
/// before (the ledger's unique index) can only be rejected.
async fn credit_by_admin(
    conn: &mut AsyncPgConnection,
    deposit: &DepositRow,
    admin_id: i64,
    reason: &str,
) -> AppResult<()> {
    let by = CreditedBy {
        actor_id: Some(admin_id),
        note: format!(
            "deposit {} credited by an admin: {reason}",
            deposit.merchant_ref
        ),
    };
    credit(conn, deposit, by).await.map_err(|e| match e {
        AppError::Conflict(_) => {
            AppError::conflict("this deposit was credited already; it can only be rejected")
        }
        other => other,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deposit(status: DepositStatus, paid_at: Option<DateTime<Utc>>) -> DepositRow {
        DepositRow {
            gateway: PaymentGateway::Xendit,
            paid_at,
            flagged: true,
            flag_reason: Some("amount mismatch".into()),
            ..super::super::test_deposit(status)
        }
    }

    #[test]
    fn a_credit_makes_the_deposit_paid() {
        let now = Utc::now();
        let earlier = now - chrono::Duration::hours(1);
        let credited = |d: &DepositRow| resolved_state(d, DepositResolution::Credit, now);
        let expected = |paid_at| Resolved {
            status: DepositStatus::Paid,
            paid_at: Some(paid_at),
            label: "CREDITED",
        };
        assert_eq!(
            credited(&deposit(DepositStatus::Pending, None)),
            expected(now)
        );
        assert_eq!(
            credited(&deposit(DepositStatus::Failed, None)),
            expected(now)
        );
        assert_eq!(
            credited(&deposit(DepositStatus::Paid, Some(earlier))),
            expected(earlier)
        );
    }

    #[test]
    fn a_rejection_fails_only_a_pending_deposit() {
        let now = Utc::now();
        let earlier = now - chrono::Duration::hours(1);
        let rejected = |d: &DepositRow| resolved_state(d, DepositResolution::Reject, now);
        assert_eq!(
            rejected(&deposit(DepositStatus::Pending, None)),
            Resolved {
                status: DepositStatus::Failed,
                paid_at: None,
                label: "REJECTED"
            }
        );
        assert_eq!(
            rejected(&deposit(DepositStatus::Paid, Some(earlier))),
            Resolved {
                status: DepositStatus::Paid,
                paid_at: Some(earlier),
                label: "REJECTED"
            }
        );
        assert_eq!(
            rejected(&deposit(DepositStatus::Expired, None)).status,
            DepositStatus::Expired
        );
    }
}
