//! Deposit reconciliation: asks the gateway about deposits that stayed PENDING
//! longer than `RECONCILE_AFTER_SECONDS` (a webhook may have been lost) and applies
//! the answer through the same domain function as webhooks; expires deposits whose
//! time is up and that the gateway does not report paid.

use chrono::Utc;

use crate::{
    app::AppState,
    db::{deposits::DepositRow, enums::DepositEventSource},
    domain::deposits::{self, Outcome},
    error::AppResult,
    payments::{self, GatewayError},
};

const BATCH: i64 = 50;
/// At most this many batches per run, so one run always ends.
const MAX_BATCHES: usize = 100;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: usize,
    pub credited: usize,
    pub expired: usize,
    pub failed: usize,
    pub flagged: usize,
    /// Gateways that could not be asked; those deposits are tried again later.
    pub errors: usize,
}

super::job!(
    ReconcileDeposits,
    "deposit reconciliation",
    payments.reconcile_interval
);

/// One pass over every deposit due for a check.
pub async fn run(state: &AppState) -> AppResult<ReconcileReport> {
    let config = &state.config.payments;
    let mut report = ReconcileReport::default();
    for _ in 0..MAX_BATCHES {
        if state.is_stopping() {
            break;
        }
        let claimed = {
            let mut conn = state.pool.get().await?;
            deposits::claim_for_reconcile(
                &mut conn,
                config.reconcile_after,
                config.reconcile_after,
                BATCH,
            )
            .await?
        };
        let count = claimed.len();
        for deposit in claimed {
            report.checked += 1;
            if let Err(error) = check(state, &deposit, &mut report).await {
                report.errors += 1;
                tracing::warn!(deposit_id = deposit.id, error = %error, "reconciling a deposit failed");
            }
        }
        if (count as i64) < BATCH {
            break;
        }
    }
    Ok(report)
}

async fn check(
    state: &AppState,
    deposit: &DepositRow,
    report: &mut ReconcileReport,
) -> AppResult<()> {
    let config = &state.config.payments;
    let past_expiry = deposit.expires_at <= Utc::now();
    let answer = match payments::client(&state.http, config, deposit.gateway) {
        Ok(gateway) => Some(
            gateway
                .fetch_status(&deposit.merchant_ref, deposit.gateway_ref.as_deref())
                .await,
        ),
        // The gateway lost its key: nothing can be asked; only expiry applies.
        Err(_) => None,
    };
    let mut conn = state.pool.get().await?;
    let still_pending = match answer {
        Some(Ok(gateway_report)) => {
            let (outcome, _) = deposits::apply_report(
                &mut conn,
                deposit.id,
                DepositEventSource::Reconcile,
                &gateway_report,
            )
            .await?;
            match outcome {
                Outcome::Credited | Outcome::CreditedLate => report.credited += 1,
                Outcome::Expired => report.expired += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::Flagged => report.flagged += 1,
                _ => {}
            }
            outcome == Outcome::Waiting
        }
        // A Snap transaction whose payment method was never chosen is unknown to the
        // status API: nothing was paid.
        Some(Err(GatewayError::NotFound)) | None => true,
        Some(Err(error)) => {
            report.errors += 1;
            tracing::warn!(deposit_id = deposit.id, error = %error, "gateway status check failed; retrying later");
            // Money may have arrived: never expire without the gateway's word.
            false
        }
    };
    if still_pending
        && past_expiry
        && deposits::expire(&mut conn, deposit.id, "not paid in time").await?
    {
        report.expired += 1;
    }
    Ok(())
}
