//! Pages and blog posts: create, edit, publish now or at a time, unpublish,
//! delete, and what visitors may read. Every save renders the Markdown body to
//! sanitized HTML, refreshes the reading time and, when the slug changes, keeps
//! the old one as a redirect, all in one transaction.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::{
    markdown,
    seo::{self, SeoInput},
    site::check_url,
    slugs,
};
use crate::domain::{
    audit::{self, AuditEntry},
    text::check_text,
};
use crate::{
    db::{
        content_items::{ContentItemChangeset, ContentItemRow, NewContentItem},
        enums::{ContentKind, ContentStatus, Language, SeoSubject},
        seo_meta::SeoMetaRow,
        slug_redirects,
    },
    error::{AppError, AppResult, is_unique_violation},
};

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 200_000;
pub const MAX_EXCERPT: usize = 500;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 50;
/// Length of an excerpt made from the body when none is given.
const EXCERPT_CHARS: usize = 280;

/// A new page or post. It starts as a DRAFT.
pub struct NewContentInput {
    pub kind: ContentKind,
    pub title: String,
    /// Generated from the title when absent.
    pub slug: Option<String>,
    pub body_markdown: String,
    /// Made from the body when absent.
    pub excerpt: Option<String>,
    pub cover_image_url: Option<String>,
    pub tags: Vec<String>,
    pub language: Language,
    /// The item this one translates (or any item of its translation group).
    pub translation_of: Option<i64>,
    pub seo: Option<SeoInput>,
}

/// Changes to a page or post; `None` leaves a field as it is.
#[derive(Default)]
pub struct ContentUpdate {
    pub title: Option<String>,
    pub slug: Option<String>,
    pub body_markdown: Option<String>,
    pub excerpt: Option<String>,
    /// `Some(None)` removes the cover image.
    pub cover_image_url: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub seo: Option<SeoInput>,
}

fn check_tags(tags: Vec<String>) -> AppResult<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(AppError::validation(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut clean: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = check_text("tags", &tag, MAX_TAG, true)?.to_lowercase();
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    Ok(clean)
}

fn check_cover(url: Option<String>) -> AppResult<Option<String>> {
    match url.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) => check_url("coverImageUrl", url).map(Some),
    }
}

/// The rendered body, its plain text and the reading time of a Markdown source.
struct Rendered {
    html: String,
    plain: String,
    minutes: i32,
}

fn render(body: &str) -> AppResult<Rendered> {
    if body.chars().count() > MAX_BODY {
        return Err(AppError::validation(
            "body",
            format!("body must be at most {MAX_BODY} characters"),
        ));
    }
    let plain = markdown::plain_text(body);
    Ok(Rendered {
        html: markdown::render(body),
        minutes: markdown::reading_minutes(&plain),
        plain,
    })
}

fn excerpt_or_default(excerpt: Option<String>, plain: &str) -> AppResult<String> {
    match excerpt {
        Some(text) => check_text("excerpt", &text, MAX_EXCERPT, false),
        None => Ok(markdown::truncate_words(plain, EXCERPT_CHARS)),
    }
}

fn slug_conflict(error: diesel::result::Error) -> AppError {
    if is_unique_violation(&error, "content_items_kind_slug_key") {
        AppError::conflict("the slug is taken")
    } else if is_unique_violation(&error, "content_items_translation_language") {
        AppError::conflict("that item already has a translation in this language")
    } else {
        error.into()
    }
}

