//! SEO meta for everything public (pages, posts, categories, services): the
//! overrides admins set (`seo_meta`) and the defaults derived from the content when
//! a field is unset: "<title> | <site name>", the first 155 characters of the
//! text, the canonical URL at `PUBLIC_BASE_URL` + the subject's path, Open Graph
//! fields following the meta ones. Also the public path of each subject, shared
//! by the sitemap, the feed and canonical URLs:
//!
//! | subject | path (`id`) | path (`en`) |
//! |---|---|---|
//! | page | `/<slug>` | `/en/<slug>` |
//! | post | `/blog/<slug>` | `/en/blog/<slug>` |
//! | category | `/<slug>` | |
//! | service | `/services/<slug>` | |

use diesel_async::AsyncPgConnection;

use super::{markdown, site::SiteSettings};
use crate::domain::text::check_text;
use crate::{
    db::{
        enums::{ContentKind, Language, SeoSubject},
        schema::{content_items, service_categories, services},
        seo_meta::SeoMetaRow,
    },
    error::{AppError, AppResult},
};

/// The length of a default meta description.
pub const DESCRIPTION_CHARS: usize = 155;
const MAX_KEYWORDS: usize = 30;

/// What an admin sets; `None` fields fall back to the defaults.
#[derive(Debug, Clone, Default)]
pub struct SeoInput {
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub keywords: Vec<String>,
    pub canonical_url: Option<String>,
    pub og_title: Option<String>,
    pub og_description: Option<String>,
    pub og_image_url: Option<String>,
}

/// The meta a front end puts in a page's head.
#[derive(Debug, Clone, PartialEq)]
pub struct SeoMeta {
    pub meta_title: String,
    pub meta_description: String,
    pub keywords: Vec<String>,
    pub canonical_url: String,
    pub og_title: String,
    pub og_description: String,
    pub og_image_url: Option<String>,
}

/// What the defaults are derived from.
pub struct SeoSource<'a> {
    pub title: &'a str,
    /// Plain text (no markup).
    pub text: &'a str,
    pub path: String,
    pub image_url: Option<&'a str>,
}

fn blank_to_none(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    value
        .map(|v| check_text(field, &v, max, false))
        .transpose()
        .map(|v| v.filter(|v| !v.is_empty()))
}

/// Checks an admin's SEO fields into the row to store.
/// The audit log's subject for a subject's SEO fields.
pub fn audit_subject(subject: SeoSubject) -> crate::domain::audit::Subject {
    use crate::domain::audit::Subject;
    match subject {
        SeoSubject::Page | SeoSubject::Post => Subject::Content,
        SeoSubject::Category => Subject::Category,
        SeoSubject::Service => Subject::Service,
    }
}

pub fn check(subject: SeoSubject, subject_id: i64, input: SeoInput) -> AppResult<SeoMetaRow> {
    if input.keywords.len() > MAX_KEYWORDS {
        return Err(AppError::validation(
            "seo.keywords",
            format!("at most {MAX_KEYWORDS} keywords"),
        ));
    }
    let mut keywords = Vec::with_capacity(input.keywords.len());
    for keyword in &input.keywords {
        let keyword = check_text("seo.keywords", keyword, 100, true)?;
        if !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
    }
    let url = |field: &str, value: Option<String>| match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => super::site::check_url(field, v).map(Some),
    };
    Ok(SeoMetaRow {
        subject_type: subject,
        subject_id,
        meta_title: blank_to_none("seo.metaTitle", input.meta_title, 200)?,
        meta_description: blank_to_none("seo.metaDescription", input.meta_description, 500)?,
        keywords,
        canonical_url: url("seo.canonicalUrl", input.canonical_url)?,
        og_title: blank_to_none("seo.ogTitle", input.og_title, 200)?,
        og_description: blank_to_none("seo.ogDescription", input.og_description, 500)?,
        og_image_url: url("seo.ogImageUrl", input.og_image_url)?,
    })
}

/// Sets the SEO fields of a page, post, category or service (pages and posts may
/// also set theirs with their other fields); refuses a subject that does not exist.
pub async fn save_for_subject(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    subject_id: i64,
    input: SeoInput,
) -> AppResult<()> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let row = check(subject, subject_id, input)?;
    let exists: i64 = match subject {
        SeoSubject::Category => {
            service_categories::table
                .find(subject_id)
                .count()
                .get_result(conn)
                .await?
        }
        SeoSubject::Service => {
            services::table
                .find(subject_id)
                .count()
                .get_result(conn)
                .await?
        }
        SeoSubject::Page | SeoSubject::Post => {
            content_items::table
                .find(subject_id)
                .filter(content_items::kind.eq(if subject == SeoSubject::Page {
                    ContentKind::Page
                } else {
                    ContentKind::Post
                }))
                .count()
                .get_result(conn)
                .await?
        }
    };
    if exists == 0 {
        return Err(AppError::NotFound("SEO subject"));
    }
    SeoMetaRow::put(conn, &row).await?;
    Ok(())
}

