//! `ContentItem` (pages and posts), `SeoMeta`, `SiteSettings`, `Announcement`,
//! keywords and newsletter subscribers.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        announcements::{AnnouncementRow, UserAnnouncementRow},
        content_items::ContentItemRow,
        enums::{ContentKind, ContentStatus, Language, NewsletterStatus, Platform, SeoSubject},
        newsletter_subscribers::SubscriberRow,
        seo_keywords::SeoKeywordRow,
    },
    domain::content::{self, keywords::KeywordProblem as DomainProblem, seo, site},
    error::AppError,
    graphql::{
        conn,
        error::{GraphqlError, GraphqlResult},
        guards::RoleGuard,
        loaders::{Loaders, SeoOf, SiteSettingsKey},
        state, viewer,
    },
};

pub struct SeoMeta(pub seo::SeoMeta);

/// The meta tags of a public page: what an admin set, else defaults derived from
/// the content ("<title> | <site name>", the first 155 characters of the text,
/// the canonical URL at the site's address).
#[Object]
impl SeoMeta {
    async fn meta_title(&self) -> &str {
        &self.0.meta_title
    }
    async fn meta_description(&self) -> &str {
        &self.0.meta_description
    }
    async fn keywords(&self) -> &[String] {
        &self.0.keywords
    }
    async fn canonical_url(&self) -> &str {
        &self.0.canonical_url
    }
    async fn og_title(&self) -> &str {
        &self.0.og_title
    }
    async fn og_description(&self) -> &str {
        &self.0.og_description
    }
    async fn og_image_url(&self) -> Option<&str> {
        self.0.og_image_url.as_deref()
    }
}

/// SEO fields to set; empty or absent fields use the defaults.
#[derive(InputObject, Default)]
pub struct SeoInput {
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    #[graphql(default)]
    pub keywords: Vec<String>,
    pub canonical_url: Option<String>,
    pub og_title: Option<String>,
    pub og_description: Option<String>,
    pub og_image_url: Option<String>,
}

impl From<SeoInput> for seo::SeoInput {
    fn from(input: SeoInput) -> Self {
        seo::SeoInput {
            meta_title: input.meta_title,
            meta_description: input.meta_description,
            keywords: input.keywords,
            canonical_url: input.canonical_url,
            og_title: input.og_title,
            og_description: input.og_description,
            og_image_url: input.og_image_url,
        }
    }
}

fn loader_error(what: &str, error: impl std::fmt::Display) -> GraphqlError {
    AppError::internal(anyhow::anyhow!("loading {what}: {error}")).into()
}

/// The site settings through the request's loader (one read per request).
pub async fn site_settings(ctx: &Context<'_>) -> GraphqlResult<site::SiteSettings> {
    let loaders = ctx.data_unchecked::<Loaders>();
    Ok(loaders
        .load_one(SiteSettingsKey)
        .await
        .map_err(|e| loader_error("site settings", e))?
        .unwrap_or_default())
}

/// The effective meta of one subject.
pub async fn seo_meta(
    ctx: &Context<'_>,
    subject: SeoSubject,
    id: i64,
    source: seo::SeoSource<'_>,
) -> GraphqlResult<SeoMeta> {
    let loaders = ctx.data_unchecked::<Loaders>();
    let overrides = loaders
        .load_one(SeoOf(subject, id))
        .await
        .map_err(|e| loader_error("SEO meta", e))?;
    let site = site_settings(ctx).await?;
    Ok(SeoMeta(seo::effective(
        &source,
        overrides.as_ref(),
        &site,
        &state(ctx).config.content.public_base_url,
    )))
}

/// A page or a blog post. Visitors only ever get published ones (and scheduled
/// ones once their time has come); the HTML body is sanitized.
pub struct ContentItem(pub ContentItemRow);

#[Object]
impl ContentItem {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn kind(&self) -> ContentKind {
        self.0.kind
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The URL name; unique per kind. Old slugs redirect here (see `slugRedirect`).
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The path on the public site: `/<slug>` for pages, `/blog/<slug>` for posts,
    /// prefixed by `/en` for English.
    async fn path(&self) -> String {
        seo::content_path(self.0.kind, self.0.language, &self.0.slug)
    }

    /// The body as sanitized HTML, safe to insert into a page.
    async fn body_html(&self) -> &str {
        &self.0.body_html
    }

