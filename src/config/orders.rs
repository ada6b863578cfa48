//! The rules an order lives by that a panel owner tunes: the refill warranty's
//! defaults, the same-link guard's scope and how far ahead an order may be
//! scheduled.

use std::{str::FromStr, time::Duration};

use super::parse_var;

/// What the same-link guard compares (`SAME_LINK_SCOPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameLinkScope {
    /// Another active order of the same service on the link.
    Service,
    /// Another active order of any service of the same platform and order type.
    Platform,
}

impl FromStr for SameLinkScope {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "service" => Ok(SameLinkScope::Service),
            "platform" => Ok(SameLinkScope::Platform),
            _ => Err("must be `service` or `platform`".into()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct OrdersConfig {
    /// Days after completion a refill may be asked for, for services that set none.
    pub refill_period_days: i32,
    /// Hours between two refills of one order, for services that set none.
    pub refill_cooldown_hours: i32,
    pub same_link_scope: SameLinkScope,
    /// How far ahead `startAt` may be.
    pub schedule_max_days: i64,
    /// How often the measured service figures are recomputed (zero: never).
    pub figures_interval: Duration,
    /// The orders the figures are measured over: those placed in the last N days.
    pub figures_window_days: i32,
    /// How often due drip-feed runs are placed (zero: never).
    pub drip_interval: Duration,
    /// The most orders of one account placed in one transaction when they arrive
    /// together (`domain::orders::group_commit`); 1 places every order alone.
    pub group_max: usize,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            refill_period_days: 30,
            refill_cooldown_hours: 24,
            same_link_scope: SameLinkScope::Service,
            schedule_max_days: 30,
            figures_interval: Duration::from_secs(900),
            figures_window_days: 30,
            drip_interval: Duration::from_secs(30),
            group_max: 64,
        }
    }
}

impl OrdersConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let defaults = OrdersConfig::default();
        let config = OrdersConfig {
            refill_period_days: parse_var("REFILL_PERIOD_DAYS", defaults.refill_period_days)?,
            refill_cooldown_hours: parse_var(
                "REFILL_COOLDOWN_HOURS",
                defaults.refill_cooldown_hours,
            )?,
            same_link_scope: parse_var("SAME_LINK_SCOPE", defaults.same_link_scope)?,
            schedule_max_days: parse_var("ORDER_SCHEDULE_MAX_DAYS", defaults.schedule_max_days)?,
            figures_interval: Duration::from_secs(parse_var(
                "SERVICE_FIGURES_INTERVAL_SECONDS",
                defaults.figures_interval.as_secs(),
            )?),
            figures_window_days: parse_var(
                "SERVICE_FIGURES_WINDOW_DAYS",
                defaults.figures_window_days,
            )?,
            drip_interval: Duration::from_secs(parse_var(
                "DRIP_FEED_INTERVAL_SECONDS",
                defaults.drip_interval.as_secs(),
            )?),
            group_max: parse_var("ORDER_GROUP_MAX", defaults.group_max)?,
        };
        anyhow::ensure!(
            (1..=365).contains(&config.figures_window_days),
            "SERVICE_FIGURES_WINDOW_DAYS must be 1 to 365"
        );
        anyhow::ensure!(
            (0..=3650).contains(&config.refill_period_days),
            "REFILL_PERIOD_DAYS must be 0 to 3650"
        );
        anyhow::ensure!(
            (0..=720).contains(&config.refill_cooldown_hours),
            "REFILL_COOLDOWN_HOURS must be 0 to 720"
        );
        anyhow::ensure!(
            (1..=1000).contains(&config.group_max),
            "ORDER_GROUP_MAX must be 1 to 1000"
        );
        anyhow::ensure!(
            (0..=365).contains(&config.schedule_max_days),
            "ORDER_SCHEDULE_MAX_DAYS must be 0 to 365"
        );
        Ok(config)
    }
}
