//! What a gateway's report does to a deposit: the state machine as a pure
//! [`transition`] (tested without a database), and [`apply_report`], which
//! applies it exactly once under the deposit's row lock. Webhooks and the
//! reconciliation job both come here.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::{
    Outcome,
    credit::{CreditedBy, credit},
};
use crate::{
    db::{
        deposits::{DepositChangeset, DepositRow, NewDepositEvent},
        enums::{DepositEventSource, DepositStatus},
    },
    error::{AppError, AppResult},
    payments::{GatewayReport, PaymentStatus},
};

/// What a report does to a deposit in its current state.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub outcome: Outcome,
    /// Credit the deposit's amount now (once: the ledger's unique index).
    pub credit: bool,
    /// The row's new values (with `updated_at`); None when the row stays as it is.
    pub change: Option<DepositChangeset>,
}

/// The state machine: what `report` does to `deposit`, at `now`. Pure.
/// - Paid is final: a repeat is a duplicate; a later failure, expiry or reversal
///   is flagged for an admin, never un-paid automatically.
/// - A payment of another amount than the deposit's is flagged, never credited.
/// - A payment credits, late when the deposit had failed or expired meanwhile.
/// - A pending deposit fails, expires, waits; a reversal of an unpaid deposit
///   fails it and is flagged.
/// - Anything else (stale news) is ignored.
///
/// The gateway's own status is recorded whenever it changes.
pub fn transition(deposit: &DepositRow, report: &GatewayReport, now: DateTime<Utc>) -> Transition {
    let mut change = DepositChangeset::default();
    let status_changed = deposit.gateway_status.as_deref() != Some(report.raw_status.as_str());
    if status_changed {
        change.gateway_status = Some(report.raw_status.clone());
    }
    let (outcome, credit) = decide(deposit, report, now, &mut change);
    let writes = change.status.is_some() || change.flagged.is_some() || status_changed;
    if writes {
        change.updated_at = Some(now);
    }
    Transition {
        outcome,
        credit,
        change: writes.then_some(change),
    }
}

/// The match of [`transition`]: the outcome, whether to credit, and the
/// deposit's new status, flag and dates in `change`.
fn decide(
    deposit: &DepositRow,
    report: &GatewayReport,
    now: DateTime<Utc>,
    change: &mut DepositChangeset,
) -> (Outcome, bool) {
    use DepositStatus as S;
    let gateway = deposit.gateway;
    let raw = &report.raw_status;
    let outcome = match (deposit.status, report.status) {
        (S::Paid, PaymentStatus::Paid) => Outcome::Duplicate,
        (S::Paid, PaymentStatus::Failed | PaymentStatus::Expired | PaymentStatus::Reversed) => {
            flag(
                deposit,
                format!("paid deposit later reported as {raw} by {gateway}"),
                change,
            );
            Outcome::Flagged
        }
        (_, PaymentStatus::Paid) if report.amount != Some(deposit.amount) => {
            let reason = format!(
                "amount mismatch: expected {}, {gateway} reported {:?} paid",
                deposit.amount, report.raw_amount
            );
            flag(deposit, reason, change);
            Outcome::Flagged
        }
        (status, PaymentStatus::Paid) => {
            change.status = Some(S::Paid);
            change.paid_at = Some(now);
            change.gateway_ref = report
                .gateway_ref
                .clone()
                .filter(|_| deposit.gateway_ref.is_none());
            let outcome = if status == S::Pending {
                Outcome::Credited
            } else {
                Outcome::CreditedLate
            };
            return (outcome, true);
        }
        (S::Pending, PaymentStatus::Failed) => {
            change.status = Some(S::Failed);
            change.failure_reason = Some(format!("{gateway} reported {raw}"));
            Outcome::Failed
        }
        (S::Pending, PaymentStatus::Expired) => {
            change.status = Some(S::Expired);
            Outcome::Expired
        }
        (S::Pending, PaymentStatus::Reversed) => {
            change.status = Some(S::Failed);
            change.failure_reason = Some(format!("{gateway} reported {raw}"));
            flag(
                deposit,
                format!("{gateway} reported {raw} for an unpaid deposit"),
                change,
            );
            Outcome::Flagged
        }
        (S::Pending, PaymentStatus::Pending) => Outcome::Waiting,
        _ => Outcome::Ignored,
    };
    (outcome, false)
}

/// Flags the deposit with `reason`, added to the reasons it has (once: a
/// repeated report adds nothing and leaves the flag as it is).
fn flag(deposit: &DepositRow, reason: String, change: &mut DepositChangeset) {
    let existing = deposit.flag_reason.clone().unwrap_or_default();
    if !existing.contains(&reason) {
        change.flagged = Some(true);
        change.flag_reason = Some(if existing.is_empty() {
            reason
        } else {
            format!("{existing}; {reason}")
        });
    }
}