/// Creates a draft page or post written by `author_id`.
pub async fn create(
    conn: &mut AsyncPgConnection,
    author_id: i64,
    input: NewContentInput,
) -> AppResult<ContentItemRow> {
    let title = check_text("title", &input.title, MAX_TITLE, true)?;
    let body = check_text("body", &input.body_markdown, MAX_BODY, false)?;
    let rendered = render(&body)?;
    let excerpt = excerpt_or_default(input.excerpt, &rendered.plain)?;
    let cover_image_url = check_cover(input.cover_image_url)?;
    let tags = check_tags(input.tags)?;
    let explicit_slug = input
        .slug
        .as_deref()
        .map(|s| slugs::check_slug("slug", s))
        .transpose()?;
    let seo_row = input
        .seo
        .map(|seo| seo::check(input.kind.into(), 0, seo))
        .transpose()?;
    let subject: SeoSubject = input.kind.into();
    conn.transaction(async |conn| {
        let translation_of = match input.translation_of {
            Some(id) => {
                let original = ContentItemRow::find(conn, id)
                    .await?
                    .filter(|o| o.kind == input.kind)
                    .ok_or_else(|| {
                        AppError::validation(
                            "translationOf",
                            "translationOf names no item of this kind",
                        )
                    })?;
                if original.language == input.language {
                    return Err(AppError::validation(
                        "translationOf",
                        "a translation must be in another language",
                    ));
                }
                Some(original.translation_of.unwrap_or(original.id))
            }
            None => None,
        };
        let slug = match &explicit_slug {
            Some(slug) => {
                slugs::require_free(conn, subject, slug, None).await?;
                slug.clone()
            }
            None => slugs::unique_slug_from(conn, subject, &title, None).await?,
        };
        let new = NewContentItem {
            kind: input.kind,
            title: title.clone(),
            slug: slug.clone(),
            body_markdown: body.clone(),
            body_html: rendered.html.clone(),
            excerpt: excerpt.clone(),
            cover_image_url: cover_image_url.clone(),
            tags: tags.clone(),
            language: input.language,
            translation_of,
            status: ContentStatus::Draft,
            publish_at: None,
            published_at: None,
            author_id: Some(author_id),
            reading_minutes: rendered.minutes,
        };
        let row = ContentItemRow::insert(conn, &new)
            .await
            .map_err(slug_conflict)?;
        slug_redirects::forget(conn, subject, &slug).await?;
        if let Some(mut seo_row) = seo_row.clone() {
            seo_row.subject_id = row.id;
            SeoMetaRow::put(conn, &seo_row).await?;
        }
        Ok(row)
    })
    .await
}

/// Edits a page or post (any status); a new slug leaves the old one redirecting.
pub async fn update(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    id: i64,
    update: ContentUpdate,
) -> AppResult<ContentItemRow> {
    let title = update
        .title
        .as_deref()
        .map(|t| check_text("title", t, MAX_TITLE, true))
        .transpose()?;
    let slug = update
        .slug
        .as_deref()
        .map(|s| slugs::check_slug("slug", s))
        .transpose()?;
    let body = update
        .body_markdown
        .as_deref()
        .map(|b| check_text("body", b, MAX_BODY, false))
        .transpose()?;
    let rendered = body.as_deref().map(render).transpose()?;
    let excerpt = update
        .excerpt
        .as_deref()
        .map(|e| check_text("excerpt", e, MAX_EXCERPT, false))
        .transpose()?;
    let cover_image_url = update.cover_image_url.map(check_cover).transpose()?;
    let tags = update.tags.map(check_tags).transpose()?;
    conn.transaction(async |conn| {
        let current = ContentItemRow::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound("content"))?;
        let subject: SeoSubject = current.kind.into();
        if let Some(slug) = &slug {
            slugs::require_free(conn, subject, slug, Some(id)).await?;
        }
        let seo_row = update
            .seo
            .clone()
            .map(|seo| seo::check(subject, id, seo))
            .transpose()?;
        let changes = ContentItemChangeset {
            title: title.clone(),
            slug: slug.clone(),
            body_markdown: body.clone(),
            body_html: rendered.as_ref().map(|r| r.html.clone()),
            // A body rewritten without a new excerpt gets a fresh one only when the
            // old one was made from the old body.
            excerpt: match (&excerpt, &rendered) {
                (Some(e), _) => Some(e.clone()),
                (None, Some(r))
                    if current.excerpt
                        == markdown::truncate_words(
                            &markdown::plain_text(&current.body_markdown),
                            EXCERPT_CHARS,
                        ) =>
                {
                    Some(markdown::truncate_words(&r.plain, EXCERPT_CHARS))
                }
                _ => None,
            },
            cover_image_url: cover_image_url.clone(),
            tags: tags.clone(),
            reading_minutes: rendered.as_ref().map(|r| r.minutes),
            ..Default::default()
        };
        let row = ContentItemRow::update(conn, id, &changes)
            .await
            .map_err(slug_conflict)?
            .ok_or(AppError::NotFound("content"))?;
        if let Some(slug) = &slug {
            slugs::record_change(conn, subject, id, &current.slug, slug).await?;
        }
        if let Some(seo_row) = seo_row {
            // SEO fields live beside the row: their change is an audit entry of its own.
            let before = seo::snapshot(conn, subject, id).await?;
            SeoMetaRow::put(conn, &seo_row).await?;
            let entry = AuditEntry {
                action: "content.seo",
                subject_type: audit::Subject::Content.as_str(),
                subject_id: Some(id),
                before,
                after: seo::snapshot(conn, subject, id).await?,
                reason: None,
            };
            audit::record(conn, admin_id, entry).await?;
        }
        Ok(row)
    })
    .await
}

