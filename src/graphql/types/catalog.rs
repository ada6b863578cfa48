//! `ServiceCategory`, `Service` and `Provider`.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        categories::CategoryRow,
        enums::{Currency, Fulfillment, Platform, ProviderKind, SeoSubject, ServiceType},
        providers::ProviderRow,
        service_figures::ServiceFiguresRow,
        services::ServiceRow,
    },
    domain::{content::seo, orders::refill, pricing},
    graphql::types::content::{SeoMeta, seo_meta},
    graphql::viewer,
    graphql::{
        error::GraphqlResult,
        flat::Flat,
        guards::RoleGuard,
        load,
        loaders::{CategoryId, ProviderId, ProviderStatsOf, ServiceId},
        scalars::{Decimal, Rupiah},
    },
};

pub struct ServiceCategory(pub CategoryRow);

#[Object]
impl ServiceCategory {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Position in the catalogue, ascending.
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }

    async fn active(&self) -> bool {
        self.0.active
    }

    /// The URL name; old slugs redirect here (see `slugRedirect`).
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The path on the public site: `/<slug>`.
    async fn path(&self) -> String {
        seo::category_path(&self.0.slug)
    }

    async fn seo(&self, ctx: &Context<'_>) -> GraphqlResult<SeoMeta> {
        seo_meta(
            ctx,
            SeoSubject::Category,
            self.0.id,
            seo::SeoSource {
                title: &self.0.name,
                text: &self.0.description,
                path: seo::category_path(&self.0.slug),
                image_url: None,
            },
        )
        .await
    }
}

pub struct Service(pub Arc<ServiceRow>);

impl From<ServiceRow> for Service {
    fn from(row: ServiceRow) -> Service {
        Service(Arc::new(row))
    }
}

impl Service {
    /// The service `id`, through the request's DataLoader.
    pub async fn load(ctx: &Context<'_>, id: i64) -> GraphqlResult<Service> {
        load(ctx, ServiceId(id), "service").await.map(Service)
    }

    /// [`Service::load`] for an optional reference.
    pub async fn load_opt(ctx: &Context<'_>, id: Option<i64>) -> GraphqlResult<Option<Service>> {
        match id {
            Some(id) => Service::load(ctx, id).await.map(Some),
            None => Ok(None),
        }
    }
}

#[Object]
impl Service {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn platform(&self) -> Platform {
        self.0.platform
    }

    /// The URL name; old slugs redirect here (see `slugRedirect`).
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The path on the public site: `/services/<slug>`.
    async fn path(&self) -> String {
        seo::service_path(&self.0.slug)
    }

    async fn seo(&self, ctx: &Context<'_>) -> GraphqlResult<SeoMeta> {
        seo_meta(
            ctx,
            SeoSubject::Service,
            self.0.id,
            seo::SeoSource {
                title: &self.0.name,
                text: &self.0.description,
                path: seo::service_path(&self.0.slug),
                image_url: None,
            },
        )
        .await
    }

    /// The order type: decides which extra fields an order needs.
    #[graphql(name = "type")]
    async fn service_type(&self) -> ServiceType {
        self.0.service_type
    }

    async fn category(&self, ctx: &Context<'_>) -> GraphqlResult<ServiceCategory> {
        load(ctx, CategoryId(self.0.category_id), "category")
            .await
            .map(ServiceCategory)
    }

    /// Price of 1000 units in rupiah for the caller (after their reseller discount,
    /// if any). An order costs this x quantity / 1000, rounded up.
    async fn price_per_1000(&self, ctx: &Context<'_>) -> GraphqlResult<Rupiah> {
        let discount = viewer(ctx)
            .0
            .as_ref()
            .map_or(0, |u| u.user.effective_discount_bps());
        let list = self.0.price_per_1000;
        if discount == 0 {
            return Ok(Rupiah(list));
        }
        let cost = match self.0.provider_id {
            Some(id) => {
                let provider = load(ctx, ProviderId(id), "provider").await?;
                pricing::cost_per_1000(self.0.provider_rate.as_ref(), &provider.exchange_rate)
            }
            None => None,
        };
        let discount = pricing::applicable_discount_bps(
            discount,
            cost.is_some(),
            crate::graphql::state(ctx)
                .config
                .catalog
                .own_product_max_discount_bps,
        );
        Ok(Rupiah(pricing::discounted_price_per_1000(
            list, discount, cost,
        )))
    }

