//! `newsletter_subscribers`: newsletter addresses (lower-cased) and where each is
//! in the double opt-in.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::NewsletterStatus,
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::{newsletter_subscribers, users},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = newsletter_subscribers, check_for_backend(diesel::pg::Pg))]
pub struct SubscriberRow {
    pub id: i64,
    pub email: String,
    pub status: NewsletterStatus,
    pub user_id: Option<i64>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SubscriberRow {
    /// Adds the address as PENDING unless it is there already (in any status).
    pub async fn insert_pending_if_absent(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<()> {
        diesel::insert_into(newsletter_subscribers::table)
            .values((
                newsletter_subscribers::email.eq(email),
                newsletter_subscribers::status.eq(NewsletterStatus::Pending),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn find_by_email_for_update(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<SubscriberRow>> {
        newsletter_subscribers::table
            .filter(newsletter_subscribers::email.eq(email))
            .select(SubscriberRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// Subscribers, newest first, of one status when given. Addresses whose user
    /// turned `notifyNewsletter` off are never CONFIRMED (the setting and the row
    /// move together), so a CONFIRMED list is who receives the newsletter.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        status: Option<NewsletterStatus>,
        page: KeysetPage,
    ) -> QueryResult<Paginated<SubscriberRow>> {
        let build = move || {
            let mut query = newsletter_subscribers::table
                .select(SubscriberRow::as_select())
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(newsletter_subscribers::status.eq(status));
            }
            query
        };
        paginate_keyset(conn, build, newsletter_subscribers::id, page).await
    }

    /// Every confirmed address, oldest first (the export and the mailing).
    pub async fn confirmed(conn: &mut AsyncPgConnection) -> QueryResult<Vec<SubscriberRow>> {
        newsletter_subscribers::table
            .filter(newsletter_subscribers::status.eq(NewsletterStatus::Confirmed))
            .order(newsletter_subscribers::id)
            .select(SubscriberRow::as_select())
            .load(conn)
            .await
    }
}

/// The user (id, notifyNewsletter) with this address, if any.
pub async fn user_with_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<(i64, bool)>> {
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(email.to_string()),
        )
        .select((users::id, users::notify_newsletter))
        .first(conn)
        .await
        .optional()
}
