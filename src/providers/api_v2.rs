//! The common "API v2" of JustAnotherPanel, Peakerr and every Perfect-Panel-style
//! provider: one POST endpoint, form-encoded `key` + `action`, JSON answers, logical
//! errors as `{"error": "..."}` (usually with HTTP 200).

use std::collections::HashMap;

use async_trait::async_trait;
use bigdecimal::BigDecimal;
use serde_json::Value;

pub use super::wire::RetryPolicy;
use super::{
    MAX_BATCH, ProviderClient, ProviderError, RemoteOrderRequest, RemoteService, RemoteStatus,
    wire::{
        FormEndpoint, decimal, integer, remote_service, remote_status, required, statuses_by_id,
        text,
    },
};

pub struct ApiV2Client {
    endpoint: FormEndpoint,
    url: String,
    key: String,
}

impl ApiV2Client {
    pub fn new(http: reqwest::Client, url: String, key: String) -> Self {
        ApiV2Client {
            endpoint: FormEndpoint::new(http, refusal),
            url,
            key,
        }
    }

    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        ApiV2Client {
            endpoint: self.endpoint.with_retry(retry),
            ..self
        }
    }

    /// One action (see [`FormEndpoint::call`] for `safe_to_repeat`).
    async fn call(
        &self,
        action: &str,
        fields: &[(&str, String)],
        safe_to_repeat: bool,
    ) -> Result<Value, ProviderError> {
        let credentials = [("key", self.key.as_str()), ("action", action)];
        self.endpoint
            .call(action, &self.url, &credentials, fields, safe_to_repeat)
            .await
    }
}

/// A logical error: `{"error": "..."}`, usually with HTTP 200.
fn refusal(value: &Value) -> Option<String> {
    value.get("error").map(|error| {
        error
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string())
    })
}

fn parse_status(value: &Value) -> Result<RemoteStatus, String> {
    if let Some(error) = value.get("error") {
        return Err(text(error).unwrap_or_else(|| error.to_string()));
    }
    let label = value
        .get("status")
        .and_then(text)
        .ok_or_else(|| "no status in answer".to_string())?;
    remote_status(label, value)
}

/// The fields of `add` besides `service`, `link` and `quantity`, from an order's
/// `extra` (already under API v2 names).
fn extra_fields(extra: &Value) -> Vec<(&'static str, String)> {
    const FORWARDED: [&str; 16] = [
        "comments",
        "usernames",
        "hashtags",
        "hashtag",
        "username",
        "media",
        "answer_number",
        "groups",
        "runs",
        "interval",
        "min",
        "max",
        "posts",
        "old_posts",
        "delay",
        "expiry",
    ];
    FORWARDED
        .iter()
        .filter_map(|name| extra.get(*name).and_then(text).map(|v| (*name, v)))
        .collect()
}

#[async_trait]
impl ProviderClient for ApiV2Client {
    async fn services(&self) -> Result<Vec<RemoteService>, ProviderError> {
        let value = self.call("services", &[], true).await?;
        let list = value
            .as_array()
            .ok_or_else(|| ProviderError::Transient("services answer is not a list".into()))?;
        Ok(list
            .iter()
            .filter_map(|s| remote_service(s, "service", "rate"))
            .collect())
    }

    async fn add_order(&self, order: &RemoteOrderRequest<'_>) -> Result<String, ProviderError> {
        let mut fields = vec![
            ("service", order.service.to_string()),
            ("link", order.link.to_string()),
        ];
        // Drip-feed sends the quantity of one run.
        let per_run = order.extra.get("quantity_per_run").and_then(integer);
        if let Some(quantity) = order.quantity {
            fields.push(("quantity", per_run.unwrap_or(quantity).to_string()));
        }
        fields.extend(extra_fields(order.extra));
        let value = self.call("add", &fields, false).await?;
        required(
            &value,
            &["order"],
            text,
            ProviderError::Unclear,
            "add answered without an order id",
        )
    }

    async fn statuses(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<RemoteStatus, String>>, ProviderError> {
        let mut result = HashMap::new();
        for chunk in ids.chunks(MAX_BATCH) {
            let value = self
                .call("status", &[("orders", chunk.join(","))], true)
                .await?;
            let map = value
                .as_object()
                .ok_or_else(|| ProviderError::Transient("status answer is not an object".into()))?;
            statuses_by_id(&mut result, chunk, map, parse_status);
        }
        Ok(result)
    }

    async fn refill(&self, order_id: &str) -> Result<String, ProviderError> {
        let value = self
            .call("refill", &[("order", order_id.to_string())], false)
            .await?;
        required(
            &value,
            &["refill"],
            text,
            ProviderError::Unclear,
            "refill answered without an id",
        )
    }

    async fn refill_status(&self, refill_id: &str) -> Result<String, ProviderError> {
        let value = self
            .call("refill_status", &[("refill", refill_id.to_string())], true)
            .await?;
        required(
            &value,
            &["status"],
            text,
            ProviderError::Transient,
            "refill status unreadable",
        )
    }

    async fn cancel(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<(), String>>, ProviderError> {
        let mut result = HashMap::new();
        for chunk in ids.chunks(MAX_BATCH) {
            let value = self
                .call("cancel", &[("orders", chunk.join(","))], false)
                .await?;
            for entry in value.as_array().into_iter().flatten() {
                let Some(id) = entry.get("order").and_then(text) else {
                    continue;
                };
                let outcome = match entry.get("cancel") {
                    Some(Value::Object(e)) => Err(e
                        .get("error")
                        .and_then(text)
                        .unwrap_or_else(|| "refused".into())),
                    Some(_) => Ok(()),
                    None => Err("missing from the answer".into()),
                };
                result.insert(id, outcome);
            }
        }
        Ok(result)
    }

    async fn balance(&self) -> Result<(BigDecimal, String), ProviderError> {
        let value = self.call("balance", &[], true).await?;
        let balance = required(
            &value,
            &["balance"],
            decimal,
            ProviderError::Transient,
            "balance unreadable",
        )?;
        let currency = value.get("currency").and_then(text).unwrap_or_default();
        Ok((balance, currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_status_answers_with_quirks() {
        let s = parse_status(&json!({"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"})).unwrap();
        assert_eq!(
            (s.status, s.start_count, s.remains),
            (
                crate::db::enums::OrderStatus::Partial,
                Some(3572),
                Some(157)
            )
        );
        let over =
            parse_status(&json!({"status": "Completed", "remains": "-12", "start_count": 10}))
                .unwrap();
        assert_eq!(
            over.remains,
            Some(-12),
            "over-delivery reports negative remains"
        );
        assert_eq!(
            parse_status(&json!({"error": "Incorrect order ID"})).unwrap_err(),
            "Incorrect order ID"
        );
        assert!(parse_status(&json!({"status": "Teleported"})).is_err());
    }

    #[test]
    fn forwards_type_fields() {
        let fields = extra_fields(
            &json!({"comments": "a\nb", "runs": 3, "interval": 30, "quantity_per_run": 100}),
        );
        assert!(fields.contains(&("comments", "a\nb".to_string())));
        assert!(fields.contains(&("runs", "3".to_string())));
        assert!(!fields.iter().any(|(k, _)| *k == "quantity_per_run"));
    }
}
