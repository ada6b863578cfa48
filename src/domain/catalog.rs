//! The service catalogue: categories, services and the providers they come from.
//! Every admin write is validated here before anything is written.

use bigdecimal::{BigDecimal, Zero};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    crypto::{SecretBox, mask_secret},
    db::allow_empty_changeset,
    db::{
        categories::{CategoryChangeset, CategoryRow, NewCategory},
        enums::{Currency, Fulfillment, Platform, ProviderKind, ServiceType},
        providers::{NewProvider, ProviderChangeset, ProviderRow},
        schema::{providers, service_categories, services},
        services::{NewService, ServiceChangeset, ServiceRow},
    },
    domain::pricing::{self, RepriceScope},
    error::{AppError, AppResult, is_unique_violation},
};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;

fn check_text(field: &str, value: &str, max: usize, required: bool) -> AppResult<String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

// ---------------------------------------------------------------- categories

pub struct CategoryInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

pub async fn list_categories(
    conn: &mut AsyncPgConnection,
    include_inactive: bool,
) -> AppResult<Vec<CategoryRow>> {
    let mut q = service_categories::table.into_boxed();
    if !include_inactive {
        q = q.filter(service_categories::active.eq(true));
    }
    Ok(
        q.order((service_categories::sort_order, service_categories::id))
            .select(CategoryRow::as_select())
            .load(conn)
            .await?,
    )
}

fn category_conflict(e: diesel::result::Error) -> AppError {
    if is_unique_violation(&e, "service_categories_name_key") {
        AppError::conflict("a category with this name exists")
    } else {
        e.into()
    }
}

pub async fn create_category(
    conn: &mut AsyncPgConnection,
    input: CategoryInput,
) -> AppResult<CategoryRow> {
    let name = check_text("name", input.name.as_deref().unwrap_or(""), MAX_NAME, true)?;
    let description = check_text(
        "description",
        input.description.as_deref().unwrap_or(""),
        MAX_DESCRIPTION,
        false,
    )?;
    let sort_order = match input.sort_order {
        Some(order) => order,
        None => service_categories::table
            .select(diesel::dsl::max(service_categories::sort_order))
            .first::<Option<i32>>(conn)
            .await?
            .map_or(0, |max| max.saturating_add(1)),
    };
    diesel::insert_into(service_categories::table)
        .values(NewCategory {
            name,
            description,
            sort_order,
            active: input.active.unwrap_or(true),
        })
        .returning(CategoryRow::as_returning())
        .get_result(conn)
        .await
        .map_err(category_conflict)
}

pub async fn update_category(
    conn: &mut AsyncPgConnection,
    id: i64,
    input: CategoryInput,
) -> AppResult<CategoryRow> {
    let changes = CategoryChangeset {
        name: input
            .name
            .as_deref()
            .map(|n| check_text("name", n, MAX_NAME, true))
            .transpose()?,
        description: input
            .description
            .as_deref()
            .map(|d| check_text("description", d, MAX_DESCRIPTION, false))
            .transpose()?,
        sort_order: input.sort_order,
        active: input.active,
    };
    allow_empty_changeset(
        diesel::update(service_categories::table.find(id))
            .set(&changes)
            .execute(conn)
            .await,
    )
    .map_err(category_conflict)?;
    service_categories::table
        .find(id)
        .select(CategoryRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("category"))
}

/// Puts rows in the given order (position = index). The list must name every row of
/// the set exactly once, so a stale admin screen cannot silently scramble the order.
fn check_order(field: &str, given: &[i64], existing: &[i64]) -> AppResult<()> {
    let mut a = given.to_vec();
    let mut b = existing.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    let mut dedup = a.clone();
    dedup.dedup();
    if dedup.len() != a.len() {
        return Err(AppError::validation(field, "ids must not repeat"));
    }
    if a != b {
        return Err(AppError::validation(
            field,
            "ids must list every item of the set exactly once",
        ));
    }
    Ok(())
}

