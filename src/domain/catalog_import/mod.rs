//! Importing a provider's catalogue and keeping imported services in step with it.
//!
//! - [`preview`] compares the provider's list with what was imported from it (one
//!   local service per provider + provider service id) and reports what is new,
//!   what changed (with the old and new price) and what the provider dropped.
//! - [`import`] creates services for new provider services, priced by the markup rule
//!   of [`pricing`], in one transaction with multi-row inserts; importing a service
//!   again is a no-op (a unique index makes it a database fact). What it creates is
//!   decided first by the pure [`plan`] (`import_plan.rs`).
//! - [`sync`] (the scheduled job, and an admin's button) follows the provider's
//!   rate, limits and flags, reprices, deactivates what the provider dropped (never
//!   deletes: orders reference services) and logs every change in `catalog_changes`;
//!   what changes is decided by the pure `sync_diff::diff`.
//!
//! Reappearance policy: a service the provider drops is deactivated by the sync and
//! marked `sync_deactivated`; if the provider lists it again, the sync reactivates
//! it only while that mark is still set. An admin setting `active` clears the mark,
//! so a service an admin deactivated (before or after the drop) stays inactive
//! until an admin says otherwise. This keeps a provider's short hiccup from
//! needing an admin, and never overrides an admin's decision.
//!
//! The provider is always asked before anything is written: an unreachable provider
//! fails the call with PROVIDER_ERROR and writes nothing.
mod import;
mod import_plan;
mod preview;
mod sync;
mod sync_diff;

pub use import::{ImportReport, import};
pub use import_plan::{
    CategoryChoice, ImportPlan, PlannedService, Selection, Skipped, Target, plan,
};
pub use preview::{CatalogPreview, ChangedEntry, NewEntry, RemovedEntry, preview};
pub use sync::{sync, sync_provider};
pub use sync_diff::SyncReport;

use std::collections::HashSet;

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use diesel_async::AsyncPgConnection;

use crate::{
    db::{enums::Platform, providers::ProviderRow, services::ImportedService},
    domain::pricing::{self},
    error::{AppError, AppResult},
    providers::{ProviderClient, RemoteService},
};

/// Rows per multi-row INSERT: 1000 services x 19 columns stays far below
/// PostgreSQL's 65,535 bind parameters.
const INSERT_CHUNK: usize = 1000;
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
/// `services.provider_rate` is NUMERIC(20, 6).
const RATE_SCALE: i64 = 6;
const RATE_INTEGER_DIGITS: u64 = 14;
/// The category of services a provider files under no category.
const FALLBACK_CATEGORY: &str = "Other";
/// `pg_try_advisory_xact_lock(class, provider id)`: the class keeps these locks
/// apart from any other advisory lock of the application ("CS" = catalogue sync).
const SYNC_LOCK_CLASS: i32 = 0x4353;

// ---------------------------------------------------------------- reading

pub async fn find_provider(conn: &mut AsyncPgConnection, id: i64) -> AppResult<ProviderRow> {
    ProviderRow::find(conn, id)
        .await?
        .ok_or(AppError::NotFound("provider"))
}

/// The provider's catalogue, cleaned: one entry per service id (the first), rates
/// at the precision stored, names and descriptions cut to what the catalogue holds.
pub async fn fetch_catalog(client: &dyn ProviderClient) -> AppResult<Vec<RemoteService>> {
    let list = client.services().await?;
    let mut seen = HashSet::new();
    Ok(list
        .into_iter()
        .filter(|s| !s.id.is_empty() && seen.insert(s.id.clone()))
        .map(|mut s| {
            s.rate = s.rate.with_scale_round(RATE_SCALE, RoundingMode::HalfUp);
            s.name = cut(&s.name, MAX_NAME);
            s.category = cut(&s.category, MAX_NAME);
            s.description = cut(&s.description, MAX_DESCRIPTION);
            s
        })
        .collect())
}

fn cut(text: &str, max: usize) -> String {
    text.trim()
        .chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Guesses the network a service works on from its name, then its category.
pub fn guess_platform(name: &str, category: &str) -> Platform {
    fn from_text(text: &str) -> Option<Platform> {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let has = |needle: &str| lower.contains(needle);
        let word = |w: &str| words.contains(&w);
        if has("twitter") || has("tweet") || word("x") {
            Some(Platform::Twitter)
        } else if has("instagram") || word("ig") {
            Some(Platform::Instagram)
        } else if has("tiktok") || has("tik tok") {
            Some(Platform::Tiktok)
        } else if has("youtube") || word("yt") {
            Some(Platform::Youtube)
        } else if has("facebook") || word("fb") {
            Some(Platform::Facebook)
        } else if has("telegram") || word("tg") {
            Some(Platform::Telegram)
        } else if has("spotify") {
            Some(Platform::Spotify)
        } else {
            None
        }
    }
    from_text(name)
        .or_else(|| from_text(category))
        .unwrap_or(Platform::Other)
}

async fn load_imported(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    lock: bool,
) -> AppResult<Vec<ImportedService>> {
    Ok(ImportedService::of_provider(conn, provider_id, lock).await?)
}

/// The fields of a service the provider decides, with the price they give.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    pub name: String,
    pub provider_rate: BigDecimal,
    pub price_per_1000: i64,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
}

