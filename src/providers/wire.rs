//! What every provider client shares: the retry policy and loop, one form POST
//! with its error classification (see the module doc of [`super`]), and lenient
//! readers for the JSON values panels send (numbers as strings, flags as 0/1).

use std::{future::Future, str::FromStr, time::Duration};

use bigdecimal::BigDecimal;
use serde_json::Value;

use std::collections::HashMap;

use super::{ProviderError, RemoteService, RemoteStatus, map_status};

/// Retries of calls that failed before the provider could act.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or the attempts run out; only
    /// [`ProviderError::Transient`] failures are retried, with doubling backoff.
    pub async fn run<F, Fut, T>(&self, what: &str, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut backoff = self.first_backoff;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(ProviderError::Transient(why)) if attempt < self.attempts => {
                    tracing::debug!(what, attempt, %why, "provider call failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// A provider's form-POST API with its retry policy: how both wire protocols
/// call out. Each protocol adds its credentials and reads its own refusals.
#[derive(Clone)]
pub struct FormEndpoint {
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Reads the protocol's "no" out of an answer.
    refusal: fn(&Value) -> Option<String>,
}

impl FormEndpoint {
    pub fn new(http: reqwest::Client, refusal: fn(&Value) -> Option<String>) -> Self {
        FormEndpoint {
            http,
            retry: RetryPolicy::default(),
            refusal,
        }
    }

    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        FormEndpoint { retry, ..self }
    }

    /// Posts `credentials` and `fields` to `url` as one action (`what`, for the
    /// logs). `safe_to_repeat` tells whether a call whose fate is unknown
    /// (timeout, 5xx) may be retried and reported as transient: true for reads,
    /// false for `add`, which must never be sent twice.
    pub async fn call(
        &self,
        what: &str,
        url: &str,
        credentials: &[(&str, &str)],
        fields: &[(&str, String)],
        safe_to_repeat: bool,
    ) -> Result<Value, ProviderError> {
        self.retry
            .run(what, || async {
                let mut form = credentials.to_vec();
                form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
                let value =
                    post_form(&self.http, url, &form, self.retry.timeout, safe_to_repeat).await?;
                match (self.refusal)(&value) {
                    Some(why) => Err(ProviderError::Refused(why)),
                    None => Ok(value),
                }
            })
            .await
    }
}

/// One form-encoded POST, answered with JSON. `safe_to_repeat` tells whether a call
/// whose fate is unknown (timeout, 5xx) may be reported as transient (reads) or must
/// be reported as unclear (orders, refills: never sent twice blindly). The logical
/// errors of each protocol are the caller's to detect in the returned value.
pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    timeout: Duration,
    safe_to_repeat: bool,
) -> Result<Value, ProviderError> {
    let unclear_or_transient = |why: String| {
        if safe_to_repeat {
            ProviderError::Transient(why)
        } else {
            ProviderError::Unclear(why)
        }
    };
    let response = match http.post(url).form(form).timeout(timeout).send().await {
        Ok(response) => response,
        // Nothing reached the provider: always safe to retry.
        Err(e) if e.is_connect() => {
            return Err(ProviderError::Transient(format!(
                "cannot connect: {}",
                without_url(&e)
            )));
        }
        Err(e) if e.is_timeout() => return Err(unclear_or_transient("timed out".into())),
        Err(e) => return Err(unclear_or_transient(without_url(&e))),
    };
    let status = response.status();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
    {
        // Refused at the door: the provider did not act.
        return Err(ProviderError::Transient(format!("HTTP {status}")));
    }
    if status.is_server_error() {
        return Err(unclear_or_transient(format!("HTTP {status}")));
    }
    let body = read_bounded(response).await.map_err(unclear_or_transient)?;
    serde_json::from_slice(&body).map_err(|_| {
        if status.is_client_error() {
            ProviderError::Refused(format!("HTTP {status}"))
        } else {
            unclear_or_transient(format!("unreadable answer (HTTP {status})"))
        }
    })
}

/// The largest answer read from a provider: a 5,000-service catalogue is about
/// 2 MB; anything far beyond is not an answer worth holding in memory.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest errors print the URL; provider URLs are not secret but are noise in
/// customer-facing notes, and query strings could carry keys on some panels.
pub fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<provider>");
    }
    text
}

/// Reads the value at `path` (object keys, outermost first) of an answer with
/// `read`. An answer without it is `missing("<what>: <answer>")`: `Unclear` after
/// a write the provider may have made, `Transient` after a read.
pub fn required<T>(
    answer: &Value,
    path: &[&str],
    read: fn(&Value) -> Option<T>,
    missing: fn(String) -> ProviderError,
    what: &str,
) -> Result<T, ProviderError> {
    path.iter()
        .try_fold(answer, |value, key| value.get(key))
        .and_then(read)
        .ok_or_else(|| missing(format!("{what}: {answer}")))
}

pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn integer(value: &Value) -> Option<i64> {
    text(value).and_then(|t| {
        t.parse::<i64>().ok().or_else(|| {
            BigDecimal::from_str(&t)
                .ok()
                .and_then(|d| bigdecimal::ToPrimitive::to_i64(&d.with_scale(0)))
        })
    })
}

pub fn decimal(value: &Value) -> Option<BigDecimal> {
    text(value).and_then(|t| BigDecimal::from_str(&t).ok())
}

pub fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true" | "yes"),
        _ => false,
    }
}

/// A status entry of either protocol, once its label is read: the label mapped
/// onto ours (an unknown label is the entry's error) and the figures beside it.
pub fn remote_status(label: String, entry: &Value) -> Result<RemoteStatus, String> {
    let status = map_status(&label).ok_or_else(|| format!("unknown status {label:?}"))?;
    Ok(RemoteStatus {
        status,
        label,
        start_count: entry.get("start_count").and_then(integer),
        remains: entry.get("remains").and_then(integer),
        charge: entry.get("charge").and_then(decimal),
        posts: entry.get("posts").and_then(integer),
    })
}

/// Reads each of `ids` from a status answer keyed by order id; an id the answer
/// leaves out is that order's error.
pub fn statuses_by_id(
    result: &mut HashMap<String, Result<RemoteStatus, String>>,
    ids: &[String],
    answer: &serde_json::Map<String, Value>,
    parse: fn(&Value) -> Result<RemoteStatus, String>,
) {
    for id in ids {
        let entry = match answer.get(id) {
            Some(value) => parse(value),
            None => Err("missing from the answer".into()),
        };
        result.insert(id.clone(), entry);
    }
}

/// A service of a provider's list, with the protocol's names for its id and its
/// rate; a service without either is skipped. A missing type is API v2's
/// `Default` (a target and a quantity).
pub fn remote_service(entry: &Value, id_field: &str, rate_field: &str) -> Option<RemoteService> {
    let field = |name: &str| entry.get(name).and_then(text);
    Some(RemoteService {
        id: field(id_field)?,
        name: field("name").unwrap_or_default(),
        category: field("category").unwrap_or_default(),
        type_label: field("type").unwrap_or_else(|| "Default".into()),
        rate: entry.get(rate_field).and_then(decimal)?,
        min: entry.get("min").and_then(integer).unwrap_or(1),
        max: entry.get("max").and_then(integer).unwrap_or(1),
        refill: flag(entry.get("refill")),
        cancel: flag(entry.get("cancel")),
        dripfeed: flag(entry.get("dripfeed")),
        description: field("description").unwrap_or_default(),
    })
}
