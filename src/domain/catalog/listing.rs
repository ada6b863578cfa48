//! The catalogue as buyers read it, served from the process's caches
//! (`cache`): pages of active services with their categories, and services by
//! id for placing orders and for showing an order's service. Any change to
//! services, categories or a provider's rate empties both (triggers announce
//! it; admin mutations through this process empty them at once), so what a
//! buyer sees and pays is never older than the last committed change.

use std::sync::Arc;

use diesel_async::AsyncPgConnection;

use crate::{
    cache::{Caches, CatalogPage, CatalogPageKey},
    db::{
        PgPool,
        categories::CategoryRow,
        pagination::{OffsetPage, Paginated},
        services::{ServiceFilter, ServiceRow},
    },
    error::AppResult,
};

/// A page of the catalogue as `filter` asks: the storefront's (active services
/// only) from the cache with its categories, an admin's `include_inactive`
/// listing read directly, its categories left to the caller's loaders.
pub enum ServicesPage {
    Storefront(Arc<CatalogPage>),
    Admin(Paginated<ServiceRow>),
}

impl ServicesPage {
    pub fn services(&self) -> &Paginated<ServiceRow> {
        match self {
            ServicesPage::Storefront(page) => &page.services,
            ServicesPage::Admin(services) => services,
        }
    }

    /// The page's services, owned (a cached page is copied).
    pub fn into_services(self) -> Paginated<ServiceRow> {
        match self {
            ServicesPage::Storefront(page) => page.services.clone(),
            ServicesPage::Admin(services) => services,
        }
    }

    /// The categories of the page's services, when the page came with them.
    pub fn categories(&self) -> Option<&[CategoryRow]> {
        match self {
            ServicesPage::Storefront(page) => Some(&page.categories),
            ServicesPage::Admin(_) => None,
        }
    }
}

/// The catalogue page `filter` asks for (see [`ServicesPage`]); the caller
/// decides whether `include_inactive` is allowed.
pub async fn services_page(
    caches: &Caches,
    pool: &PgPool,
    filter: &ServiceFilter,
    page: OffsetPage,
) -> AppResult<ServicesPage> {
    if filter.include_inactive {
        let mut conn = pool.get().await?;
        return Ok(ServicesPage::Admin(
            ServiceRow::list(&mut conn, filter, page).await?,
        ));
    }
    Ok(ServicesPage::Storefront(
        public_page(caches, pool, filter, page).await?,
    ))
}

/// A page of active services in active categories (`filter.include_inactive`
/// is ignored: admins' listings with inactive services are read directly).
pub async fn public_page(
    caches: &Caches,
    pool: &PgPool,
    filter: &ServiceFilter,
    page: OffsetPage,
) -> AppResult<Arc<CatalogPage>> {
    let key = CatalogPageKey {
        category_id: filter.category_id,
        platform: filter.platform,
        search: filter.search.clone(),
        offset: page.offset,
        limit: page.limit,
    };
    let cache = caches.catalog_pages();
    if let Some(found) = cache.get(&key) {
        return Ok(found);
    }
    let generation = cache.generation();
    let mut conn = pool.get().await?;
    let filter = ServiceFilter {
        include_inactive: false,
        ..filter.clone()
    };
    let services = ServiceRow::list(&mut conn, &filter, page).await?;
    let mut category_ids: Vec<i64> = services.rows.iter().map(|s| s.category_id).collect();
    category_ids.sort_unstable();
    category_ids.dedup();
    let categories = CategoryRow::load_many(&mut conn, &category_ids).await?;
    let found = Arc::new(CatalogPage {
        services,
        categories,
    });
    cache.insert(generation, key, found.clone());
    Ok(found)
}

/// A service by id, active or not (callers decide what an inactive one means);
/// read through `conn` when it is not cached.
pub async fn service(
    caches: &Caches,
    conn: &mut AsyncPgConnection,
    id: i64,
) -> AppResult<Option<ServiceRow>> {
    let cache = caches.services();
    if let Some(found) = cache.get(&id) {
        return Ok(Some(found));
    }
    let generation = cache.generation();
    let found = ServiceRow::find(conn, id).await?;
    if let Some(service) = &found {
        cache.insert(generation, id, service.clone());
    }
    Ok(found)
}

/// Services by id, active or not, in no particular order: the cached ones from
/// the cache, the rest in one statement (a page of orders shows its services
/// without reading them again).
pub async fn services(caches: &Caches, pool: &PgPool, ids: &[i64]) -> AppResult<Vec<ServiceRow>> {
    let cache = caches.services();
    let mut found = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for &id in ids {
        match cache.get(&id) {
            Some(service) => found.push(service),
            None => missing.push(id),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    let generation = cache.generation();
    let loaded = ServiceRow::load_many(&mut *pool.get().await?, &missing).await?;
    for service in &loaded {
        cache.insert(generation, service.id, service.clone());
    }
    found.extend(loaded);
    Ok(found)
}
