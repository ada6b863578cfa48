//! The public catalogue: categories, the services page (the storefront's from
//! the cache), one service.

use async_graphql::{Context, ID, Object};

use crate::{
    db::{enums::Platform, service_updates::ServiceUpdateRow, services::ServiceFilter},
    domain::catalog::{self, listing::ServicesPage},
    graphql::{
        conn,
        error::GraphqlResult,
        loaders::{CategoryId, Loaders, ProviderId, ServiceId},
        lookup,
        pagination::{
            Page, keyset_args, keyset_connection, list_complexity, node_selects, offset_args,
            offset_connection,
        },
        parse_id, parse_opt_id, prefetch, state,
        types::{
            catalog::{Service, ServiceCategory},
            service_updates::ServiceUpdate,
        },
        viewer,
    },
};

#[derive(Default)]
pub struct CatalogQuery;

/// Loads what the query selects of a services page's relations in one go: the
/// categories (fed from a cached page, else one statement) and, for admins, the
/// providers.
async fn prefetch_relations(ctx: &Context<'_>, found: &ServicesPage) -> GraphqlResult<()> {
    let rows = &found.services().rows;
    if node_selects(ctx, "category") {
        match found.categories() {
            Some(categories) => {
                let categories = categories.iter().map(|c| (CategoryId(c.id), c.clone()));
                ctx.data_unchecked::<Loaders>().feed_many(categories).await;
            }
            None => prefetch(ctx, rows.iter().map(|s| CategoryId(s.category_id))).await?,
        }
    }
    if node_selects(ctx, "provider") && viewer(ctx).can(crate::db::enums::Permission::Catalog) {
        prefetch(
            ctx,
            rows.iter().filter_map(|s| s.provider_id.map(ProviderId)),
        )
        .await?;
    }
    Ok(())
}

#[Object]
impl CatalogQuery {
    /// Active categories in display order (admins: all, with `includeInactive`).
    #[graphql(cache_control(max_age = 60))]
    async fn categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> GraphqlResult<Vec<ServiceCategory>> {
        let include_inactive =
            include_inactive && viewer(ctx).can(crate::db::enums::Permission::Catalog);
        let mut conn = conn(ctx).await?;
        Ok(catalog::list_categories(&mut conn, include_inactive)
            .await?
            .into_iter()
            .map(ServiceCategory)
            .collect())
    }

    /// The catalogue in display order. Open to everyone: the price list is public.
    /// Inactive services are listed for admins asking `includeInactive`.
    #[graphql(
        complexity = "list_complexity(first, child_complexity)",
        cache_control(max_age = 60)
    )]
    #[allow(clippy::too_many_arguments)]
    async fn services(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        category_id: Option<ID>,
        platform: Option<Platform>,
        search: Option<String>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> GraphqlResult<Page<Service>> {
        let page = offset_args(first, after.as_deref())?;
        let filter = ServiceFilter {
            category_id: parse_opt_id("categoryId", category_id.as_ref())?,
            platform,
            search,
            include_inactive: include_inactive
                && viewer(ctx).can(crate::db::enums::Permission::Catalog),
        };
        let app = state(ctx);
        let found = catalog::listing::services_page(&app.caches, &app.pool, &filter, page).await?;
        prefetch_relations(ctx, &found).await?;
        Ok(offset_connection(found.into_services(), Service::from))
    }

    /// One service; inactive ones only for admins.
    #[graphql(cache_control(max_age = 60))]
    async fn service(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Option<Service>> {
        let id = parse_id("id", &id)?;
        // Through the DataLoader: a document aliasing `service(id:)` thousands of
        // times costs one batched query, not one query per alias.
        let found = lookup(ctx, ServiceId(id), "service").await?;
        Ok(found
            .filter(|s| s.active || viewer(ctx).can(crate::db::enums::Permission::Catalog))
            .map(Service))
    }

    /// What changed in the catalogue, newest first: services new, enabled or
    /// disabled, list prices up or down, limits changed (also as Atom at
    /// `/updates.xml`).
    #[graphql(
        complexity = "list_complexity(first, child_complexity)",
        cache_control(max_age = 60)
    )]
    async fn service_updates(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<ServiceUpdate>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = ServiceUpdateRow::list(&mut *conn(ctx).await?, page).await?;
        Ok(keyset_connection(rows, |u| u.id, ServiceUpdate))
    }
}
