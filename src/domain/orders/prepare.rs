//! Validation of an order before anything is written: the link for the service's
//! platform, each service type's extra fields (one validator per type, in
//! `type_fields`), the quantity's bounds and step, drip-feed, the idempotency key;
//! and the price, fixed from the service. Pure: reads nothing, so every rule is
//! tested without a database.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::type_fields::{Extra, validate_type_fields};
use crate::{
    db::{
        enums::{Fulfillment, Platform, ServiceType},
        services::ServiceRow,
    },
    domain::pricing,
    error::{AppError, AppResult},
};

const MAX_LINK: usize = 2048;

/// The type-specific fields of an order (API v2 names in `extra`).
#[derive(Debug, Default, Clone)]
pub struct OrderExtras {
    pub comments: Option<String>,
    pub usernames: Option<String>,
    pub hashtags: Option<String>,
    pub hashtag: Option<String>,
    pub username: Option<String>,
    pub media: Option<String>,
    pub answer_number: Option<i64>,
    pub groups: Option<String>,
    pub runs: Option<i64>,
    pub interval: Option<i64>,
    /// Subscriptions: the fewest and most units per new post.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// Subscriptions: how many new posts, and how many existing ones.
    pub posts: Option<i64>,
    pub old_posts: Option<i64>,
    /// Subscriptions: minutes to wait after a post before delivering.
    pub delay: Option<i64>,
    /// Subscriptions: the last day, `d/m/Y`.
    pub expiry: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OrderInput {
    pub service_id: i64,
    pub link: String,
    pub quantity: Option<i64>,
    pub extras: OrderExtras,
    pub idempotency_key: Option<String>,
    /// When to dispatch it (`None` or a past time: at once); see `guard::scheduled_start`.
    pub start_at: Option<DateTime<Utc>>,
}

/// An order that passed validation, with its price fixed.
#[derive(Debug, Clone)]
pub struct PreparedOrder {
    pub service_id: i64,
    pub link: String,
    pub quantity: i64,
    pub price_per_1000: i64,
    pub charge: i64,
    pub extra: Value,
    pub fulfillment: Fulfillment,
    pub provider_id: Option<i64>,
    pub provider_service_id: Option<String>,
    /// The same-link guard's key, set by the caller that knows the scope.
    pub link_guard: Option<String>,
    /// When a scheduled order is dispatched, set by the caller that knows the time.
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Hosts each platform's links live on (after dropping `www.`, `m.`, `mobile.`).
fn platform_hosts(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Twitter => &["twitter.com", "x.com"],
        Platform::Instagram => &["instagram.com", "instagr.am"],
        Platform::Tiktok => &["tiktok.com", "vm.tiktok.com", "vt.tiktok.com"],
        Platform::Youtube => &["youtube.com", "youtu.be", "music.youtube.com"],
        Platform::Facebook => &["facebook.com", "fb.com", "fb.watch"],
        Platform::Telegram => &["t.me", "telegram.me", "telegram.dog"],
        Platform::Spotify => &["open.spotify.com", "spotify.com", "spotify.link"],
        Platform::Other => &[],
    }
}

/// Whether `link`, as sent or percent-decoded, holds a control character or a
/// bidirectional control (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
/// U+2069), which would make the link read differently from what it is.
fn has_hidden_characters(link: &str) -> bool {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    link.chars().any(hidden)
        || percent_encoding::percent_decode_str(link)
            .decode_utf8_lossy()
            .chars()
            .any(hidden)
}

/// Normalises and checks a link for the service's platform.
pub fn check_link(platform: Platform, link: &str) -> AppResult<String> {
    let link = link.trim();
    if link.is_empty() {
        return Err(AppError::validation("link", "link is required"));
    }
    if link.len() > MAX_LINK || link.chars().any(char::is_whitespace) {
        return Err(AppError::validation("link", "link must be a single URL"));
    }
    if has_hidden_characters(link) {
        return Err(AppError::validation(
            "link",
            "link must not contain control or bidirectional-control characters",
        ));
    }
    let with_scheme = if link.contains("://") {
        link.to_string()
    } else {
        format!("https://{link}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|_| AppError::validation("link", "link is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AppError::validation("link", "link must be http(s)"));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = ["www.", "m.", "mobile."]
        .iter()
        .fold(host.as_str(), |h, p| h.strip_prefix(p).unwrap_or(h))
        .to_string();
    let hosts = platform_hosts(platform);
    if !hosts.is_empty() && !hosts.contains(&host.as_str()) {
        return Err(AppError::validation(
            "link",
            format!(
                "a {platform} service needs a link on {}",
                hosts.join(" or ")
            ),
        ));
    }
    if host.is_empty() || !host.contains('.') {
        return Err(AppError::validation("link", "link needs a host name"));
    }
    Ok(with_scheme)
}

/// Validates an order against its service and fixes its price. Pure: reads nothing.
/// The checks run in a fixed order (availability, link, the type's fields, the
/// quantity, drip-feed), so the first fault reported is always the same one.
pub fn prepare(service: &ServiceRow, input: &OrderInput) -> AppResult<PreparedOrder> {
    if !service.active {
        return Err(AppError::validation(
            "serviceId",
            "this service is not available",
        ));
    }
    let link = check_link(service.platform, &input.link)?;
    let mut extra = Extra::new();
    let quantity = validate_type_fields(service.service_type, input, &mut extra)?;
    if service.service_type == ServiceType::Subscriptions {
        // The bounds are per post; the quantity is the reservation (posts × max).
        check_per_post(service, &input.extras)?;
    } else {
        check_quantity(service, quantity)?;
    }
    let quantity = apply_drip_feed(service, &input.extras, quantity, &mut extra)?;
    let charge = pricing::order_charge(service.price_per_1000, quantity)?;
    Ok(PreparedOrder {
        service_id: service.id,
        link,
        quantity,
        price_per_1000: service.price_per_1000,
        charge,
        extra: Value::Object(extra),
        fulfillment: service.fulfillment,
        provider_id: service.provider_id,
        provider_service_id: service.provider_service_id.clone(),
        link_guard: None,
        scheduled_at: None,
    })
}

/// A subscription's `min` and `max` per post within the service's bounds.
fn check_per_post(service: &ServiceRow, extras: &OrderExtras) -> AppResult<()> {
    for (field, value) in [("min", extras.min), ("max", extras.max)] {
        let value = value.unwrap_or_default();
        if value < service.min_quantity || value > service.max_quantity {
            return Err(AppError::validation(
                field,
                format!(
                    "{field} must be between {} and {}",
                    service.min_quantity, service.max_quantity
                ),
            ));
        }
    }
    Ok(())
}

/// The service's bounds and step, for one run's quantity.
fn check_quantity(service: &ServiceRow, quantity: i64) -> AppResult<()> {
    if quantity < service.min_quantity || quantity > service.max_quantity {
        return Err(AppError::validation(
            "quantity",
            format!(
                "quantity must be between {} and {}",
                service.min_quantity, service.max_quantity
            ),
        ));
    }
    if quantity % service.quantity_step != 0 {
        return Err(AppError::validation(
            "quantity",
            format!("quantity must be a multiple of {}", service.quantity_step),
        ));
    }
    Ok(())
}

/// Drip-feed (`runs` deliveries of `quantity`, `interval` minutes apart), when
/// asked for: both fields or neither. Returns the order's whole quantity.
fn apply_drip_feed(
    service: &ServiceRow,
    extras: &OrderExtras,
    quantity: i64,
    extra: &mut Extra,
) -> AppResult<i64> {
    let (runs, interval) = match (extras.runs, extras.interval) {
        (None, None) => return Ok(quantity),
        (Some(runs), Some(interval)) => (runs, interval),
        (Some(_), None) => {
            return Err(AppError::validation(
                "interval",
                "drip-feed needs both runs and interval",
            ));
        }
        (None, Some(_)) => {
            return Err(AppError::validation(
                "runs",
                "drip-feed needs both runs and interval",
            ));
        }
    };
    if !super::drip::offers_dripfeed(service) {
        return Err(AppError::validation(
            "runs",
            "this service does not offer drip-feed",
        ));
    }
    if !(2..=1000).contains(&runs) {
        return Err(AppError::validation(
            "runs",
            "runs must be between 2 and 1000",
        ));
    }
    if !(1..=10_080).contains(&interval) {
        return Err(AppError::validation(
            "interval",
            "interval must be 1 to 10080 minutes",
        ));
    }
    for (field, value) in super::drip::plan_extra(runs, interval, quantity) {
        extra.insert(field.into(), value);
    }
    quantity
        .checked_mul(runs)
        .ok_or_else(|| AppError::validation("runs", "order is too large"))
}

pub(super) fn check_idempotency_key(key: &Option<String>) -> AppResult<Option<String>> {
    match key.as_deref().map(str::trim) {
        None => Ok(None),
        Some(k) if k.is_empty() || k.len() > 100 => Err(AppError::validation(
            "idempotencyKey",
            "idempotencyKey must be 1 to 100 characters",
        )),
        Some(k) => Ok(Some(k.to_string())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::db::{enums::ServiceType, services::NewService};
    use bigdecimal::BigDecimal;
    use chrono::Utc;
    use serde_json::json;

    /// An active Twitter service of `service_type`, 15,840 rupiah per 1000,
    /// quantities 10 to 10,000 in steps of 10, drip-feed offered.
    pub(crate) fn service(service_type: ServiceType) -> ServiceRow {
        ServiceRow {
            id: 7,
            spec: NewService {
                category_id: 1,
                name: "Followers".into(),
                description: String::new(),
                platform: Platform::Twitter,
                service_type,
                provider_id: Some(3),
                provider_service_id: Some("101".into()),
                provider_rate: Some(BigDecimal::from(1)),
                markup_bps: None,
                fulfillment: Fulfillment::Provider,
                price_per_1000: 15_840,
                min_quantity: 10,
                max_quantity: 10_000,
                quantity_step: 10,
                refill: false,
                cancel: false,
                dripfeed: true,
                active: true,
                sort_order: 0,
            },
            average_completion_seconds: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            fallback_service_id: None,
            slug: "followers".into(),
            refill_period_days: None,
            refill_cooldown_hours: None,
            same_link_guard: true,
            dripfeed_by_panel: false,
        }
    }

    fn order(quantity: Option<i64>, extras: OrderExtras) -> OrderInput {
        OrderInput {
            service_id: 7,
            link: "x.com/jack".into(),
            quantity,
            extras,
            idempotency_key: None,
            start_at: None,
        }
    }

    fn refused_on(service: &ServiceRow, input: &OrderInput) -> String {
        match prepare(service, input) {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a VALIDATION error, got {other:?}"),
        }
    }

    #[test]
    fn prepares_and_prices_a_default_order() {
        let p = prepare(
            &service(ServiceType::Default),
            &order(Some(1000), OrderExtras::default()),
        )
        .unwrap();
        assert_eq!(p.link, "https://x.com/jack");
        assert_eq!(
            (p.quantity, p.price_per_1000, p.charge),
            (1000, 15_840, 15_840)
        );
        assert_eq!(p.extra, json!({}));
        assert_eq!(
            (p.provider_id, p.provider_service_id.as_deref()),
            (Some(3), Some("101"))
        );
        // 15,840 x 10 / 1000 = 158.4, rounded up.
        let small = prepare(
            &service(ServiceType::Default),
            &order(Some(10), OrderExtras::default()),
        );
        assert_eq!(small.unwrap().charge, 159);
    }

    #[test]
    fn checks_run_in_order() {
        let mut inactive = service(ServiceType::Default);
        inactive.active = false;
        let mut bad_link = order(None, OrderExtras::default());
        bad_link.link = "https://instagram.com/jack".into();
        assert_eq!(refused_on(&inactive, &bad_link), "serviceId");
        assert_eq!(
            refused_on(&service(ServiceType::Default), &bad_link),
            "link"
        );
        // The type's fields come before the quantity's bounds.
        let no_comments = order(Some(1), OrderExtras::default());
        assert_eq!(
            refused_on(&service(ServiceType::CustomComments), &no_comments),
            "comments"
        );
    }

    #[test]
    fn quantity_bounds_and_step() {
        let s = service(ServiceType::Default);
        for bad in [0, 5, 10_010, 15] {
            assert_eq!(
                refused_on(&s, &order(Some(bad), OrderExtras::default())),
                "quantity",
                "{bad}"
            );
        }
        for good in [10, 20, 10_000] {
            assert!(
                prepare(&s, &order(Some(good), OrderExtras::default())).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn drip_feed_multiplies_the_quantity() {
        let s = service(ServiceType::Default);
        let drip = |runs, interval| OrderExtras {
            runs,
            interval,
            ..Default::default()
        };
        let p = prepare(&s, &order(Some(100), drip(Some(3), Some(60)))).unwrap();
        assert_eq!((p.quantity, p.charge), (300, 4752));
        assert_eq!(
            p.extra,
            json!({ "runs": 3, "interval": 60, "quantity_per_run": 100 })
        );
        assert_eq!(
            refused_on(&s, &order(Some(100), drip(Some(3), None))),
            "interval"
        );
        assert_eq!(
            refused_on(&s, &order(Some(100), drip(None, Some(60)))),
            "runs"
        );
        assert_eq!(
            refused_on(&s, &order(Some(100), drip(Some(1), Some(60)))),
            "runs"
        );
        assert_eq!(
            refused_on(&s, &order(Some(100), drip(Some(1001), Some(60)))),
            "runs"
        );
        assert_eq!(
            refused_on(&s, &order(Some(100), drip(Some(2), Some(0)))),
            "interval"
        );
        assert_eq!(
            refused_on(&s, &order(Some(100), drip(Some(2), Some(10_081)))),
            "interval"
        );
        let mut no_drip = s.clone();
        no_drip.dripfeed = false;
        assert_eq!(
            refused_on(&no_drip, &order(Some(100), drip(Some(2), Some(5)))),
            "runs"
        );
    }

    #[test]
    fn idempotency_keys_are_trimmed_and_bounded() {
        assert_eq!(check_idempotency_key(&None).unwrap(), None);
        assert_eq!(
            check_idempotency_key(&Some(" k ".into()))
                .unwrap()
                .as_deref(),
            Some("k")
        );
        for bad in ["  ", &"k".repeat(101)] {
            let err = check_idempotency_key(&Some(bad.to_string())).unwrap_err();
            assert!(matches!(err, AppError::Validation { field, .. } if field == "idempotencyKey"));
        }
    }

    #[test]
    fn links_with_bidirectional_controls_are_refused() {
        for link in [
            "https://x.com/jack\u{202E}gnp.exe",
            "https://x.com/jack%E2%80%AEgnp",
            "https://x.com/a\u{2066}b",
            "https://x.com/a%E2%81%A9b",
            "https://x.com/a%07b",
        ] {
            let error = check_link(Platform::Twitter, link).unwrap_err();
            assert_eq!(error.code(), "VALIDATION", "{link}");
        }
        assert!(check_link(Platform::Twitter, "https://x.com/caf%C3%A9").is_ok());
    }

    #[test]
    fn links_are_checked_per_platform() {
        assert!(check_link(Platform::Twitter, "https://x.com/jack/status/20").is_ok());
        assert!(check_link(Platform::Twitter, "twitter.com/jack").is_ok());
        assert!(check_link(Platform::Twitter, "https://mobile.twitter.com/jack").is_ok());
        assert_eq!(
            check_link(Platform::Twitter, "https://instagram.com/jack")
                .unwrap_err()
                .code(),
            "VALIDATION"
        );
        assert!(check_link(Platform::Instagram, "https://www.instagram.com/p/abc/").is_ok());
        assert!(check_link(Platform::Other, "https://example.com/x").is_ok());
        for bad in [
            "",
            "not a link",
            "ftp://x.com/a",
            "https://",
            "javascript:alert(1)",
        ] {
            assert!(check_link(Platform::Twitter, bad).is_err(), "{bad}");
        }
    }
}