    /// The Markdown source (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn body_markdown(&self) -> &str {
        &self.0.body_markdown
    }

    /// Plain text.
    async fn excerpt(&self) -> &str {
        &self.0.excerpt
    }

    async fn cover_image_url(&self) -> Option<&str> {
        self.0.cover_image_url.as_deref()
    }

    async fn tags(&self) -> &[String] {
        &self.0.tags
    }

    async fn language(&self) -> Language {
        self.0.language
    }

    async fn status(&self) -> ContentStatus {
        self.0.status
    }

    /// When a SCHEDULED item goes public.
    async fn publish_at(&self) -> Option<DateTime<Utc>> {
        self.0.publish_at
    }

    /// When it went public (a scheduled item: its time, once that has come).
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .published_at
            .or(self
                .0
                .publish_at
                .filter(|_| self.0.status == ContentStatus::Scheduled))
            .filter(|at| *at <= Utc::now())
    }

    /// The author's display name.
    async fn author_name(&self, ctx: &Context<'_>) -> GraphqlResult<Option<String>> {
        match self.0.author_id {
            Some(id) => {
                Ok(
                    crate::graphql::lookup(ctx, crate::graphql::loaders::UserId(id), "author")
                        .await?
                        .map(|user| user.name),
                )
            }
            None => Ok(None),
        }
    }

    /// Minutes to read, at 200 words a minute.
    async fn reading_minutes(&self) -> i32 {
        self.0.reading_minutes
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The same item in other languages (visitors: the published ones).
    async fn translations(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<ContentItem>> {
        let mut conn = conn(ctx).await?;
        let admin = viewer(ctx).can(crate::db::enums::Permission::Content);
        Ok(
            content::pages_posts::translations(&mut conn, &self.0, admin)
                .await?
                .into_iter()
                .map(ContentItem)
                .collect(),
        )
    }

    async fn seo(&self, ctx: &Context<'_>) -> GraphqlResult<SeoMeta> {
        let text = if self.0.excerpt.is_empty() {
            content::markdown::plain_text(&self.0.body_markdown)
        } else {
            self.0.excerpt.clone()
        };
        seo_meta(
            ctx,
            self.0.kind.into(),
            self.0.id,
            seo::SeoSource {
                title: &self.0.title,
                text: &text,
                path: seo::content_path(self.0.kind, self.0.language, &self.0.slug),
                image_url: self.0.cover_image_url.as_deref(),
            },
        )
        .await
    }
}

/// Where an old slug now leads.
#[derive(SimpleObject)]
pub struct SlugRedirect {
    pub subject_type: SeoSubject,
    pub id: ID,
    /// The current slug.
    pub slug: String,
    /// The current path on the public site (answer the old URL with a 301 to it).
    pub path: String,
}

#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "SocialLinkInput")]
pub struct SocialLink {
    /// "twitter", "instagram", "telegram", ...
    pub network: String,
    pub url: String,
}

pub struct SiteSettings(pub site::SiteSettings);

/// What every page of the site shares: name, default meta, social profiles,
/// contact details and analytics ids.
#[Object]
impl SiteSettings {
    async fn site_name(&self) -> &str {
        &self.0.site_name
    }
    async fn tagline(&self) -> &str {
        &self.0.tagline
    }
    async fn default_meta_title(&self) -> &str {
        &self.0.default_meta_title
    }
    async fn default_meta_description(&self) -> &str {
        &self.0.default_meta_description
    }
    async fn default_og_image_url(&self) -> Option<&str> {
        self.0.default_og_image_url.as_deref()
    }
    async fn social_links(&self) -> Vec<SocialLink> {
        let links = self.0.social_links.iter();
        links
            .map(|l| SocialLink {
                network: l.network.clone(),
                url: l.url.clone(),
            })
            .collect()
    }
    async fn contact_email(&self) -> Option<&str> {
        self.0.contact_email.as_deref()
    }
    async fn contact_phone(&self) -> Option<&str> {
        self.0.contact_phone.as_deref()
    }
    async fn contact_whatsapp(&self) -> Option<&str> {
        self.0.contact_whatsapp.as_deref()
    }
    async fn contact_address(&self) -> Option<&str> {
        self.0.contact_address.as_deref()
    }
    async fn google_analytics_id(&self) -> Option<&str> {
        self.0.google_analytics_id.as_deref()
    }
    async fn google_tag_manager_id(&self) -> Option<&str> {
        self.0.google_tag_manager_id.as_deref()
    }
    async fn facebook_pixel_id(&self) -> Option<&str> {
        self.0.facebook_pixel_id.as_deref()
    }
}

/// What every page of the site shares: name, default meta, social profiles,
/// contact details and analytics ids.
#[derive(InputObject)]
pub struct SiteSettingsInput {
    #[graphql(default)]
    pub site_name: String,
    #[graphql(default)]
    pub tagline: String,
    #[graphql(default)]
    pub default_meta_title: String,
    #[graphql(default)]
    pub default_meta_description: String,
    pub default_og_image_url: Option<String>,
    #[graphql(default)]
    pub social_links: Vec<SocialLink>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_whatsapp: Option<String>,
    pub contact_address: Option<String>,
    pub google_analytics_id: Option<String>,
    pub google_tag_manager_id: Option<String>,
    pub facebook_pixel_id: Option<String>,
}

impl From<SiteSettingsInput> for site::SiteSettings {
    fn from(s: SiteSettingsInput) -> Self {
        site::SiteSettings {
            site_name: s.site_name,
            tagline: s.tagline,
            default_meta_title: s.default_meta_title,
            default_meta_description: s.default_meta_description,
            default_og_image_url: s.default_og_image_url,
            social_links: s
                .social_links
                .into_iter()
                .map(|l| site::SocialLink {
                    network: l.network,
                    url: l.url,
                })
                .collect(),
            contact_email: s.contact_email,
            contact_phone: s.contact_phone,
            contact_whatsapp: s.contact_whatsapp,
            contact_address: s.contact_address,
            google_analytics_id: s.google_analytics_id,
            google_tag_manager_id: s.google_tag_manager_id,
            facebook_pixel_id: s.facebook_pixel_id,
        }
    }
}

/// News from the panel's admins.
pub struct Announcement {
    pub row: AnnouncementRow,
    /// When the viewer read it (user lists only).
    pub read_at: Option<DateTime<Utc>>,
}

impl From<UserAnnouncementRow> for Announcement {
    fn from(r: UserAnnouncementRow) -> Self {
        Announcement {
            row: r.announcement,
            read_at: r.read_at,
        }
    }
}

#[Object]
impl Announcement {
    async fn id(&self) -> ID {
        self.row.id.into()
    }

    async fn title(&self) -> &str {
        &self.row.title
    }

    /// Sanitized HTML.
    async fn body_html(&self) -> &str {
        &self.row.body_html
    }

    /// Shown only to customers with an order on this platform; null: everyone.
    async fn platform(&self) -> Option<Platform> {
        self.row.platform
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When the viewer read it; null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.read_at
    }
}

/// What the keyword health check found wrong.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum KeywordProblem {
    /// No public page, post, category or service targets the keyword.
    NoPage,
    /// The page targeting it has no meta description of its own.
    NoMetaDescription,
}

