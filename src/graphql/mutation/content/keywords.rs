//! Admin writes to the target keywords the SEO report follows.

use async_graphql::{Context, ID, InputObject, Object};

use crate::{
    db::enums::SeoSubject,
    domain::{audit::Subject, content::keywords},
    error::AppError,
    graphql::{
        admin_write, conn, error::GraphqlResult, guards::RoleGuard, parse_id,
        types::content::SeoKeyword,
    },
};

#[derive(Default)]
pub struct KeywordMutation;

#[derive(InputObject)]
pub struct AddSeoKeywordInput {
    pub keyword: String,
    /// What should rank for it: with `subjectId`, or neither.
    pub subject_type: Option<SeoSubject>,
    pub subject_id: Option<ID>,
}

impl AddSeoKeywordInput {
    /// The subject named, if any: `subjectType` and `subjectId` go together.
    fn subject(&self) -> GraphqlResult<Option<(SeoSubject, i64)>> {
        match (self.subject_type, &self.subject_id) {
            (Some(kind), Some(id)) => Ok(Some((kind, parse_id("subjectId", id)?))),
            (None, None) => Ok(None),
            _ => Err(
                AppError::validation("subjectId", "subjectType and subjectId go together").into(),
            ),
        }
    }
}

#[Object]
impl KeywordMutation {
    /// Adds a target keyword (admins), optionally assigned to what should rank for it.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_add_seo_keyword(
        &self,
        ctx: &Context<'_>,
        input: AddSeoKeywordInput,
    ) -> GraphqlResult<SeoKeyword> {
        let subject = input.subject()?;
        let row = admin_write(ctx, "seo_keyword.create")?
            .create(&mut *conn(ctx).await?, Subject::SeoKeyword, async |conn| {
                keywords::add(conn, &input.keyword, subject).await
            })
            .await?;
        Ok(SeoKeyword(row))
    }

    /// Removes a target keyword (admins); returns its id.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_remove_seo_keyword(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<ID> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "seo_keyword.delete")?
            .change(
                &mut *conn(ctx).await?,
                Subject::SeoKeyword,
                id,
                async |conn| keywords::remove(conn, id).await,
            )
            .await?;
        Ok(row.id.into())
    }
}
