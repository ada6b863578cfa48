//! Payment settings: the gateways (Midtrans, Xendit), deposit bounds, manual
//! transfers and the bank-mutation service (Moota).

use std::{env, time::Duration};

use anyhow::anyhow;

use super::{Secret, parse_var, var_or};

/// Payment gateways and deposit rules. A gateway whose key is unset is "not
/// configured": deposits through it are refused with a clear error.
#[derive(Clone, Debug)]
pub struct PaymentsConfig {
    pub midtrans_server_key: Option<Secret>,
    pub midtrans_snap_url: String,
    pub midtrans_api_url: String,
    pub xendit_secret_key: Option<Secret>,
    pub xendit_callback_token: Option<Secret>,
    pub xendit_api_url: String,
    /// Smallest and largest deposit, whole rupiah.
    pub deposit_min: i64,
    pub deposit_max: i64,
    pub deposit_expiry: Duration,
    pub return_url: Option<String>,
    pub gateway_timeout: Duration,
    pub reconcile_after: Duration,
    /// Zero: `booster serve` does not run the reconciliation job.
    pub reconcile_interval: Duration,
    /// Manual transfers: the unique code is credited too (true) or kept by the panel.
    pub credit_unique_code: bool,
    /// The secret Moota signs its mutation pushes with; pushes are refused while unset.
    pub moota_secret: Option<Secret>,
    /// A bank mutation waiting for an admin longer than this is a problem on `/readyz`.
    pub unmatched_mutation_alert_after: Duration,
    /// Largest proof-of-transfer image, bytes.
    pub proof_max_bytes: usize,
    /// How often customer levels catch up with what orders spent (zero: never).
    pub levels_interval: Duration,
}

impl PaymentsConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let config = PaymentsConfig {
            midtrans_server_key: Secret::from_var("MIDTRANS_SERVER_KEY"),
            midtrans_snap_url: var_or("MIDTRANS_SNAP_URL", "https://app.sandbox.midtrans.com"),
            midtrans_api_url: var_or("MIDTRANS_API_URL", "https://api.sandbox.midtrans.com"),
            xendit_secret_key: Secret::from_var("XENDIT_SECRET_KEY"),
            xendit_callback_token: Secret::from_var("XENDIT_CALLBACK_TOKEN"),
            xendit_api_url: var_or("XENDIT_API_URL", "https://api.xendit.co"),
            deposit_min: parse_var("DEPOSIT_MIN", 10_000)?,
            deposit_max: parse_var("DEPOSIT_MAX", 100_000_000)?,
            deposit_expiry: Duration::from_secs(
                parse_var::<u64>("DEPOSIT_EXPIRY_MINUTES", 60)? * 60,
            ),
            return_url: env::var("DEPOSIT_RETURN_URL")
                .ok()
                .filter(|v| !v.is_empty()),
            gateway_timeout: Duration::from_secs(parse_var("GATEWAY_TIMEOUT_SECONDS", 15)?),
            reconcile_after: Duration::from_secs(parse_var("RECONCILE_AFTER_SECONDS", 900)?),
            reconcile_interval: Duration::from_secs(parse_var("RECONCILE_INTERVAL_SECONDS", 60)?),
            credit_unique_code: parse_var("MANUAL_DEPOSIT_CREDIT_UNIQUE_CODE", true)?,
            moota_secret: Secret::from_var("MOOTA_WEBHOOK_SECRET"),
            unmatched_mutation_alert_after: Duration::from_secs(
                parse_var::<u64>("UNMATCHED_MUTATION_ALERT_MINUTES", 60)? * 60,
            ),
            proof_max_bytes: parse_var("DEPOSIT_PROOF_MAX_BYTES", 2 * 1024 * 1024)?,
            levels_interval: Duration::from_secs(parse_var("LEVELS_RECOMPUTE_SECONDS", 300)?),
        };
        if config.deposit_min <= 0 || config.deposit_max < config.deposit_min {
            return Err(anyhow!(
                "DEPOSIT_MIN must be positive and DEPOSIT_MAX at least DEPOSIT_MIN"
            ));
        }
        if config.deposit_expiry.is_zero() {
            return Err(anyhow!("DEPOSIT_EXPIRY_MINUTES must be positive"));
        }
        Ok(config)
    }
}
