//! The reconciliation job's side of deposits: claiming the deposits whose news
//! is overdue (leased, so processes share the work and no lock is held while a
//! gateway is asked), and expiring locally one whose time is up.

use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::Outcome;
use crate::{
    db::{
        deposits::{DepositChangeset, DepositRow, NewDepositEvent},
        enums::{DepositEventSource, DepositStatus},
    },
    error::{AppError, AppResult},
};

/// Claims up to `limit` deposits for reconciliation: PENDING, not flagged, and
/// either older than `after` or past their expiry, and not leased by another
/// worker. Rows are locked with `FOR UPDATE SKIP LOCKED` and leased for `lease`
/// (`next_check_at`) in one short transaction (`DepositRow::claim_for_reconcile`),
/// so several processes share the work and nobody holds a lock while a gateway is
/// called.
pub async fn claim_for_reconcile(
    conn: &mut AsyncPgConnection,
    after: Duration,
    lease: Duration,
    limit: i64,
) -> AppResult<Vec<DepositRow>> {
    let now = Utc::now();
    let older_than = now - chrono::Duration::from_std(after).map_err(AppError::internal)?;
    let until = now + chrono::Duration::from_std(lease).map_err(AppError::internal)?;
    Ok(DepositRow::claim_for_reconcile(conn, now, older_than, until, limit).await?)
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
        let expired = DepositChangeset {
            status: Some(DepositStatus::Expired),
            failure_reason: Some(note.to_string()),
            updated_at: Some(Utc::now()),
            ..Default::default()
        };
        DepositRow::update(conn, deposit.id, &expired).await?;
        NewDepositEvent {
            deposit_id: deposit.id,
            source: DepositEventSource::Reconcile,
            gateway_status: "local-expiry",
            outcome: Outcome::Expired.as_str(),
            fingerprint: "local-expiry",
            payload: &json!({ "note": note }),
        }
        .insert_once(conn)
        .await?;
        Ok(true)
    })
    .await
}
