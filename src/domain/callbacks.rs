//! Signed webhooks for resellers, the rules: which callback URLs are accepted
//! (HTTPS to a public address; private addresses only where the panel allows them
//! for development), the signing secret (made here, handed out once, stored
//! encrypted), what a delivery says (the API v2 words of `orders::labels`), when
//! a failed one is tried again, and when a receiver is given up on (paused, its
//! owner told). Deliveries are queued with each status change by
//! `orders::write_changes` and sent by `jobs/callback_outbox.rs`.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{Value, json};

use crate::{
    callbacks::{address, signature},
    config::CallbacksConfig,
    crypto::SecretBox,
    db::{
        callbacks::{CallbackRow, DeliveryRow},
        order_events::OrderEventRow,
        orders::OrderRow,
    },
    domain::{
        notifications::{self, About, Audience},
        orders::labels::{order_label, rupiah},
    },
    error::{AppError, AppResult},
};

const MAX_URL: usize = 2048;
/// The longest wait between two attempts of one delivery.
const MAX_RETRY_WAIT: chrono::Duration = chrono::Duration::hours(1);

/// A checked callback URL: HTTPS (plain HTTP only where private addresses are
/// allowed, for development) to a host whose every address is public.
pub async fn check_url(url: &str, allow_private: bool) -> AppResult<String> {
    let invalid = |why: &str| AppError::validation("url", why.to_string());
    let url = url.trim();
    if url.is_empty() || url.len() > MAX_URL {
        return Err(invalid("the callback URL must be 1 to 2048 characters"));
    }
    let parsed =
        url::Url::parse(url).map_err(|_| invalid("the callback URL is not a valid URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(invalid("the callback URL must use https")),
    }
    let host = parsed
        .host()
        .ok_or_else(|| invalid("the callback URL needs a host"))?;
    address::check_host(&host, allow_private)
        .await
        .map_err(invalid)?;
    Ok(parsed.to_string())
}

/// Sets the caller's callback URL (and resumes a paused one). The first time, a
/// signing secret is made and answered, once; later calls keep the secret.
pub async fn set_callback(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    config: &CallbacksConfig,
    user_id: i64,
    url: &str,
) -> AppResult<(CallbackRow, Option<String>)> {
    let url = check_url(url, config.allow_private_addresses).await?;
    conn.transaction(async |conn| {
        let existing = CallbackRow::find(conn, user_id).await?;
        let secret = existing.is_none().then(signature::new_secret);
        let sealed = secrets.encrypt(secret.as_deref().unwrap_or_default());
        let row = CallbackRow::upsert(conn, user_id, &url, &sealed, secret.is_some()).await?;
        Ok((row, secret))
    })
    .await
}

/// A new signing secret for the caller's callback, answered once; the old one
/// stops working at once.
pub async fn rotate_secret(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    user_id: i64,
) -> AppResult<String> {
    let secret = signature::new_secret();
    CallbackRow::set_secret(conn, user_id, &secrets.encrypt(&secret))
        .await?
        .ok_or(AppError::NotFound("callback"))?;
    Ok(secret)
}

/// Removes the caller's callback and its pending deliveries.
pub async fn remove(conn: &mut AsyncPgConnection, user_id: i64) -> AppResult<bool> {
    conn.transaction(async |conn| Ok(CallbackRow::delete(conn, user_id).await?))
        .await
}

/// The id receivers dedupe on (`webhook-id` and the body's `id`).
pub fn delivery_id(id: i64) -> String {
    format!("dlv_{id}")
}

/// What a delivery says: the order's change in API v2 words, as the status
/// answer of API v2 does, with the time of the change.
pub fn payload(delivery: &DeliveryRow, event: &OrderEventRow, order: &OrderRow) -> Value {
    json!({
        "id": delivery_id(delivery.id),
        "type": "order.status",
        "order": order.id,
        "status": order_label(event.status),
        "charge": rupiah(order.charge - order.refunded),
        "start_count": event.start_count.unwrap_or(0).to_string(),
        "remains": event.remains.unwrap_or(order.quantity).to_string(),
        "currency": "IDR",
        "changed_at": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// When a failed delivery is tried again: `retry_after` doubled per attempt (at
/// most an hour); `None` once it has been failing for `give_up_after`.
pub fn retry_at(
    config: &CallbacksConfig,
    created_at: DateTime<Utc>,
    attempts: i32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let give_up = chrono::Duration::from_std(config.give_up_after).ok()?;
    if now - created_at >= give_up {
        return None;
    }
    let first = chrono::Duration::from_std(config.retry_after).ok()?;
    let wait = super::retry::backoff(first, attempts, MAX_RETRY_WAIT);
    Some(now + wait)
}

/// A receiver given up on: paused (nothing is queued or sent until its owner sets
/// the URL again), and the owner told once.
pub async fn pause_receiver(conn: &mut AsyncPgConnection, user_id: i64) -> AppResult<()> {
    conn.transaction(async |conn| {
        if CallbackRow::pause(conn, user_id).await? {
            notifications::notify(
                conn,
                Audience::User(user_id),
                "CALLBACK_PAUSED",
                "Your order callback URL kept failing and was paused. Fix the receiver, then set the URL again (setOrderCallback) to resume; meanwhile use API v2 status.",
                About::default(),
            )
            .await?;
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retries_back_off_to_an_hour_and_stop_after_a_day() {
        let config = CallbacksConfig::default();
        let created = Utc::now();
        let wait = |attempts, after_hours| {
            let now = created + chrono::Duration::hours(after_hours);
            retry_at(&config, created, attempts, now).map(|at| (at - now).num_seconds())
        };
        assert_eq!(wait(1, 0), Some(30));
        assert_eq!(wait(2, 0), Some(60));
        assert_eq!(wait(5, 0), Some(480));
        assert_eq!(wait(12, 2), Some(3600));
        assert_eq!(wait(40, 23), Some(3600));
        assert_eq!(wait(41, 24), None);
        let impatient = CallbacksConfig {
            give_up_after: Duration::ZERO,
            ..config
        };
        assert_eq!(retry_at(&impatient, created, 1, created), None);
    }

    #[tokio::test]
    async fn callback_urls_must_be_https_to_public_addresses() {
        for refused in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://localhost/hook",
            "http://203.0.113.10/hook",
            "ftp://example.com/hook",
            "not a url",
        ] {
            let error = check_url(refused, false).await.unwrap_err();
            assert_eq!(error.public().code, "VALIDATION", "{refused}");
        }
        assert_eq!(
            check_url("http://127.0.0.1:9/hook", true).await.unwrap(),
            "http://127.0.0.1:9/hook"
        );
    }
}
