//! The subjects that carry a slug and SEO meta, by type: pages and posts
//! (`content_items`, per kind), categories and services. One place reads their
//! slugs, existence and visibility by subject type, so the rules in
//! `domain::content::{slugs, keywords}` stay free of table names.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    content_items::visible_now,
    enums::{ContentKind, SeoSubject},
    schema::{content_items, service_categories, services},
};

/// The pages-or-posts kind a content subject stands for (None for the catalogue).
fn content_kind(subject: SeoSubject) -> Option<ContentKind> {
    match subject {
        SeoSubject::Page => Some(ContentKind::Page),
        SeoSubject::Post => Some(ContentKind::Post),
        SeoSubject::Category | SeoSubject::Service => None,
    }
}

/// How many subjects of this type other than `except` (0: none) have `slug` now.
pub async fn count_holding(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    slug: &str,
    except: i64,
) -> QueryResult<i64> {
    match (subject, content_kind(subject)) {
        (_, Some(kind)) => {
            content_items::table
                .filter(content_items::kind.eq(kind))
                .filter(content_items::slug.eq(slug))
                .filter(content_items::id.ne(except))
                .count()
                .get_result(conn)
                .await
        }
        (SeoSubject::Category, None) => {
            service_categories::table
                .filter(service_categories::slug.eq(slug))
                .filter(service_categories::id.ne(except))
                .count()
                .get_result(conn)
                .await
        }
        _ => {
            services::table
                .filter(services::slug.eq(slug))
                .filter(services::id.ne(except))
                .count()
                .get_result(conn)
                .await
        }
    }
}

/// The current slug of a subject; `lock` holds its row until the transaction ends.
pub async fn current(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    id: i64,
    lock: bool,
) -> QueryResult<Option<String>> {
    match subject {
        SeoSubject::Page | SeoSubject::Post => {
            let query = content_items::table.find(id).select(content_items::slug);
            if lock {
                query.for_update().first(conn).await.optional()
            } else {
                query.first(conn).await.optional()
            }
        }
        SeoSubject::Category => {
            let query = service_categories::table
                .find(id)
                .select(service_categories::slug);
            if lock {
                query.for_update().first(conn).await.optional()
            } else {
                query.first(conn).await.optional()
            }
        }
        SeoSubject::Service => {
            let query = services::table.find(id).select(services::slug);
            if lock {
                query.for_update().first(conn).await.optional()
            } else {
                query.first(conn).await.optional()
            }
        }
    }
}

/// Sets the slug of a category or service (pages and posts write theirs with the
/// rest of their row). The tables' unique indexes refuse a taken slug.
pub async fn set_catalog(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    id: i64,
    slug: &str,
) -> QueryResult<usize> {
    if subject == SeoSubject::Category {
        diesel::update(service_categories::table.find(id))
            .set(service_categories::slug.eq(slug))
            .execute(conn)
            .await
    } else {
        diesel::update(services::table.find(id))
            .set(services::slug.eq(slug))
            .execute(conn)
            .await
    }
}

/// The ids of a subject type a visitor can reach: published pages or posts,
/// active categories or services.
pub async fn public_ids(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
) -> QueryResult<Vec<i64>> {
    match (subject, content_kind(subject)) {
        (_, Some(kind)) => {
            content_items::table
                .filter(content_items::kind.eq(kind))
                .filter(visible_now())
                .select(content_items::id)
                .load(conn)
                .await
        }
        (SeoSubject::Category, None) => {
            service_categories::table
                .filter(service_categories::active.eq(true))
                .select(service_categories::id)
                .load(conn)
                .await
        }
        _ => {
            services::table
                .filter(services::active.eq(true))
                .select(services::id)
                .load(conn)
                .await
        }
    }
}