impl ServiceSnapshot {
    fn local(s: &ImportedService) -> Self {
        ServiceSnapshot {
            name: s.name.clone(),
            provider_rate: s.provider_rate.clone().unwrap_or_default(),
            price_per_1000: s.price_per_1000,
            min_quantity: s.min_quantity,
            max_quantity: s.max_quantity,
            refill: s.refill,
            cancel: s.cancel,
            dripfeed: s.dripfeed,
        }
    }

    fn remote(r: &RemoteService, price_per_1000: i64) -> Self {
        let (min_quantity, max_quantity) = quantities(r).unwrap_or((r.min, r.max));
        ServiceSnapshot {
            name: r.name.clone(),
            provider_rate: r.rate.clone(),
            price_per_1000,
            min_quantity,
            max_quantity,
            refill: r.refill,
            cancel: r.cancel,
            dripfeed: r.dripfeed,
        }
    }

    /// The names (GraphQL field names) of what differs.
    fn changed_fields(&self, new: &ServiceSnapshot) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.provider_rate != new.provider_rate {
            fields.push("providerRate");
        }
        if self.min_quantity != new.min_quantity {
            fields.push("minQuantity");
        }
        if self.max_quantity != new.max_quantity {
            fields.push("maxQuantity");
        }
        if self.name != new.name {
            fields.push("name");
        }
        if self.refill != new.refill {
            fields.push("refill");
        }
        if self.cancel != new.cancel {
            fields.push("cancel");
        }
        if self.dripfeed != new.dripfeed {
            fields.push("dripfeed");
        }
        fields
    }
}

/// A provider's limits as the catalogue stores them (minimum at least 1), or None
/// when they make no sense (maximum below minimum).
fn quantities(r: &RemoteService) -> Option<(i64, i64)> {
    let min = r.min.max(1);
    (r.max >= min).then_some((min, r.max))
}

fn rate_fits(rate: &BigDecimal) -> bool {
    !rate.is_negative() && rate.with_scale(0).abs().digits() <= RATE_INTEGER_DIGITS
}

trait Negative {
    fn is_negative(&self) -> bool;
}

impl Negative for BigDecimal {
    fn is_negative(&self) -> bool {
        self < &BigDecimal::zero()
    }
}

/// The pricing in force for a provider: its markup, the panel default and its
/// exchange rate; all a price needs, so the planning halves stay pure.
#[derive(Debug, Clone)]
pub struct Markups {
    pub provider: Option<i32>,
    pub default: i32,
    pub exchange_rate: BigDecimal,
}

impl Markups {
    async fn load(conn: &mut AsyncPgConnection, provider: &ProviderRow) -> AppResult<Self> {
        Ok(Markups {
            provider: provider.markup_bps,
            default: pricing::default_markup_bps(conn).await?,
            exchange_rate: provider.exchange_rate.clone(),
        })
    }

    /// Rupiah per 1000 for a provider rate, under the service's own markup if it
    /// has one.
    fn price(&self, rate: &BigDecimal, service_markup: Option<i32>) -> AppResult<i64> {
        let markup = pricing::effective_markup_bps(service_markup, self.provider, self.default);
        pricing::imported_price_per_1000(rate, &self.exchange_rate, markup)
    }
}

/// For the tests: a "Default" service of a provider's catalogue, 10 to 5,000,
/// without refill, cancel or drip-feed.
#[cfg(test)]
fn listed_service(id: String, name: String, category: &str, rate: BigDecimal) -> RemoteService {
    RemoteService {
        id,
        name,
        category: category.into(),
        type_label: "Default".into(),
        rate,
        min: 10,
        max: 5000,
        refill: false,
        cancel: false,
        dripfeed: false,
        description: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_platforms() {
        assert_eq!(
            guess_platform("Twitter Followers [Real]", ""),
            Platform::Twitter
        );
        assert_eq!(guess_platform("X Followers", "Social"), Platform::Twitter);
        assert_eq!(
            guess_platform("Followers", "X / Twitter"),
            Platform::Twitter
        );
        assert_eq!(guess_platform("IG Likes", ""), Platform::Instagram);
        assert_eq!(
            guess_platform("Likes", "Instagram Likes"),
            Platform::Instagram
        );
        assert_eq!(guess_platform("TikTok Views", ""), Platform::Tiktok);
        assert_eq!(guess_platform("Youtube Subscribers", ""), Platform::Youtube);
        assert_eq!(
            guess_platform("Facebook Page Likes", ""),
            Platform::Facebook
        );
        assert_eq!(guess_platform("Telegram Members", ""), Platform::Telegram);
        assert_eq!(guess_platform("Spotify Plays", ""), Platform::Spotify);
        assert_eq!(
            guess_platform("Website Traffic", "10x Traffic"),
            Platform::Other
        );
    }

    #[test]
    fn limits_need_a_sane_range() {
        let mut r = RemoteService {
            id: "1".into(),
            name: String::new(),
            category: String::new(),
            type_label: "Default".into(),
            rate: BigDecimal::from(1),
            min: 0,
            max: 100,
            refill: false,
            cancel: false,
            dripfeed: false,
            description: String::new(),
        };
        assert_eq!(quantities(&r), Some((1, 100)));
        r.min = 200;
        assert_eq!(quantities(&r), None);
    }

    #[test]
    fn rates_must_fit_the_column() {
        use std::str::FromStr;
        assert!(rate_fits(&BigDecimal::from_str("0.90").unwrap()));
        assert!(!rate_fits(&BigDecimal::from_str("-1").unwrap()));
        assert!(!rate_fits(
            &BigDecimal::from_str("123456789012345").unwrap()
        ));
    }
}
