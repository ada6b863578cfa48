//! Mail outbox: sends queued mail through the SMTP server, on the one outbox
//! runtime (`outbox.rs`): each batch is claimed with `FOR UPDATE SKIP LOCKED` and
//! leased (`MAIL_LEASE_SECONDS`) in its own committed transaction, then sent with
//! no transaction open; so two workers never send one mail, and a worker that dies
//! mid-send leaves its mails to be retried only once the lease has passed (a mail
//! whose send could outlast the lease is not started). A failed send is retried after
//! `MAIL_RETRY_SECONDS`, doubling per attempt (at most 6 hours), until
//! `MAIL_MAX_ATTEMPTS`; a permanent refusal (5xx) fails at once. With no
//! `SMTP_URL` the job sends nothing and the mail waits.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::outbox::{self, Outbox, Pace, Recorded};
use crate::{
    app::AppState,
    config::MailConfig,
    db::{claim::Claim, mail_outbox::MailRow},
    error::{AppError, AppResult},
    mail::sender::{SendError, SmtpSender},
    metrics::MAIL_SENDS,
};

super::job!(MailOutbox, "mail outbox", mail.outbox_interval);

/// Mails claimed at once: with `SMTP_TIMEOUT_SECONDS` each, a batch ends well
/// inside the default lease.
const BATCH: i64 = 10;
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

/// The mail outbox on the one outbox runtime.
struct Mails<'a> {
    sender: SmtpSender,
    config: &'a MailConfig,
}

#[async_trait::async_trait]
impl Outbox for Mails<'_> {
    type Item = MailRow;
    type Receipt = ();
    type Failure = SendError;

    fn pace(&self) -> Pace {
        Pace::from_settings(BATCH, self.config.lease, self.config.smtp_timeout)
    }

    async fn claim(&self, conn: &mut AsyncPgConnection, claim: Claim) -> AppResult<Vec<MailRow>> {
        Ok(MailRow::claim_due(conn, claim).await?)
    }

    fn lease_of(&self, mail: &MailRow) -> Option<DateTime<Utc>> {
        mail.lease_until
    }

    async fn deliver(&self, mail: &MailRow) -> Result<(), SendError> {
        self.sender.send(mail).await
    }

    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        mail: &MailRow,
        lease_until: DateTime<Utc>,
        outcome: Result<(), SendError>,
    ) -> AppResult<Recorded> {
        let recorded = match outcome {
            Ok(()) => match MailRow::mark_sent(conn, mail.id, lease_until).await? {
                true => Recorded::Delivered,
                false => Recorded::LeaseLost,
            },
            Err(error) => {
                let retry_at = retry_at(self.config, mail, &error, Utc::now());
                tracing::warn!(
                    mail_id = mail.id,
                    kind = %mail.kind,
                    attempts = mail.attempts,
                    retrying = retry_at.is_some(),
                    error = error.message(),
                    "sending a mail failed"
                );
                let written = MailRow::mark_failed_attempt(
                    conn,
                    mail.id,
                    lease_until,
                    error.message(),
                    retry_at,
                )
                .await?;
                match (written, retry_at.is_some()) {
                    (false, _) => Recorded::LeaseLost,
                    (true, true) => Recorded::Retrying,
                    (true, false) => Recorded::GaveUp,
                }
            }
        };
        let outcome = match recorded {
            Recorded::Delivered => "sent",
            Recorded::Retrying => "retrying",
            Recorded::GaveUp => "failed",
            Recorded::LeaseLost => return Ok(recorded),
        };
        metrics::counter!(MAIL_SENDS, "outcome" => outcome).increment(1);
        Ok(recorded)
    }
}

/// Drains the due mail, batch by batch.
pub async fn run(state: &AppState) -> AppResult<MailReport> {
    let Some(sender) = SmtpSender::from_config(&state.config.mail).map_err(AppError::internal)?
    else {
        return Ok(MailReport::default());
    };
    let mails = Mails {
        sender,
        config: &state.config.mail,
    };
    let report = outbox::drain(state, &mails).await;
    mails.sender.close().await;
    let report = report?;
    Ok(MailReport {
        sent: report.delivered,
        retrying: report.retrying,
        failed: report.failed,
    })
}

/// When a failed mail is tried again: `MAIL_RETRY_SECONDS` after the first
/// attempt, doubling per attempt up to 6 hours; `None` once the attempts are spent
/// or the server refused for good.
fn retry_at(
    config: &MailConfig,
    mail: &MailRow,
    error: &SendError,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if matches!(error, SendError::Permanent(_)) || mail.attempts >= config.max_attempts {
        return None;
    }
    let first = chrono::Duration::from_std(config.retry_after).unwrap_or(MAX_RETRY_WAIT);
    let wait = crate::domain::retry::backoff(first, mail.attempts, MAX_RETRY_WAIT);
    Some(now + wait)
}
