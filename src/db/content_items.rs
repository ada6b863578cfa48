//! `content_items`: pages and blog posts, with their Markdown source and the
//! sanitized HTML rendered from it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{ContentKind, ContentStatus, Language},
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::content_items,
};

/// An entry as stored: what was written, with its id and times. It reads as
/// what was written (`Deref`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = content_items, check_for_backend(diesel::pg::Pg))]
pub struct ContentItemRow {
    pub id: i64,
    #[diesel(embed)]
    pub item: NewContentItem,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::ops::Deref for ContentItemRow {
    type Target = NewContentItem;

    fn deref(&self) -> &NewContentItem {
        &self.item
    }
}

super::reads_by_id!(ContentItemRow, content_items);

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = content_items, check_for_backend(diesel::pg::Pg))]
pub struct NewContentItem {
    pub kind: ContentKind,
    pub title: String,
    pub slug: String,
    pub body_markdown: String,
    pub body_html: String,
    pub excerpt: String,
    pub cover_image_url: Option<String>,
    pub tags: Vec<String>,
    pub language: Language,
    pub translation_of: Option<i64>,
    pub status: ContentStatus,
    pub publish_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub author_id: Option<i64>,
    pub reading_minutes: i32,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = content_items)]
pub struct ContentItemChangeset {
    pub title: Option<String>,
    pub slug: Option<String>,
    pub body_markdown: Option<String>,
    pub body_html: Option<String>,
    pub excerpt: Option<String>,
    pub cover_image_url: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub reading_minutes: Option<i32>,
    pub status: Option<ContentStatus>,
    pub publish_at: Option<Option<DateTime<Utc>>>,
    pub published_at: Option<Option<DateTime<Utc>>>,
}

/// Which items a list shows.
#[derive(Debug, Clone, Default)]
pub struct ContentFilter {
    pub kind: Option<ContentKind>,
    pub language: Option<Language>,
    pub tag: Option<String>,
    /// Only what visitors may see (published, or scheduled and due).
    pub visible_only: bool,
    /// Admin lists: one status.
    pub status: Option<ContentStatus>,
}

/// The condition "a visitor may see this item now": published, or scheduled for a
/// time that has come (the job flips those to PUBLISHED, but visibility never
/// waits for it).
pub fn visible_now() -> Box<
    dyn BoxableExpression<content_items::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>,
> {
    Box::new(
        content_items::status
            .eq(ContentStatus::Published)
            .or(content_items::status.eq(ContentStatus::Scheduled).and(
                content_items::publish_at
                    .assume_not_null()
                    .le(diesel::dsl::now),
            )),
    )
}

impl ContentItemRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewContentItem,
    ) -> QueryResult<ContentItemRow> {
        diesel::insert_into(content_items::table)
            .values(new)
            .returning(ContentItemRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies `changes` and returns the row as it now is (`None`: no such item);
    /// a changeset naming no column still returns the row.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &ContentItemChangeset,
    ) -> QueryResult<Option<ContentItemRow>> {
        let updated = diesel::update(content_items::table.find(id))
            .set(changes)
            .returning(ContentItemRow::as_returning())
            .get_result(conn)
            .await
            .optional();
        match updated {
            Err(error) if super::is_empty_changeset(&error) => ContentItemRow::find(conn, id).await,
            other => other,
        }
    }

    /// Deletes an item; when it is the original of a translation group, its
    /// first translation becomes the original the others point at.
    pub async fn delete_passing_group_on(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
        let heir: Option<i64> = content_items::table
            .filter(content_items::translation_of.eq(id))
            .select(content_items::id)
            .order(content_items::id)
            .first(conn)
            .await
            .optional()?;
        if let Some(heir) = heir {
            diesel::update(content_items::table.filter(content_items::translation_of.eq(id)))
                .set(content_items::translation_of.eq(Some(heir)))
                .execute(conn)
                .await?;
            diesel::update(content_items::table.find(heir))
                .set(content_items::translation_of.eq(None::<i64>))
                .execute(conn)
                .await?;
        }
        diesel::delete(content_items::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &ContentFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<ContentItemRow>> {
        let filter = filter.clone();
        let build = move || {
            let mut query = content_items::table
                .select(ContentItemRow::as_select())
                .into_boxed();
            if let Some(kind) = filter.kind {
                query = query.filter(content_items::kind.eq(kind));
            }
            if let Some(language) = filter.language {
                query = query.filter(content_items::language.eq(language));
            }
            if let Some(tag) = &filter.tag {
                query = query.filter(content_items::tags.contains(vec![tag.clone()]));
            }
            if let Some(status) = filter.status {
                query = query.filter(content_items::status.eq(status));
            }
            if filter.visible_only {
                query = query.filter(visible_now());
            }
            query
        };
        paginate_keyset(conn, build, content_items::id, page).await
    }

    /// The item of this kind whose current slug is `slug`.
    pub async fn find_by_slug(
        conn: &mut AsyncPgConnection,
        kind: ContentKind,
        slug: &str,
    ) -> QueryResult<Option<ContentItemRow>> {
        content_items::table
            .filter(content_items::kind.eq(kind))
            .filter(content_items::slug.eq(slug))
            .select(ContentItemRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Every item of a translation group (the original and its translations).
    pub async fn translation_group(
        conn: &mut AsyncPgConnection,
        original_id: i64,
    ) -> QueryResult<Vec<ContentItemRow>> {
        content_items::table
            .filter(
                content_items::id
                    .eq(original_id)
                    .or(content_items::translation_of.eq(original_id)),
            )
            .order(content_items::id)
            .select(ContentItemRow::as_select())
            .load(conn)
            .await
    }

    /// What visitors may see, for the sitemap and the feed: (kind, slug, language,
    /// last change), newest change first, at most `limit`.
    pub async fn visible_entries(
        conn: &mut AsyncPgConnection,
        kind: Option<ContentKind>,
        limit: i64,
    ) -> QueryResult<Vec<ContentItemRow>> {
        let mut query = content_items::table
            .filter(visible_now())
            .select(ContentItemRow::as_select())
            .into_boxed();
        if let Some(kind) = kind {
            query = query.filter(content_items::kind.eq(kind));
        }
        query
            .order((content_items::updated_at.desc(), content_items::id.desc()))
            .limit(limit)
            .load(conn)
            .await
    }

    /// Moves SCHEDULED items whose time has come to PUBLISHED, at most `limit` of
    /// them; returns their ids.
    pub async fn publish_due(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<i64>> {
        diesel::sql_query(
            "UPDATE content_items SET status = 'PUBLISHED', published_at = publish_at \
             WHERE id IN (SELECT id FROM content_items WHERE status = 'SCHEDULED' \
             AND publish_at <= now() ORDER BY publish_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id",
        )
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .load::<IdRow>(conn)
        .await
        .map(|rows| rows.into_iter().map(|r| r.id).collect())
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}
