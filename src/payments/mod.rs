//! Payment gateways (Midtrans Snap, Xendit invoices) behind one [`Gateway`] trait,
//! and the helpers that check their webhook credentials. Thin typed clients over the
//! shared `reqwest::Client`; the wire formats are in `payments-api.md`. Secrets are
//! only ever put in an `Authorization` header: never in a message or a log line.

pub mod midtrans;
pub mod mutations;
pub mod qris;
pub mod statements;
pub mod xendit;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    config::PaymentsConfig,
    db::enums::PaymentGateway,
    error::{AppError, AppResult},
};

/// What a deposit asks the gateway for.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// Our reference: Midtrans `order_id`, Xendit `external_id`.
    pub merchant_ref: String,
    /// Whole rupiah.
    pub amount: i64,
    pub expires_at: DateTime<Utc>,
    pub description: String,
    pub customer_email: String,
    pub customer_name: String,
    pub return_url: Option<String>,
}

/// What the gateway answered: where the customer pays.
#[derive(Debug, Clone, Default)]
pub struct CreatedPayment {
    /// Xendit invoice id; Midtrans assigns its transaction id only once a payment
    /// method is chosen.
    pub gateway_ref: Option<String>,
    pub payment_url: String,
    pub snap_token: Option<String>,
    /// The gateway's own expiry, when it reports one.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A payment's state as a gateway reports it, mapped to what matters to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Not paid yet (pending, challenge, authorize).
    Pending,
    /// Money received (Midtrans settlement or accepted capture; Xendit PAID, SETTLED).
    Paid,
    /// Refused or canceled (deny, cancel, failure).
    Failed,
    /// Not paid in time.
    Expired,
    /// Money taken back after payment (refund, chargeback, partial ones).
    Reversed,
    /// A status we do not know: recorded, nothing else.
    Unknown,
}

/// One report about a payment, from a webhook or a status query.
#[derive(Debug, Clone)]
pub struct GatewayReport {
    pub status: PaymentStatus,
    /// The gateway's words, e.g. `settlement`, `capture/challenge`, `PAID`.
    pub raw_status: String,
    /// The amount the gateway says was paid, whole rupiah; `None` when absent or not
    /// a whole number of rupiah.
    pub amount: Option<i64>,
    /// The amount exactly as the gateway wrote it, for messages.
    pub raw_amount: String,
    pub gateway_ref: Option<String>,
    /// The body as received (secrets are never part of it).
    pub payload: serde_json::Value,
}

impl GatewayReport {
    /// Identifies the report's content: two deliveries of the same news share it.
    pub fn fingerprint(&self) -> String {
        format!("{}|{}", self.raw_status, self.raw_amount)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Timeout, connection refused, 5xx: try later or use another gateway.
    #[error("{0}")]
    Unavailable(String),
    /// The gateway refused the request (4xx) or answered something unreadable.
    #[error("{0}")]
    Rejected(String),
    /// The gateway does not know the payment (e.g. a Snap transaction whose payment
    /// method was never chosen).
    #[error("payment not found at the gateway")]
    NotFound,
}

impl GatewayError {
    pub(crate) fn from_reqwest(gateway: PaymentGateway, error: reqwest::Error) -> Self {
        // reqwest's Display can include the URL but never headers, so no secret leaks;
        // still, only the kind of failure is kept.
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "could not be reached"
        } else if error.is_decode() {
            return GatewayError::Rejected(format!("{gateway} sent an unreadable answer"));
        } else {
            "failed"
        };
        GatewayError::Unavailable(format!("{gateway} {what}"))
    }

    pub(crate) fn from_status(gateway: PaymentGateway, status: reqwest::StatusCode) -> Self {
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            GatewayError::Unavailable(format!("{gateway} answered HTTP {}", status.as_u16()))
        } else if status == reqwest::StatusCode::NOT_FOUND {
            GatewayError::NotFound
        } else {
            GatewayError::Rejected(format!(
                "{gateway} refused the request (HTTP {})",
                status.as_u16()
            ))
        }
    }
}

