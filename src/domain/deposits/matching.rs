//! Bank mutations and the deposits they pay. A credit mutation of the owner's
//! account (pushed by a mutation service, or a line of an uploaded statement) is
//! stored once per source and external id; it pays the one open MANUAL deposit
//! of that account whose payable amount it equals, exactly once (the deposit's
//! row lock, then the ledger's unique index). No candidate, several, or only an
//! expired one: the mutation waits for an admin, who attaches it to a deposit
//! (credited once) or dismisses it. The decision is the pure [`decide`].

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::credit::{CreditedBy, credit};
use crate::{
    db::{
        bank_mutations::{BankMutationRow, MutationOutcome, NewBankMutation},
        deposit_methods::DepositMethodRow,
        deposits::{DepositChangeset, DepositResolved, DepositRow},
        enums::{BankMutationStatus, DepositStatus, PaymentGateway},
    },
    domain::{
        notifications::{self, About, Audience},
        text::check_reason,
    },
    error::{AppError, AppResult},
};

/// A statement may only say the day: a mutation dated up to this long before a
/// deposit was opened still counts as inside its window.
const DATE_SLACK_HOURS: i64 = 24;

/// What recording a mutation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The source sent this mutation before: nothing changed.
    Repeat,
    /// It paid this deposit (credited now).
    Matched { mutation_id: i64, deposit_id: i64 },
    /// It waits for an admin (UNMATCHED, AMBIGUOUS or EXPIRED_MATCH).
    Review {
        mutation_id: i64,
        status: BankMutationStatus,
    },
}

/// Which deposit a mutation of `occurred_at` pays, among the MANUAL deposits of
/// its account with exactly its amount. Pure.
/// - A deposit is in its window when it was opened no later than the mutation
///   (give or take a statement's day) and had not expired by then, and it is
///   still PENDING, or EXPIRED only because the news came late.
/// - One in its window: it is paid. Several: AMBIGUOUS. None, but one out of
///   its window: EXPIRED_MATCH. None at all: UNMATCHED.
pub fn decide(
    candidates: &[DepositRow],
    occurred_at: DateTime<Utc>,
) -> Result<&DepositRow, BankMutationStatus> {
    let in_window: Vec<&DepositRow> = candidates
        .iter()
        .filter(|d| matches!(d.status, DepositStatus::Pending | DepositStatus::Expired))
        .filter(|d| {
            d.created_at - Duration::hours(DATE_SLACK_HOURS) <= occurred_at
                && occurred_at <= d.expires_at
        })
        .collect();
    match in_window.as_slice() {
        [one] => Ok(one),
        [] if candidates.is_empty() => Err(BankMutationStatus::Unmatched),
        [] => Err(BankMutationStatus::ExpiredMatch),
        _ => Err(BankMutationStatus::Ambiguous),
    }
}

/// Stores a credit mutation once (as UNMATCHED until it pays a deposit) and
/// pays its deposit, in one transaction.
pub async fn record(
    conn: &mut AsyncPgConnection,
    mutation: &NewBankMutation,
) -> AppResult<Recorded> {
    conn.transaction(async |conn| {
        let Some(row) = mutation.insert_once(conn).await? else {
            return Ok(Recorded::Repeat);
        };
        let methods = DepositMethodRow::ids_for_account(conn, &mutation.account_number).await?;
        let candidates = DepositRow::manual_candidates(conn, &methods, mutation.amount).await?;
        match decide(&candidates, mutation.occurred_at) {
            Ok(deposit) => {
                let note = format!(
                    "deposit {} paid by bank mutation {} ({})",
                    deposit.merchant_ref, row.id, mutation.source
                );
                pay(conn, deposit, None, note).await?;
                let outcome = MutationOutcome {
                    status: BankMutationStatus::Matched,
                    deposit_id: Some(deposit.id),
                    resolved_by: None,
                    resolution_note: None,
                };
                BankMutationRow::set_outcome(conn, row.id, &outcome).await?;
                Ok(Recorded::Matched {
                    mutation_id: row.id,
                    deposit_id: deposit.id,
                })
            }
            Err(status) => {
                let outcome = MutationOutcome {
                    status,
                    deposit_id: None,
                    resolved_by: None,
                    resolution_note: None,
                };
                BankMutationRow::set_outcome(conn, row.id, &outcome).await?;
                alert_admins(conn, &row, status).await?;
                Ok(Recorded::Review {
                    mutation_id: row.id,
                    status,
                })
            }
        }
    })
    .await
}

/// Credits a MANUAL deposit paid by a transfer and marks it PAID.
async fn pay(
    conn: &mut AsyncPgConnection,
    deposit: &DepositRow,
    actor_id: Option<i64>,
    note: String,
) -> AppResult<()> {
    credit(conn, deposit, CreditedBy { actor_id, note }).await?;
    let now = Utc::now();
    let paid = DepositChangeset {
        status: Some(DepositStatus::Paid),
        paid_at: Some(now),
        gateway_status: Some("TRANSFER_RECEIVED".into()),
        updated_at: Some(now),
        ..Default::default()
    };
    DepositRow::update(conn, deposit.id, &paid).await?;
    Ok(())
}

