//! Validation of an order before anything is written: the link for the service's
//! platform, each service type's extra fields, the quantity's bounds and step, the
//! idempotency key; and the price, fixed from the service. Pure: reads nothing.

use serde_json::{Map, Value, json};

use crate::{
    db::{
        enums::{Fulfillment, Platform, ServiceType},
        services::ServiceRow,
    },
    domain::pricing,
    error::{AppError, AppResult},
};

const MAX_LINK: usize = 2048;
const MAX_LIST_LINES: usize = 10_000;

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
}

#[derive(Debug, Clone)]
pub struct OrderInput {
    pub service_id: i64,
    pub link: String,
    pub quantity: Option<i64>,
    pub extras: OrderExtras,
    pub idempotency_key: Option<String>,
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
}

fn non_empty_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn required_text(field: &str, value: &Option<String>) -> AppResult<String> {
    let value = value.as_deref().map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} is required for this service"),
        ));
    }
    if value.len() > 100_000 {
        return Err(AppError::validation(field, format!("{field} is too long")));
    }
    Ok(value.to_string())
}

fn required_lines(field: &str, value: &Option<String>) -> AppResult<Vec<String>> {
    let text = required_text(field, value)?;
    let lines: Vec<String> = non_empty_lines(&text)
        .into_iter()
        .map(str::to_string)
        .collect();
    if lines.len() > MAX_LIST_LINES {
        return Err(AppError::validation(
            field,
            format!("at most {MAX_LIST_LINES} lines"),
        ));
    }
    Ok(lines)
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
pub fn prepare(service: &ServiceRow, input: &OrderInput) -> AppResult<PreparedOrder> {
    if !service.active {
        return Err(AppError::validation(
            "serviceId",
            "this service is not available",
        ));
    }
    let link = check_link(service.platform, &input.link)?;
    let extras = &input.extras;
    let mut extra = Map::new();
    let quantity_needed = || {
        input
            .quantity
            .ok_or_else(|| AppError::validation("quantity", "quantity is required"))
    };
    use ServiceType as T;
    let mut quantity = match service.service_type {
        T::Default => quantity_needed()?,
        T::Package => input.quantity.unwrap_or(1),
        T::CustomComments | T::CustomCommentsPackage => {
            let comments = required_lines("comments", &extras.comments)?;
            let count = comments.len() as i64;
            if input.quantity.is_some_and(|q| q != count) {
                return Err(AppError::validation(
                    "quantity",
                    "quantity must equal the number of comments (one per line)",
                ));
            }
            extra.insert("comments".into(), json!(comments.join("\n")));
            if service.service_type == T::CustomCommentsPackage {
                1
            } else {
                count
            }
        }
        T::Mentions | T::MentionsWithHashtags => {
            extra.insert(
                "usernames".into(),
                json!(required_lines("usernames", &extras.usernames)?.join("\n")),
            );
            if service.service_type == T::MentionsWithHashtags {
                extra.insert(
                    "hashtags".into(),
                    json!(required_lines("hashtags", &extras.hashtags)?.join("\n")),
                );
            }
            quantity_needed()?
        }
        T::MentionsCustomList => {
            let usernames = required_lines("usernames", &extras.usernames)?;
            let count = usernames.len() as i64;
            extra.insert("usernames".into(), json!(usernames.join("\n")));
            count
        }
        T::MentionsHashtag => {
            extra.insert(
                "hashtag".into(),
                json!(required_text("hashtag", &extras.hashtag)?),
            );
            quantity_needed()?
        }
        T::MentionsUserFollowers | T::CommentLikes => {
            extra.insert(
                "username".into(),
                json!(required_text("username", &extras.username)?),
            );
            quantity_needed()?
        }
        T::MentionsMediaLikers => {
            extra.insert(
                "media".into(),
                json!(required_text("media", &extras.media)?),
            );
            quantity_needed()?
        }
        T::CommentReplies => {
            extra.insert(
                "username".into(),
                json!(required_text("username", &extras.username)?),
            );
            let comments = required_lines("comments", &extras.comments)?;
            let count = comments.len() as i64;
            extra.insert("comments".into(), json!(comments.join("\n")));
            count
        }
        T::Poll => {
            let answer = extras.answer_number.ok_or_else(|| {
                AppError::validation("answerNumber", "answerNumber is required for a poll")
            })?;
            if answer < 1 {
                return Err(AppError::validation(
                    "answerNumber",
                    "answerNumber starts at 1",
                ));
            }
            extra.insert("answer_number".into(), json!(answer));
            quantity_needed()?
        }
        T::InvitesFromGroups => {
            extra.insert(
                "groups".into(),
                json!(required_lines("groups", &extras.groups)?.join("\n")),
            );
            quantity_needed()?
        }
        T::Subscriptions => {
            return Err(AppError::validation(
                "serviceId",
                "subscription services are ordered per post through the provider panel and are not sold here",
            ));
        }
    };
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
    match (extras.runs, extras.interval) {
        (None, None) => {}
        (Some(runs), Some(interval)) => {
            if !service.dripfeed {
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
            extra.insert("runs".into(), json!(runs));
            extra.insert("interval".into(), json!(interval));
            extra.insert("quantity_per_run".into(), json!(quantity));
            quantity = quantity
                .checked_mul(runs)
                .ok_or_else(|| AppError::validation("runs", "order is too large"))?;
        }
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
    }
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
    })
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
mod tests {
    use super::*;

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