#[async_trait]
pub trait Gateway: Send + Sync {
    fn kind(&self) -> PaymentGateway;

    /// Creates the payment page for a deposit.
    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, GatewayError>;

    /// Asks the gateway where a payment stands. `gateway_ref` is needed by Xendit
    /// (invoice id); Midtrans looks payments up by `merchant_ref`.
    async fn fetch_status(
        &self,
        merchant_ref: &str,
        gateway_ref: Option<&str>,
    ) -> Result<GatewayReport, GatewayError>;
}

/// The gateways that have credentials, in a stable order.
pub fn configured(config: &PaymentsConfig) -> Vec<PaymentGateway> {
    PaymentGateway::ALL
        .iter()
        .copied()
        .filter(|g| is_configured(config, *g))
        .collect()
}

pub fn is_configured(config: &PaymentsConfig, gateway: PaymentGateway) -> bool {
    match gateway {
        PaymentGateway::Midtrans => config.midtrans_server_key.is_some(),
        PaymentGateway::Xendit => config.xendit_secret_key.is_some(),
        PaymentGateway::Manual => false,
    }
}

/// The client for `gateway`, or a VALIDATION error naming the field when it has no key.
pub fn client(
    http: &reqwest::Client,
    config: &PaymentsConfig,
    gateway: PaymentGateway,
) -> AppResult<Box<dyn Gateway>> {
    let timeout = config.gateway_timeout;
    let not_configured = || {
        AppError::validation(
            "gateway",
            format!("{gateway} is not configured on this server; choose another gateway"),
        )
    };
    Ok(match gateway {
        PaymentGateway::Manual => {
            return Err(AppError::validation(
                "gateway",
                "MANUAL is not a gateway: choose a transfer or QRIS method with methodId",
            ));
        }
        PaymentGateway::Midtrans => Box::new(midtrans::Midtrans::new(
            http.clone(),
            config.midtrans_snap_url.clone(),
            config.midtrans_api_url.clone(),
            config
                .midtrans_server_key
                .clone()
                .ok_or_else(not_configured)?,
            timeout,
        )),
        PaymentGateway::Xendit => Box::new(xendit::Xendit::new(
            http.clone(),
            config.xendit_api_url.clone(),
            config
                .xendit_secret_key
                .clone()
                .ok_or_else(not_configured)?,
            timeout,
        )),
    })
}

/// `Basic base64("<key>:")`, the scheme both gateways use.
pub(crate) fn basic_auth(key: &str) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    format!("Basic {}", STANDARD.encode(format!("{key}:")))
}

/// Parses an amount written as whole rupiah with an optional zero fraction
/// ("10000", "10000.00", "10000.0") without going through floating point. Anything
/// else (a real fraction, a sign, garbage) is `None`.
pub fn parse_rupiah(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return None;
    }
    whole.parse().ok()
}

/// The trimmed text of a JSON string or number field, for amounts.
pub(crate) fn amount_text(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Sends one authenticated call to a gateway (Basic auth with the key as user name,
/// JSON answer) and decodes the answer; every failure becomes a `GatewayError`.
pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
    gateway: PaymentGateway,
    request: reqwest::RequestBuilder,
    timeout: Duration,
    key: &str,
) -> Result<T, GatewayError> {
    let response = request
        .timeout(timeout)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::AUTHORIZATION, basic_auth(key))
        .send()
        .await
        .map_err(|e| GatewayError::from_reqwest(gateway, e))?;
    if !response.status().is_success() {
        return Err(GatewayError::from_status(gateway, response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| GatewayError::from_reqwest(gateway, e))
}

/// Constant-time equality of two secrets (lengths may differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupiah_amounts_parse_exactly() {
        assert_eq!(parse_rupiah("10000.00"), Some(10_000));
        assert_eq!(parse_rupiah("10000"), Some(10_000));
        assert_eq!(parse_rupiah("10000.0"), Some(10_000));
        assert_eq!(parse_rupiah("10000.50"), None);
        assert_eq!(parse_rupiah("-5"), None);
        assert_eq!(parse_rupiah(".00"), None);
        assert_eq!(parse_rupiah("1e5"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
