//! Admin writes to pages and posts: create, edit, publish, unpublish, delete.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::enums::{ContentKind, Language},
    domain::{
        audit::Subject,
        content::pages_posts::{self, ContentUpdate, NewContentInput},
    },
    graphql::{
        admin_write, check_date, conn,
        error::{GraphqlError, GraphqlResult},
        guards::RoleGuard,
        parse_id,
        types::content::{ContentItem, SeoInput},
    },
};

#[derive(Default)]
pub struct PagePostMutation;

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

impl TryFrom<CreateContentInput> for NewContentInput {
    type Error = GraphqlError;

    fn try_from(input: CreateContentInput) -> GraphqlResult<Self> {
        let translation_of = input.translation_of.as_ref();
        Ok(NewContentInput {
            kind: input.kind,
            title: input.title,
            slug: input.slug,
            body_markdown: input.body,
            excerpt: input.excerpt,
            cover_image_url: input.cover_image_url,
            tags: input.tags,
            language: input.language,
            translation_of: translation_of
                .map(|id| parse_id("translationOf", id))
                .transpose()?,
            seo: input.seo.map(Into::into),
        })
    }
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

impl From<UpdateContentInput> for ContentUpdate {
    fn from(input: UpdateContentInput) -> Self {
        // Taken apart, so a field added to the input and not carried over does not compile.
        let UpdateContentInput {
            title,
            slug,
            body,
            excerpt,
            cover_image_url,
            tags,
            seo,
        } = input;
        ContentUpdate {
            title,
            slug,
            body_markdown: body,
            excerpt,
            // An empty string removes the cover image.
            cover_image_url: cover_image_url.map(|url| Some(url).filter(|u| !u.trim().is_empty())),
            tags,
            seo: seo.map(Into::into),
        }
    }
}

#[Object]
impl PagePostMutation {
    /// Creates a draft page or post (admins). The Markdown body is rendered to
    /// sanitized HTML; the slug is made from the title unless given.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_create_content(
        &self,
        ctx: &Context<'_>,
        input: CreateContentInput,
    ) -> GraphqlResult<ContentItem> {
        let input = NewContentInput::try_from(input)?;
        let write = admin_write(ctx, "content.create")?;
        let row = write
            .create(&mut *conn(ctx).await?, Subject::Content, async |conn| {
                pages_posts::create(conn, write.admin_id, input).await
            })
            .await?;
        Ok(ContentItem(row))
    }

    /// Edits a page or post (admins). A changed slug leaves the old one redirecting.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_update_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContentInput,
    ) -> GraphqlResult<ContentItem> {
        let id = parse_id("id", &id)?;
        let write = admin_write(ctx, "content.update")?;
        let row = write
            .change(&mut *conn(ctx).await?, Subject::Content, id, async |conn| {
                pages_posts::update(conn, write.admin_id, id, input.into()).await
            })
            .await?;
        Ok(ContentItem(row))
    }

    /// Publishes a page or post now, or schedules it for `at` (admins); a
    /// scheduled item goes public at its time.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_publish_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        at: Option<DateTime<Utc>>,
    ) -> GraphqlResult<ContentItem> {
        let id = parse_id("id", &id)?;
        let at = check_date("at", at)?;
        let row = admin_write(ctx, "content.publish")?
            .change(&mut *conn(ctx).await?, Subject::Content, id, async |conn| {
                pages_posts::publish(conn, id, at).await
            })
            .await?;
        Ok(ContentItem(row))
    }

    /// Back to DRAFT, hidden from visitors (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_unpublish_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GraphqlResult<ContentItem> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "content.unpublish")?
            .change(&mut *conn(ctx).await?, Subject::Content, id, async |conn| {
                pages_posts::unpublish(conn, id).await
            })
            .await?;
        Ok(ContentItem(row))
    }

    /// Deletes a page or post with its SEO fields and redirects (admins); returns its id.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_delete_content(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<ID> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "content.delete")?
            .change(&mut *conn(ctx).await?, Subject::Content, id, async |conn| {
                pages_posts::delete(conn, id).await
            })
            .await?;
        Ok(row.id.into())
    }
}
