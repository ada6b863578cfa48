//! The price rules, in one place (`docs/ARCHITECTURE.md`, "Money").
//!
//! - Imported service, per 1000: provider rate (converted to rupiah at the provider's
//!   exchange rate) x (1 + markup), rounded UP to a whole rupiah so the panel never
//!   sells below cost plus markup.
//! - Markup: the service's own, else the provider's, else the panel default (10%).
//!   Markups are basis points (1000 = 10.00%) so they stay exact integers.
//! - Order charge: price per 1000 x quantity / 1000, rounded up to a whole rupiah.
//! - A reseller's discount (basis points, set per user by an admin) lowers the price
//!   that user sees and pays, rounded up to a whole rupiah, but never below what
//!   the provider charges us (the provider rate at its exchange rate, rounded up):
//!   the panel never sells at a loss. [`buyer_prices`] applies it to service rows
//!   before anything reads their price, so every path (GraphQL, API v2, mass
//!   orders) charges the same.
//! - On a service whose cost is not known (the panel's own stock and manual
//!   services) the discount is at most `OWN_PRODUCT_MAX_DISCOUNT_BPS` (default
//!   50%), so no discount makes them free.

use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        enums::Fulfillment,
        schema::{providers, services},
        settings,
    },
    error::{AppError, AppResult},
};

pub const DEFAULT_MARKUP_BPS: i32 = 1000;
pub const MAX_MARKUP_BPS: i32 = 100_000;
const BPS_SCALE: i64 = 10_000;

/// Which markup applies: the most specific one set.
pub fn effective_markup_bps(service: Option<i32>, provider: Option<i32>, default: i32) -> i32 {
    service.or(provider).unwrap_or(default)
}

/// Rupiah per 1000 for an imported service.
pub fn imported_price_per_1000(
    provider_rate: &BigDecimal,
    exchange_rate: &BigDecimal,
    markup_bps: i32,
) -> AppResult<i64> {
    let price = provider_rate * exchange_rate * BigDecimal::from(BPS_SCALE + i64::from(markup_bps))
        / BigDecimal::from(BPS_SCALE);
    price
        .with_scale_round(0, RoundingMode::Ceiling)
        .to_i64()
        .ok_or_else(|| AppError::validation("providerRate", "price does not fit in rupiah"))
}

/// The largest discount an admin may give.
pub const MAX_DISCOUNT_BPS: i32 = 10_000;

/// The default of `OWN_PRODUCT_MAX_DISCOUNT_BPS` (the setting lives in `config`).
pub use crate::config::DEFAULT_OWN_PRODUCT_MAX_DISCOUNT_BPS;

/// The discount that applies to a service: the buyer's, but at most
/// `own_max_bps` when the service's cost is not known (nothing to floor at).
pub fn applicable_discount_bps(discount_bps: i32, cost_known: bool, own_max_bps: i32) -> i32 {
    if cost_known {
        discount_bps
    } else {
        discount_bps.min(own_max_bps.clamp(0, MAX_DISCOUNT_BPS - 1))
    }
}

/// The price per 1000 for a buyer with `discount_bps`, never below `cost_per_1000`
/// (when the service has one) and never above the list price.
pub fn discounted_price_per_1000(list: i64, discount_bps: i32, cost_per_1000: Option<i64>) -> i64 {
    if discount_bps <= 0 {
        return list;
    }
    let kept = i128::from(BPS_SCALE - i64::from(discount_bps.min(MAX_DISCOUNT_BPS)));
    let discounted = (i128::from(list) * kept + i128::from(BPS_SCALE) - 1) / i128::from(BPS_SCALE);
    let discounted = i64::try_from(discounted).unwrap_or(list);
    discounted.max(cost_per_1000.unwrap_or(0)).min(list)
}

/// What the provider charges us per 1000, in rupiah (rounded up), for an imported
/// service; `None` for the panel's own services.
pub fn cost_per_1000(
    provider_rate: Option<&BigDecimal>,
    exchange_rate: &BigDecimal,
) -> Option<i64> {
    imported_price_per_1000(provider_rate?, exchange_rate, 0).ok()
}

/// Sets each service's `price_per_1000` to what a buyer with `discount_bps` pays
/// (at most `own_max_discount_bps` off a service whose cost is not known).
/// Without a discount nothing is read; with one, the providers' exchange rates in
/// one statement.
pub async fn buyer_prices(
    conn: &mut AsyncPgConnection,
    services: &mut [crate::db::services::ServiceRow],
    discount_bps: i32,
    own_max_discount_bps: i32,
) -> AppResult<()> {
    if discount_bps <= 0 || services.is_empty() {
        return Ok(());
    }
    let provider_ids: Vec<i64> = services.iter().filter_map(|s| s.provider_id).collect();
    let rates: std::collections::HashMap<i64, BigDecimal> = providers::table
        .filter(providers::id.eq_any(&provider_ids))
        .select((providers::id, providers::exchange_rate))
        .load::<(i64, BigDecimal)>(conn)
        .await?
        .into_iter()
        .collect();
    for service in services {
        let cost = service
            .provider_id
            .and_then(|id| rates.get(&id))
            .and_then(|rate| cost_per_1000(service.provider_rate.as_ref(), rate));
        let discount = applicable_discount_bps(discount_bps, cost.is_some(), own_max_discount_bps);
        service.price_per_1000 = discounted_price_per_1000(service.price_per_1000, discount, cost);
    }
    Ok(())
}

