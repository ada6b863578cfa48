//! Xendit invoices: `POST /v2/invoices`, `GET /v2/invoices/{id}`, and callbacks,
//! authenticated by the `x-callback-token` header.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    CreatedPayment, Gateway, GatewayError, GatewayReport, PaymentRequest, PaymentStatus,
    amount_text, constant_time_eq, parse_rupiah, send_json,
};
use crate::{config::Secret, db::enums::PaymentGateway};

const GATEWAY: PaymentGateway = PaymentGateway::Xendit;

/// The header every callback carries.
pub const CALLBACK_TOKEN_HEADER: &str = "x-callback-token";

pub struct Xendit {
    http: reqwest::Client,
    api_url: String,
    secret_key: Secret,
    timeout: Duration,
}

#[derive(Deserialize)]
struct InvoiceResponse {
    id: String,
    invoice_url: String,
    #[serde(default)]
    expiry_date: Option<DateTime<Utc>>,
}

impl Xendit {
    pub fn new(
        http: reqwest::Client,
        api_url: String,
        secret_key: Secret,
        timeout: Duration,
    ) -> Self {
        Xendit {
            http,
            api_url,
            secret_key,
            timeout,
        }
    }

    fn url(&self, segments: &[&str]) -> Result<url::Url, GatewayError> {
        let mut url = url::Url::parse(&self.api_url)
            .map_err(|_| GatewayError::Rejected("the Xendit base URL is invalid".into()))?;
        url.path_segments_mut()
            .map_err(|_| GatewayError::Rejected("the Xendit base URL is invalid".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

#[async_trait]
impl Gateway for Xendit {
    fn kind(&self) -> PaymentGateway {
        GATEWAY
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, GatewayError> {
        let duration = (request.expires_at - Utc::now()).num_seconds().max(60);
        let mut body = json!({
            "external_id": request.merchant_ref,
            "amount": request.amount,
            "currency": "IDR",
            "description": request.description,
            "payer_email": request.customer_email,
            "invoice_duration": duration,
        });
        if let Some(url) = &request.return_url {
            body["success_redirect_url"] = json!(url);
            body["failure_redirect_url"] = json!(url);
        }
        let invoice: InvoiceResponse = send_json(
            GATEWAY,
            self.http.post(self.url(&["v2", "invoices"])?).json(&body),
            self.timeout,
            self.secret_key.expose(),
        )
        .await?;
        Ok(CreatedPayment {
            gateway_ref: Some(invoice.id),
            payment_url: invoice.invoice_url,
            snap_token: None,
            expires_at: invoice.expiry_date,
        })
    }

    async fn fetch_status(
        &self,
        _merchant_ref: &str,
        gateway_ref: Option<&str>,
    ) -> Result<GatewayReport, GatewayError> {
        let id = gateway_ref.ok_or(GatewayError::NotFound)?;
        let body: Value = send_json(
            GATEWAY,
            self.http.get(self.url(&["v2", "invoices", id])?),
            self.timeout,
            self.secret_key.expose(),
        )
        .await?;
        report(body)
            .ok_or_else(|| GatewayError::Rejected("Xendit sent an unreadable invoice".into()))
    }
}

pub fn map_status(status: &str) -> PaymentStatus {
    match status.to_ascii_uppercase().as_str() {
        "PAID" | "SETTLED" => PaymentStatus::Paid,
        "PENDING" => PaymentStatus::Pending,
        "EXPIRED" => PaymentStatus::Expired,
        _ => PaymentStatus::Unknown,
    }
}

/// Reads an invoice or callback body; `None` without `status`. The paid amount is
/// `paid_amount` when present, else `amount`. Unknown fields are ignored.
pub fn report(body: Value) -> Option<GatewayReport> {
    let raw_status = body.get("status")?.as_str()?.to_string();
    let status = map_status(&raw_status);
    let amount_field = if status == PaymentStatus::Paid && body.get("paid_amount").is_some() {
        body.get("paid_amount")
    } else {
        body.get("amount")
    };
    let raw_amount = amount_text(amount_field).unwrap_or_default();
    Some(GatewayReport {
        status,
        raw_status,
        amount: parse_rupiah(&raw_amount),
        raw_amount,
        gateway_ref: body.get("id").and_then(Value::as_str).map(str::to_string),
        payload: body,
    })
}

/// Whether a callback's `x-callback-token` equals ours, in constant time.
pub fn verify_callback_token(given: Option<&[u8]>, expected: &Secret) -> bool {
    match given {
        Some(given) => constant_time_eq(given, expected.expose().as_bytes()),
        None => false,
    }
}
