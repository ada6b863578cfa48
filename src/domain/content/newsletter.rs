//! The newsletter: signup with double opt-in, confirmation and one-click
//! unsubscribe by signed links, and the list for admins. Links carry a
//! [`TokenSigner`] token bound to the address and its purpose (a confirmation
//! token expires after a week; an unsubscribe token never does, as old mails must
//! keep working), so nothing is stored to recognise them and none fits another
//! address. A signed-in user subscribing their own (Google-verified) address is
//! confirmed at once; a user's `notifyNewsletter` setting and their address's row
//! move together.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    crypto::TokenSigner,
    db::{
        enums::{Language, NewsletterStatus},
        newsletter_subscribers::{SubscriberRow, user_with_email},
        schema::{newsletter_subscribers, users},
    },
    error::{AppError, AppResult},
    mail::{self, NewMail},
};

const CONFIRM: &str = "newsletter-confirm";
const UNSUBSCRIBE: &str = "newsletter-unsubscribe";
const CONFIRM_VALID_SECONDS: i64 = 7 * 24 * 3600;
const MAX_EMAIL: usize = 254;

/// A plausible address: one `@`, a dotted domain, no spaces or control characters.
pub fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= MAX_EMAIL
        && !email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        })
}

/// The stored form of an address: trimmed, lower-case; VALIDATION on `email` if it
/// is not one.
pub fn normalize_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    if !looks_like_email(&email) {
        return Err(AppError::validation(
            "email",
            "email is not an email address",
        ));
    }
    Ok(email)
}

pub fn confirm_token(signer: &TokenSigner, email: &str) -> String {
    signer.sign(
        CONFIRM,
        email,
        Some(Utc::now().timestamp() + CONFIRM_VALID_SECONDS),
    )
}

pub fn unsubscribe_token(signer: &TokenSigner, email: &str) -> String {
    signer.sign(UNSUBSCRIBE, email, None)
}

fn query_link(base_url: &str, path: &str, email: &str, token: &str) -> String {
    let mut url =
        url::Url::parse(&format!("{base_url}{path}")).expect("PUBLIC_BASE_URL is checked at start");
    url.query_pairs_mut()
        .append_pair("email", email)
        .append_pair("token", token);
    url.to_string()
}

/// The link in a confirmation mail.
pub fn confirm_link(base_url: &str, signer: &TokenSigner, email: &str) -> String {
    query_link(
        base_url,
        "/newsletter/confirm",
        email,
        &confirm_token(signer, email),
    )
}

/// The one-click unsubscribe link of every newsletter mail (also its
/// `List-Unsubscribe` header, POSTed to by mail clients per RFC 8058).
pub fn unsubscribe_link(base_url: &str, signer: &TokenSigner, email: &str) -> String {
    query_link(
        base_url,
        "/newsletter/unsubscribe",
        email,
        &unsubscribe_token(signer, email),
    )
}

/// What a signup did. Callers answer the same to an anonymous visitor whatever
/// it is, so the form does not reveal who is subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation mail is due to the address.
    ConfirmationNeeded,
    /// Subscribed at once (a signed-in user's own address).
    Confirmed,
    /// Already confirmed: nothing to do.
    AlreadySubscribed,
}

/// Records a signup. `signed_in_email` is the caller's own address when signed
/// in; subscribing it skips the opt-in mail. Runs in the caller's transaction, so
/// the confirmation mail is queued with it.
pub async fn sign_up(
    conn: &mut AsyncPgConnection,
    email: &str,
    signed_in: Option<(i64, &str)>,
) -> AppResult<(SubscriberRow, SignupOutcome)> {
    let email = normalize_email(email)?;
    let own = signed_in.filter(|(_, own)| own.eq_ignore_ascii_case(&email));
    // Insert-if-absent first, so two signups racing for one address meet on the row lock.
    SubscriberRow::insert_pending_if_absent(conn, &email).await?;
    let row = SubscriberRow::find_by_email_for_update(conn, &email)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("subscriber row vanished")))?;
    if row.status == NewsletterStatus::Confirmed {
        return Ok((row, SignupOutcome::AlreadySubscribed));
    }
    if let Some((user_id, _)) = own {
        let row = set_status(conn, row.id, NewsletterStatus::Confirmed, Some(user_id)).await?;
        follow_user_setting(conn, &email, true).await?;
        return Ok((row, SignupOutcome::Confirmed));
    }
    let row = set_status(conn, row.id, NewsletterStatus::Pending, None).await?;
    Ok((row, SignupOutcome::ConfirmationNeeded))
}