pub fn validate_discount(bps: i32) -> AppResult<()> {
    if !(0..=MAX_DISCOUNT_BPS).contains(&bps) {
        return Err(AppError::validation(
            "discountBps",
            format!("a discount is between 0 and {MAX_DISCOUNT_BPS} basis points"),
        ));
    }
    Ok(())
}

/// What an order of `quantity` costs at `price_per_1000`.
pub fn order_charge(price_per_1000: i64, quantity: i64) -> AppResult<i64> {
    let total = i128::from(price_per_1000) * i128::from(quantity);
    i64::try_from((total + 999).div_euclid(1000))
        .map_err(|_| AppError::validation("quantity", "order total is too large"))
}

pub fn validate_markup(field: &str, bps: i32) -> AppResult<()> {
    if !(0..=MAX_MARKUP_BPS).contains(&bps) {
        return Err(AppError::validation(
            field,
            format!("markup must be between 0 and {MAX_MARKUP_BPS} basis points"),
        ));
    }
    Ok(())
}

pub async fn default_markup_bps(conn: &mut AsyncPgConnection) -> AppResult<i32> {
    Ok(settings::get(conn, settings::DEFAULT_MARKUP_BPS)
        .await?
        .and_then(|v| v.as_i64())
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(DEFAULT_MARKUP_BPS))
}

/// Sets the panel-wide markup and reprices every imported service it applies to.
pub async fn set_default_markup(conn: &mut AsyncPgConnection, bps: i32) -> AppResult<u64> {
    validate_markup("basisPoints", bps)?;
    conn.transaction(async |conn| {
        settings::put(conn, settings::DEFAULT_MARKUP_BPS, bps.into()).await?;
        reprice_imported_services(conn, RepriceScope::All).await
    })
    .await
}

#[derive(Debug, Clone, Copy)]
pub enum RepriceScope {
    All,
    Provider(i64),
    Service(i64),
}

/// Recomputes the stored price of imported services after a rate, exchange rate or
/// markup changed; returns how many prices changed. Orders keep the price they were
/// sold at, so this never touches an order.
pub async fn reprice_imported_services(
    conn: &mut AsyncPgConnection,
    scope: RepriceScope,
) -> AppResult<u64> {
    let default = default_markup_bps(conn).await?;
    let mut query = services::table
        .inner_join(providers::table)
        .filter(services::fulfillment.eq(Fulfillment::Provider))
        .select((
            services::id,
            services::price_per_1000,
            services::provider_rate,
            services::markup_bps,
            providers::exchange_rate,
            providers::markup_bps,
        ))
        .into_boxed();
    match scope {
        RepriceScope::All => {}
        RepriceScope::Provider(id) => query = query.filter(services::provider_id.eq(id)),
        RepriceScope::Service(id) => query = query.filter(services::id.eq(id)),
    }
    type Row = (
        i64,
        i64,
        Option<BigDecimal>,
        Option<i32>,
        BigDecimal,
        Option<i32>,
    );
    let rows: Vec<Row> = query.load(conn).await?;
    let mut ids = Vec::new();
    let mut prices = Vec::new();
    for (id, current, rate, service_markup, exchange_rate, provider_markup) in rows {
        let Some(rate) = rate else { continue };
        let markup = effective_markup_bps(service_markup, provider_markup, default);
        let price = imported_price_per_1000(&rate, &exchange_rate, markup)?;
        if price != current {
            ids.push(id);
            prices.push(price);
        }
    }
    if ids.is_empty() {
        return Ok(0);
    }
    // One statement for the whole batch, however many services changed.
    let updated = diesel::sql_query(
        "UPDATE services SET price_per_1000 = v.price \
         FROM unnest($1::bigint[], $2::bigint[]) AS v(id, price) WHERE services.id = v.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&prices)
    .execute(conn)
    .await?;
    Ok(updated as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> BigDecimal {
        BigDecimal::from_str(s).unwrap()
    }

    #[test]
    fn imported_price_applies_rate_and_markup_rounding_up() {
        // 0.90 USD x 16,000 = 14,400 IDR; +10% = 15,840.
        assert_eq!(
            imported_price_per_1000(&dec("0.90"), &dec("16000"), 1000).unwrap(),
            15840
        );
        // 1234 IDR + 10% = 1357.4 -> 1358.
        assert_eq!(
            imported_price_per_1000(&dec("1234"), &dec("1"), 1000).unwrap(),
            1358
        );
        // 0.0123 USD x 15,750.5 x 1.125 = 217.9... -> 218.
        assert_eq!(
            imported_price_per_1000(&dec("0.0123"), &dec("15750.5"), 1250).unwrap(),
            218
        );
        assert_eq!(
            imported_price_per_1000(&dec("0"), &dec("16000"), 1000).unwrap(),
            0
        );
    }

    #[test]
    fn markup_precedence() {
        assert_eq!(effective_markup_bps(Some(500), Some(2000), 1000), 500);
        assert_eq!(effective_markup_bps(None, Some(2000), 1000), 2000);
        assert_eq!(effective_markup_bps(None, None, 1000), 1000);
    }

    #[test]
    fn charge_rounds_up_to_whole_rupiah() {
        assert_eq!(order_charge(15840, 1000).unwrap(), 15840);
        assert_eq!(order_charge(15840, 1).unwrap(), 16);
        assert_eq!(order_charge(1000, 1).unwrap(), 1);
        assert_eq!(order_charge(999, 1).unwrap(), 1);
        assert_eq!(order_charge(1, 1000).unwrap(), 1);
        assert_eq!(order_charge(1, 1001).unwrap(), 2);
        assert!(order_charge(i64::MAX, i64::MAX).is_err());
    }
}