    async fn min_quantity(&self) -> i64 {
        self.0.min_quantity
    }

    async fn max_quantity(&self) -> i64 {
        self.0.max_quantity
    }

    /// Quantities must be a multiple of this.
    async fn quantity_step(&self) -> i64 {
        self.0.quantity_step
    }

    /// Whether a refill can be requested after completion.
    async fn refill(&self) -> bool {
        self.0.refill
    }

    /// Whether a running order can be cancelled.
    async fn cancel(&self) -> bool {
        self.0.cancel
    }

    /// Whether drip-feed (runs and interval) is offered: by the provider, or run
    /// by the panel.
    async fn dripfeed(&self) -> bool {
        crate::domain::orders::drip::offers_dripfeed(&self.0)
    }

    /// The refill warranty: days after completion a refill may be asked for (0:
    /// no refill).
    async fn refill_period_days(&self, ctx: &Context<'_>) -> i32 {
        refill::refill_period_days(&self.0, &crate::graphql::state(ctx).config.orders)
    }

    /// Hours between two refills of one order.
    async fn refill_cooldown_hours(&self, ctx: &Context<'_>) -> i32 {
        refill::refill_cooldown_hours(&self.0, &crate::graphql::state(ctx).config.orders)
    }

    /// Whether an order is refused while the customer has another active order
    /// on the same link.
    async fn same_link_guard(&self) -> bool {
        self.0.same_link_guard
    }

    /// Whether drip-feed orders on it are run by the panel, one order per run
    /// (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn dripfeed_by_panel(&self) -> bool {
        self.0.dripfeed_by_panel
    }

    /// Figures measured from this panel's own orders (start time, speed,
    /// outcomes, refills), recomputed by a job; null until it first ran. They
    /// stand beside the description an admin wrote, never replace it.
    async fn figures(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Flat<ServiceFigures>>> {
        let key = crate::graphql::loaders::FiguresOf(self.0.id);
        let found = crate::graphql::load_optional(ctx, key, "service figures").await?;
        Ok(found.map(|row| Flat(ServiceFigures(row))))
    }

    /// Typical time from order to completion, in seconds, when known.
    async fn average_completion_seconds(&self) -> Option<i64> {
        self.0.average_completion_seconds
    }

    async fn active(&self) -> bool {
        self.0.active
    }

    /// How orders are fulfilled (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn fulfillment(&self) -> Fulfillment {
        self.0.fulfillment
    }

    /// The upstream provider of an imported service (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn provider(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Flat<Provider>>> {
        // Flat (`flat.rs`), as `figures` and `seo`: a service is repeated on every
        // row of a page of orders, and these keep its fields small.
        match self.0.provider_id {
            Some(id) => load(ctx, ProviderId(id), "provider")
                .await
                .map(|p| Some(Flat(Provider(p)))),
            None => Ok(None),
        }
    }

    /// The provider's id for this service (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn provider_service_id(&self) -> Option<&str> {
        self.0.provider_service_id.as_deref()
    }

    /// The provider's price per 1000 in its own currency (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn provider_rate(&self) -> Option<Decimal> {
        self.0.provider_rate.clone().map(Decimal)
    }

    /// This service's own markup, overriding the provider's and the default (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn markup_basis_points(&self) -> Option<i32> {
        self.0.markup_bps
    }

    /// Where orders go when this service's provider refuses them (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn fallback_service(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Service>> {
        Service::load_opt(ctx, self.0.fallback_service_id).await
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An upstream panel. Its API key is never returned, only a masked hint.
pub struct Provider(pub ProviderRow);