/// A signup from the newsletter form, in one transaction with the confirmation
/// mail it needs.
pub async fn sign_up_and_mail(
    conn: &mut AsyncPgConnection,
    signer: &TokenSigner,
    base_url: &str,
    email: &str,
    signed_in: Option<(i64, &str)>,
    lang: Language,
) -> AppResult<SignupOutcome> {
    conn.transaction(async |conn| {
        let (row, outcome) = sign_up(conn, email, signed_in).await?;
        if outcome == SignupOutcome::ConfirmationNeeded {
            let link = confirm_link(base_url, signer, &row.email);
            let (subject, text) = confirmation_mail(lang, &link);
            // At most one confirmation mail per address per hour, however often
            // the form is sent.
            let hour = Utc::now().timestamp() / 3600;
            mail::enqueue(
                conn,
                NewMail {
                    to: row.email.clone(),
                    subject,
                    text_body: text,
                    html_body: None,
                    kind: "newsletter_confirm".into(),
                    user_id: None,
                    dedupe_key: Some(format!("newsletter_confirm:{}:{hour}", row.id)),
                },
            )
            .await?;
        }
        Ok(outcome)
    })
    .await
}

fn confirmation_mail(lang: Language, link: &str) -> (String, String) {
    match lang {
        Language::Id => (
            "Konfirmasi langganan newsletter".into(),
            format!(
                "Halo,\n\nSeseorang (semoga Anda) mendaftarkan alamat ini untuk newsletter kami. \
                 Buka tautan ini untuk mengonfirmasi:\n\n{link}\n\n\
                 Jika bukan Anda, abaikan email ini: Anda tidak akan menerima newsletter.\n"
            ),
        ),
        Language::En => (
            "Confirm your newsletter subscription".into(),
            format!(
                "Hello,\n\nSomeone (hopefully you) signed this address up for our newsletter. \
                 Open this link to confirm:\n\n{link}\n\n\
                 If it was not you, ignore this mail: you will not receive the newsletter.\n"
            ),
        ),
    }
}

/// One newsletter issue, queued for every confirmed address in one transaction,
/// each mail with its own one-click unsubscribe link. The Markdown body is
/// rendered and sanitized like a page; the plain-text part is its text.
/// Returns how many mails were queued.
pub async fn send_issue(
    conn: &mut AsyncPgConnection,
    signer: &TokenSigner,
    base_url: &str,
    subject: &str,
    body_markdown: &str,
) -> AppResult<usize> {
    let subject = crate::domain::text::check_text("subject", subject, 200, true)?;
    if subject.contains(['\r', '\n']) {
        return Err(AppError::validation("subject", "subject must be one line"));
    }
    let body = crate::domain::text::check_text("body", body_markdown, 50_000, true)?;
    let html = super::markdown::render(&body);
    let text = super::markdown::plain_text_paragraphs(&body);
    let issue = uuid::Uuid::new_v4();
    conn.transaction(async |conn| {
        let recipients = SubscriberRow::confirmed(conn).await?;
        for recipient in &recipients {
            let unsubscribe = unsubscribe_link(base_url, signer, &recipient.email);
            let escaped = quick_xml::escape::escape(unsubscribe.as_str());
            mail::enqueue_list_mail(
                conn,
                NewMail {
                    to: recipient.email.clone(),
                    subject: subject.clone(),
                    text_body: format!(
                        "{text}\n\n--\nBerhenti berlangganan / Unsubscribe: {unsubscribe}\n"
                    ),
                    html_body: Some(format!(
                        "{html}<hr><p><a href=\"{escaped}\">Berhenti berlangganan / Unsubscribe</a></p>"
                    )),
                    kind: "newsletter".into(),
                    user_id: recipient.user_id,
                    dedupe_key: Some(format!("newsletter:{issue}:{}", recipient.id)),
                },
                &unsubscribe,
            )
            .await?;
        }
        Ok(recipients.len())
    })
    .await
}

/// [`export_csv`] with its audit entry (who exported the list, when, how many
/// addresses), written in one transaction.
pub async fn export_csv_audited(conn: &mut AsyncPgConnection, admin_id: i64) -> AppResult<String> {
    conn.transaction(async |conn| {
        let csv = export_csv(conn).await?;
        let entry = crate::domain::audit::AuditEntry {
            action: "export.download",
            subject_type: "export",
            after: Some(serde_json::json!({
                "export": "newsletter.csv",
                "rows": csv.lines().count().saturating_sub(1),
            })),
            ..Default::default()
        };
        crate::domain::audit::record(conn, admin_id, entry).await?;
        Ok(csv)
    })
    .await
}