impl From<DomainProblem> for KeywordProblem {
    fn from(p: DomainProblem) -> Self {
        match p {
            DomainProblem::NoPage => KeywordProblem::NoPage,
            DomainProblem::NoMetaDescription => KeywordProblem::NoMetaDescription,
        }
    }
}

/// A search term the owner targets.
pub struct SeoKeyword(pub SeoKeywordRow);

#[Object]
impl SeoKeyword {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn keyword(&self) -> &str {
        &self.0.keyword
    }

    async fn subject_type(&self) -> Option<SeoSubject> {
        self.0.subject_type
    }

    async fn subject_id(&self) -> Option<ID> {
        self.0.subject_id.map(ID::from)
    }
}

/// A keyword and what is wrong with it (nothing when `problems` is empty).
#[derive(SimpleObject)]
pub struct KeywordHealth {
    pub keyword: SeoKeyword,
    pub problems: Vec<KeywordProblem>,
}

/// A newsletter address (admins).
pub struct NewsletterSubscriber(pub SubscriberRow);

#[Object]
impl NewsletterSubscriber {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn status(&self) -> NewsletterStatus {
        self.0.status
    }

    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.confirmed_at
    }

    async fn unsubscribed_at(&self) -> Option<DateTime<Utc>> {
        self.0.unsubscribed_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
