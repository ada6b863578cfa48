//! `contact_messages`: what visitors sent through the contact form, and the
//! admins' answers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::contact_messages,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = contact_messages, check_for_backend(diesel::pg::Pg))]
pub struct ContactMessageRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub subject: String,
    pub message: String,
    pub language: super::enums::Language,
    pub ip_address: String,
    pub answer: Option<String>,
    pub answered_by: Option<i64>,
    pub answered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

super::reads_by_id!(ContactMessageRow, contact_messages);

#[derive(Debug, Insertable)]
#[diesel(table_name = contact_messages)]
pub struct NewContactMessage<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
    pub ip_address: &'a str,
    pub language: super::enums::Language,
}

impl ContactMessageRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewContactMessage<'_>,
    ) -> QueryResult<ContactMessageRow> {
        diesel::insert_into(contact_messages::table)
            .values(new)
            .returning(ContactMessageRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Messages sent from `ip_address` since `since`.
    pub async fn count_from(
        conn: &mut AsyncPgConnection,
        ip_address: &str,
        since: DateTime<Utc>,
    ) -> QueryResult<i64> {
        contact_messages::table
            .filter(contact_messages::ip_address.eq(ip_address))
            .filter(contact_messages::created_at.ge(since))
            .count()
            .get_result(conn)
            .await
    }

    /// Records the answer, once: `None` when the message was already answered.
    pub async fn answer(
        conn: &mut AsyncPgConnection,
        id: i64,
        admin_id: i64,
        answer: &str,
    ) -> QueryResult<Option<ContactMessageRow>> {
        diesel::update(
            contact_messages::table
                .find(id)
                .filter(contact_messages::answered_at.is_null()),
        )
        .set((
            contact_messages::answer.eq(answer),
            contact_messages::answered_by.eq(admin_id),
            contact_messages::answered_at.eq(diesel::dsl::now),
        ))
        .returning(ContactMessageRow::as_returning())
        .get_result(conn)
        .await
        .optional()
    }

    /// Messages, newest first; only unanswered ones when `unanswered_only`.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        unanswered_only: bool,
        page: KeysetPage,
    ) -> QueryResult<Paginated<ContactMessageRow>> {
        let build = || {
            let mut q = contact_messages::table
                .select(ContactMessageRow::as_select())
                .into_boxed();
            if unanswered_only {
                q = q.filter(contact_messages::answered_at.is_null());
            }
            q
        };
        paginate_keyset(conn, build, contact_messages::id, page).await
    }
}