async fn set_status(
    conn: &mut AsyncPgConnection,
    id: i64,
    status: NewsletterStatus,
    user_id: Option<i64>,
) -> AppResult<SubscriberRow> {
    let now = Utc::now();
    let query = diesel::update(newsletter_subscribers::table.find(id));
    let row = match status {
        NewsletterStatus::Confirmed => {
            query
                .set((
                    newsletter_subscribers::status.eq(status),
                    newsletter_subscribers::confirmed_at.eq(now),
                    newsletter_subscribers::unsubscribed_at.eq(None::<chrono::DateTime<Utc>>),
                    newsletter_subscribers::user_id.eq(user_id),
                ))
                .returning(SubscriberRow::as_returning())
                .get_result(conn)
                .await?
        }
        NewsletterStatus::Unsubscribed => {
            query
                .set((
                    newsletter_subscribers::status.eq(status),
                    newsletter_subscribers::unsubscribed_at.eq(now),
                ))
                .returning(SubscriberRow::as_returning())
                .get_result(conn)
                .await?
        }
        NewsletterStatus::Pending => {
            query
                .set(newsletter_subscribers::status.eq(status))
                .returning(SubscriberRow::as_returning())
                .get_result(conn)
                .await?
        }
    };
    Ok(row)
}

/// Sets `notifyNewsletter` of the user with this address, if there is one.
async fn follow_user_setting(
    conn: &mut AsyncPgConnection,
    email: &str,
    on: bool,
) -> AppResult<Option<i64>> {
    let Some((user_id, current)) = user_with_email(conn, email).await? else {
        return Ok(None);
    };
    if current != on {
        diesel::update(users::table.find(user_id))
            .set(users::notify_newsletter.eq(on))
            .execute(conn)
            .await?;
    }
    Ok(Some(user_id))
}

fn bad_token() -> AppError {
    AppError::validation("token", "the link is invalid or has expired")
}

/// Confirms an address from its confirmation link.
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    signer: &TokenSigner,
    email: &str,
    token: &str,
) -> AppResult<SubscriberRow> {
    let email = normalize_email(email)?;
    if !signer.verify(CONFIRM, &email, token, Utc::now().timestamp()) {
        return Err(bad_token());
    }
    conn.transaction(async |conn| {
        let row = SubscriberRow::find_by_email_for_update(conn, &email)
            .await?
            .ok_or_else(bad_token)?;
        match row.status {
            NewsletterStatus::Confirmed => Ok(row),
            // Someone who unsubscribed later is not re-subscribed by an old link.
            NewsletterStatus::Unsubscribed => Err(bad_token()),
            NewsletterStatus::Pending => {
                let user_id = follow_user_setting(conn, &email, true).await?;
                set_status(conn, row.id, NewsletterStatus::Confirmed, user_id).await
            }
        }
    })
    .await
}

/// Unsubscribes an address from the link in a newsletter mail. Unsubscribing
/// twice is fine; the user with this address gets `notifyNewsletter` off.
pub async fn unsubscribe(
    conn: &mut AsyncPgConnection,
    signer: &TokenSigner,
    email: &str,
    token: &str,
) -> AppResult<()> {
    let email = normalize_email(email)?;
    if !signer.verify(UNSUBSCRIBE, &email, token, Utc::now().timestamp()) {
        return Err(bad_token());
    }
    conn.transaction(async |conn| {
        if let Some(row) = SubscriberRow::find_by_email_for_update(conn, &email).await?
            && row.status != NewsletterStatus::Unsubscribed
        {
            set_status(conn, row.id, NewsletterStatus::Unsubscribed, None).await?;
        }
        follow_user_setting(conn, &email, false).await?;
        Ok(())
    })
    .await
}

/// A signed-in user's `notifyNewsletter` changed: their address follows (on:
/// confirmed, their address being verified; off: unsubscribed).
pub async fn follow_setting(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    email: &str,
    on: bool,
) -> AppResult<()> {
    // An account address that is not a deliverable one has nothing to follow.
    let Ok(email) = normalize_email(email) else {
        return Ok(());
    };
    if on {
        SubscriberRow::insert_pending_if_absent(conn, &email).await?;
    }
    if let Some(row) = SubscriberRow::find_by_email_for_update(conn, &email).await? {
        let status = if on {
            NewsletterStatus::Confirmed
        } else {
            NewsletterStatus::Unsubscribed
        };
        if row.status != status {
            set_status(conn, row.id, status, Some(user_id)).await?;
        }
    }
    Ok(())
}

/// The confirmed addresses as CSV (`email,confirmed_at`), for admins: cells
/// quoted, an address a spreadsheet would run as a formula neutralised.
pub async fn export_csv(conn: &mut AsyncPgConnection) -> AppResult<String> {
    let rows = SubscriberRow::confirmed(conn).await?;
    // The header as before (bare names), the cells quoted.
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::NonNumeric)
        .from_writer(b"email,confirmed_at\n".to_vec());
    for row in rows {
        writer
            .write_record([
                crate::db::exports::csv_safe_text(&row.email).as_str(),
                &row.confirmed_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default(),
            ])
            .map_err(AppError::internal)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(AppError::internal)
}
