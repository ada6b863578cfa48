use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, OneofObject, SimpleObject};
use diesel_async::AsyncConnection;
use serde_json::json;

use crate::{
    db::enums::{Currency, Fulfillment, Platform, ProviderKind, ServiceType},
    domain::{
        audit::{self, AuditEntry, Change, Subject},
        catalog::{
            self, CategoryInput, NewServiceInput, ProviderInput, ServicePricing, ServiceUpdate,
        },
        pricing,
    },
    error::AppError,
    graphql::{
        conn, current_user,
        error::ApiResult,
        guards::RoleGuard,
        parse_id,
        scalars::{Decimal, Rupiah},
        state,
        types::catalog::{Provider, Service, ServiceCategory},
    },
};

#[derive(Default)]
pub struct AdminCatalogMutation;

#[derive(InputObject)]
pub struct CreateCategoryInput {
    pub name: String,
    #[graphql(default)]
    pub description: String,
    /// Position; defaults to after the last category.
    pub sort_order: Option<i32>,
    #[graphql(default = true)]
    pub active: bool,
}

#[derive(InputObject)]
pub struct UpdateCategoryInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

/// A service imported from a provider: priced from the provider's rate and the markup.
#[derive(InputObject)]
pub struct ImportedPricingInput {
    pub provider_id: ID,
    pub provider_service_id: String,
    /// The provider's price per 1000 in the provider's currency.
    pub provider_rate: Decimal,
    /// This service's own markup; omit to use the provider's or the default.
    pub markup_basis_points: Option<i32>,
}

/// An own product, priced freely.
#[derive(InputObject)]
pub struct OwnPricingInput {
    pub price_per_1000: Rupiah,
    /// STOCK (delivered from uploaded stock) or MANUAL.
    #[graphql(default_with = "Fulfillment::Stock")]
    pub fulfillment: Fulfillment,
}

#[derive(OneofObject)]
pub enum ServicePricingInput {
    Provider(ImportedPricingInput),
    Own(OwnPricingInput),
}

#[derive(InputObject)]
pub struct CreateServiceInput {
    pub category_id: ID,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub platform: Platform,
    #[graphql(name = "type", default_with = "ServiceType::Default")]
    pub service_type: ServiceType,
    pub pricing: ServicePricingInput,
    pub min_quantity: i64,
    pub max_quantity: i64,
    #[graphql(default = 1)]
    pub quantity_step: i64,
    #[graphql(default = false)]
    pub refill: bool,
    #[graphql(default = false)]
    pub cancel: bool,
    #[graphql(default = false)]
    pub dripfeed: bool,
    #[graphql(default = true)]
    pub active: bool,
}

/// Fields left out keep their value. `markupBasisPoints: null` clears the service's
/// own markup.
#[derive(InputObject)]
pub struct UpdateServiceInput {
    pub category_id: Option<ID>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub platform: Option<Platform>,
    #[graphql(name = "type")]
    pub service_type: Option<ServiceType>,
    /// Imported services only.
    pub provider_rate: Option<Decimal>,
    /// Imported services only.
    pub markup_basis_points: MaybeUndefined<i32>,
    /// Own products only.
    pub price_per_1000: Option<Rupiah>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub quantity_step: Option<i64>,
    pub refill: Option<bool>,
    pub cancel: Option<bool>,
    pub dripfeed: Option<bool>,
    pub active: Option<bool>,
    /// Another provider's service to send orders to when this provider refuses one;
    /// null removes it.
    pub fallback_service_id: MaybeUndefined<ID>,
}

#[derive(InputObject)]
pub struct CreateProviderInput {
    pub name: String,
    pub kind: ProviderKind,
    /// The API endpoint, e.g. `https://justanotherpanel.com/api/v2`.
    pub base_url: String,
    /// Stored encrypted; never returned.
    pub api_key: String,
    /// MedanPedia's `api_id`.
    pub api_id: Option<String>,
    /// Defaults to USD for API v2 panels, IDR for MedanPedia.
    pub currency: Option<Currency>,
    /// Rupiah per unit of the provider's currency; required for USD.
    pub exchange_rate: Option<Decimal>,
    pub markup_basis_points: Option<i32>,
    #[graphql(default = true)]
    pub active: bool,
}

#[derive(InputObject)]
pub struct UpdateProviderInput {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub api_id: MaybeUndefined<String>,
    pub currency: Option<Currency>,
    pub exchange_rate: Option<Decimal>,
    /// null returns the provider to the panel default.
    pub markup_basis_points: MaybeUndefined<i32>,
    pub active: Option<bool>,
    /// Admins are notified when the provider's balance falls below this; null disables.
    pub low_balance_threshold: MaybeUndefined<Decimal>,
}

