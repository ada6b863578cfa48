//! Two rules about when an order may run, both pure: the same-link guard (one
//! active order per customer on a link, so start counts and refills keep their
//! meaning) and scheduled start (`startAt`, at most `ORDER_SCHEDULE_MAX_DAYS`
//! ahead). The guard's key is stored on the order; the unique index
//! `orders_active_link_once` over the active orders makes it hold under any
//! concurrency.

use chrono::{DateTime, Duration, Utc};

use crate::{
    config::{OrdersConfig, SameLinkScope},
    db::{enums::Fulfillment, services::ServiceRow},
    error::{AppError, AppResult},
};

/// The unique index behind the guard.
pub const ACTIVE_LINK_INDEX: &str = "orders_active_link_once";

/// What resellers' tools expect when the guard refuses an order.
pub const ACTIVE_LINK_MESSAGE: &str =
    "You have active order with this link. Please wait until order being completed.";

/// The refusal when the guard's index caught a concurrent order.
pub fn active_link_error() -> AppError {
    AppError::validation("link", ACTIVE_LINK_MESSAGE)
}

/// The guard's key of an order of `service` on `link` (already checked by
/// `check_link`), or `None` when the service turned the guard off. The link is
/// compared without its scheme, `www.`/`m.`/`mobile.`, a trailing slash or a
/// fragment, and with its host in lower case (paths and queries keep their case:
/// video and post ids are case-sensitive).
pub fn link_guard(service: &ServiceRow, link: &str, scope: SameLinkScope) -> Option<String> {
    if !service.same_link_guard {
        return None;
    }
    let key = link_key(link);
    Some(match scope {
        SameLinkScope::Service => format!("s{} {key}", service.id),
        SameLinkScope::Platform => format!(
            "p{}/{} {key}",
            service.platform.as_str(),
            service.service_type.as_str()
        ),
    })
}

fn link_key(link: &str) -> String {
    let Ok(url) = url::Url::parse(link) else {
        return link.to_string();
    };
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = ["www.", "m.", "mobile."]
        .iter()
        .fold(host.as_str(), |h, p| h.strip_prefix(p).unwrap_or(h))
        .to_string();
    let path = url.path().trim_end_matches('/');
    match url.query() {
        Some(query) if !query.is_empty() => format!("{host}{path}?{query}"),
        _ => format!("{host}{path}"),
    }
}

/// When a scheduled order is dispatched: `None` for at once (no `startAt`, or
/// one not in the future). VALIDATION on `startAt` past the limit, with
/// scheduling off, or for stock products (they are delivered as they are paid).
pub fn scheduled_start(
    start_at: Option<DateTime<Utc>>,
    fulfillment: Fulfillment,
    rules: &OrdersConfig,
    now: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    let Some(start_at) = start_at.filter(|at| *at > now) else {
        return Ok(None);
    };
    if rules.schedule_max_days == 0 {
        return Err(AppError::validation(
            "startAt",
            "this panel does not schedule orders",
        ));
    }
    if fulfillment == Fulfillment::Stock {
        return Err(AppError::validation(
            "startAt",
            "stock products are delivered at once and cannot be scheduled",
        ));
    }
    if start_at > now + Duration::days(rules.schedule_max_days) {
        return Err(AppError::validation(
            "startAt",
            format!(
                "an order can be scheduled at most {} days ahead",
                rules.schedule_max_days
            ),
        ));
    }
    Ok(Some(start_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::enums::ServiceType;
    use crate::domain::orders::prepare::tests::service;

    #[test]
    fn links_that_name_the_same_post_share_a_key() {
        let s = service(ServiceType::Default);
        let key = |link: &str| link_guard(&s, link, SameLinkScope::Service).unwrap();
        let base = key("https://www.instagram.com/p/AbC123/");
        assert_eq!(base, key("https://instagram.com/p/AbC123"));
        assert_eq!(base, key("http://m.INSTAGRAM.com/p/AbC123/#comments"));
        // Ids are case-sensitive, and a query can name the content (YouTube).
        assert_ne!(base, key("https://instagram.com/p/abc123"));
        assert_ne!(
            key("https://youtube.com/watch?v=a1"),
            key("https://youtube.com/watch?v=a2")
        );
    }

    #[test]
    fn the_scope_decides_which_orders_are_compared_and_a_service_may_turn_it_off() {
        let mut s = service(ServiceType::Default);
        let link = "https://instagram.com/p/x";
        let by_service = link_guard(&s, link, SameLinkScope::Service).unwrap();
        let by_platform = link_guard(&s, link, SameLinkScope::Platform).unwrap();
        assert!(by_service.starts_with(&format!("s{} ", s.id)));
        let prefix = format!("p{}/{} ", s.platform.as_str(), s.service_type.as_str());
        assert!(by_platform.starts_with(&prefix));
        let mut other = service(ServiceType::Default);
        other.id += 1;
        assert_ne!(
            by_service,
            link_guard(&other, link, SameLinkScope::Service).unwrap()
        );
        assert_eq!(
            by_platform,
            link_guard(&other, link, SameLinkScope::Platform).unwrap()
        );
        s.same_link_guard = false;
        assert_eq!(link_guard(&s, link, SameLinkScope::Service), None);
    }

    #[test]
    fn a_start_is_scheduled_within_the_limit_and_never_for_stock() {
        let rules = OrdersConfig::default();
        let now = Utc::now();
        let ok = |at| scheduled_start(Some(at), Fulfillment::Provider, &rules, now);
        assert_eq!(
            scheduled_start(None, Fulfillment::Provider, &rules, now).unwrap(),
            None
        );
        assert_eq!(ok(now - Duration::minutes(5)).unwrap(), None);
        let soon = now + Duration::hours(3);
        assert_eq!(ok(soon).unwrap(), Some(soon));
        let too_far = now + Duration::days(31);
        assert!(
            matches!(ok(too_far), Err(AppError::Validation { field, .. }) if field == "startAt")
        );
        let stock = scheduled_start(Some(soon), Fulfillment::Stock, &rules, now);
        assert!(matches!(stock, Err(AppError::Validation { field, .. }) if field == "startAt"));
        let off = OrdersConfig {
            schedule_max_days: 0,
            ..OrdersConfig::default()
        };
        assert!(scheduled_start(Some(soon), Fulfillment::Provider, &off, now).is_err());
    }
}
