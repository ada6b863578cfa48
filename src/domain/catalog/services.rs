//! Services: creating and updating imported and own services, their pricing
//! (markup rule or a fixed price), quantity limits and fallback services.

use bigdecimal::{BigDecimal, Zero};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::allow_empty_changeset,
    db::{
        enums::{Fulfillment, Platform, ServiceType},
        providers::ProviderRow,
        schema::services,
        services::{NewService, ServiceChangeset, ServiceRow},
    },
    domain::pricing::{self, RepriceScope},
    error::{AppError, AppResult, is_unique_violation},
};

use super::*;

/// How an admin prices a service: imported from a provider, or an own product.
#[derive(Debug, Clone)]
pub enum ServicePricing {
    Provider {
        provider_id: i64,
        provider_service_id: String,
        provider_rate: BigDecimal,
        markup_bps: Option<i32>,
    },
    Own {
        price_per_1000: i64,
        fulfillment: Fulfillment,
    },
}

#[derive(Debug, Clone)]
pub struct NewServiceInput {
    pub category_id: i64,
    pub name: String,
    pub description: String,
    pub platform: Platform,
    pub service_type: ServiceType,
    pub pricing: ServicePricing,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub quantity_step: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
    pub active: bool,
}

fn check_quantities(min: i64, max: i64, step: i64) -> AppResult<()> {
    if min < 1 {
        return Err(AppError::validation(
            "minQuantity",
            "minimum quantity must be at least 1",
        ));
    }
    if max < min {
        return Err(AppError::validation(
            "maxQuantity",
            "maximum quantity must not be below the minimum",
        ));
    }
    if step < 1 {
        return Err(AppError::validation(
            "quantityStep",
            "quantity step must be at least 1",
        ));
    }
    if min % step != 0 {
        return Err(AppError::validation(
            "quantityStep",
            "the minimum quantity must be a multiple of the step",
        ));
    }
    Ok(())
}

fn check_rate(rate: &BigDecimal) -> AppResult<()> {
    if rate < &BigDecimal::zero() {
        return Err(AppError::validation(
            "providerRate",
            "provider rate must not be negative",
        ));
    }
    Ok(())
}

fn check_price(price: i64) -> AppResult<()> {
    if price < 0 {
        return Err(AppError::validation(
            "pricePer1000",
            "price must not be negative",
        ));
    }
    Ok(())
}

pub async fn create_service(
    conn: &mut AsyncPgConnection,
    input: NewServiceInput,
) -> AppResult<ServiceRow> {
    let name = check_text("name", &input.name, MAX_NAME, true)?;
    let description = check_text("description", &input.description, MAX_DESCRIPTION, false)?;
    check_quantities(input.min_quantity, input.max_quantity, input.quantity_step)?;
    require_category(conn, input.category_id).await?;
    let (provider_id, provider_service_id, provider_rate, markup_bps, fulfillment, price) =
        match input.pricing {
            ServicePricing::Provider {
                provider_id,
                provider_service_id,
                provider_rate,
                markup_bps,
            } => {
                let provider_service_id =
                    check_text("providerServiceId", &provider_service_id, 100, true)?;
                check_rate(&provider_rate)?;
                if let Some(bps) = markup_bps {
                    pricing::validate_markup("markupBasisPoints", bps)?;
                }
                let provider = ProviderRow::find(conn, provider_id)
                    .await?
                    .ok_or(AppError::NotFound("provider"))?;
                let default = pricing::default_markup_bps(conn).await?;
                let markup =
                    pricing::effective_markup_bps(markup_bps, provider.markup_bps, default);
                let price = pricing::imported_price_per_1000(
                    &provider_rate,
                    &provider.exchange_rate,
                    markup,
                )?;
                (
                    Some(provider_id),
                    Some(provider_service_id),
                    Some(provider_rate),
                    markup_bps,
                    Fulfillment::Provider,
                    price,
                )
            }
            ServicePricing::Own {
                price_per_1000,
                fulfillment,
            } => {
                check_price(price_per_1000)?;
                if fulfillment == Fulfillment::Provider {
                    return Err(AppError::validation(
                        "fulfillment",
                        "own products are fulfilled from STOCK or MANUAL",
                    ));
                }
                (None, None, None, None, fulfillment, price_per_1000)
            }
        };
    let sort_order = services::table
        .filter(services::category_id.eq(input.category_id))
        .select(diesel::dsl::max(services::sort_order))
        .first::<Option<i32>>(conn)
        .await?
        .map_or(0, |max| max.saturating_add(1));
    diesel::insert_into(services::table)
        .values(NewService {
            category_id: input.category_id,
            name,
            description,
            platform: input.platform,
            service_type: input.service_type,
            provider_id,
            provider_service_id,
            provider_rate,
            markup_bps,
            fulfillment,
            price_per_1000: price,
            min_quantity: input.min_quantity,
            max_quantity: input.max_quantity,
            quantity_step: input.quantity_step,
            refill: input.refill,
            cancel: input.cancel,
            dripfeed: input.dripfeed,
            active: input.active,
            sort_order,
        })
        .returning(ServiceRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "services_provider_service_key") {
                AppError::conflict("this provider service is already imported")
            } else {
                e.into()
            }
        })
}

