//! Content and SEO reads: published pages and posts, slug redirects, categories
//! and services by slug, site settings, announcements, and the admin lists
//! (drafts, keywords health, newsletter subscribers).

use async_graphql::{Context, ID, Object};

use crate::{
    db::{
        categories::CategoryRow,
        content_items::{ContentFilter, ContentItemRow},
        enums::{ContentKind, ContentStatus, Language, NewsletterStatus, SeoSubject},
        newsletter_subscribers::SubscriberRow,
        services::ServiceRow,
    },
    domain::content::{announcements, keywords, newsletter, pages_posts, redirects},
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        loaders::{Lookup, SeoOf, UserId},
        pagination::{Page, keyset_args, keyset_connection, list_complexity, node_selects},
        parse_id, prefetch,
        types::{
            catalog::{Service, ServiceCategory},
            content::{
                Announcement, ContentItem, KeywordHealth, NewsletterSubscriber, SeoKeyword,
                SiteSettings, SlugRedirect, site_settings,
            },
        },
        viewer,
    },
};

#[derive(Default)]
pub struct ContentQuery;

const MAX_SLUG_ARGUMENT: usize = 200;

/// A tag filter as stored (trimmed, lower-case), bounded.
fn tag_filter(tag: Option<String>) -> GraphqlResult<Option<String>> {
    match tag.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(tag) if tag.chars().count() > pages_posts::MAX_TAG => {
            Err(crate::error::AppError::validation("tag", "tag is too long").into())
        }
        Some(tag) => Ok(Some(tag.to_lowercase())),
    }
}

fn slug_argument(slug: &str) -> GraphqlResult<&str> {
    if slug.len() > MAX_SLUG_ARGUMENT {
        return Err(crate::error::AppError::validation("slug", "slug is too long").into());
    }
    Ok(slug)
}

impl ContentQuery {
    async fn visible_list(
        ctx: &Context<'_>,
        kind: ContentKind,
        first: Option<i32>,
        after: Option<String>,
        language: Option<Language>,
        tag: Option<String>,
    ) -> GraphqlResult<Page<ContentItem>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let filter = ContentFilter {
            kind: Some(kind),
            language,
            tag: tag_filter(tag)?,
            visible_only: true,
            status: None,
        };
        let rows = ContentItemRow::list(&mut *conn(ctx).await?, &filter, page).await?;
        prefetch_relations(ctx, &rows.rows).await?;
        Ok(keyset_connection(rows, |r| r.id, ContentItem))
    }

    async fn by_slug(
        ctx: &Context<'_>,
        kind: ContentKind,
        slug: &str,
    ) -> GraphqlResult<Option<ContentItem>> {
        let slug = slug_argument(slug)?;
        let admin = viewer(ctx).can(crate::db::enums::Permission::Content);
        Ok(
            pages_posts::by_slug(&mut *conn(ctx).await?, kind, slug, admin)
                .await?
                .map(ContentItem),
        )
    }
}

/// Loads the SEO overrides and the authors of a page of items, one statement
/// each, when the query selects them.
async fn prefetch_relations(ctx: &Context<'_>, rows: &[ContentItemRow]) -> GraphqlResult<()> {
    if node_selects(ctx, "seo") {
        prefetch(ctx, rows.iter().map(|r| SeoOf(r.kind.into(), r.id))).await?;
    }
    if node_selects(ctx, "authorName") {
        let authors = rows.iter().filter_map(|r| r.author_id);
        prefetch(ctx, authors.map(|id| Lookup(UserId(id)))).await?;
    }
    Ok(())
}

#[Object]
impl ContentQuery {
    /// A published page by its current slug (admins: any status). An old slug
    /// finds nothing here: ask `slugRedirect`.
    #[graphql(cache_control(max_age = 60))]
    async fn page(&self, ctx: &Context<'_>, slug: String) -> GraphqlResult<Option<ContentItem>> {
        Self::by_slug(ctx, ContentKind::Page, &slug).await
    }

    /// A published blog post by its current slug (admins: any status).
    #[graphql(cache_control(max_age = 60))]
    async fn post(&self, ctx: &Context<'_>, slug: String) -> GraphqlResult<Option<ContentItem>> {
        Self::by_slug(ctx, ContentKind::Post, &slug).await
    }

