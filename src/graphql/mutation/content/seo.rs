//! Admin writes to slugs and SEO fields of pages, posts, categories and services.

use async_graphql::{Context, ID, Object};

use crate::{
    db::enums::SeoSubject,
    domain::{
        audit::Summary,
        content::{seo, slugs},
    },
    graphql::{
        admin_write, conn, error::GraphqlResult, guards::RoleGuard, parse_id,
        types::content::SeoInput,
    },
};

#[derive(Default)]
pub struct SeoMutation;

#[Object]
impl SeoMutation {
    /// Changes the slug of a category or service (admins); the old one keeps
    /// answering through `slugRedirect`. Returns the new slug.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_set_slug(
        &self,
        ctx: &Context<'_>,
        subject_type: SeoSubject,
        id: ID,
        slug: String,
    ) -> GraphqlResult<String> {
        let id = parse_id("id", &id)?;
        let (subject, action) = slugs::catalog_slug_action(subject_type)?;
        Ok(admin_write(ctx, action)?
            .change(&mut *conn(ctx).await?, subject, id, async |conn| {
                slugs::set_catalog_slug(conn, subject_type, id, &slug).await
            })
            .await?)
    }

    /// Replaces the SEO fields of a page, post, category or service (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_set_seo(
        &self,
        ctx: &Context<'_>,
        subject_type: SeoSubject,
        id: ID,
        input: SeoInput,
    ) -> GraphqlResult<bool> {
        let id = parse_id("id", &id)?;
        let audit_subject = seo::audit_subject(subject_type).as_str();
        admin_write(ctx, "seo.update")?
            .bulk(&mut *conn(ctx).await?, audit_subject, async |conn| {
                let before = seo::snapshot(conn, subject_type, id).await?;
                seo::save_for_subject(conn, subject_type, id, input.into()).await?;
                let after = seo::snapshot(conn, subject_type, id).await?;
                let subject_id = Some(id);
                Ok((
                    (),
                    Summary {
                        subject_id,
                        before,
                        after,
                    },
                ))
            })
            .await?;
        Ok(true)
    }
}
