//! Announcements: admin news shown to signed-in users, to everyone or only to
//! customers with an order on one platform, with a read state per user. The body
//! is Markdown, sanitized on save like pages.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::markdown;
use crate::domain::text::check_text;
use crate::{
    db::{
        announcements::{AnnouncementRow, NewAnnouncement, UserAnnouncementRow},
        enums::Platform,
        pagination::{KeysetPage, Paginated},
        schema::announcements,
    },
    error::{AppError, AppResult},
};

const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 20_000;

pub struct AnnouncementInput {
    pub title: String,
    pub body_markdown: String,
    /// Only customers with an order on this platform; `None`: every signed-in user.
    pub platform: Option<Platform>,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    author_id: i64,
    input: AnnouncementInput,
) -> AppResult<AnnouncementRow> {
    let title = check_text("title", &input.title, MAX_TITLE, true)?;
    let body = check_text("body", &input.body_markdown, MAX_BODY, true)?;
    Ok(diesel::insert_into(announcements::table)
        .values(NewAnnouncement {
            title,
            body_html: markdown::render(&body),
            body_markdown: body,
            platform: input.platform,
            author_id: Some(author_id),
        })
        .returning(AnnouncementRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> AppResult<AnnouncementRow> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let row = AnnouncementRow::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound("announcement"))?;
        AnnouncementRow::delete(conn, id).await?;
        Ok(row)
    })
    .await
}

/// What a user is shown, newest first.
pub async fn for_user(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    unread_only: bool,
    page: KeysetPage,
) -> AppResult<Paginated<UserAnnouncementRow>> {
    Ok(AnnouncementRow::for_user(conn, user_id, unread_only, page).await?)
}

/// Marks announcements read; one the user is not shown is NOT_FOUND, so ids
/// cannot be probed.
pub async fn mark_read(conn: &mut AsyncPgConnection, user_id: i64, ids: &[i64]) -> AppResult<()> {
    use diesel_async::AsyncConnection;
    if ids.len() > 100 {
        return Err(AppError::validation("ids", "at most 100 ids at once"));
    }
    conn.transaction(async |conn| {
        for id in ids {
            let row = AnnouncementRow::find(conn, *id)
                .await?
                .ok_or(AppError::NotFound("announcement"))?;
            if let Some(platform) = row.platform {
                use crate::db::schema::{orders, services};
                let ordered: i64 = orders::table
                    .inner_join(services::table)
                    .filter(orders::user_id.eq(user_id))
                    .filter(services::platform.eq(platform))
                    .count()
                    .get_result(conn)
                    .await?;
                if ordered == 0 {
                    return Err(AppError::NotFound("announcement"));
                }
            }
        }
        AnnouncementRow::mark_read(conn, user_id, ids).await?;
        Ok(())
    })
    .await
}

/// Marks everything a user is shown as read.
pub async fn mark_all_read(conn: &mut AsyncPgConnection, user_id: i64) -> AppResult<usize> {
    let unread = AnnouncementRow::for_user(
        conn,
        user_id,
        true,
        KeysetPage {
            before_id: None,
            limit: 10_000,
            count_total: false,
        },
    )
    .await?;
    let ids: Vec<i64> = unread.rows.iter().map(|r| r.announcement.id).collect();
    Ok(AnnouncementRow::mark_read(conn, user_id, &ids).await?)
}