/// Applies one gateway report to a deposit, exactly once: the deposit row is locked
/// (`SELECT ... FOR UPDATE`) for the whole transaction, so concurrent deliveries of
/// the same news serialize and only the first one credits; the ledger's unique
/// index on `(kind, deposit_id)` is the backstop. A paid amount that differs from
/// the deposit's is flagged, never credited; a PAID deposit is never un-paid
/// automatically: a later deny, refund or chargeback is flagged for an admin.
pub async fn apply_report(
    conn: &mut AsyncPgConnection,
    deposit_id: i64,
    source: DepositEventSource,
    report: &GatewayReport,
) -> AppResult<(Outcome, DepositRow)> {
    conn.transaction(async |conn| {
        let deposit = DepositRow::find_for_update(conn, deposit_id)
            .await?
            .ok_or(AppError::NotFound("deposit"))?;
        let Transition {
            outcome,
            credit,
            change,
        } = transition(&deposit, report, Utc::now());
        if credit {
            credit_deposit(conn, &deposit).await?;
        }
        let deposit = match change {
            Some(change) => DepositRow::update(conn, deposit.id, &change).await?,
            None => deposit,
        };
        // One row per distinct report: duplicates and repeated polls add nothing.
        NewDepositEvent {
            deposit_id: deposit.id,
            source,
            gateway_status: &report.raw_status,
            outcome: outcome.as_str(),
            fingerprint: &report.fingerprint(),
            payload: &report.payload,
        }
        .insert_once(conn)
        .await?;
        if matches!(outcome, Outcome::Flagged) {
            tracing::warn!(deposit_id = deposit.id, reason = ?deposit.flag_reason, "deposit flagged");
        }
        Ok((outcome, deposit))
    })
    .await
}