async fn apply_positions(conn: &mut AsyncPgConnection, table: &str, ids: &[i64]) -> AppResult<()> {
    let positions: Vec<i32> = (0..ids.len() as i32).collect();
    diesel::sql_query(format!(
        "UPDATE {table} SET sort_order = v.pos FROM unnest($1::bigint[], $2::int[]) AS v(id, pos) WHERE {table}.id = v.id"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(&positions)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn reorder_categories(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> AppResult<Vec<CategoryRow>> {
    conn.transaction(async |conn| {
        let existing: Vec<i64> = service_categories::table
            .select(service_categories::id)
            .for_update()
            .load(conn)
            .await?;
        check_order("ids", ids, &existing)?;
        apply_positions(conn, "service_categories", ids).await?;
        list_categories(conn, true).await
    })
    .await
}

pub async fn reorder_services(
    conn: &mut AsyncPgConnection,
    category_id: i64,
    ids: &[i64],
) -> AppResult<Vec<ServiceRow>> {
    conn.transaction(async |conn| {
        let existing: Vec<i64> = services::table
            .filter(services::category_id.eq(category_id))
            .select(services::id)
            .for_update()
            .load(conn)
            .await?;
        if existing.is_empty() {
            require_category(conn, category_id).await?;
        }
        check_order("ids", ids, &existing)?;
        apply_positions(conn, "services", ids).await?;
        Ok(services::table
            .filter(services::category_id.eq(category_id))
            .order((services::sort_order, services::id))
            .select(ServiceRow::as_select())
            .load(conn)
            .await?)
    })
    .await
}

async fn require_category(conn: &mut AsyncPgConnection, id: i64) -> AppResult<()> {
    let found: Option<i64> = service_categories::table
        .find(id)
        .select(service_categories::id)
        .first(conn)
        .await
        .optional()?;
    found.map(|_| ()).ok_or(AppError::NotFound("category"))
}

// ---------------------------------------------------------------- services

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

/// A partial update; `markup_bps: Some(None)` clears a service's own markup.
#[derive(Debug, Default, Clone)]
pub struct ServiceUpdate {
    pub category_id: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub platform: Option<Platform>,
    pub service_type: Option<ServiceType>,
    pub provider_rate: Option<BigDecimal>,
    pub markup_bps: Option<Option<i32>>,
    pub price_per_1000: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub quantity_step: Option<i64>,
    pub refill: Option<bool>,
    pub cancel: Option<bool>,
    pub dripfeed: Option<bool>,
    pub active: Option<bool>,
    /// The imported service to send orders to when this one's provider refuses them;
    /// `Some(None)` removes it.
    pub fallback_service_id: Option<Option<i64>>,
}

pub async fn update_service(
    conn: &mut AsyncPgConnection,
    id: i64,
    update: ServiceUpdate,
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
        if let Some(rate) = &update.provider_rate {
            check_rate(rate)?;
        }
        if let Some(Some(bps)) = update.markup_bps {
            pricing::validate_markup("markupBasisPoints", bps)?;
        }
        if let Some(price) = update.price_per_1000 {
            check_price(price)?;
        }
        let reprice = update.provider_rate.is_some() || update.markup_bps.is_some();
        let changes = ServiceChangeset {
            category_id: update.category_id,
            name: update.name.as_deref().map(|n| check_text("name", n, MAX_NAME, true)).transpose()?,
            description: update
                .description
                .as_deref()
                .map(|d| check_text("description", d, MAX_DESCRIPTION, false))
                .transpose()?,
            platform: update.platform,
            service_type: update.service_type,
            provider_rate: update.provider_rate.map(Some),
            markup_bps: update.markup_bps,
            price_per_1000: update.price_per_1000,
            min_quantity: update.min_quantity,
            max_quantity: update.max_quantity,
            quantity_step: update.quantity_step,
            refill: update.refill,
            cancel: update.cancel,
            dripfeed: update.dripfeed,
            active: update.active,
            sort_order: None,
            fallback_service_id: update.fallback_service_id,
            // An admin's choice of `active` wins over the catalogue sync's.
            sync_deactivated: update.active.map(|_| false),
        };
        allow_empty_changeset(diesel::update(services::table.find(id)).set(&changes).execute(conn).await)?;
        if reprice {
            pricing::reprice_imported_services(conn, RepriceScope::Service(id)).await?;
        }
        ServiceRow::find(conn, id).await?.ok_or(AppError::NotFound("service"))
    })
    .await
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

// ---------------------------------------------------------------- providers

#[derive(Debug, Clone)]
pub struct ProviderInput {
    pub name: Option<String>,
    pub kind: Option<ProviderKind>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub api_id: Option<Option<String>>,
    pub currency: Option<Currency>,
    pub exchange_rate: Option<BigDecimal>,
    pub markup_bps: Option<Option<i32>>,
    pub active: Option<bool>,
    /// Warn the admins when the provider's balance falls below this (its currency).
    pub low_balance_threshold: Option<Option<BigDecimal>>,
}

fn check_base_url(url: &str) -> AppResult<String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|_| AppError::validation("baseUrl", "base URL must be an absolute URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(AppError::validation(
            "baseUrl",
            "base URL must be http(s) with a host",
        ));
    }
    Ok(parsed.to_string())
}

