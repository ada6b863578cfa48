//! Admin queries of the catalogue import: a provider's catalogue compared with what
//! was imported, and the log of catalogue changes.

use async_graphql::{Context, ID, Object};

use crate::{
    db::catalog_changes::CatalogChangeRow,
    domain::catalog_import,
    graphql::{
        conn,
        error::GraphqlResult,
        guards::RoleGuard,
        pagination::{Page, keyset_args, keyset_connection, list_complexity},
        parse_id, state,
        types::catalog_import::{CatalogChange, CatalogPreview},
    },
};

#[derive(Default)]
pub struct AdminCatalogImportQuery;

#[Object]
impl AdminCatalogImportQuery {
    /// Asks the provider for its catalogue and compares it with the services imported
    /// from it: what is new, what changed (old and new rate and price), what is gone.
    /// Writes nothing.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_preview_provider_catalog(
        &self,
        ctx: &Context<'_>,
        provider_id: ID,
    ) -> GraphqlResult<CatalogPreview> {
        let provider_id = parse_id("providerId", &provider_id)?;
        let state = state(ctx);
        let provider = catalog_import::find_provider(&mut *conn(ctx).await?, provider_id).await?;
        // No database connection is held while the provider answers.
        let client = state.provider_client(&provider)?;
        let remote = catalog_import::fetch_catalog(client.as_ref()).await?;
        let mut conn = conn(ctx).await?;
        Ok(CatalogPreview(
            catalog_import::preview(&mut conn, &provider, &remote).await?,
        ))
    }

    /// What the catalogue sync and imports saw change at a provider, newest first.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_catalog_changes(
        &self,
        ctx: &Context<'_>,
        provider_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<CatalogChange>> {
        let provider_id = parse_id("providerId", &provider_id)?;
        let page = keyset_args(ctx, first, after.as_deref())?;
        let mut conn = conn(ctx).await?;
        catalog_import::find_provider(&mut conn, provider_id).await?;
        let rows = CatalogChangeRow::list_for_provider(&mut conn, provider_id, page).await?;
        Ok(keyset_connection(rows, |c| c.id, CatalogChange))
    }
}
