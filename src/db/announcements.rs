//! `announcements` and `announcement_reads`: admin news for signed-in users and
//! who has read which.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::Platform,
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::{announcement_reads, announcements, orders, services},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = announcements, check_for_backend(diesel::pg::Pg))]
pub struct AnnouncementRow {
    pub id: i64,
    pub title: String,
    pub body_markdown: String,
    pub body_html: String,
    /// Only customers with an order on this platform see it; `None`: everyone.
    pub platform: Option<Platform>,
    pub author_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

super::reads_by_id!(AnnouncementRow, announcements);

#[derive(Debug, Insertable)]
#[diesel(table_name = announcements)]
pub struct NewAnnouncement {
    pub title: String,
    pub body_markdown: String,
    pub body_html: String,
    pub platform: Option<Platform>,
    pub author_id: Option<i64>,
}

/// An announcement as one user sees it.
#[derive(Debug, Clone, Queryable)]
pub struct UserAnnouncementRow {
    pub announcement: AnnouncementRow,
    pub read_at: Option<DateTime<Utc>>,
}

impl AnnouncementRow {
    /// Every announcement, newest first (admins).
    pub async fn list(
        conn: &mut AsyncPgConnection,
        page: KeysetPage,
    ) -> QueryResult<Paginated<AnnouncementRow>> {
        let build = || {
            announcements::table
                .select(AnnouncementRow::as_select())
                .into_boxed()
        };
        paginate_keyset(conn, build, announcements::id, page).await
    }

    /// What `user_id` is shown, newest first, with when they read each; only
    /// unread ones with `unread_only`.
    pub async fn for_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        unread_only: bool,
        page: KeysetPage,
    ) -> QueryResult<Paginated<UserAnnouncementRow>> {
        let build = move || {
            let has_ordered_on_platform = diesel::dsl::exists(
                orders::table
                    .inner_join(services::table)
                    .filter(orders::user_id.eq(user_id))
                    .filter(services::platform.nullable().eq(announcements::platform)),
            );
            let mut query = announcements::table
                .left_join(
                    announcement_reads::table.on(announcement_reads::announcement_id
                        .eq(announcements::id)
                        .and(announcement_reads::user_id.eq(user_id))),
                )
                .filter(
                    announcements::platform
                        .is_null()
                        .or(has_ordered_on_platform),
                )
                .select((
                    AnnouncementRow::as_select(),
                    announcement_reads::read_at.nullable(),
                ))
                .into_boxed();
            if unread_only {
                query = query.filter(announcement_reads::read_at.is_null());
            }
            query
        };
        paginate_keyset(conn, build, announcements::id, page).await
    }

    /// Marks announcements read for a user (ids already read are left as they were).
    pub async fn mark_read(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        ids: &[i64],
    ) -> QueryResult<usize> {
        let rows: Vec<_> = ids
            .iter()
            .map(|id| {
                (
                    announcement_reads::announcement_id.eq(*id),
                    announcement_reads::user_id.eq(user_id),
                )
            })
            .collect();
        diesel::insert_into(announcement_reads::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(announcements::table.find(id))
            .execute(conn)
            .await
    }
}
