//! MedanPedia's own API (Indonesian, prices in rupiah): one POST endpoint per verb
//! under `https://api.medanpedia.co.id/`, form-encoded `api_id` + `api_key`, answers
//! `{"status": true, "data": ...}` and failures `{"status": false, "msg": "..."}`
//! (older versions put the message in `data`). Errors are classified and retried
//! exactly as for API v2 (see [`super::wire`]).

use std::collections::HashMap;

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use serde_json::Value;

use super::{
    MAX_BATCH, ProviderClient, ProviderError, RemoteOrderRequest, RemoteService, RemoteStatus,
    wire::{
        FormEndpoint, RetryPolicy, decimal, flag, remote_service, remote_status, required,
        statuses_by_id, text,
    },
};

pub struct MedanPediaClient {
    endpoint: FormEndpoint,
    base_url: String,
    api_id: String,
    api_key: String,
}

/// Why a cancel is refused for every order: MedanPedia has no cancel endpoint.
pub const CANCEL_UNSUPPORTED: &str = "MedanPedia does not support cancelling orders";

impl MedanPediaClient {
    /// `base_url` is the API root (`https://api.medanpedia.co.id`); endpoints are
    /// appended to it.
    pub fn new(http: reqwest::Client, base_url: String, api_id: String, api_key: String) -> Self {
        MedanPediaClient {
            endpoint: FormEndpoint::new(http, refusal),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_id,
            api_key,
        }
    }

    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        MedanPediaClient {
            endpoint: self.endpoint.with_retry(retry),
            ..self
        }
    }

    /// One endpoint (see [`FormEndpoint::call`] for `safe_to_repeat`).
    async fn call(
        &self,
        endpoint: &str,
        fields: &[(&str, String)],
        safe_to_repeat: bool,
    ) -> Result<Value, ProviderError> {
        let url = format!("{}/{endpoint}", self.base_url);
        let credentials = [
            ("api_id", self.api_id.as_str()),
            ("api_key", self.api_key.as_str()),
        ];
        self.endpoint
            .call(endpoint, &url, &credentials, fields, safe_to_repeat)
            .await
    }
}

/// A refusal: `{"status": false, "msg": ...}`.
fn refusal(value: &Value) -> Option<String> {
    (!flag(value.get("status"))).then(|| failure_message(value))
}

/// The message of a `{"status": false}` answer: in `msg`, or in `data` (older API).
fn failure_message(value: &Value) -> String {
    value
        .get("msg")
        .and_then(text)
        .or_else(|| value.get("data").and_then(text))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "request refused".into())
}

fn parse_status(value: &Value) -> Result<RemoteStatus, String> {
    let label = match value.get("status") {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => {
            return Err(value
                .get("msg")
                .and_then(text)
                .unwrap_or_else(|| "no status in answer".into()));
        }
    };
    remote_status(label, value)
}

/// The type-specific fields MedanPedia takes, from an order's `extra` (API v2 names).
fn extra_fields(extra: &Value) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(comments) = extra.get("comments").and_then(text) {
        fields.push(("custom_comments", comments));
    }
    if let Some(link) = extra.get("custom_link").and_then(text) {
        fields.push(("custom_link", link));
    }
    fields
}

