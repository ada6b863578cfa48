//! Mail: what booster sends by email and how. This module owns the outbox API
//! ([`enqueue`], which queues a mail in the caller's transaction), the SMTP client
//! (`sender.rs` over `smtp_connection.rs`, lettre, configured by `SMTP_URL` and
//! `MAIL_FROM`) and the
//! templates in Indonesian and English (`templates.rs`). The `mail outbox` job
//! (`jobs/mail_outbox.rs`) drains the queue; storage and claims are in
//! `db/mail_outbox.rs`.
//!
//! A mail is queued in the same transaction as the change it tells about, so it
//! exists exactly when the change committed; with no SMTP server configured it
//! stays queued and nothing else changes.

pub mod account_templates;
pub mod sender;
mod smtp_connection;
pub mod templates;

use diesel_async::AsyncPgConnection;

use crate::{
    db::mail_outbox::NewMailRow,
    error::{AppError, AppResult},
};

/// Longest accepted values (the table's CHECK constraints say the same).
pub const MAX_ADDRESS_CHARS: usize = 320;
pub const MAX_SUBJECT_CHARS: usize = 300;
pub const MAX_TEXT_BODY_CHARS: usize = 100_000;
pub const MAX_HTML_BODY_CHARS: usize = 200_000;
pub const MAX_KIND_CHARS: usize = 64;
pub const MAX_DEDUPE_KEY_CHARS: usize = 200;

/// One mail to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// One address.
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// What the mail is about, e.g. "deposit_credited", "order_ended",
    /// "ticket_reply", "newsletter_confirm".
    pub kind: String,
    pub user_id: Option<i64>,
    /// Unique when set: enqueueing the same key twice queues one mail.
    pub dedupe_key: Option<String>,
}

/// Queues a mail in the caller's transaction; Ok(None) when dedupe_key was already
/// queued. An address that is not one mailbox, or an oversized part, is VALIDATION
/// naming the field.
pub async fn enqueue(conn: &mut AsyncPgConnection, mail: NewMail) -> AppResult<Option<i64>> {
    check(&mail)?;
    let id = row(&mail).insert(conn).await?;
    Ok(id)
}

/// Queues many mails in one statement, in the caller's transaction; a mail whose
/// `dedupe_key` was already queued is skipped. Every mail must pass [`check`]
/// (the first that does not is its VALIDATION error, and nothing is queued).
/// Returns how many were queued.
pub async fn enqueue_many(conn: &mut AsyncPgConnection, mails: &[NewMail]) -> AppResult<usize> {
    for mail in mails {
        check(mail)?;
    }
    let rows: Vec<NewMailRow<'_>> = mails.iter().map(row).collect();
    Ok(NewMailRow::insert_many(conn, &rows).await?)
}

/// Queues a mail of a list (the newsletter) in the caller's transaction, like
/// [`enqueue`], carrying its one-click unsubscribe URL: the sender adds the
/// `List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 8058). A URL that
/// is not plain `http(s)` ASCII is VALIDATION on `listUnsubscribe`.
pub async fn enqueue_list_mail(
    conn: &mut AsyncPgConnection,
    mail: NewMail,
    unsubscribe_url: &str,
) -> AppResult<Option<i64>> {
    check(&mail)?;
    check_list_unsubscribe(unsubscribe_url)?;
    let row = NewMailRow {
        list_unsubscribe: Some(unsubscribe_url),
        ..row(&mail)
    };
    Ok(row.insert(conn).await?)
}

/// An unsubscribe URL fit for a `List-Unsubscribe` header: `http(s)`, printable
/// ASCII without spaces or angle brackets, at most 2,000 characters.
fn check_list_unsubscribe(url: &str) -> AppResult<()> {
    let fits = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2_000
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    if !fits {
        return Err(AppError::validation(
            "listUnsubscribe",
            "must be one http(s) URL",
        ));
    }
    Ok(())
}

fn row(mail: &NewMail) -> NewMailRow<'_> {
    NewMailRow {
        to_address: mail.to.trim(),
        subject: mail.subject.trim(),
        text_body: &mail.text_body,
        html_body: mail.html_body.as_deref(),
        kind: &mail.kind,
        user_id: mail.user_id,
        dedupe_key: mail.dedupe_key.as_deref(),
        list_unsubscribe: None,
    }
}

/// Whether the outbox accepts a mail: an address that is not one mailbox, or an
/// oversized part, is VALIDATION naming the field.
pub fn check(mail: &NewMail) -> AppResult<()> {
    let to = mail.to.trim();
    if to.chars().count() > MAX_ADDRESS_CHARS || to.parse::<lettre::Address>().is_err() {
        return Err(AppError::validation("to", "must be one email address"));
    }
    let subject = mail.subject.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(AppError::validation(
            "subject",
            format!("must be 1 to {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    if subject.contains(['\r', '\n']) {
        return Err(AppError::validation("subject", "must be one line"));
    }
    check_length("textBody", &mail.text_body, MAX_TEXT_BODY_CHARS)?;
    if let Some(html) = &mail.html_body {
        check_length("htmlBody", html, MAX_HTML_BODY_CHARS)?;
    }
    if mail.kind.is_empty() {
        return Err(AppError::validation("kind", "must not be empty"));
    }
    check_length("kind", &mail.kind, MAX_KIND_CHARS)?;
    if let Some(key) = &mail.dedupe_key {
        check_length("dedupeKey", key, MAX_DEDUPE_KEY_CHARS)?;
    }
    Ok(())
}

fn check_length(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}