/// Credits a paid deposit (and its bonus), and tells the customer.
async fn credit_deposit(conn: &mut AsyncPgConnection, deposit: &DepositRow) -> AppResult<()> {
    let by = CreditedBy {
        actor_id: None,
        note: format!("deposit {} via {}", deposit.merchant_ref, deposit.gateway),
    };
    credit(conn, deposit, by).await.map(drop)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deposit(status: DepositStatus) -> DepositRow {
        super::super::test_deposit(status)
    }

    fn report(status: PaymentStatus, raw_status: &str, amount: Option<i64>) -> GatewayReport {
        GatewayReport {
            status,
            raw_status: raw_status.into(),
            amount,
            raw_amount: amount.map_or("-".into(), |a| format!("{a}.00")),
            gateway_ref: Some("TX-1".into()),
            payload: json!({}),
        }
    }

    fn paid(amount: i64) -> GatewayReport {
        report(PaymentStatus::Paid, "settlement", Some(amount))
    }

    use DepositStatus as S;
    use PaymentStatus as P;

    #[test]
    fn a_payment_credits_a_pending_deposit() {
        let now = Utc::now();
        let t = transition(&deposit(S::Pending), &paid(50_000), now);
        assert_eq!((t.outcome, t.credit), (Outcome::Credited, true));
        let change = t.change.unwrap();
        assert_eq!(change.status, Some(S::Paid));
        assert_eq!(change.paid_at, Some(now));
        assert_eq!(change.gateway_ref.as_deref(), Some("TX-1"));
        assert_eq!(change.gateway_status.as_deref(), Some("settlement"));
        assert_eq!(change.updated_at, Some(now));
        assert_eq!(change.flagged, None);
        // A reference the deposit has already is kept.
        let mut known = deposit(S::Pending);
        known.gateway_ref = Some("TX-0".into());
        let change = transition(&known, &paid(50_000), now).change.unwrap();
        assert_eq!(change.gateway_ref, None);
    }

    #[test]
    fn a_payment_after_failure_or_expiry_is_credited_late() {
        for status in [S::Failed, S::Expired] {
            let t = transition(&deposit(status), &paid(50_000), Utc::now());
            assert_eq!(
                (t.outcome, t.credit),
                (Outcome::CreditedLate, true),
                "{status:?}"
            );
            assert_eq!(t.change.unwrap().status, Some(S::Paid));
        }
    }

    #[test]
    fn a_paid_deposit_is_never_credited_twice() {
        let mut paid_before = deposit(S::Paid);
        paid_before.gateway_status = Some("settlement".into());
        let t = transition(&paid_before, &paid(50_000), Utc::now());
        assert_eq!(
            t,
            Transition {
                outcome: Outcome::Duplicate,
                credit: false,
                change: None
            }
        );
        // The same news in other words: only the gateway's status is recorded.
        let t = transition(
            &paid_before,
            &report(P::Paid, "capture", Some(50_000)),
            Utc::now(),
        );
        assert_eq!((t.outcome, t.credit), (Outcome::Duplicate, false));
        let change = t.change.unwrap();
        assert_eq!(
            (change.status, change.gateway_status.as_deref()),
            (None, Some("capture"))
        );
    }

    #[test]
    fn another_amount_is_flagged_not_credited() {
        let t = transition(&deposit(S::Pending), &paid(49_999), Utc::now());
        assert_eq!((t.outcome, t.credit), (Outcome::Flagged, false));
        let change = t.change.unwrap();
        assert_eq!((change.status, change.flagged), (None, Some(true)));
        assert_eq!(
            change.flag_reason.as_deref(),
            Some("amount mismatch: expected 50000, MIDTRANS reported \"49999.00\" paid")
        );
        // An amount that is not whole rupiah (or none) is no match either, even late.
        let unreadable = report(P::Paid, "settlement", None);
        let t = transition(&deposit(S::Expired), &unreadable, Utc::now());
        assert_eq!((t.outcome, t.credit), (Outcome::Flagged, false));
    }

    #[test]
    fn bad_news_after_payment_is_flagged_once() {
        let mut paid_before = deposit(S::Paid);
        paid_before.gateway_status = Some("settlement".into());
        for (status, raw) in [
            (P::Reversed, "refund"),
            (P::Failed, "deny"),
            (P::Expired, "expire"),
        ] {
            let t = transition(&paid_before, &report(status, raw, None), Utc::now());
            assert_eq!((t.outcome, t.credit), (Outcome::Flagged, false), "{raw}");
            let change = t.change.unwrap();
            assert_eq!(change.status, None, "a paid deposit stays paid");
            assert_eq!(
                change.flag_reason,
                Some(format!("paid deposit later reported as {raw} by MIDTRANS"))
            );
        }
        // Flagged already for this: the reason is not repeated, the flag not set again.
        let mut flagged = paid_before.clone();
        flagged.flagged = true;
        flagged.flag_reason =
            Some("earlier; paid deposit later reported as refund by MIDTRANS".into());
        flagged.gateway_status = Some("refund".into());
        let t = transition(&flagged, &report(P::Reversed, "refund", None), Utc::now());
        assert_eq!(
            t,
            Transition {
                outcome: Outcome::Flagged,
                credit: false,
                change: None
            }
        );
        // A new reason is added to the old ones.
        let t = transition(&flagged, &report(P::Failed, "deny", None), Utc::now());
        assert_eq!(
            t.change.unwrap().flag_reason.as_deref(),
            Some(
                "earlier; paid deposit later reported as refund by MIDTRANS; paid deposit later reported as deny by MIDTRANS"
            )
        );
    }

    #[test]
    fn a_pending_deposit_fails_expires_or_waits() {
        let t = transition(
            &deposit(S::Pending),
            &report(P::Failed, "deny", None),
            Utc::now(),
        );
        assert_eq!((t.outcome, t.credit), (Outcome::Failed, false));
        let change = t.change.unwrap();
        assert_eq!(change.status, Some(S::Failed));
        assert_eq!(
            change.failure_reason.as_deref(),
            Some("MIDTRANS reported deny")
        );

        let t = transition(
            &deposit(S::Pending),
            &report(P::Expired, "expire", None),
            Utc::now(),
        );
        assert_eq!(t.outcome, Outcome::Expired);
        assert_eq!(t.change.unwrap().status, Some(S::Expired));

        let t = transition(
            &deposit(S::Pending),
            &report(P::Pending, "pending", None),
            Utc::now(),
        );
        assert_eq!(
            t,
            Transition {
                outcome: Outcome::Waiting,
                credit: false,
                change: None
            }
        );
    }

    #[test]
    fn a_reversal_of_an_unpaid_deposit_fails_and_flags_it() {
        let t = transition(
            &deposit(S::Pending),
            &report(P::Reversed, "chargeback", None),
            Utc::now(),
        );
        assert_eq!((t.outcome, t.credit), (Outcome::Flagged, false));
        let change = t.change.unwrap();
        assert_eq!(change.status, Some(S::Failed));
        assert_eq!(
            change.failure_reason.as_deref(),
            Some("MIDTRANS reported chargeback")
        );
        assert_eq!(
            change.flag_reason.as_deref(),
            Some("MIDTRANS reported chargeback for an unpaid deposit")
        );
    }

    #[test]
    fn stale_news_is_ignored() {
        for status in [S::Failed, S::Expired] {
            for (news, raw) in [
                (P::Pending, "pending"),
                (P::Failed, "deny"),
                (P::Expired, "expire"),
                (P::Reversed, "refund"),
            ] {
                let t = transition(&deposit(status), &report(news, raw, None), Utc::now());
                assert_eq!(
                    (t.outcome, t.credit),
                    (Outcome::Ignored, false),
                    "{status:?} {raw}"
                );
                // Only the gateway's own words are recorded, when new.
                let change = t.change.map(|c| (c.status, c.flagged, c.gateway_status));
                let expected = (raw != "pending").then(|| (None, None, Some(raw.to_string())));
                assert_eq!(change, expected, "{status:?} {raw}");
            }
        }
    }
}
