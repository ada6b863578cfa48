//! Content and SEO writes: pages and posts (admins), slugs and SEO fields of
//! categories and services, site settings, announcements and their read state,
//! target keywords, and the newsletter (signup limited per client address,
//! confirmation and unsubscribe by signed link).

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::{FutureExt, future::BoxFuture};

use crate::{
    db::{
        content_items::ContentItemRow,
        enums::{ContentKind, Language, Platform, SeoSubject},
    },
    domain::audit::{self, AuditEntry, Change, Subject},
    domain::content::{
        announcements::{self, AnnouncementInput},
        keywords, newsletter,
        pages_posts::{self, ContentUpdate, NewContentInput},
        seo, site, slugs,
    },
    error::{AppError, AppResult},
    graphql::{
        ClientAddress, check_date, conn, current_user,
        error::ApiResult,
        guards::RoleGuard,
        parse_id, state,
        types::content::{Announcement, ContentItem, SeoInput, SeoKeyword, SiteSettings},
        viewer,
    },
    mail::Lang,
    rate_limit::IpRateLimiter,
};

/// The signed-in admin's id (fields calling this carry the admin guard).
fn current_admin(ctx: &Context<'_>) -> ApiResult<i64> {
    Ok(current_user(ctx)?.id())
}

/// Runs an admin's change to one subject in one transaction with its audit
/// entry (the subject before and after).
async fn audited<T: Send>(
    ctx: &Context<'_>,
    subject: Subject,
    id: i64,
    action: &'static str,
    change: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, AppResult<T>> + Send,
) -> ApiResult<T> {
    let admin = current_admin(ctx)?;
    let mut conn = conn(ctx).await?;
    Ok(conn
        .transaction(async move |conn| {
            let audit = Change::begin(conn, subject, id).await?;
            let result = change(conn).await?;
            audit.finish(conn, admin, action, None).await?;
            Ok::<_, AppError>(result)
        })
        .await?)
}

/// The audit log's subject type for SEO fields.
fn seo_audit_subject(subject: SeoSubject) -> Subject {
    match subject {
        SeoSubject::Page | SeoSubject::Post => Subject::Content,
        SeoSubject::Category => Subject::Category,
        SeoSubject::Service => Subject::Service,
    }
}

/// Newsletter signups per client address (schema data).
pub struct NewsletterSignupLimiter(pub IpRateLimiter);

#[derive(Default)]
pub struct ContentMutation;

#[derive(InputObject)]
pub struct CreateContentInput {
    pub kind: ContentKind,
    pub title: String,
    /// Generated from the title when absent.
    pub slug: Option<String>,
    /// Markdown; stored with its sanitized HTML.
    #[graphql(default)]
    pub body: String,
    /// Made from the body when absent.
    pub excerpt: Option<String>,
    pub cover_image_url: Option<String>,
    #[graphql(default)]
    pub tags: Vec<String>,
    #[graphql(default_with = "Language::Id")]
    pub language: Language,
    /// The page or post this one translates.
    pub translation_of: Option<ID>,
    pub seo: Option<SeoInput>,
}

/// Fields left out keep their value.
#[derive(InputObject)]
pub struct UpdateContentInput {
    pub title: Option<String>,
    /// A new slug; the old one keeps answering through `slugRedirect`.
    pub slug: Option<String>,
    /// Markdown.
    pub body: Option<String>,
    pub excerpt: Option<String>,
    /// An empty string removes the cover image.
    pub cover_image_url: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Replaces the SEO fields.
    pub seo: Option<SeoInput>,
}

#[derive(InputObject)]
pub struct CreateAnnouncementInput {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Only customers with an order on this platform see it; absent: every signed-in user.
    pub platform: Option<Platform>,
}

#[derive(InputObject)]
pub struct AddSeoKeywordInput {
    pub keyword: String,
    /// What should rank for it: with `subjectId`, or neither.
    pub subject_type: Option<SeoSubject>,
    pub subject_id: Option<ID>,
}