#[Object]
impl Provider {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn kind(&self) -> ProviderKind {
        self.0.kind
    }

    async fn base_url(&self) -> &str {
        &self.0.base_url
    }

    /// The API key, masked: `****` and its last four characters.
    async fn api_key_masked(&self) -> &str {
        &self.0.api_key_hint
    }

    async fn api_id(&self) -> Option<&str> {
        self.0.api_id.as_deref()
    }

    async fn currency(&self) -> Currency {
        self.0.currency
    }

    /// Rupiah per one unit of the provider's currency.
    async fn exchange_rate(&self) -> Decimal {
        Decimal(self.0.exchange_rate.clone())
    }

    /// The provider's markup for its services; null means the panel default.
    async fn markup_basis_points(&self) -> Option<i32> {
        self.0.markup_bps
    }

    async fn active(&self) -> bool {
        self.0.active
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// False while the provider is paused after repeated failures; its orders wait.
    async fn healthy(&self) -> bool {
        crate::domain::provider_health::is_healthy(&self.0)
    }

    async fn unhealthy_until(&self) -> Option<DateTime<Utc>> {
        self.0.unhealthy_until.filter(|until| *until > Utc::now())
    }

    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }

    async fn last_success_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_success_at
    }

    /// The provider's last error message, as it sent it.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn last_latency_ms(&self) -> Option<i32> {
        self.0.last_latency_ms
    }

    /// The balance at the provider, in its currency, when last checked.
    async fn balance(&self) -> Option<Decimal> {
        self.0.balance.clone().map(Decimal)
    }

    async fn balance_checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.balance_checked_at
    }

    async fn low_balance_threshold(&self) -> Option<Decimal> {
        self.0.low_balance_threshold.clone().map(Decimal)
    }

    async fn calls_last_hour(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        Ok(load(ctx, ProviderStatsOf(self.0.id), "provider stats")
            .await?
            .calls)
    }

    async fn failures_last_hour(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        Ok(load(ctx, ProviderStatsOf(self.0.id), "provider stats")
            .await?
            .failures)
    }

    async fn mean_latency_ms_last_hour(&self, ctx: &Context<'_>) -> GraphqlResult<Option<i64>> {
        Ok(load(ctx, ProviderStatsOf(self.0.id), "provider stats")
            .await?
            .mean_latency_ms)
    }
}

/// What this panel measured of a service over the orders placed in the last
/// `windowDays` days. Times in seconds; shares in basis points (10000 = all).
pub struct ServiceFigures(ServiceFiguresRow);

#[Object]
impl ServiceFigures {
    /// Placement to first progress, median.
    async fn start_p50_seconds(&self) -> Option<i64> {
        self.0.start_p50_seconds
    }

    /// Placement to first progress, 90th percentile.
    async fn start_p90_seconds(&self) -> Option<i64> {
        self.0.start_p90_seconds
    }

    /// Orders the start time was measured over.
    async fn started_orders(&self) -> i32 {
        self.0.started_orders
    }

    /// Placement to completion per 1000 units, over the last 10 completed orders
    /// ("average time").
    async fn seconds_per_1000(&self) -> Option<i64> {
        self.0.seconds_per_1000
    }

    /// Orders the speed was measured over (at most 10).
    async fn timed_orders(&self) -> i32 {
        self.0.timed_orders
    }

    /// Of the orders that ended, the share that ended PARTIAL or CANCELED.
    async fn partial_or_canceled_bps(&self) -> Option<i32> {
        self.0.partial_or_canceled_bps
    }

    /// Orders that ended in the window.
    async fn ended_orders(&self) -> i32 {
        self.0.ended_orders
    }

    /// Refill requests per completed order.
    async fn refill_requests_bps(&self) -> Option<i32> {
        self.0.refill_requests_bps
    }

    async fn window_days(&self) -> i32 {
        self.0.window_days
    }

    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }
}