/// Publishes now (`at` absent or past) or schedules for `at`; the job runner
/// flips a scheduled item to PUBLISHED when its time comes, and visitors see it
/// from that moment on.
pub async fn publish(
    conn: &mut AsyncPgConnection,
    id: i64,
    at: Option<DateTime<Utc>>,
) -> AppResult<ContentItemRow> {
    let now = Utc::now();
    conn.transaction(async |conn| {
        let current = ContentItemRow::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound("content"))?;
        let changes = match at {
            Some(at) if at > now => ContentItemChangeset {
                status: Some(ContentStatus::Scheduled),
                publish_at: Some(Some(at)),
                ..Default::default()
            },
            _ => ContentItemChangeset {
                status: Some(ContentStatus::Published),
                publish_at: Some(None),
                published_at: Some(Some(
                    // Republishing keeps the first publication date.
                    current
                        .published_at
                        .filter(|_| current.status == ContentStatus::Published)
                        .unwrap_or(now),
                )),
                ..Default::default()
            },
        };
        ContentItemRow::update(conn, id, &changes)
            .await?
            .ok_or(AppError::NotFound("content"))
    })
    .await
}

/// Back to DRAFT: hidden from visitors, any schedule cancelled.
pub async fn unpublish(conn: &mut AsyncPgConnection, id: i64) -> AppResult<ContentItemRow> {
    let draft = ContentItemChangeset {
        status: Some(ContentStatus::Draft),
        publish_at: Some(None),
        ..Default::default()
    };
    ContentItemRow::update(conn, id, &draft)
        .await?
        .ok_or(AppError::NotFound("content"))
}

/// Deletes a page or post with its SEO fields and redirects; its translations
/// stay, the first of them becoming the group's original.
pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> AppResult<ContentItemRow> {
    conn.transaction(async |conn| {
        let row = ContentItemRow::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound("content"))?;
        let subject: SeoSubject = row.kind.into();
        ContentItemRow::delete_passing_group_on(conn, id).await?;
        SeoMetaRow::delete(conn, subject, id).await?;
        slug_redirects::forget_subject(conn, subject, id).await?;
        Ok(row)
    })
    .await
}

/// Whether a visitor may see `row` now.
pub fn is_visible(row: &ContentItemRow, now: DateTime<Utc>) -> bool {
    match row.status {
        ContentStatus::Published => true,
        ContentStatus::Scheduled => row.publish_at.is_some_and(|at| at <= now),
        ContentStatus::Draft => false,
    }
}

/// The item at `slug` as `admin` or a visitor may see it (visitors: only visible
/// ones, so a draft's slug reveals nothing).
pub async fn by_slug(
    conn: &mut AsyncPgConnection,
    kind: ContentKind,
    slug: &str,
    admin: bool,
) -> AppResult<Option<ContentItemRow>> {
    let found = ContentItemRow::find_by_slug(conn, kind, slug).await?;
    Ok(found.filter(|row| admin || is_visible(row, Utc::now())))
}

/// The translations of an item (the other members of its group) a viewer may see.
pub async fn translations(
    conn: &mut AsyncPgConnection,
    row: &ContentItemRow,
    admin: bool,
) -> AppResult<Vec<ContentItemRow>> {
    let group = row.translation_of.unwrap_or(row.id);
    let now = Utc::now();
    Ok(ContentItemRow::translation_group(conn, group)
        .await?
        .into_iter()
        .filter(|other| other.id != row.id && (admin || is_visible(other, now)))
        .collect())
}

/// Marks due scheduled items published; returns how many.
pub async fn publish_due(conn: &mut AsyncPgConnection, limit: i64) -> AppResult<usize> {
    Ok(ContentItemRow::publish_due(conn, limit).await?.len())
}