#[derive(SimpleObject)]
pub struct SetDefaultMarkupPayload {
    pub default_markup_basis_points: i32,
    /// How many imported services changed price.
    pub repriced_services: u64,
}

fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[Object]
impl AdminCatalogMutation {
    /// Creates a service category (admins). Its name is unique; new categories go last in the display order.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> ApiResult<ServiceCategory> {
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let input = CategoryInput {
            name: Some(input.name),
            description: Some(input.description),
            sort_order: input.sort_order,
            active: Some(input.active),
        };
        let row = conn
            .transaction(async move |conn| {
                let row = catalog::create_category(conn, input).await?;
                audit::record_created(conn, admin, "category.create", Subject::Category, row.id)
                    .await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(ServiceCategory(row))
    }

    /// Renames, describes, (de)activates or moves a category (admins). Deactivating hides its services from the catalogue.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_update_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCategoryInput,
    ) -> ApiResult<ServiceCategory> {
        let id = parse_id("id", &id)?;
        let mut conn = conn(ctx).await?;
        let input = CategoryInput {
            name: input.name,
            description: input.description,
            sort_order: input.sort_order,
            active: input.active,
        };
        let admin = current_user(ctx)?.id();
        let row = conn
            .transaction(async move |conn| {
                let change = Change::begin(conn, Subject::Category, id).await?;
                let row = catalog::update_category(conn, id, input).await?;
                change.finish(conn, admin, "category.update", None).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(ServiceCategory(row))
    }

    /// Sets the display order of all categories: `ids` lists every category once.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_reorder_categories(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> ApiResult<Vec<ServiceCategory>> {
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<ApiResult<Vec<_>>>()?;
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let rows = conn
            .transaction(async |conn| {
                let rows = catalog::reorder_categories(conn, &ids).await?;
                let entry = AuditEntry {
                    action: "category.reorder",
                    subject_type: Subject::Category.as_str(),
                    after: Some(json!({ "ids": ids })),
                    ..Default::default()
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(rows)
            })
            .await?;
        Ok(rows.into_iter().map(ServiceCategory).collect())
    }

    /// Creates a service (admins): imported from a provider (priced by the markup rule from the provider's rate) or an own STOCK or MANUAL product with a fixed price.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_create_service(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceInput,
    ) -> ApiResult<Service> {
        let pricing = match input.pricing {
            ServicePricingInput::Provider(p) => ServicePricing::Provider {
                provider_id: parse_id("providerId", &p.provider_id)?,
                provider_service_id: p.provider_service_id,
                provider_rate: p.provider_rate.0,
                markup_bps: p.markup_basis_points,
            },
            ServicePricingInput::Own(o) => ServicePricing::Own {
                price_per_1000: o.price_per_1000.0,
                fulfillment: o.fulfillment,
            },
        };
        let input = NewServiceInput {
            category_id: parse_id("categoryId", &input.category_id)?,
            name: input.name,
            description: input.description,
            platform: input.platform,
            service_type: input.service_type,
            pricing,
            min_quantity: input.min_quantity,
            max_quantity: input.max_quantity,
            quantity_step: input.quantity_step,
            refill: input.refill,
            cancel: input.cancel,
            dripfeed: input.dripfeed,
            active: input.active,
        };
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let row = conn
            .transaction(async move |conn| {
                let row = catalog::create_service(conn, input).await?;
                audit::record_created(conn, admin, "service.create", Subject::Service, row.id)
                    .await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(Service(row))
    }

    /// Changes a service (admins): name, description, limits, flags, markup or price, fallback service; a price change applies to new orders only.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_update_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateServiceInput,
    ) -> ApiResult<Service> {
        let id = parse_id("id", &id)?;
        let update = ServiceUpdate {
            category_id: input
                .category_id
                .as_ref()
                .map(|c| parse_id("categoryId", c))
                .transpose()?,
            name: input.name,
            description: input.description,
            platform: input.platform,
            service_type: input.service_type,
            provider_rate: input.provider_rate.map(|d| d.0),
            markup_bps: maybe(input.markup_basis_points),
            price_per_1000: input.price_per_1000.map(|r| r.0),
            min_quantity: input.min_quantity,
            max_quantity: input.max_quantity,
            quantity_step: input.quantity_step,
            refill: input.refill,
            cancel: input.cancel,
            dripfeed: input.dripfeed,
            active: input.active,
            fallback_service_id: match maybe(input.fallback_service_id) {
                None => None,
                Some(None) => Some(None),
                Some(Some(id)) => Some(Some(parse_id("fallbackServiceId", &id)?)),
            },
        };
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let row = conn
            .transaction(async move |conn| {
                let change = Change::begin(conn, Subject::Service, id).await?;
                let row = catalog::update_service(conn, id, update).await?;
                change.finish(conn, admin, "service.update", None).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(Service(row))
    }

    /// Deactivates (hides from customers, refuses new orders) or reactivates a service.
    /// Services are never deleted: orders keep pointing at them.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_service_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> ApiResult<Service> {
        let id = parse_id("id", &id)?;
        let mut conn = conn(ctx).await?;
        let update = ServiceUpdate {
            active: Some(active),
            ..Default::default()
        };
        let admin = current_user(ctx)?.id();
        let action = if active {
            "service.activate"
        } else {
            "service.deactivate"
        };
        let row = conn
            .transaction(async move |conn| {
                let change = Change::begin(conn, Subject::Service, id).await?;
                let row = catalog::update_service(conn, id, update).await?;
                change.finish(conn, admin, action, None).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(Service(row))
    }

    /// Sets the order of the services in a category: `ids` lists each of them once.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_reorder_services(
        &self,
        ctx: &Context<'_>,
        category_id: ID,
        ids: Vec<ID>,
    ) -> ApiResult<Vec<Service>> {
        let category_id = parse_id("categoryId", &category_id)?;
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<ApiResult<Vec<_>>>()?;
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let rows = conn
            .transaction(async |conn| {
                let rows = catalog::reorder_services(conn, category_id, &ids).await?;
                let entry = AuditEntry {
                    action: "service.reorder",
                    subject_type: Subject::Category.as_str(),
                    subject_id: Some(category_id),
                    after: Some(json!({ "ids": ids })),
                    ..Default::default()
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(rows)
            })
            .await?;
        Ok(rows.into_iter().map(Service).collect())
    }

    /// Connects an upstream provider (admins). The API key is encrypted at rest and never returned; `exchangeRate` converts its prices to rupiah.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_create_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateProviderInput,
    ) -> ApiResult<Provider> {
        let mut conn = conn(ctx).await?;
        let input = ProviderInput {
            name: Some(input.name),
            kind: Some(input.kind),
            base_url: Some(input.base_url),
            api_key: Some(input.api_key),
            api_id: Some(input.api_id),
            currency: input.currency,
            exchange_rate: input.exchange_rate.map(|d| d.0),
            markup_bps: Some(input.markup_basis_points),
            active: Some(input.active),
            low_balance_threshold: None,
        };
        let admin = current_user(ctx)?.id();
        let secrets = &state(ctx).secrets;
        let row = conn
            .transaction(async move |conn| {
                let row = catalog::create_provider(conn, secrets, input).await?;
                audit::record_created(conn, admin, "provider.create", Subject::Provider, row.id)
                    .await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(Provider(row))
    }

    /// Changing the exchange rate or markup reprices the provider's services at once.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_update_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProviderInput,
    ) -> ApiResult<Provider> {
        let id = parse_id("id", &id)?;
        let mut conn = conn(ctx).await?;
        let input = ProviderInput {
            name: input.name,
            kind: None,
            base_url: input.base_url,
            api_key: input.api_key,
            api_id: maybe(input.api_id),
            currency: input.currency,
            exchange_rate: input.exchange_rate.map(|d| d.0),
            markup_bps: maybe(input.markup_basis_points),
            active: input.active,
            low_balance_threshold: maybe(input.low_balance_threshold).map(|t| t.map(|d| d.0)),
        };
        let admin = current_user(ctx)?.id();
        let secrets = &state(ctx).secrets;
        let row = conn
            .transaction(async move |conn| {
                let change = Change::begin(conn, Subject::Provider, id).await?;
                let row = catalog::update_provider(conn, secrets, id, input).await?;
                change.finish(conn, admin, "provider.update", None).await?;
                Ok::<_, AppError>(row)
            })
            .await?;
        Ok(Provider(row))
    }

    /// Sets the panel-wide markup (basis points, 1000 = 10%) and reprices the imported
    /// services it applies to.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_default_markup(
        &self,
        ctx: &Context<'_>,
        basis_points: i32,
    ) -> ApiResult<SetDefaultMarkupPayload> {
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let repriced = conn
            .transaction(async |conn| {
                let before = pricing::default_markup_bps(conn).await?;
                let repriced = pricing::set_default_markup(conn, basis_points).await?;
                let entry = AuditEntry {
                    action: "settings.default_markup",
                    subject_type: "setting",
                    before: Some(json!({ "defaultMarkupBasisPoints": before })),
                    after: Some(json!({
                        "defaultMarkupBasisPoints": basis_points,
                        "repricedServices": repriced,
                    })),
                    ..Default::default()
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(repriced)
            })
            .await?;
        Ok(SetDefaultMarkupPayload {
            default_markup_basis_points: basis_points,
            repriced_services: repriced,
        })
    }
}
