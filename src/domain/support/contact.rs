//! The contact form: visitors who are not signed in send a name, an address, a
//! subject and a message. Each client address may send `CONTACT_LIMIT_PER_HOUR`
//! messages an hour (counted in the database, so every process shares the
//! limit); a filled-in hidden field (the honeypot, which people never see) marks
//! a robot, whose message is accepted in appearance and dropped. Admins answer
//! by mail.

use std::net::IpAddr;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::domain::text::{check_line, check_text};
use crate::{
    db::contact_messages::{ContactMessageRow, NewContactMessage},
    db::enums::Language,
    domain::{
        audit::{self, Subject},
        notifications::{self, About, Audience},
    },
    error::{AppError, AppResult},
    mail::{self, NewMail, templates},
};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 5000;
pub const MAX_ANSWER_CHARS: usize = 10000;

#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub name: String,
    pub email: String,
    pub subject: String,
    pub message: String,
    /// The honeypot: a field the form hides from people.
    pub website: Option<String>,
    /// The visitor's language for the answer (`id` or `en`).
    pub language: Option<String>,
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Stored(i64),
    /// The honeypot was filled in: nothing was stored.
    Dropped,
}

/// Stores a visitor's message and tells the admins; RATE_LIMITED past the
/// per-address limit.
pub async fn submit(
    conn: &mut AsyncPgConnection,
    input: ContactInput,
    client: IpAddr,
    limit_per_hour: u32,
) -> AppResult<Submitted> {
    if input
        .website
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty())
    {
        tracing::info!(%client, "contact form honeypot filled in; message dropped");
        return Ok(Submitted::Dropped);
    }
    let name = check_line("name", &input.name, MAX_NAME_CHARS, true)?;
    let subject = check_line("subject", &input.subject, MAX_SUBJECT_CHARS, true)?;
    let message = check_text("message", &input.message, MAX_MESSAGE_CHARS, true)?;
    let email = input.email.trim().to_string();
    if email.chars().count() > mail::MAX_ADDRESS_CHARS || email.parse::<lettre::Address>().is_err()
    {
        return Err(AppError::validation(
            "email",
            "email must be one email address",
        ));
    }
    let language = match input.language.as_deref().map(str::trim) {
        None | Some("") => Language::Id,
        Some(text) => text
            .parse::<Language>()
            .map_err(|_| AppError::validation("language", "language must be id or en"))?,
    };
    let ip_address = client.to_string();
    conn.transaction(async |conn| {
        // Messages from one address are counted one at a time, so concurrent
        // requests cannot all pass the limit together.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('contact:' || $1))")
            .bind::<diesel::sql_types::Text, _>(&ip_address)
            .execute(conn)
            .await?;
        if limit_per_hour > 0 {
            let since = Utc::now() - chrono::Duration::hours(1);
            let sent = ContactMessageRow::count_from(conn, &ip_address, since).await?;
            if sent >= i64::from(limit_per_hour) {
                return Err(AppError::RateLimited);
            }
        }
        let row = ContactMessageRow::insert(
            conn,
            NewContactMessage {
                name: &name,
                email: &email,
                subject: &subject,
                message: &message,
                ip_address: &ip_address,
                language,
            },
        )
        .await?;
        notifications::notify(
            conn,
            Audience::Admins,
            "CONTACT_MESSAGE",
            &format!("Contact form message {}: {}", row.id, row.subject),
            About::default(),
        )
        .await?;
        Ok(Submitted::Stored(row.id))
    })
    .await
}

/// An admin answers a message by mail, once (CONFLICT when already answered).
pub async fn answer(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    id: i64,
    answer: &str,
) -> AppResult<ContactMessageRow> {
    let answer = check_text("answer", answer, MAX_ANSWER_CHARS, true)?;
    conn.transaction(async |conn| {
        ContactMessageRow::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound("contact message"))?;
        let audited = audit::Change::begin(conn, Subject::ContactMessage, id).await?;
        let after = ContactMessageRow::answer(conn, id, admin_id, &answer)
            .await?
            .ok_or_else(|| AppError::conflict("this message was already answered"))?;
        let rendered =
            templates::contact_answer(after.language, &after.name, &after.subject, &answer);
        mail::enqueue(
            conn,
            NewMail {
                to: after.email.clone(),
                subject: rendered.subject,
                text_body: rendered.text,
                html_body: None,
                kind: "contact_answer".into(),
                user_id: None,
                dedupe_key: Some(format!("contact_answer:{id}")),
            },
        )
        .await?;
        audited
            .finish(conn, admin_id, "contact_message.answer", None)
            .await?;
        Ok(after)
    })
    .await
}
