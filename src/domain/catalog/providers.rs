//! Providers: connection details checked before they are stored, API keys
//! encrypted at rest and shown masked, exchange rates and markups that reprice
//! the provider's services.

use bigdecimal::{BigDecimal, Zero};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    crypto::{SecretBox, mask_secret},
    db::allow_empty_changeset,
    db::{
        enums::{Currency, ProviderKind},
        providers::{NewProvider, ProviderChangeset, ProviderRow},
        schema::providers,
    },
    domain::pricing::{self, RepriceScope},
    error::{AppError, AppResult, is_unique_violation},
};

use super::*;

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

impl ProviderInput {
    /// An active API v2 panel pricing in rupiah, with the default markup.
    pub fn api_v2(name: &str, base_url: &str, api_key: &str) -> ProviderInput {
        ProviderInput {
            name: Some(name.into()),
            kind: Some(ProviderKind::ApiV2),
            base_url: Some(base_url.into()),
            api_key: Some(api_key.into()),
            api_id: None,
            currency: Some(Currency::Idr),
            exchange_rate: None,
            markup_bps: None,
            active: Some(true),
            low_balance_threshold: None,
        }
    }
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