/// Applies an admin's partial update (the table's update form, Lemmy style: fields
/// left `None` keep their value; `markup_bps: Some(None)` clears a service's own
/// markup, `fallback_service_id`, `refill_period_days` and `refill_cooldown_hours`
/// likewise). The rules checked here are the service's: pricing by fulfillment,
/// limits, text bounds. `sort_order` moves only through [`reorder_services`], and an
/// admin's choice of `active` wins over the catalogue sync's.
pub async fn update_service(
    conn: &mut AsyncPgConnection,
    id: i64,
    mut update: ServiceChangeset,
) -> AppResult<ServiceRow> {
    conn.transaction(async |conn| {
        let current: ServiceRow = services::table
            .find(id)
            .select(ServiceRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound("service"))?;
        let imported = current.fulfillment == Fulfillment::Provider;
        if imported && update.price_per_1000.is_some() {
            return Err(AppError::validation(
                "pricePer1000",
                "the price of an imported service follows its provider rate and markup; change those instead",
            ));
        }
        if !imported && (update.provider_rate.is_some() || update.markup_bps.is_some()) {
            let field = if update.provider_rate.is_some() { "providerRate" } else { "markupBasisPoints" };
            return Err(AppError::validation(field, "only imported services have a provider rate and markup"));
        }
        if let Some(Some(fallback)) = update.fallback_service_id {
            check_fallback(conn, &current, fallback).await?;
        }
        if let Some(category) = update.category_id {
            require_category(conn, category).await?;
        }
        check_quantities(
            update.min_quantity.unwrap_or(current.min_quantity),
            update.max_quantity.unwrap_or(current.max_quantity),
            update.quantity_step.unwrap_or(current.quantity_step),
        )?;
        match &update.provider_rate {
            Some(Some(rate)) => check_rate(rate)?,
            Some(None) => return Err(AppError::validation("providerRate", "an imported service needs a rate")),
            None => {}
        }
        if let Some(Some(bps)) = update.markup_bps {
            pricing::validate_markup("markupBasisPoints", bps)?;
        }
        if let Some(price) = update.price_per_1000 {
            check_price(price)?;
        }
        let reprice = update.provider_rate.is_some() || update.markup_bps.is_some();
        update.name = update.name.as_deref().map(|n| check_text("name", n, MAX_NAME, true)).transpose()?;
        update.description = update
            .description
            .as_deref()
            .map(|d| check_text("description", d, MAX_DESCRIPTION, false))
            .transpose()?;
        update.sort_order = None;
        update.sync_deactivated = update.active.map(|_| false);
        update.refill_period_days = checked_bound("refillPeriodDays", update.refill_period_days, 3650)?;
        update.refill_cooldown_hours = checked_bound("refillCooldownHours", update.refill_cooldown_hours, 720)?;
        allow_empty_changeset(diesel::update(services::table.find(id)).set(&update).execute(conn).await)?;
        if reprice {
            pricing::reprice_imported_services(conn, RepriceScope::Service(id)).await?;
        }
        ServiceRow::find(conn, id).await?.ok_or(AppError::NotFound("service"))
    })
    .await
}

/// A bounded whole number an admin may set or clear: VALIDATION naming `field`
/// outside 0 to `max`.
fn checked_bound(
    field: &str,
    value: Option<Option<i32>>,
    max: i32,
) -> AppResult<Option<Option<i32>>> {
    if let Some(Some(v)) = value
        && !(0..=max).contains(&v)
    {
        return Err(AppError::validation(field, format!("must be 0 to {max}")));
    }
    Ok(value)
}

/// A fallback must be another imported service, from a different provider, with an
/// order type that takes the same fields.
async fn check_fallback(
    conn: &mut AsyncPgConnection,
    service: &ServiceRow,
    fallback_id: i64,
) -> AppResult<()> {
    let invalid = |why: &str| AppError::validation("fallbackServiceId", why);
    if service.fulfillment != Fulfillment::Provider {
        return Err(invalid("only imported services have a fallback"));
    }
    let fallback = ServiceRow::find(conn, fallback_id)
        .await?
        .ok_or_else(|| invalid("no such service"))?;
    if fallback.id == service.id || fallback.fulfillment != Fulfillment::Provider {
        return Err(invalid("the fallback must be another imported service"));
    }
    if fallback.provider_id == service.provider_id {
        return Err(invalid("the fallback must come from a different provider"));
    }
    if fallback.service_type != service.service_type {
        return Err(invalid("the fallback must be of the same type"));
    }
    Ok(())
}
