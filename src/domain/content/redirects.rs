//! Where an old slug leads, as the asker may see it: the subject's current slug
//! and public path when the subject is public (or the asker is an admin), else
//! nothing, so an old slug never reveals a draft or a hidden service. Above
//! `slugs`, `pages_posts` and `seo`, which it combines.

use diesel_async::AsyncPgConnection;

use super::{pages_posts, seo, slugs};
use crate::{
    db::{
        categories::CategoryRow,
        enums::{ContentKind, SeoSubject},
        services::ServiceRow,
    },
    error::AppResult,
};

/// An old slug's destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    pub id: i64,
    /// The current slug.
    pub slug: String,
    /// The current path on the public site.
    pub path: String,
}

/// The destination of `slug`, an old slug of a `subject`: `None` for a current
/// or unknown slug, and for a subject the asker may not see (a draft, an
/// inactive category or service) unless `admin`.
pub async fn visible_redirect(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    slug: &str,
    admin: bool,
) -> AppResult<Option<Redirect>> {
    let Some((id, current)) = slugs::redirect_target(conn, subject, slug).await? else {
        return Ok(None);
    };
    let path = match subject {
        SeoSubject::Page | SeoSubject::Post => {
            let kind = match subject {
                SeoSubject::Page => ContentKind::Page,
                _ => ContentKind::Post,
            };
            pages_posts::by_slug(conn, kind, &current, admin)
                .await?
                .map(|row| seo::content_path(row.kind, row.language, &row.slug))
        }
        SeoSubject::Category => {
            let public = CategoryRow::find_active_by_slug(conn, &current)
                .await?
                .is_some();
            (public || admin).then(|| seo::category_path(&current))
        }
        SeoSubject::Service => {
            let public = ServiceRow::find_active_by_slug(conn, &current)
                .await?
                .is_some();
            (public || admin).then(|| seo::service_path(&current))
        }
    };
    Ok(path.map(|path| Redirect {
        id,
        slug: current,
        path,
    }))
}
