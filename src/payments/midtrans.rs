//! Midtrans: Snap transactions (`POST {snap}/snap/v1/transactions`), the status API
//! (`GET {api}/v2/{order_id}/status`) and HTTP notifications, whose `signature_key`
//! is `hex(SHA-512(order_id + status_code + gross_amount + server_key))`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use super::{
    CreatedPayment, Gateway, GatewayError, GatewayReport, PaymentRequest, PaymentStatus,
    amount_text, constant_time_eq, parse_rupiah, send_json,
};
use crate::{config::Secret, db::enums::PaymentGateway};

const GATEWAY: PaymentGateway = PaymentGateway::Midtrans;

pub struct Midtrans {
    http: reqwest::Client,
    snap_url: String,
    api_url: String,
    server_key: Secret,
    timeout: Duration,
}

impl Midtrans {
    pub fn new(
        http: reqwest::Client,
        snap_url: String,
        api_url: String,
        server_key: Secret,
        timeout: Duration,
    ) -> Self {
        Midtrans {
            http,
            snap_url,
            api_url,
            server_key,
            timeout,
        }
    }

    fn url(base: &str, segments: &[&str]) -> Result<url::Url, GatewayError> {
        let mut url = url::Url::parse(base)
            .map_err(|_| GatewayError::Rejected("the Midtrans base URL is invalid".into()))?;
        url.path_segments_mut()
            .map_err(|_| GatewayError::Rejected("the Midtrans base URL is invalid".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

#[derive(Deserialize)]
struct SnapResponse {
    token: String,
    redirect_url: String,
}

#[async_trait]
impl Gateway for Midtrans {
    fn kind(&self) -> PaymentGateway {
        GATEWAY
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, GatewayError> {
        let now = Utc::now();
        let minutes = ((request.expires_at - now).num_seconds().max(60) + 59) / 60;
        let jakarta = FixedOffset::east_opt(7 * 3600).expect("valid offset");
        let mut body = json!({
            "transaction_details": {
                "order_id": request.merchant_ref,
                "gross_amount": request.amount,
            },
            "item_details": [{
                "id": "deposit",
                "price": request.amount,
                "quantity": 1,
                "name": request.description,
            }],
            "customer_details": {
                "first_name": request.customer_name,
                "email": request.customer_email,
            },
            "expiry": {
                "start_time": now.with_timezone(&jakarta).format("%Y-%m-%d %H:%M:%S %z").to_string(),
                "unit": "minutes",
                "duration": minutes,
            },
        });
        if let Some(url) = &request.return_url {
            body["callbacks"] = json!({ "finish": url });
        }
        let url = Self::url(&self.snap_url, &["snap", "v1", "transactions"])?;
        let snap: SnapResponse = send_json(
            GATEWAY,
            self.http.post(url).json(&body),
            self.timeout,
            self.server_key.expose(),
        )
        .await?;
        Ok(CreatedPayment {
            gateway_ref: None,
            payment_url: snap.redirect_url,
            snap_token: Some(snap.token),
            expires_at: None,
        })
    }

    async fn fetch_status(
        &self,
        merchant_ref: &str,
        _gateway_ref: Option<&str>,
    ) -> Result<GatewayReport, GatewayError> {
        let url = Self::url(&self.api_url, &["v2", merchant_ref, "status"])?;
        let body: Value = send_json(
            GATEWAY,
            self.http.get(url),
            self.timeout,
            self.server_key.expose(),
        )
        .await?;
        // The status API answers unknown orders with HTTP 200 and status_code "404".
        if body.get("status_code").and_then(Value::as_str) == Some("404") {
            return Err(GatewayError::NotFound);
        }
        if body.get("order_id").and_then(Value::as_str) != Some(merchant_ref) {
            return Err(GatewayError::Rejected(
                "Midtrans answered about another order".into(),
            ));
        }
        report(body)
            .ok_or_else(|| GatewayError::Rejected("Midtrans sent an unreadable status".into()))
    }
}

/// Maps `transaction_status` and `fraud_status`.
pub fn map_status(transaction_status: &str, fraud_status: Option<&str>) -> PaymentStatus {
    match (transaction_status, fraud_status) {
        ("settlement", _) => PaymentStatus::Paid,
        ("capture", Some("accept")) => PaymentStatus::Paid,
        ("capture", Some("deny")) => PaymentStatus::Failed,
        ("capture", _) | ("pending", _) | ("authorize", _) => PaymentStatus::Pending,
        ("deny", _) | ("cancel", _) | ("failure", _) => PaymentStatus::Failed,
        ("expire", _) => PaymentStatus::Expired,
        ("refund", _) | ("partial_refund", _) | ("chargeback", _) | ("partial_chargeback", _) => {
            PaymentStatus::Reversed
        }
        _ => PaymentStatus::Unknown,
    }
}

/// Reads a notification or status body (same fields); `None` without
/// `transaction_status`. Unknown fields are ignored.
pub fn report(body: Value) -> Option<GatewayReport> {
    let transaction_status = body.get("transaction_status")?.as_str()?.to_string();
    let fraud_status = body
        .get("fraud_status")
        .and_then(Value::as_str)
        .map(str::to_string);
    let raw_amount = amount_text(body.get("gross_amount")).unwrap_or_default();
    let raw_status = match &fraud_status {
        Some(fraud) if transaction_status == "capture" => format!("capture/{fraud}"),
        _ => transaction_status.clone(),
    };
    Some(GatewayReport {
        status: map_status(&transaction_status, fraud_status.as_deref()),
        raw_status,
        amount: parse_rupiah(&raw_amount),
        raw_amount,
        gateway_ref: body
            .get("transaction_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        payload: body,
    })
}

/// The fields a notification is signed over, read from its JSON body.
#[derive(Debug, Clone)]
pub struct SignedFields {
    pub order_id: String,
    pub status_code: String,
    pub gross_amount: String,
    pub signature_key: String,
}

impl SignedFields {
    /// `None` when a field is missing or not a string: a malformed notification.
    pub fn from_body(body: &Value) -> Option<SignedFields> {
        let field = |name: &str| body.get(name)?.as_str().map(str::to_string);
        Some(SignedFields {
            order_id: field("order_id")?,
            status_code: field("status_code")?,
            gross_amount: field("gross_amount")?,
            signature_key: field("signature_key")?,
        })
    }
}

/// `lowercase hex(SHA-512(order_id + status_code + gross_amount + server_key))`.
pub fn signature(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    server_key: &str,
) -> String {
    let mut hasher = Sha512::new();
    hasher.update(order_id.as_bytes());
    hasher.update(status_code.as_bytes());
    hasher.update(gross_amount.as_bytes());
    hasher.update(server_key.as_bytes());
    hex::encode(hasher.finalize())
}

/// Whether a notification's `signature_key` is Midtrans', compared in constant time.
pub fn verify_signature(fields: &SignedFields, server_key: &Secret) -> bool {
    let expected = signature(
        &fields.order_id,
        &fields.status_code,
        &fields.gross_amount,
        server_key.expose(),
    );
    constant_time_eq(
        expected.as_bytes(),
        fields.signature_key.to_ascii_lowercase().as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_documented_formula_and_mapping() {
        let key = Secret("SB-Mid-server-test".into());
        let sig = signature("DEP-1-abc", "200", "10000.00", key.expose());
        assert_eq!(sig.len(), 128);
        let fields = SignedFields {
            order_id: "DEP-1-abc".into(),
            status_code: "200".into(),
            gross_amount: "10000.00".into(),
            signature_key: sig.to_uppercase(),
        };
        assert!(verify_signature(&fields, &key));
        assert!(!verify_signature(&fields, &Secret("other".into())));
        assert_eq!(
            map_status("capture", Some("challenge")),
            PaymentStatus::Pending
        );
        assert_eq!(map_status("capture", Some("accept")), PaymentStatus::Paid);
        assert_eq!(map_status("chargeback", None), PaymentStatus::Reversed);
    }
}
