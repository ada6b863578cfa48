//! Deposits: creating one at a gateway, applying what a gateway reports about it
//! (exactly once, whatever the number and order of the reports), expiring and
//! flagging. Webhooks and the reconciliation job both go through [`apply_report`].

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::Rng;
use serde_json::json;

use crate::{
    config::PaymentsConfig,
    db::{
        PgPool,
        deposits::{DepositChangeset, DepositRow, NewDeposit, NewDepositEvent},
        enums::{DepositEventSource, DepositStatus, LedgerKind},
        schema::{deposit_events, deposits},
        users::UserRow,
    },
    domain::{
        notifications,
        wallet::{self, LedgerRef},
    },
    error::{AppError, AppResult},
    payments::{self, Gateway, GatewayError, GatewayReport, PaymentRequest, PaymentStatus},
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

/// Creates a deposit and its payment page at `gateway`.
///
/// The pending row is inserted and committed *before* the gateway is called, and
/// marked FAILED if the call fails. Holding a transaction open across an HTTP call
/// (up to the gateway timeout) would pin a pooled connection and a row lock; and
/// when a call times out after the gateway did create the payment, a committed row
/// means a later payment notification still finds its deposit (and credits it as a
/// late payment) instead of money arriving for an order we never kept. No deposit is
/// left PENDING without a payment page: it is either completed or FAILED in this
/// same flow.
pub async fn create(
    pool: &PgPool,
    gateway: &dyn Gateway,
    config: &PaymentsConfig,
    user: &UserRow,
    amount: i64,
) -> AppResult<DepositRow> {
    validate_amount(config, amount)?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(config.deposit_expiry).map_err(AppError::internal)?;
    let deposit = {
        let mut conn = pool.get().await?;
        let id: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "nextval('deposits_id_seq')",
        ))
        .get_result(&mut conn)
        .await?;
        let suffix: u32 = rand::rng().random();
        let merchant_ref = format!("DEP-{id}-{suffix:08x}");
        diesel::insert_into(deposits::table)
            .values(NewDeposit {
                id,
                user_id: user.id,
                amount,
                gateway: gateway.kind(),
                status: DepositStatus::Pending,
                merchant_ref: &merchant_ref,
                expires_at,
            })
            .returning(DepositRow::as_returning())
            .get_result(&mut conn)
            .await?
    };
    let request = PaymentRequest {
        merchant_ref: deposit.merchant_ref.clone(),
        amount,
        expires_at,
        description: format!("Deposit saldo {}", deposit.merchant_ref),
        customer_email: user.email.clone(),
        customer_name: if user.name.is_empty() {
            user.email.clone()
        } else {
            user.name.clone()
        },
        return_url: config.return_url.clone(),
    };
    let result = gateway.create_payment(&request).await;
    let mut conn = pool.get().await?;
    match result {
        Ok(created) => Ok(diesel::update(deposits::table.find(deposit.id))
            .set(DepositChangeset {
                gateway_ref: created.gateway_ref,
                payment_url: Some(created.payment_url),
                snap_token: created.snap_token,
                expires_at: created.expires_at.filter(|at| *at > Utc::now()),
                updated_at: Some(Utc::now()),
                ..Default::default()
            })
            .returning(DepositRow::as_returning())
            .get_result(&mut conn)
            .await?),
        Err(error) => {
            let detail = error.to_string();
            tracing::warn!(deposit_id = deposit.id, gateway = %gateway.kind(), error = %detail, "creating a payment failed");
            diesel::update(deposits::table.find(deposit.id))
                .set(DepositChangeset {
                    status: Some(DepositStatus::Failed),
                    failure_reason: Some(detail.clone()),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                })
                .execute(&mut conn)
                .await?;
            let others: Vec<String> = payments::configured(config)
                .into_iter()
                .filter(|g| *g != gateway.kind())
                .map(|g| g.to_string())
                .collect();
            let hint = if others.is_empty() {
                "try again later".to_string()
            } else {
                format!("try again later or pay with {}", others.join(" or "))
            };
            let reason = match error {
                GatewayError::Unavailable(_) => detail,
                _ => format!("{} could not create the payment", gateway.kind()),
            };
            Err(AppError::GatewayUnavailable(format!(
                "{} is unavailable ({reason}); {hint}",
                gateway.kind()
            )))
        }
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
        let now = Utc::now();
        let mut change = DepositChangeset::default();
        let status_changed = deposit.gateway_status.as_deref() != Some(report.raw_status.as_str());
        if status_changed {
            change.gateway_status = Some(report.raw_status.clone());
        }
        let flag = |reason: String, change: &mut DepositChangeset| {
            let existing = deposit.flag_reason.clone().unwrap_or_default();
            if !existing.contains(&reason) {
                change.flagged = Some(true);
                change.flag_reason = Some(if existing.is_empty() {
                    reason
                } else {
                    format!("{existing}; {reason}")
                });
            }
        };
        use DepositStatus as S;
        let outcome = match (deposit.status, report.status) {
            (S::Paid, PaymentStatus::Paid) => Outcome::Duplicate,
            (S::Paid, PaymentStatus::Failed | PaymentStatus::Expired | PaymentStatus::Reversed) => {
                flag(
                    format!("paid deposit later reported as {} by {}", report.raw_status, deposit.gateway),
                    &mut change,
                );
                Outcome::Flagged
            }
            (_, PaymentStatus::Paid) if report.amount != Some(deposit.amount) => {
                flag(
                    format!(
                        "amount mismatch: expected {}, {} reported {:?} paid",
                        deposit.amount, deposit.gateway, report.raw_amount
                    ),
                    &mut change,
                );
                Outcome::Flagged
            }
            (status, PaymentStatus::Paid) => {
                let entry = wallet::credit(
                    conn,
                    deposit.user_id,
                    deposit.amount,
                    LedgerKind::Deposit,
                    &LedgerRef {
                        deposit_id: Some(deposit.id),
                        note: format!("deposit {} via {}", deposit.merchant_ref, deposit.gateway),
                        ..Default::default()
                    },
                )
                .await?;
                notifications::deposit_credited(
                    conn,
                    deposit.user_id,
                    deposit.id,
                    deposit.amount,
                    entry.balance_after,
                )
                .await?;
                change.status = Some(S::Paid);
                change.paid_at = Some(now);
                change.gateway_ref = report.gateway_ref.clone().filter(|_| deposit.gateway_ref.is_none());
                if status == S::Pending {
                    Outcome::Credited
                } else {
                    Outcome::CreditedLate
                }
            }
            (S::Pending, PaymentStatus::Failed) => {
                change.status = Some(S::Failed);
                change.failure_reason = Some(format!("{} reported {}", deposit.gateway, report.raw_status));
                Outcome::Failed
            }
            (S::Pending, PaymentStatus::Expired) => {
                change.status = Some(S::Expired);
                Outcome::Expired
            }
            (S::Pending, PaymentStatus::Reversed) => {
                change.status = Some(S::Failed);
                change.failure_reason = Some(format!("{} reported {}", deposit.gateway, report.raw_status));
                flag(
                    format!("{} reported {} for an unpaid deposit", deposit.gateway, report.raw_status),
                    &mut change,
                );
                Outcome::Flagged
            }
            (S::Pending, PaymentStatus::Pending) => Outcome::Waiting,
            _ => Outcome::Ignored,
        };
        let deposit = if change.status.is_some() || change.flagged.is_some() || status_changed {
            change.updated_at = Some(now);
            diesel::update(deposits::table.find(deposit.id))
                .set(change)
                .returning(DepositRow::as_returning())
                .get_result(conn)
                .await?
        } else {
            deposit
        };
        // One row per distinct report: duplicates and repeated polls add nothing.
        diesel::insert_into(deposit_events::table)
            .values(NewDepositEvent {
                deposit_id: deposit.id,
                source,
                gateway_status: &report.raw_status,
                outcome: outcome.as_str(),
                fingerprint: &report.fingerprint(),
                payload: &report.payload,
            })
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if matches!(outcome, Outcome::Flagged) {
            tracing::warn!(deposit_id = deposit.id, reason = ?deposit.flag_reason, "deposit flagged");
        }
        Ok((outcome, deposit))
    })
    .await
}

