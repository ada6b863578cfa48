//! What a crawler may find: every public URL of the site with its last change
//! (the home page, visible pages and posts, active categories and the active
//! services in them), in a stable order so that an unchanged site gives an
//! unchanged sitemap (and ETag). The XML is written in `http::seo`.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::seo;
use crate::{
    db::{
        categories::CategoryRow, content_items::ContentItemRow, enums::ContentKind,
        services::ServiceRow,
    },
    error::AppResult,
};

/// More items than any panel has pages for; bounds a read that must end.
const MAX_CONTENT_ITEMS: i64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// The path below `PUBLIC_BASE_URL`.
    pub path: String,
    pub last_modified: DateTime<Utc>,
}

/// When a page or post last changed as visitors see it.
pub fn changed_at(row: &ContentItemRow) -> DateTime<Utc> {
    // A scheduled item goes public without its row changing until the job runs.
    let public_since = row
        .published_at
        .or(row.publish_at)
        .unwrap_or(row.updated_at);
    row.updated_at.max(public_since)
}

/// Every public URL: "/" first, then pages, posts, categories and services, each
/// by id.
pub async fn public_urls(conn: &mut AsyncPgConnection) -> AppResult<Vec<PublicUrl>> {
    let mut content = ContentItemRow::visible_entries(conn, None, MAX_CONTENT_ITEMS).await?;
    content.sort_by_key(|row| (row.kind == ContentKind::Post, row.id));
    let categories = CategoryRow::active(conn).await?;
    let mut services = ServiceRow::active_with_categories(conn).await?;
    services.sort_by_key(|(service, _)| service.id);

    let mut urls = Vec::with_capacity(1 + content.len() + categories.len() + services.len());
    urls.extend(content.iter().map(|row| PublicUrl {
        path: seo::content_path(row.kind, row.language, &row.slug),
        last_modified: changed_at(row),
    }));
    urls.extend(categories.iter().map(|row| PublicUrl {
        path: seo::category_path(&row.slug),
        last_modified: row.updated_at,
    }));
    urls.extend(services.iter().map(|(row, _)| PublicUrl {
        path: seo::service_path(&row.slug),
        last_modified: row.updated_at,
    }));
    let newest = urls
        .iter()
        .map(|u| u.last_modified)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    urls.insert(
        0,
        PublicUrl {
            path: "/".into(),
            last_modified: newest,
        },
    );
    Ok(urls)
}

/// The newest visible posts, newest change first, for the feed.
pub async fn feed_posts(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> AppResult<Vec<ContentItemRow>> {
    let mut posts = ContentItemRow::visible_entries(conn, Some(ContentKind::Post), limit).await?;
    posts.sort_by_key(|row| std::cmp::Reverse((changed_at(row), row.id)));
    Ok(posts)
}
