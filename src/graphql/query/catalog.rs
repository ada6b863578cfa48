use async_graphql::{Context, ID, Object};

use crate::{
    db::{
        enums::Platform,
        services::{ServiceFilter, ServiceRow},
    },
    domain::catalog,
    graphql::{
        conn,
        error::ApiResult,
        loaders::{CategoryId, Loaders, ProviderId, ServiceId},
        lookup,
        pagination::{Page, list_complexity, offset_args, offset_connection},
        parse_id, prefetch, state,
        types::catalog::{Service, ServiceCategory},
        viewer,
    },
};

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Active categories in display order (admins: all, with `includeInactive`).
    async fn categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> ApiResult<Vec<ServiceCategory>> {
        let include_inactive = include_inactive && viewer(ctx).is_admin();
        let mut conn = conn(ctx).await?;
        Ok(catalog::list_categories(&mut conn, include_inactive)
            .await?
            .into_iter()
            .map(ServiceCategory)
            .collect())
    }

    /// The catalogue in display order. Open to everyone: the price list is public.
    /// Inactive services are listed for admins asking `includeInactive`.
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
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
    ) -> ApiResult<Page<Service>> {
        let page = offset_args(first, after.as_deref())?;
        let filter = ServiceFilter {
            category_id: category_id
                .as_ref()
                .map(|id| parse_id("categoryId", id))
                .transpose()?,
            platform,
            search,
            include_inactive: include_inactive && viewer(ctx).is_admin(),
        };
        let node = ctx.look_ahead().field("edges").field("node");
        let rows = if filter.include_inactive {
            let rows = ServiceRow::list(&mut *conn(ctx).await?, &filter, page).await?;
            if node.field("category").exists() {
                prefetch(ctx, rows.rows.iter().map(|s| CategoryId(s.category_id))).await?;
            }
            rows
        } else {
            // The storefront's page: from the cache, categories included.
            let cached =
                catalog::listing::public_page(&state(ctx).caches, &state(ctx).pool, &filter, page)
                    .await?;
            if node.field("category").exists() {
                let categories = cached.categories.iter();
                ctx.data_unchecked::<Loaders>()
                    .feed_many(categories.map(|c| (CategoryId(c.id), c.clone())))
                    .await;
            }
            cached.services.clone()
        };
        if node.field("provider").exists() && viewer(ctx).is_admin() {
            prefetch(
                ctx,
                rows.rows
                    .iter()
                    .filter_map(|s| s.provider_id.map(ProviderId)),
            )
            .await?;
        }
        Ok(offset_connection(rows, Service))
    }

    /// One service; inactive ones only for admins.
    async fn service(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Service>> {
        let id = parse_id("id", &id)?;
        // Through the DataLoader: a document aliasing `service(id:)` thousands of
        // times costs one batched query, not one query per alias.
        let found = lookup(ctx, ServiceId(id), "service").await?;
        Ok(found
            .filter(|s| s.active || viewer(ctx).is_admin())
            .map(Service))
    }
}