    /// Published pages, newest first.
    #[graphql(
        complexity = "list_complexity(first, child_complexity)",
        cache_control(max_age = 60)
    )]
    async fn pages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        language: Option<Language>,
        tag: Option<String>,
    ) -> GraphqlResult<Page<ContentItem>> {
        Self::visible_list(ctx, ContentKind::Page, first, after, language, tag).await
    }

    /// Published blog posts, newest first, optionally with one tag.
    #[graphql(
        complexity = "list_complexity(first, child_complexity)",
        cache_control(max_age = 60)
    )]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        language: Option<Language>,
        tag: Option<String>,
    ) -> GraphqlResult<Page<ContentItem>> {
        Self::visible_list(ctx, ContentKind::Post, first, after, language, tag).await
    }

    /// Where an old slug of a page, post, category or service leads now; null
    /// for a current or unknown slug. Visitors only learn of public subjects.
    #[graphql(cache_control(max_age = 60))]
    async fn slug_redirect(
        &self,
        ctx: &Context<'_>,
        subject_type: SeoSubject,
        slug: String,
    ) -> GraphqlResult<Option<SlugRedirect>> {
        let slug = slug_argument(&slug)?;
        let admin = viewer(ctx).can(crate::db::enums::Permission::Content);
        let found =
            redirects::visible_redirect(&mut *conn(ctx).await?, subject_type, slug, admin).await?;
        Ok(found.map(|redirect| SlugRedirect {
            subject_type,
            id: redirect.id.into(),
            slug: redirect.slug,
            path: redirect.path,
        }))
    }

    /// An active category by its current slug.
    #[graphql(cache_control(max_age = 60))]
    async fn category_by_slug(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> GraphqlResult<Option<ServiceCategory>> {
        let slug = slug_argument(&slug)?;
        Ok(
            CategoryRow::find_active_by_slug(&mut *conn(ctx).await?, slug)
                .await?
                .map(ServiceCategory),
        )
    }

    /// An active service by its current slug.
    #[graphql(cache_control(max_age = 60))]
    async fn service_by_slug(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> GraphqlResult<Option<Service>> {
        let slug = slug_argument(&slug)?;
        Ok(
            ServiceRow::find_active_by_slug(&mut *conn(ctx).await?, slug)
                .await?
                .map(Service::from),
        )
    }

    /// The site's name, default meta, social profiles, contact details and analytics ids.
    #[graphql(cache_control(max_age = 60))]
    async fn site_settings(&self, ctx: &Context<'_>) -> GraphqlResult<SiteSettings> {
        Ok(SiteSettings(site_settings(ctx).await?))
    }

    /// Announcements for the signed-in user, newest first; only unread ones with `unread: true`.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_announcements(
        &self,
        ctx: &Context<'_>,
        unread: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<Announcement>> {
        let user = current_user(ctx)?;
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = announcements::for_user(
            &mut *conn(ctx).await?,
            user.id(),
            unread.unwrap_or(false),
            page,
        )
        .await?;
        Ok(keyset_connection(
            rows,
            |r| r.announcement.id,
            Announcement::from,
        ))
    }

    /// Every page or post of any status, newest first (admins).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_content(
        &self,
        ctx: &Context<'_>,
        kind: Option<ContentKind>,
        status: Option<ContentStatus>,
        language: Option<Language>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<ContentItem>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let filter = ContentFilter {
            kind,
            language,
            tag: None,
            visible_only: false,
            status,
        };
        let rows = ContentItemRow::list(&mut *conn(ctx).await?, &filter, page).await?;
        prefetch_relations(ctx, &rows.rows).await?;
        Ok(keyset_connection(rows, |r| r.id, ContentItem))
    }

    /// One page or post by id, any status (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_content_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GraphqlResult<Option<ContentItem>> {
        let id = parse_id("id", &id)?;
        Ok(ContentItemRow::find(&mut *conn(ctx).await?, id)
            .await?
            .map(ContentItem))
    }

    /// Every announcement, newest first (admins).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_announcements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<Announcement>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows =
            crate::db::announcements::AnnouncementRow::list(&mut *conn(ctx).await?, page).await?;
        Ok(keyset_connection(
            rows,
            |r| r.id,
            |row| Announcement { row, read_at: None },
        ))
    }

    /// The SEO health check (admins): every target keyword with what is wrong
    /// with it: no public page targets it, or its page has no meta description.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_seo_keywords(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] only_problems: bool,
    ) -> GraphqlResult<Vec<KeywordHealth>> {
        let report = keywords::health(&mut *conn(ctx).await?).await?;
        Ok(report
            .into_iter()
            .filter(|(_, problems)| !only_problems || !problems.is_empty())
            .map(|(row, problems)| KeywordHealth {
                keyword: SeoKeyword(row),
                problems: problems.into_iter().map(Into::into).collect(),
            })
            .collect())
    }

    /// Newsletter addresses, newest first (admins).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_newsletter_subscribers(
        &self,
        ctx: &Context<'_>,
        status: Option<NewsletterStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<NewsletterSubscriber>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = SubscriberRow::list(&mut *conn(ctx).await?, status, page).await?;
        Ok(keyset_connection(rows, |r| r.id, NewsletterSubscriber))
    }

    /// The confirmed newsletter addresses as CSV (`email,confirmed_at`), for a
    /// mailing tool (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_newsletter_export(&self, ctx: &Context<'_>) -> GraphqlResult<String> {
        let admin = current_user(ctx)?.id();
        Ok(newsletter::export_csv_audited(&mut *conn(ctx).await?, admin).await?)
    }
}