/// Marks a still-pending deposit EXPIRED (its time is up and the gateway did not
/// report it paid). Does nothing to any other status.
pub async fn expire(conn: &mut AsyncPgConnection, deposit_id: i64, note: &str) -> AppResult<bool> {
    conn.transaction(async |conn| {
        let Some(deposit) = DepositRow::find_for_update(conn, deposit_id).await? else {
            return Err(AppError::NotFound("deposit"));
        };
        if deposit.status != DepositStatus::Pending || deposit.expires_at > Utc::now() {
            return Ok(false);
        }
        diesel::update(deposits::table.find(deposit.id))
            .set(DepositChangeset {
                status: Some(DepositStatus::Expired),
                failure_reason: Some(note.to_string()),
                updated_at: Some(Utc::now()),
                ..Default::default()
            })
            .execute(conn)
            .await?;
        diesel::insert_into(deposit_events::table)
            .values(NewDepositEvent {
                deposit_id: deposit.id,
                source: DepositEventSource::Reconcile,
                gateway_status: "local-expiry",
                outcome: Outcome::Expired.as_str(),
                fingerprint: "local-expiry",
                payload: &json!({ "note": note }),
            })
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(true)
    })
    .await
}

/// Claims up to `limit` deposits for reconciliation: PENDING, not flagged, and
/// either older than `after` or past their expiry, and not leased by another
/// worker. Rows are locked with `FOR UPDATE SKIP LOCKED` and leased for `lease`
/// (`next_check_at`) in one short transaction, so several processes share the work
/// and nobody holds a lock while a gateway is called.
pub async fn claim_for_reconcile(
    conn: &mut AsyncPgConnection,
    after: Duration,
    lease: Duration,
    limit: i64,
) -> AppResult<Vec<DepositRow>> {
    let now = Utc::now();
    let older_than = now - chrono::Duration::from_std(after).map_err(AppError::internal)?;
    let until = now + chrono::Duration::from_std(lease).map_err(AppError::internal)?;
    conn.transaction(async |conn| {
        let ids: Vec<i64> = deposits::table
            .filter(deposits::status.eq(DepositStatus::Pending))
            .filter(deposits::flagged.eq(false))
            .filter(
                deposits::created_at
                    .le(older_than)
                    .or(deposits::expires_at.le(now)),
            )
            .filter(
                deposits::next_check_at
                    .is_null()
                    .or(deposits::next_check_at.le(now)),
            )
            .order(deposits::id.asc())
            .limit(limit)
            .select(deposits::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(
            diesel::update(deposits::table.filter(deposits::id.eq_any(&ids)))
                .set(deposits::next_check_at.eq(until))
                .returning(DepositRow::as_returning())
                .get_results(conn)
                .await?,
        )
    })
    .await
}

/// What an admin decides about a flagged deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
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
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::validation("reason", "a reason is required"));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::validation(
            "reason",
            "the reason is too long (500 characters at most)",
        ));
    }
    conn.transaction(async |conn| {
        let deposit = DepositRow::find_for_update(conn, deposit_id)
            .await?
            .ok_or(AppError::NotFound("deposit"))?;
        if !deposit.flagged || deposit.resolution.is_some() {
            return Err(AppError::conflict(
                "this deposit is not waiting for a decision",
            ));
        }
        let now = Utc::now();
        let (status, paid_at, resolved_as) = match resolution {
            DepositResolution::Credit => {
                wallet::credit(
                    conn,
                    deposit.user_id,
                    deposit.amount,
                    LedgerKind::Deposit,
                    &LedgerRef {
                        deposit_id: Some(deposit.id),
                        actor_id: Some(admin_id),
                        note: format!(
                            "deposit {} credited by an admin: {reason}",
                            deposit.merchant_ref
                        ),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| match e {
                    AppError::Conflict(_) => AppError::conflict(
                        "this deposit was credited already; it can only be rejected",
                    ),
                    other => other,
                })?;
                (
                    DepositStatus::Paid,
                    Some(deposit.paid_at.unwrap_or(now)),
                    "CREDITED",
                )
            }
            DepositResolution::Reject => {
                let status = if deposit.status == DepositStatus::Pending {
                    DepositStatus::Failed
                } else {
                    deposit.status
                };
                (status, deposit.paid_at, "REJECTED")
            }
        };
        Ok(diesel::update(deposits::table.find(deposit.id))
            .set((
                deposits::status.eq(status),
                deposits::paid_at.eq(paid_at),
                deposits::flagged.eq(false),
                deposits::resolution.eq(resolved_as),
                deposits::resolved_by.eq(admin_id),
                deposits::resolved_at.eq(now),
                deposits::resolution_note.eq(reason),
                deposits::updated_at.eq(now),
            ))
            .returning(DepositRow::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}