#[async_trait]
impl ProviderClient for MedanPediaClient {
    async fn services(&self) -> Result<Vec<RemoteService>, ProviderError> {
        let value = self.call("services", &[], true).await?;
        let list = value
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| ProviderError::Transient("services answer is not a list".into()))?;
        // MedanPedia lists no type (its services take a target and a quantity,
        // as API v2's Default does), no cancel and no drip-feed.
        Ok(list
            .iter()
            .filter_map(|s| remote_service(s, "id", "price"))
            .map(|service| RemoteService {
                cancel: false,
                dripfeed: false,
                ..service
            })
            .collect())
    }

    async fn add_order(&self, order: &RemoteOrderRequest<'_>) -> Result<String, ProviderError> {
        let mut fields = vec![
            ("service", order.service.to_string()),
            ("target", order.link.to_string()),
        ];
        if let Some(quantity) = order.quantity {
            fields.push(("quantity", quantity.to_string()));
        }
        fields.extend(extra_fields(order.extra));
        let value = self.call("order", &fields, false).await?;
        required(
            &value,
            &["data", "id"],
            text,
            ProviderError::Unclear,
            "order answered without an order id",
        )
    }

    /// One id uses the single form (`data`); several the many form (`orders`). A
    /// refused single lookup ("order not found") is that order's error, as in the
    /// many form.
    async fn statuses(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<RemoteStatus, String>>, ProviderError> {
        let mut result = HashMap::new();
        if let [id] = ids {
            let entry = match self.call("status", &[("id", id.clone())], true).await {
                Ok(value) => match value.get("data") {
                    Some(data) => parse_status(data),
                    None => Err("no data in answer".into()),
                },
                Err(ProviderError::Refused(message)) => Err(message),
                Err(other) => return Err(other),
            };
            result.insert(id.clone(), entry);
            return Ok(result);
        }
        for chunk in ids.chunks(MAX_BATCH) {
            let value = self
                .call("status", &[("id", chunk.join(","))], true)
                .await?;
            let map = value
                .get("orders")
                .and_then(Value::as_object)
                .ok_or_else(|| ProviderError::Transient("status answer has no orders".into()))?;
            statuses_by_id(&mut result, chunk, map, parse_status);
        }
        Ok(result)
    }

    async fn refill(&self, order_id: &str) -> Result<String, ProviderError> {
        let value = self
            .call("refill", &[("id_order", order_id.to_string())], false)
            .await?;
        required(
            &value,
            &["data", "id_refill"],
            text,
            ProviderError::Unclear,
            "refill answered without an id",
        )
    }

    async fn refill_status(&self, refill_id: &str) -> Result<String, ProviderError> {
        let value = self
            .call(
                "refill_status",
                &[("id_refill", refill_id.to_string())],
                true,
            )
            .await?;
        required(
            &value,
            &["data", "status"],
            text,
            ProviderError::Transient,
            "refill status unreadable",
        )
    }

    async fn cancel(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<(), String>>, ProviderError> {
        Ok(ids
            .iter()
            .map(|id| (id.clone(), Err(CANCEL_UNSUPPORTED.to_string())))
            .collect())
    }

    async fn balance(&self) -> Result<(BigDecimal, String), ProviderError> {
        let value = self.call("profile", &[], true).await?;
        let balance = required(
            &value,
            &["data", "balance"],
            decimal,
            ProviderError::Transient,
            "balance unreadable",
        )?;
        Ok((balance, "IDR".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_failures_from_msg_or_data() {
        assert_eq!(
            failure_message(&json!({"status": false, "msg": "API Key salah"})),
            "API Key salah"
        );
        assert_eq!(
            failure_message(&json!({"status": false, "data": "Saldo tidak cukup"})),
            "Saldo tidak cukup"
        );
        assert_eq!(
            failure_message(&json!({"status": false})),
            "request refused"
        );
    }

    #[test]
    fn parses_statuses() {
        let s = parse_status(&json!({"id": "7", "status": "Success", "charge": "1500", "start_count": "10", "remains": "0"})).unwrap();
        assert_eq!(s.status, crate::db::enums::OrderStatus::Completed);
        assert_eq!(s.charge, Some(BigDecimal::from(1500)));
        assert_eq!(
            parse_status(&json!({"status": "Error"})).unwrap().status,
            crate::db::enums::OrderStatus::Canceled
        );
        assert_eq!(
            parse_status(&json!({"msg": "Pesanan tidak ditemukan", "status": false})).unwrap_err(),
            "Pesanan tidak ditemukan"
        );
    }
}
