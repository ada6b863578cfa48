//! Signed webhooks to resellers' callback URLs: how often the outbox runs, how
//! long one call may take, how retries back off and when a receiver is given up
//! on, and whether private addresses may be called (development only).

use std::time::Duration;

use super::parse_var;

#[derive(Clone, Debug)]
pub struct CallbacksConfig {
    /// How often the callback outbox runs (zero: never).
    pub outbox_interval: Duration,
    /// One delivery's whole call: connect, send, read the answer.
    pub timeout: Duration,
    /// The first wait after a failed attempt; doubled per attempt, at most an hour.
    pub retry_after: Duration,
    /// A delivery failing for this long is given up and its receiver paused.
    pub give_up_after: Duration,
    /// How long a claimed delivery is held by its worker.
    pub lease: Duration,
    /// Allow callback URLs on loopback and private networks. Off in production:
    /// a customer's URL must never reach the panel's own network.
    pub allow_private_addresses: bool,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            outbox_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            retry_after: Duration::from_secs(30),
            give_up_after: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(60),
            allow_private_addresses: false,
        }
    }
}

impl CallbacksConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let defaults = CallbacksConfig::default();
        let seconds = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs(parse_var(name, default.as_secs())?))
        };
        let config = CallbacksConfig {
            outbox_interval: Duration::from_millis(parse_var(
                "CALLBACK_OUTBOX_INTERVAL_MS",
                defaults.outbox_interval.as_millis() as u64,
            )?),
            timeout: seconds("CALLBACK_TIMEOUT_SECONDS", defaults.timeout)?,
            retry_after: seconds("CALLBACK_RETRY_SECONDS", defaults.retry_after)?,
            give_up_after: Duration::from_secs(
                parse_var(
                    "CALLBACK_GIVE_UP_HOURS",
                    defaults.give_up_after.as_secs() / 3600,
                )? * 3600,
            ),
            lease: defaults.lease,
            allow_private_addresses: parse_var(
                "CALLBACK_ALLOW_PRIVATE_ADDRESSES",
                defaults.allow_private_addresses,
            )?,
        };
        anyhow::ensure!(
            (1..=30).contains(&config.timeout.as_secs()),
            "CALLBACK_TIMEOUT_SECONDS must be 1 to 30"
        );
        Ok(CallbacksConfig {
            lease: config.timeout * 4 + Duration::from_secs(10),
            ..config
        })
    }
}
