//! Mail outbox: sends queued mail through the SMTP server. Each batch is claimed
//! with `FOR UPDATE SKIP LOCKED` and leased (`MAIL_LEASE_SECONDS`) in its own
//! committed transaction, then sent with no transaction open; so two workers never
//! send one mail, and a worker that dies mid-send leaves its mails to be retried
//! only once the lease has passed. A failed send is retried after
//! `MAIL_RETRY_SECONDS`, doubling per attempt (at most 6 hours), until
//! `MAIL_MAX_ATTEMPTS`; a permanent refusal (5xx) fails at once. With no
//! `SMTP_URL` the job sends nothing and the mail waits.

use chrono::{DateTime, Utc};

use crate::{
    app::AppState,
    db::mail_outbox::MailRow,
    error::{AppError, AppResult},
    mail::sender::{SendError, SmtpSender},
    metrics::MAIL_SENDS,
};

super::job!(MailOutbox, "mail outbox", mail.outbox_interval);

/// Mails claimed at once: with `SMTP_TIMEOUT_SECONDS` each, a batch ends well
/// inside the default lease.
const BATCH: i64 = 10;
/// At most this many batches per run, so one run always ends.
const MAX_BATCHES: usize = 50;
/// The longest wait between two attempts.
const MAX_RETRY_WAIT: chrono::Duration = chrono::Duration::hours(6);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MailReport {
    pub sent: usize,
    /// Failed attempts that will be tried again.
    pub retrying: usize,
    /// Mails given up on (refused for good, or out of attempts).
    pub failed: usize,
}

/// Drains the due mail, batch by batch.
pub async fn run(state: &AppState) -> AppResult<MailReport> {
    let mut report = MailReport::default();
    let Some(sender) = SmtpSender::from_config(&state.config.mail).map_err(AppError::internal)?
    else {
        return Ok(report);
    };
    let config = &state.config.mail;
    let lease = chrono::Duration::from_std(config.lease).map_err(AppError::internal)?;
    for _ in 0..MAX_BATCHES {
        if state.is_stopping() {
            break;
        }
        let now = Utc::now();
        let claimed = {
            let mut conn = state.pool.get().await?;
            MailRow::claim_due(&mut conn, now, now + lease, BATCH).await?
        };
        let count = claimed.len();
        for mail in claimed {
            let outcome = sender.send(&mail).await;
            // The lease as stored (microseconds): only its holder writes the outcome.
            let Some(lease_until) = mail.lease_until else {
                continue;
            };
            let mut conn = state.pool.get().await?;
            match outcome {
                Ok(()) => {
                    if MailRow::mark_sent(&mut conn, mail.id, lease_until).await? {
                        report.sent += 1;
                        metrics::counter!(MAIL_SENDS, "outcome" => "sent").increment(1);
                    }
                }
                Err(error) => {
                    let retry_at = retry_at(config, &mail, &error, Utc::now());
                    tracing::warn!(
                        mail_id = mail.id,
                        kind = %mail.kind,
                        attempts = mail.attempts,
                        retrying = retry_at.is_some(),
                        error = error.message(),
                        "sending a mail failed"
                    );
                    if MailRow::mark_failed_attempt(
                        &mut conn,
                        mail.id,
                        lease_until,
                        error.message(),
                        retry_at,
                    )
                    .await?
                    {
                        let outcome = if retry_at.is_some() {
                            report.retrying += 1;
                            "retrying"
                        } else {
                            report.failed += 1;
                            "failed"
                        };
                        metrics::counter!(MAIL_SENDS, "outcome" => outcome).increment(1);
                    }
                }
            }
        }
        if (count as i64) < BATCH {
            break;
        }
    }
    Ok(report)
}

/// When a failed mail is tried again: `MAIL_RETRY_SECONDS` after the first
/// attempt, doubling per attempt up to 6 hours; `None` once the attempts are spent
/// or the server refused for good.
fn retry_at(
    config: &crate::config::MailConfig,
    mail: &MailRow,
    error: &SendError,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if matches!(error, SendError::Permanent(_)) || mail.attempts >= config.max_attempts {
        return None;
    }
    let base = chrono::Duration::from_std(config.retry_after).unwrap_or(MAX_RETRY_WAIT);
    let doublings = u32::try_from(mail.attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let wait = base
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_RETRY_WAIT)
        .min(MAX_RETRY_WAIT);
    Some(now + wait)
}