fn check_api_key(key: &str) -> AppResult<String> {
    let key = key.trim();
    if key.is_empty() || key.len() > 500 {
        return Err(AppError::validation(
            "apiKey",
            "API key must be 1 to 500 characters",
        ));
    }
    Ok(key.to_string())
}

fn check_exchange_rate(rate: &BigDecimal) -> AppResult<()> {
    if rate <= &BigDecimal::zero() {
        return Err(AppError::validation(
            "exchangeRate",
            "exchange rate must be positive",
        ));
    }
    Ok(())
}

fn provider_conflict(e: diesel::result::Error) -> AppError {
    if is_unique_violation(&e, "providers_name_key") {
        AppError::conflict("a provider with this name exists")
    } else {
        e.into()
    }
}

pub async fn create_provider(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    input: ProviderInput,
) -> AppResult<ProviderRow> {
    let name = check_text("name", input.name.as_deref().unwrap_or(""), 100, true)?;
    let kind = input
        .kind
        .ok_or_else(|| AppError::validation("kind", "kind is required"))?;
    let base_url = check_base_url(input.base_url.as_deref().unwrap_or(""))?;
    let api_key = check_api_key(input.api_key.as_deref().unwrap_or(""))?;
    let api_id = input
        .api_id
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if kind == ProviderKind::Medanpedia && api_id.is_none() {
        return Err(AppError::validation("apiId", "MedanPedia needs its api_id"));
    }
    let currency = input.currency.unwrap_or(match kind {
        ProviderKind::Medanpedia => Currency::Idr,
        ProviderKind::ApiV2 => Currency::Usd,
    });
    let exchange_rate = match (input.exchange_rate, currency) {
        (Some(rate), _) => rate,
        (None, Currency::Idr) => BigDecimal::from(1),
        (None, Currency::Usd) => {
            return Err(AppError::validation(
                "exchangeRate",
                "a USD provider needs an exchange rate (rupiah per USD)",
            ));
        }
    };
    check_exchange_rate(&exchange_rate)?;
    let markup_bps = input.markup_bps.flatten();
    if let Some(bps) = markup_bps {
        pricing::validate_markup("markupBasisPoints", bps)?;
    }
    diesel::insert_into(providers::table)
        .values(NewProvider {
            name,
            kind,
            base_url,
            api_key_encrypted: secrets.encrypt(&api_key),
            api_key_hint: mask_secret(&api_key),
            api_id,
            currency,
            exchange_rate,
            markup_bps,
            active: input.active.unwrap_or(true),
        })
        .returning(ProviderRow::as_returning())
        .get_result(conn)
        .await
        .map_err(provider_conflict)
}

pub async fn update_provider(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    id: i64,
    input: ProviderInput,
) -> AppResult<ProviderRow> {
    if input.kind.is_some() {
        return Err(AppError::validation(
            "kind",
            "a provider's kind cannot change; create a new provider",
        ));
    }
    let api_key = input.api_key.as_deref().map(check_api_key).transpose()?;
    if let Some(rate) = &input.exchange_rate {
        check_exchange_rate(rate)?;
    }
    if let Some(Some(bps)) = input.markup_bps {
        pricing::validate_markup("markupBasisPoints", bps)?;
    }
    let reprice = input.exchange_rate.is_some() || input.markup_bps.is_some();
    let changes = ProviderChangeset {
        name: input
            .name
            .as_deref()
            .map(|n| check_text("name", n, 100, true))
            .transpose()?,
        base_url: input.base_url.as_deref().map(check_base_url).transpose()?,
        api_key_encrypted: api_key.as_deref().map(|k| secrets.encrypt(k)),
        api_key_hint: api_key.as_deref().map(mask_secret),
        api_id: input
            .api_id
            .map(|v| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())),
        currency: input.currency,
        exchange_rate: input.exchange_rate,
        markup_bps: input.markup_bps,
        active: input.active,
        low_balance_threshold: input.low_balance_threshold,
    };
    conn.transaction(async |conn| {
        ProviderRow::find(conn, id)
            .await?
            .ok_or(AppError::NotFound("provider"))?;
        allow_empty_changeset(
            diesel::update(providers::table.find(id))
                .set(&changes)
                .execute(conn)
                .await,
        )
        .map_err(provider_conflict)?;
        if reprice {
            pricing::reprice_imported_services(conn, RepriceScope::Provider(id)).await?;
        }
        ProviderRow::find(conn, id)
            .await?
            .ok_or(AppError::NotFound("provider"))
    })
    .await
}

pub async fn list_providers(conn: &mut AsyncPgConnection) -> AppResult<Vec<ProviderRow>> {
    Ok(providers::table
        .order(providers::id)
        .select(ProviderRow::as_select())
        .load(conn)
        .await?)
}
