//! `slug_redirects`: the slugs pages, posts, categories and services had before,
//! each pointing at its subject so an old URL can answer with the current one.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{enums::SeoSubject, schema::slug_redirects};

/// Remembers that `old_slug` named `subject_id` (taking the slug over if it
/// pointed at something else before).
pub async fn remember(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    old_slug: &str,
    subject_id: i64,
) -> QueryResult<()> {
    diesel::insert_into(slug_redirects::table)
        .values((
            slug_redirects::subject_type.eq(subject),
            slug_redirects::old_slug.eq(old_slug),
            slug_redirects::subject_id.eq(subject_id),
        ))
        .on_conflict((slug_redirects::subject_type, slug_redirects::old_slug))
        .do_update()
        .set((
            slug_redirects::subject_id.eq(subject_id),
            slug_redirects::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A slug in use again is no longer a redirect.
pub async fn forget(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    slug: &str,
) -> QueryResult<()> {
    diesel::delete(slug_redirects::table.find((subject, slug)))
        .execute(conn)
        .await?;
    Ok(())
}

/// The subject an old slug pointed at.
pub async fn target(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    old_slug: &str,
) -> QueryResult<Option<i64>> {
    slug_redirects::table
        .find((subject, old_slug))
        .select(slug_redirects::subject_id)
        .first(conn)
        .await
        .optional()
}

/// Drops every redirect to a subject that no longer exists.
pub async fn forget_subject(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    subject_id: i64,
) -> QueryResult<()> {
    diesel::delete(
        slug_redirects::table
            .filter(slug_redirects::subject_type.eq(subject))
            .filter(slug_redirects::subject_id.eq(subject_id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}