/// A subject's stored SEO fields as JSON (for the audit log), `None` when it has none.
pub async fn snapshot(
    conn: &mut AsyncPgConnection,
    subject: SeoSubject,
    subject_id: i64,
) -> AppResult<Option<serde_json::Value>> {
    use diesel::{
        OptionalExtension,
        sql_types::{BigInt, Jsonb, Text},
    };
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Doc {
        #[diesel(sql_type = Jsonb)]
        doc: serde_json::Value,
    }
    let doc: Option<Doc> = diesel::sql_query(
        "SELECT to_jsonb(t) - 'updated_at' AS doc FROM seo_meta t \
         WHERE subject_type = $1 AND subject_id = $2",
    )
    .bind::<Text, _>(subject.as_str())
    .bind::<BigInt, _>(subject_id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(doc.map(|d| d.doc))
}

pub fn content_path(kind: ContentKind, language: Language, slug: &str) -> String {
    let prefix = match language {
        Language::Id => "",
        Language::En => "/en",
    };
    match kind {
        ContentKind::Page => format!("{prefix}/{slug}"),
        ContentKind::Post => format!("{prefix}/blog/{slug}"),
    }
}

pub fn category_path(slug: &str) -> String {
    format!("/{slug}")
}

pub fn service_path(slug: &str) -> String {
    format!("/services/{slug}")
}

/// The meta of a subject: the admin's fields where set, else the defaults.
pub fn effective(
    source: &SeoSource<'_>,
    overrides: Option<&SeoMetaRow>,
    site: &SiteSettings,
    base_url: &str,
) -> SeoMeta {
    let set =
        |pick: fn(&SeoMetaRow) -> &Option<String>| overrides.and_then(|row| pick(row).clone());
    let default_title = match site.site_name.trim() {
        "" => source.title.to_string(),
        name => format!("{} | {name}", source.title),
    };
    let default_description = match markdown::truncate_words(source.text, DESCRIPTION_CHARS) {
        text if text.is_empty() => {
            markdown::truncate_words(&site.default_meta_description, DESCRIPTION_CHARS)
        }
        text => text,
    };
    let meta_title = set(|r| &r.meta_title).unwrap_or(default_title);
    let meta_description = set(|r| &r.meta_description).unwrap_or(default_description);
    SeoMeta {
        og_title: set(|r| &r.og_title).unwrap_or_else(|| meta_title.clone()),
        og_description: set(|r| &r.og_description).unwrap_or_else(|| meta_description.clone()),
        og_image_url: set(|r| &r.og_image_url)
            .or_else(|| source.image_url.map(str::to_string))
            .or_else(|| site.default_og_image_url.clone()),
        canonical_url: set(|r| &r.canonical_url)
            .unwrap_or_else(|| format!("{base_url}{}", source.path)),
        keywords: overrides.map(|r| r.keywords.clone()).unwrap_or_default(),
        meta_title,
        meta_description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_content_and_overrides_win() {
        let site = SiteSettings {
            site_name: "Booster".into(),
            ..Default::default()
        };
        let text = "word ".repeat(100);
        let source = SeoSource {
            title: "Buy followers",
            text: &text,
            path: "/blog/buy-followers".into(),
            image_url: None,
        };
        let meta = effective(&source, None, &site, "https://panel.example");
        assert_eq!(meta.meta_title, "Buy followers | Booster");
        assert!(meta.meta_description.chars().count() <= DESCRIPTION_CHARS);
        assert_eq!(
            meta.canonical_url,
            "https://panel.example/blog/buy-followers"
        );
        assert_eq!(meta.og_title, meta.meta_title);
        let mut row = check(SeoSubject::Post, 1, SeoInput::default()).unwrap();
        row.meta_description = Some("Own words".into());
        let meta = effective(&source, Some(&row), &site, "https://panel.example");
        assert_eq!(meta.meta_description, "Own words");
        assert_eq!(meta.og_description, "Own words");
        assert!(
            check(
                SeoSubject::Post,
                1,
                SeoInput {
                    canonical_url: Some("javascript:alert(1)".into()),
                    ..Default::default()
                }
            )
            .is_err()
        );
    }
}