async fn alert_admins(
    conn: &mut AsyncPgConnection,
    mutation: &BankMutationRow,
    status: BankMutationStatus,
) -> AppResult<()> {
    let why = match status {
        BankMutationStatus::Ambiguous => "several open deposits have this amount",
        BankMutationStatus::ExpiredMatch => "only an expired deposit has this amount",
        _ => "no open deposit has this amount",
    };
    let message = format!(
        "Bank mutation {} of {} rupiah to {} {} needs an admin: {why}.",
        mutation.id, mutation.amount, mutation.bank, mutation.account_number
    );
    notifications::notify(
        conn,
        Audience::Admins,
        "BANK_MUTATION_REVIEW",
        &message,
        About::default(),
    )
    .await
}

/// An admin's decision on a mutation waiting for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationDecision {
    /// It paid this deposit: credit it (once).
    Attach { deposit_id: i64 },
    /// It is not a deposit (a refund, a transfer between own accounts...).
    Dismiss,
}

/// Attaches a waiting mutation to a MANUAL deposit (credited once) or dismisses
/// it. A mutation that was decided already, or a deposit that is paid, is a
/// CONFLICT; the reason is required.
pub async fn decide_by_admin(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    mutation_id: i64,
    decision: MutationDecision,
    reason: &str,
) -> AppResult<BankMutationRow> {
    let reason = check_reason(reason)?;
    conn.transaction(async |conn| {
        let mutation = BankMutationRow::find_for_update(conn, mutation_id)
            .await?
            .ok_or(AppError::NotFound("bank mutation"))?;
        if !mutation.status.needs_review() {
            return Err(AppError::conflict(
                "this mutation is not waiting for a decision",
            ));
        }
        let (status, deposit_id) = match decision {
            MutationDecision::Dismiss => (BankMutationStatus::Dismissed, None),
            MutationDecision::Attach { deposit_id } => {
                attach(conn, admin_id, &mutation, deposit_id, &reason).await?;
                (BankMutationStatus::Attached, Some(deposit_id))
            }
        };
        let outcome = MutationOutcome {
            status,
            deposit_id,
            resolved_by: Some(admin_id),
            resolution_note: Some(&reason),
        };
        Ok(BankMutationRow::set_outcome(conn, mutation.id, &outcome).await?)
    })
    .await
}

async fn attach(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    mutation: &BankMutationRow,
    deposit_id: i64,
    reason: &str,
) -> AppResult<()> {
    let deposit = DepositRow::find_for_update(conn, deposit_id)
        .await?
        .ok_or_else(|| AppError::validation("depositId", "no such deposit"))?;
    if deposit.gateway != PaymentGateway::Manual {
        return Err(AppError::validation(
            "depositId",
            "a bank mutation can only pay a manual (transfer or QRIS) deposit",
        ));
    }
    if deposit.status == DepositStatus::Paid {
        return Err(AppError::conflict("this deposit is paid already"));
    }
    let note = format!(
        "deposit {} paid by bank mutation {}, attached by an admin: {reason}",
        deposit.merchant_ref, mutation.id
    );
    pay(conn, &deposit, Some(admin_id), note).await?;
    let now = Utc::now();
    let record = DepositResolved {
        status: DepositStatus::Paid,
        paid_at: Some(now),
        flagged: false,
        resolution: "CREDITED",
        resolved_by: admin_id,
        resolved_at: now,
        resolution_note: reason,
        updated_at: now,
    };
    DepositRow::resolve(conn, deposit.id, &record).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::enums::DepositStatus::{Expired, Paid, Pending};

    fn open(id: i64, status: DepositStatus, opened_hours_ago: i64, lasts_hours: i64) -> DepositRow {
        let created_at = Utc::now() - Duration::hours(opened_hours_ago);
        DepositRow {
            id,
            status,
            gateway: PaymentGateway::Manual,
            created_at,
            expires_at: created_at + Duration::hours(lasts_hours),
            ..super::super::test_deposit(status)
        }
    }

    #[test]
    fn one_open_deposit_in_its_window_is_paid() {
        let now = Utc::now();
        let deposits = [open(1, Pending, 1, 2)];
        assert_eq!(decide(&deposits, now).unwrap().id, 1);
        // Expired by the job, but paid in time (the statement came late).
        let late_news = [open(2, Expired, 5, 2)];
        assert_eq!(decide(&late_news, now - Duration::hours(4)).unwrap().id, 2);
    }

    #[test]
    fn nothing_several_or_only_expired_ones_go_to_review() {
        let now = Utc::now();
        assert_eq!(decide(&[], now).unwrap_err(), BankMutationStatus::Unmatched);
        let two = [open(1, Pending, 1, 2), open(2, Pending, 1, 2)];
        assert_eq!(
            decide(&two, now).unwrap_err(),
            BankMutationStatus::Ambiguous
        );
        let expired = [open(3, Expired, 5, 1)];
        assert_eq!(
            decide(&expired, now).unwrap_err(),
            BankMutationStatus::ExpiredMatch
        );
        let paid = [open(4, Paid, 1, 2)];
        assert_eq!(
            decide(&paid, now).unwrap_err(),
            BankMutationStatus::ExpiredMatch
        );
    }
}
