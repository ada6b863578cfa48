//! Slugs: the URL names of pages, posts, categories and services. Generated from
//! the title or name, editable by admins; a slug that changes is kept as a
//! redirect to its subject (`slug_redirects`), so an old URL still finds it.

use diesel_async::AsyncPgConnection;

use crate::{
    db::{enums::SeoSubject, seo_subjects, slug_redirects},
    error::{AppError, AppResult, is_unique_violation},
};

pub const MAX_SLUG: usize = 80;

/// Lower-case ASCII letters and digits joined by single hyphens; "item" when the
/// text has none. Common Latin accents fold to their letter ("Café" → "cafe").
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    let mut pending_hyphen = false;
    for c in text.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !slug.is_empty() {
                slug.push('-');
            }
            pending_hyphen = false;
            slug.push(c.to_ascii_lowercase());
            if slug.len() >= MAX_SLUG {
                break;
            }
        } else {
            pending_hyphen = true;
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() { "item".into() } else { slug }
}

fn fold_accent(c: char) -> std::iter::Once<char> {
    let folded = match c {
        'à'..='å' | 'À'..='Å' => 'a',
        'è'..='ë' | 'È'..='Ë' => 'e',
        'ì'..='ï' | 'Ì'..='Ï' => 'i',
        'ò'..='ö' | 'Ò'..='Ö' => 'o',
        'ù'..='ü' | 'Ù'..='Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        other => other,
    };
    std::iter::once(folded)
}

/// A slug an admin typed: it must already be in slug form, so what they see is
/// what the URL will be.
pub fn check_slug(field: &str, slug: &str) -> AppResult<String> {
    let slug = slug.trim();
    let well_formed = !slug.is_empty()
        && slug.len() <= MAX_SLUG
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !well_formed {
        return Err(AppError::validation(
            field,
            format!(
                "{field} must be 1 to {MAX_SLUG} lower-case letters and digits in words joined by single hyphens"
            ),
        ));
    }
    Ok(slug.to_string())
}

/// Whether a current slug of this subject type is `slug` (any subject but `except`).
async fn taken(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    slug: &str,
    except: Option<i64>,
) -> AppResult<bool> {
    Ok(seo_subjects::count_holding(conn, subject, slug, except.unwrap_or(0)).await? > 0)
}

/// A free slug made from `text`: the plain form, else with `-2`, `-3`, ...
pub async fn unique_slug_from(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    text: &str,
    except: Option<i64>,
) -> AppResult<String> {
    let base = slugify(text);
    if !taken(conn, subject, &base, except).await? {
        return Ok(base);
    }
    for n in 2..1000 {
        let candidate = format!("{}-{n}", &base[..base.len().min(MAX_SLUG - 4)]);
        if !taken(conn, subject, &candidate, except).await? {
            return Ok(candidate);
        }
    }
    Err(AppError::conflict("no free slug; choose one"))
}

/// Refuses a slug another subject of the type has now.
pub async fn require_free(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    slug: &str,
    except: Option<i64>,
) -> AppResult<()> {
    if taken(conn, subject, slug, except).await? {
        return Err(AppError::conflict(format!("the slug {slug:?} is taken")));
    }
    Ok(())
}

/// Bookkeeping after `subject_id`'s slug went from `old` to `new` (inside the
/// writing transaction): the old one redirects here, the new one redirects nowhere.
pub async fn record_change(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    subject_id: i64,
    old: &str,
    new: &str,
) -> AppResult<()> {
    slug_redirects::forget(conn, subject, new).await?;
    if old != new {
        slug_redirects::remember(conn, subject, old, subject_id).await?;
    }
    Ok(())
}

/// The current slug `slug` redirects to, when it is an old slug of a subject that
/// still exists (None for a current or unknown slug).
pub async fn redirect_target(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    slug: &str,
) -> AppResult<Option<(i64, String)>> {
    let Some(id) = slug_redirects::target(conn, subject, slug).await? else {
        return Ok(None);
    };
    let current = seo_subjects::current(conn, subject, id, false).await?;
    Ok(current.filter(|c| c != slug).map(|c| (id, c)))
}

/// What the audit log calls a slug change of a catalogue subject; pages and
/// posts are refused (their slug changes with the content itself).
pub fn catalog_slug_action(
    subject: SeoSubject,
) -> AppResult<(crate::domain::audit::Subject, &'static str)> {
    use crate::domain::audit::Subject;
    match subject {
        SeoSubject::Category => Ok((Subject::Category, "category.slug")),
        SeoSubject::Service => Ok((Subject::Service, "service.slug")),
        SeoSubject::Page | SeoSubject::Post => Err(AppError::validation(
            "subjectType",
            "pages and posts change their slug with adminUpdateContent",
        )),
    }
}

/// Changes the slug of a category or service (pages and posts change theirs with
/// the rest of their fields), keeping the old one as a redirect. One transaction.
pub async fn set_catalog_slug(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    id: i64,
    slug: &str,
) -> AppResult<String> {
    use diesel_async::AsyncConnection;
    let slug = check_slug("slug", slug)?;
    conn.transaction(async |conn| {
        catalog_slug_action(subject)?;
        let old = seo_subjects::current(conn, subject, id, true).await?;
        let old = old.ok_or(AppError::NotFound(if subject == SeoSubject::Category {
            "category"
        } else {
            "service"
        }))?;
        require_free(conn, subject, &slug, Some(id)).await?;
        let updated = seo_subjects::set_catalog(conn, subject, id, &slug).await;
        updated.map_err(|e| {
            if is_unique_violation(&e, "service_categories_slug_key")
                || is_unique_violation(&e, "services_slug_key")
            {
                AppError::conflict(format!("the slug {slug:?} is taken"))
            } else {
                e.into()
            }
        })?;
        record_change(conn, subject, id, &old, &slug).await?;
        Ok(slug.clone())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_titles_and_checks() {
        assert_eq!(
            slugify("Jasa Followers Twitter Murah!"),
            "jasa-followers-twitter-murah"
        );
        assert_eq!(slugify("  Café -- Crème  "), "cafe-creme");
        assert_eq!(slugify("日本"), "item");
        assert_eq!(slugify(&"a".repeat(200)).len(), MAX_SLUG);
        assert!(check_slug("slug", "twitter-followers").is_ok());
        for bad in [
            "",
            "Upper",
            "two--hyphens",
            "-lead",
            "trail-",
            "sp ace",
            "a/b",
        ] {
            assert!(check_slug("slug", bad).is_err(), "{bad:?}");
        }
    }
}