#[Object]
impl ContentMutation {
    /// Creates a draft page or post (admins). The Markdown body is rendered to
    /// sanitized HTML; the slug is made from the title unless given.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_create_content(
        &self,
        ctx: &Context<'_>,
        input: CreateContentInput,
    ) -> ApiResult<ContentItem> {
        let admin = current_user(ctx)?;
        let translation_of = input
            .translation_of
            .as_ref()
            .map(|id| parse_id("translationOf", id))
            .transpose()?;
        let input = NewContentInput {
            kind: input.kind,
            title: input.title,
            slug: input.slug,
            body_markdown: input.body,
            excerpt: input.excerpt,
            cover_image_url: input.cover_image_url,
            tags: input.tags,
            language: input.language,
            translation_of,
            seo: input.seo.map(Into::into),
        };
        let admin = admin.id();
        let row = conn(ctx)
            .await?
            .transaction(async move |conn| {
                let row = pages_posts::create(conn, admin, input).await?;
                audit::record_created(conn, admin, "content.create", Subject::Content, row.id)
                    .await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(ContentItem(row))
    }

    /// Edits a page or post (admins). A changed slug leaves the old one redirecting.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_update_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContentInput,
    ) -> ApiResult<ContentItem> {
        let id = parse_id("id", &id)?;
        let update = ContentUpdate {
            title: input.title,
            slug: input.slug,
            body_markdown: input.body,
            excerpt: input.excerpt,
            cover_image_url: input
                .cover_image_url
                .map(|url| Some(url).filter(|u| !u.trim().is_empty())),
            tags: input.tags,
            seo: input.seo.map(Into::into),
        };
        let admin = current_admin(ctx)?;
        let row = audited(ctx, Subject::Content, id, "content.update", move |conn| {
            async move {
                // SEO fields live beside the row: their change is an entry of its own.
                let seo_subject = match &update.seo {
                    Some(_) => ContentItemRow::find(conn, id)
                        .await?
                        .map(|r| SeoSubject::from(r.kind)),
                    None => None,
                };
                let before = match seo_subject {
                    Some(subject) => seo::snapshot(conn, subject, id).await?,
                    None => None,
                };
                let row = pages_posts::update(conn, id, update).await?;
                if let Some(subject) = seo_subject {
                    let entry = AuditEntry {
                        action: "content.seo",
                        subject_type: Subject::Content.as_str(),
                        subject_id: Some(id),
                        before,
                        after: seo::snapshot(conn, subject, id).await?,
                        reason: None,
                    };
                    audit::record(conn, admin, entry).await?;
                }
                Ok(row)
            }
            .boxed()
        })
        .await?;
        Ok(ContentItem(row))
    }

    /// Publishes a page or post now, or schedules it for `at` (admins); a
    /// scheduled item goes public at its time.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_publish_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        at: Option<DateTime<Utc>>,
    ) -> ApiResult<ContentItem> {
        let id = parse_id("id", &id)?;
        let at = check_date("at", at)?;
        let row = audited(ctx, Subject::Content, id, "content.publish", move |conn| {
            async move { pages_posts::publish(conn, id, at).await }.boxed()
        })
        .await?;
        Ok(ContentItem(row))
    }

    /// Back to DRAFT, hidden from visitors (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_unpublish_content(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ContentItem> {
        let id = parse_id("id", &id)?;
        let row = audited(
            ctx,
            Subject::Content,
            id,
            "content.unpublish",
            move |conn| async move { pages_posts::unpublish(conn, id).await }.boxed(),
        )
        .await?;
        Ok(ContentItem(row))
    }

    /// Deletes a page or post with its SEO fields and redirects (admins); returns its id.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_delete_content(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let id = parse_id("id", &id)?;
        let row = audited(ctx, Subject::Content, id, "content.delete", move |conn| {
            async move { pages_posts::delete(conn, id).await }.boxed()
        })
        .await?;
        Ok(row.id.into())
    }

    /// Changes the slug of a category or service (admins); the old one keeps
    /// answering through `slugRedirect`. Returns the new slug.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_slug(
        &self,
        ctx: &Context<'_>,
        subject_type: SeoSubject,
        id: ID,
        slug: String,
    ) -> ApiResult<String> {
        let id = parse_id("id", &id)?;
        let (subject, action) = match subject_type {
            SeoSubject::Category => (Subject::Category, "category.slug"),
            SeoSubject::Service => (Subject::Service, "service.slug"),
            SeoSubject::Page | SeoSubject::Post => {
                return Err(AppError::validation(
                    "subjectType",
                    "pages and posts change their slug with adminUpdateContent",
                )
                .into());
            }
        };
        audited(ctx, subject, id, action, move |conn| {
            async move { slugs::set_catalog_slug(conn, subject_type, id, &slug).await }.boxed()
        })
        .await
    }

    /// Replaces the SEO fields of a page, post, category or service (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_seo(
        &self,
        ctx: &Context<'_>,
        subject_type: SeoSubject,
        id: ID,
        input: SeoInput,
    ) -> ApiResult<bool> {
        let id = parse_id("id", &id)?;
        let admin = current_admin(ctx)?;
        conn(ctx)
            .await?
            .transaction(async move |conn| {
                let before = seo::snapshot(conn, subject_type, id).await?;
                seo::save_for_subject(conn, subject_type, id, input.into()).await?;
                let entry = AuditEntry {
                    action: "seo.update",
                    subject_type: seo_audit_subject(subject_type).as_str(),
                    subject_id: Some(id),
                    before,
                    after: seo::snapshot(conn, subject_type, id).await?,
                    reason: None,
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(())
            })
            .await?;
        Ok(true)
    }

    /// Replaces the site settings (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_update_site_settings(
        &self,
        ctx: &Context<'_>,
        input: SiteSettings,
    ) -> ApiResult<SiteSettings> {
        let admin = current_admin(ctx)?;
        let saved = conn(ctx)
            .await?
            .transaction(async move |conn| {
                let before = site::load(conn).await?;
                let saved = site::save(conn, input.into()).await?;
                let entry = AuditEntry {
                    action: "site_settings.update",
                    subject_type: "site_settings",
                    subject_id: None,
                    before: serde_json::to_value(&before).ok(),
                    after: serde_json::to_value(&saved).ok(),
                    reason: None,
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(saved)
            })
            .await?;
        Ok(saved.into())
    }

    /// Posts an announcement to signed-in users (admins).
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_create_announcement(
        &self,
        ctx: &Context<'_>,
        input: CreateAnnouncementInput,
    ) -> ApiResult<Announcement> {
        let admin = current_user(ctx)?;
        let input = AnnouncementInput {
            title: input.title,
            body_markdown: input.body,
            platform: input.platform,
        };
        let admin = admin.id();
        let row = conn(ctx)
            .await?
            .transaction(async move |conn| {
                let row = announcements::create(conn, admin, input).await?;
                let action = "announcement.create";
                audit::record_created(conn, admin, action, Subject::Announcement, row.id).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(Announcement { row, read_at: None })
    }

    /// Deletes an announcement (admins); returns its id.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_delete_announcement(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let id = parse_id("id", &id)?;
        let action = "announcement.delete";
        let row = audited(ctx, Subject::Announcement, id, action, move |conn| {
            async move { announcements::delete(conn, id).await }.boxed()
        })
        .await?;
        Ok(row.id.into())
    }

    /// Marks announcements read for the caller (at most 100 ids).
    #[graphql(guard = "RoleGuard::User")]
    async fn mark_announcements_read(&self, ctx: &Context<'_>, ids: Vec<ID>) -> ApiResult<bool> {
        let user = current_user(ctx)?;
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<ApiResult<Vec<_>>>()?;
        announcements::mark_read(&mut *conn(ctx).await?, user.id(), &ids).await?;
        Ok(true)
    }

    /// Marks everything the caller is shown as read; returns how many were unread.
    #[graphql(guard = "RoleGuard::User")]
    async fn mark_all_announcements_read(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        let user = current_user(ctx)?;
        let count = announcements::mark_all_read(&mut *conn(ctx).await?, user.id()).await?;
        Ok(count as i32)
    }

    /// Adds a target keyword (admins), optionally assigned to what should rank for it.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_add_seo_keyword(
        &self,
        ctx: &Context<'_>,
        input: AddSeoKeywordInput,
    ) -> ApiResult<SeoKeyword> {
        let subject = match (input.subject_type, input.subject_id) {
            (Some(kind), Some(id)) => Some((kind, parse_id("subjectId", &id)?)),
            (None, None) => None,
            _ => {
                return Err(AppError::validation(
                    "subjectId",
                    "subjectType and subjectId go together",
                )
                .into());
            }
        };
        let admin = current_admin(ctx)?;
        let row = conn(ctx)
            .await?
            .transaction(async move |conn| {
                let row = keywords::add(conn, &input.keyword, subject).await?;
                let action = "seo_keyword.create";
                audit::record_created(conn, admin, action, Subject::SeoKeyword, row.id).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(SeoKeyword(row))
    }

    /// Removes a target keyword (admins); returns its id.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_remove_seo_keyword(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let id = parse_id("id", &id)?;
        let action = "seo_keyword.delete";
        let row = audited(ctx, Subject::SeoKeyword, id, action, move |conn| {
            async move { keywords::remove(conn, id).await }.boxed()
        })
        .await?;
        Ok(row.id.into())
    }

    /// Signs an address up for the newsletter. A confirmation link is mailed to
    /// it (double opt-in); a signed-in user's own address is subscribed at once.
    /// Always true, whether or not the address was subscribed already. Limited
    /// per client address (RATE_LIMITED).
    async fn subscribe_newsletter(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(
            desc = "The language of the confirmation mail (default: the signed-in user's, else Indonesian)."
        )]
        language: Option<Language>,
    ) -> ApiResult<bool> {
        if let Some(ClientAddress(Some(ip))) = ctx.data_opt::<ClientAddress>()
            && let Some(limiter) = ctx.data_opt::<NewsletterSignupLimiter>()
            && limiter.0.check(*ip).is_err()
        {
            return Err(AppError::RateLimited.into());
        }
        let signed_in = viewer(ctx)
            .0
            .as_ref()
            .map(|u| (u.id(), u.user.email.clone()));
        let lang = match language {
            Some(Language::En) => Lang::En,
            Some(Language::Id) => Lang::Id,
            None => viewer(ctx)
                .0
                .as_ref()
                .map_or(Lang::Id, |u| Lang::of(&u.user.language)),
        };
        let state = state(ctx);
        newsletter::sign_up_and_mail(
            &mut *conn(ctx).await?,
            &state.tokens,
            &state.config.content.public_base_url,
            &email,
            signed_in.as_ref().map(|(id, email)| (*id, email.as_str())),
            lang,
        )
        .await?;
        Ok(true)
    }

    /// Queues a newsletter issue (Markdown) for every confirmed address, each
    /// mail with its one-click unsubscribe link (admins). Returns how many mails
    /// were queued.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_send_newsletter(
        &self,
        ctx: &Context<'_>,
        subject: String,
        body: String,
    ) -> ApiResult<i32> {
        let admin = current_admin(ctx)?;
        let state = state(ctx);
        let queued = conn(ctx)
            .await?
            .transaction(async |conn| {
                let queued = newsletter::send_issue(
                    conn,
                    &state.tokens,
                    &state.config.content.public_base_url,
                    &subject,
                    &body,
                )
                .await?;
                let entry = AuditEntry {
                    action: "newsletter.send",
                    subject_type: "newsletter",
                    after: Some(serde_json::json!({ "subject": subject, "recipients": queued })),
                    ..Default::default()
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(queued)
            })
            .await?;
        Ok(queued as i32)
    }

    /// Confirms a newsletter address with the token from its confirmation link.
    async fn confirm_newsletter(
        &self,
        ctx: &Context<'_>,
        email: String,
        token: String,
    ) -> ApiResult<bool> {
        newsletter::confirm(&mut *conn(ctx).await?, &state(ctx).tokens, &email, &token).await?;
        Ok(true)
    }

    /// Unsubscribes a newsletter address with the token from any newsletter mail.
    async fn unsubscribe_newsletter(
        &self,
        ctx: &Context<'_>,
        email: String,
        token: String,
    ) -> ApiResult<bool> {
        newsletter::unsubscribe(&mut *conn(ctx).await?, &state(ctx).tokens, &email, &token).await?;
        Ok(true)
    }
}
