//! Admin writes to services: create (imported or own), update, (de)activate,
//! reorder within a category.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, OneofObject};
use serde_json::json;

use crate::{
    db::{
        enums::{Fulfillment, Platform, ServiceType},
        services::ServiceChangeset,
    },
    domain::{
        audit::{Subject, Summary},
        catalog::{self, NewServiceInput, ServicePricing},
    },
    graphql::{
        admin_write, conn,
        error::{GraphqlError, GraphqlResult},
        guards::RoleGuard,
        parse_id, parse_ids,
        scalars::{Decimal, Rupiah},
        types::catalog::Service,
    },
};

#[derive(Default)]
pub struct ServiceMutation;

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
    /// The refill warranty in days after completion (0: no refill); null goes back
    /// to the panel's `REFILL_PERIOD_DAYS`.
    pub refill_period_days: MaybeUndefined<i32>,
    /// Hours between two refills of one order; null goes back to `REFILL_COOLDOWN_HOURS`.
    pub refill_cooldown_hours: MaybeUndefined<i32>,
    /// Refuse an order while the customer has another active order on the link.
    pub same_link_guard: Option<bool>,
    /// Run drip-feed orders on this service by the panel: one order of `quantity` per
    /// run, `interval` minutes apart (for providers that do not run drip-feed).
    pub dripfeed_by_panel: Option<bool>,
}

impl TryFrom<ServicePricingInput> for ServicePricing {
    type Error = GraphqlError;

    fn try_from(pricing: ServicePricingInput) -> GraphqlResult<Self> {
        Ok(match pricing {
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
        })
    }
}

impl TryFrom<CreateServiceInput> for NewServiceInput {
    type Error = GraphqlError;

    fn try_from(input: CreateServiceInput) -> GraphqlResult<Self> {
        Ok(NewServiceInput {
            category_id: parse_id("categoryId", &input.category_id)?,
            name: input.name,
            description: input.description,
            platform: input.platform,
            service_type: input.service_type,
            pricing: input.pricing.try_into()?,
            min_quantity: input.min_quantity,
            max_quantity: input.max_quantity,
            quantity_step: input.quantity_step,
            refill: input.refill,
            cancel: input.cancel,
            dripfeed: input.dripfeed,
            active: input.active,
        })
    }
}

impl TryFrom<UpdateServiceInput> for ServiceChangeset {
    type Error = GraphqlError;

    fn try_from(input: UpdateServiceInput) -> GraphqlResult<Self> {
        let category_id = input.category_id.as_ref();
        Ok(ServiceChangeset {
            category_id: category_id.map(|c| parse_id("categoryId", c)).transpose()?,
            name: input.name,
            description: input.description,
            platform: input.platform,
            service_type: input.service_type,
            provider_rate: input.provider_rate.map(|d| Some(d.0)),
            markup_bps: input.markup_basis_points.into(),
            price_per_1000: input.price_per_1000.map(|r| r.0),
            min_quantity: input.min_quantity,
            max_quantity: input.max_quantity,
            quantity_step: input.quantity_step,
            refill: input.refill,
            cancel: input.cancel,
            dripfeed: input.dripfeed,
            active: input.active,
            fallback_service_id: input
                .fallback_service_id
                .map_value(|id| parse_id("fallbackServiceId", &id))
                .transpose()?
                .into(),
            refill_period_days: input.refill_period_days.into(),
            refill_cooldown_hours: input.refill_cooldown_hours.into(),
            same_link_guard: input.same_link_guard,
            dripfeed_by_panel: input.dripfeed_by_panel,
            ..Default::default()
        })
    }
}

#[Object]
impl ServiceMutation {
    /// Creates a service (admins): imported from a provider (priced by the markup rule from the provider's rate) or an own STOCK or MANUAL product with a fixed price.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_create_service(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceInput,
    ) -> GraphqlResult<Service> {
        let input = NewServiceInput::try_from(input)?;
        let row = admin_write(ctx, "service.create")?
            .create(&mut *conn(ctx).await?, Subject::Service, async |conn| {
                catalog::create_service(conn, input).await
            })
            .await?;
        Ok(Service::from(row))
    }

    /// Changes a service (admins): name, description, limits, flags, markup or price, fallback service; a price change applies to new orders only.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_update_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateServiceInput,
    ) -> GraphqlResult<Service> {
        let id = parse_id("id", &id)?;
        update_service(
            ctx,
            "service.update",
            id,
            ServiceChangeset::try_from(input)?,
        )
        .await
    }

    /// Deactivates (hides from customers, refuses new orders) or reactivates a service.
    /// Services are never deleted: orders keep pointing at them.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_set_service_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> GraphqlResult<Service> {
        let id = parse_id("id", &id)?;
        let action = if active {
            "service.activate"
        } else {
            "service.deactivate"
        };
        let update = ServiceChangeset {
            active: Some(active),
            ..Default::default()
        };
        update_service(ctx, action, id, update).await
    }

    /// Sets the order of the services in a category: `ids` lists each of them once.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_reorder_services(
        &self,
        ctx: &Context<'_>,
        category_id: ID,
        ids: Vec<ID>,
    ) -> GraphqlResult<Vec<Service>> {
        let category_id = parse_id("categoryId", &category_id)?;
        let ids = parse_ids("ids", &ids)?;
        let rows = admin_write(ctx, "service.reorder")?
            .bulk(
                &mut *conn(ctx).await?,
                Subject::Category.as_str(),
                async |conn| {
                    let rows = catalog::reorder_services(conn, category_id, &ids).await?;
                    let summary = Summary {
                        subject_id: Some(category_id),
                        ..Summary::after(json!({ "ids": ids }))
                    };
                    Ok((rows, summary))
                },
            )
            .await?;
        Ok(rows.into_iter().map(Service::from).collect())
    }
}

/// Applies `update` to the service `id` as the audited admin write `action`.
async fn update_service(
    ctx: &Context<'_>,
    action: &str,
    id: i64,
    update: ServiceChangeset,
) -> GraphqlResult<Service> {
    let row = admin_write(ctx, action)?
        .change(&mut *conn(ctx).await?, Subject::Service, id, async |conn| {
            catalog::update_service(conn, id, update).await
        })
        .await?;
    Ok(Service::from(row))
}
