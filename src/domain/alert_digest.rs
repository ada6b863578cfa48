//! Admin alert mail as a digest: every admin alert is an in-app notification at
//! once, but its mail joins one digest per admin per interval
//! (`ADMIN_ALERT_DIGEST_SECONDS`), sent when the interval ends. However many
//! tickets a customer opens, an admin gets at most one alert mail per interval,
//! so alerts can never crowd the outbox ahead of customers' deposit and order
//! mail. The interval is process-wide, set once at start by `serve` and `worker`
//! (`cli::apply_process_settings`; tests keep the default).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use chrono::{DateTime, TimeZone, Utc};
use diesel_async::AsyncPgConnection;

use crate::{
    db::enums::Language,
    db::{mail_outbox::DigestLine, users::UserRow},
    error::AppResult,
};

static INTERVAL_SECONDS: AtomicU64 = AtomicU64::new(600);

/// Longest digest body; later lines of the interval are in the app only.
const MAX_BODY_CHARS: i32 = 20_000;
/// Longest line one alert adds.
const MAX_LINE_CHARS: usize = 300;

/// Sets the digest interval (at least one second).
pub fn set_interval(interval: Duration) {
    INTERVAL_SECONDS.store(interval.as_secs().max(1), Ordering::Relaxed);
}

/// The interval `at` falls in: its number and its end.
fn window(at: DateTime<Utc>) -> (i64, DateTime<Utc>) {
    let seconds = INTERVAL_SECONDS.load(Ordering::Relaxed) as i64;
    let index = at.timestamp().div_euclid(seconds);
    let end = Utc
        .timestamp_opt((index + 1) * seconds, 0)
        .single()
        .unwrap_or(at);
    (index, end)
}

/// Adds `message` to `admin`'s digest of the current interval, in the caller's
/// transaction.
pub async fn add(conn: &mut AsyncPgConnection, admin: &UserRow, message: &str) -> AppResult<()> {
    let (index, due) = window(Utc::now());
    let (subject, header) = match admin.language {
        Language::Id => (
            "[admin] Notifikasi yang menunggu",
            "Notifikasi admin sejak digest terakhir (semuanya ada di panel admin):\n",
        ),
        Language::En => (
            "[admin] Alerts waiting for you",
            "Admin alerts since the last digest (all of them are in the admin panel):\n",
        ),
    };
    let first_line: String = message
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LINE_CHARS)
        .collect();
    let line = format!("\n- {first_line}");
    let dedupe_key = format!("admin_digest:{}:{index}", admin.id);
    DigestLine {
        to_address: admin.email.trim(),
        subject,
        header,
        line: &line,
        user_id: admin.id,
        dedupe_key: &dedupe_key,
        due,
        max_body_chars: MAX_BODY_CHARS,
    }
    .upsert(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_ends_on_its_boundary() {
        set_interval(Duration::from_secs(600));
        let at = Utc.timestamp_opt(1_000_000_123, 0).unwrap();
        let (index, end) = window(at);
        assert_eq!(index, 1_000_000_123 / 600);
        assert_eq!(end.timestamp(), (index + 1) * 600);
        assert!(end > at);
    }
}
