//! `mail_outbox`: queued mail, its row structs and the claims and outcomes the mail
//! outbox job writes. A claim sets `lease_until` in its own committed statement
//! (rows locked with `FOR UPDATE SKIP LOCKED`, see `db::claim`), so two workers
//! never hold one row and a worker that died mid-send leaves the row to others
//! only after the lease.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    claim::{Claim, leased, outbox_claim},
    enums::MailStatus,
    schema::mail_outbox,
};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::pg::Pg))]
pub struct MailRow {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub kind: String,
    pub user_id: Option<i64>,
    pub dedupe_key: Option<String>,
    pub status: MailStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The one-click unsubscribe URL of a list mail (the newsletter), sent as
    /// `List-Unsubscribe` with `List-Unsubscribe-Post` (RFC 8058).
    pub list_unsubscribe: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct NewMailRow<'a> {
    pub to_address: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: Option<&'a str>,
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub dedupe_key: Option<&'a str>,
    pub list_unsubscribe: Option<&'a str>,
}

impl NewMailRow<'_> {
    /// Inserts the mail; `None` when a mail with the same `dedupe_key` exists.
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<Option<i64>> {
        diesel::insert_into(mail_outbox::table)
            .values(self)
            .on_conflict(mail_outbox::dedupe_key)
            .do_nothing()
            .returning(mail_outbox::id)
            .get_result(conn)
            .await
            .optional()
    }
}

impl NewMailRow<'_> {
    /// Inserts many mails in one statement, skipping those whose `dedupe_key`
    /// exists; returns how many were inserted.
    pub async fn insert_many(
        conn: &mut AsyncPgConnection,
        rows: &[NewMailRow<'_>],
    ) -> QueryResult<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        diesel::insert_into(mail_outbox::table)
            .values(rows)
            .on_conflict(mail_outbox::dedupe_key)
            .do_nothing()
            .execute(conn)
            .await
    }
}

impl MailRow {
    /// Claims due mails (PENDING, `next_attempt_at` passed, no live lease), the
    /// earliest first, counting the attempt, in one committed statement.
    pub async fn claim_due(
        conn: &mut AsyncPgConnection,
        claim: Claim,
    ) -> QueryResult<Vec<MailRow>> {
        leased(conn, outbox_claim!("mail_outbox", "next_attempt_at"), claim).await
    }

    /// Records that the SMTP server accepted the mail. Only the holder of the
    /// lease (`lease_until` as claimed) may write an outcome: after a lapsed lease
    /// another worker owns the row.
    pub async fn mark_sent(
        conn: &mut AsyncPgConnection,
        id: i64,
        lease_until: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let updated = diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq(id))
                .filter(mail_outbox::lease_until.eq(lease_until)),
        )
        .set((
            mail_outbox::status.eq(MailStatus::Sent),
            mail_outbox::sent_at.eq(diesel::dsl::now),
            mail_outbox::lease_until.eq(None::<DateTime<Utc>>),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
        Ok(updated == 1)
    }

    /// Records a failed attempt: back to PENDING until `retry_at`, or FAILED for
    /// good when `retry_at` is `None`.
    pub async fn mark_failed_attempt(
        conn: &mut AsyncPgConnection,
        id: i64,
        lease_until: DateTime<Utc>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> QueryResult<bool> {
        let target = mail_outbox::table
            .filter(mail_outbox::id.eq(id))
            .filter(mail_outbox::lease_until.eq(lease_until));
        let updated = match retry_at {
            Some(at) => {
                diesel::update(target)
                    .set((
                        mail_outbox::next_attempt_at.eq(at),
                        mail_outbox::lease_until.eq(None::<DateTime<Utc>>),
                        mail_outbox::last_error.eq(error),
                    ))
                    .execute(conn)
                    .await?
            }
            None => {
                diesel::update(target)
                    .set((
                        mail_outbox::status.eq(MailStatus::Failed),
                        mail_outbox::lease_until.eq(None::<DateTime<Utc>>),
                        mail_outbox::last_error.eq(error),
                    ))
                    .execute(conn)
                    .await?
            }
        };
        Ok(updated == 1)
    }

    /// The mails queued for one user, newest first (tests and admin tools).
    pub async fn of_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Vec<MailRow>> {
        mail_outbox::table
            .filter(mail_outbox::user_id.eq(user_id))
            .order(mail_outbox::id.desc())
            .select(MailRow::as_select())
            .load(conn)
            .await
    }
}

/// One line added to an admin's alert digest: the digest mail of `dedupe_key` is
/// inserted (due at `due`) or, while still waiting and unclaimed, gets `line`
/// appended (up to `max_body_chars`; past it the lines are only in the app).
pub struct DigestLine<'a> {
    pub to_address: &'a str,
    pub subject: &'a str,
    pub header: &'a str,
    pub line: &'a str,
    pub user_id: i64,
    pub dedupe_key: &'a str,
    pub due: DateTime<Utc>,
    pub max_body_chars: i32,
}

impl DigestLine<'_> {
    pub async fn upsert(&self, conn: &mut AsyncPgConnection) -> QueryResult<usize> {
        use diesel::sql_types::{BigInt, Integer, Text, Timestamptz};
        diesel::sql_query(
            "INSERT INTO mail_outbox (to_address, subject, text_body, kind, user_id, dedupe_key, next_attempt_at) \
             VALUES ($1, $2, $3 || $4, 'admin_digest', $5, $6, $7) \
             ON CONFLICT (dedupe_key) DO UPDATE \
             SET text_body = mail_outbox.text_body \
                 || CASE WHEN length(mail_outbox.text_body) < $8 THEN $4 ELSE '' END \
             WHERE mail_outbox.status = 'PENDING' AND mail_outbox.lease_until IS NULL",
        )
        .bind::<Text, _>(self.to_address)
        .bind::<Text, _>(self.subject)
        .bind::<Text, _>(self.header)
        .bind::<Text, _>(self.line)
        .bind::<BigInt, _>(self.user_id)
        .bind::<Text, _>(self.dedupe_key)
        .bind::<Timestamptz, _>(self.due)
        .bind::<Integer, _>(self.max_body_chars)
        .execute(conn)
        .await
    }
}
