//! Fake Midtrans and Xendit servers on 127.0.0.1, speaking the documented wire
//! formats (payments-api.md): Snap transactions, the Midtrans status API, Xendit
//! invoices. Scriptable: payment states are set by the test, and `fail` makes every
//! endpoint answer 503.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use super::{MIDTRANS_SERVER_KEY, XENDIT_CALLBACK_TOKEN, XENDIT_SECRET_KEY};

#[derive(Default)]
pub struct FakeState {
    /// When set, every endpoint answers 503.
    pub fail: AtomicBool,
    pub calls: AtomicUsize,
    /// Snap transactions created: order_id -> the request body.
    pub snap_orders: Mutex<HashMap<String, Value>>,
    /// What the Midtrans status API answers per order_id (absent: "doesn't exist").
    pub midtrans_status: Mutex<HashMap<String, Value>>,
    /// Xendit invoices by id.
    pub invoices: Mutex<HashMap<String, Value>>,
    base_url: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeGateways {
    pub url: String,
    pub state: Arc<FakeState>,
}

fn basic(key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{key}:")))
}

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == basic(key))
}

/// `lowercase hex(SHA-512(order_id + status_code + gross_amount + server_key))`.
pub fn midtrans_signature(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    key: &str,
) -> String {
    hex::encode(Sha512::digest(
        format!("{order_id}{status_code}{gross_amount}{key}").as_bytes(),
    ))
}

fn status_code_for(transaction_status: &str) -> &'static str {
    match transaction_status {
        "settlement" | "capture" | "refund" | "partial_refund" | "chargeback"
        | "partial_chargeback" => "200",
        "pending" => "201",
        "deny" | "cancel" | "failure" => "202",
        "expire" => "407",
        _ => "200",
    }
}

/// A Midtrans notification body, signed with `key`, as Midtrans would send it.
pub fn midtrans_notification(
    order_id: &str,
    transaction_status: &str,
    fraud_status: &str,
    gross_amount: &str,
    key: &str,
) -> Value {
    let status_code = status_code_for(transaction_status);
    json!({
        "transaction_time": "2026-11-25 10:00:00",
        "transaction_status": transaction_status,
        "transaction_id": format!("tx-{order_id}"),
        "status_message": "midtrans payment notification",
        "status_code": status_code,
        "signature_key": midtrans_signature(order_id, status_code, gross_amount, key),
        "payment_type": "bank_transfer",
        "order_id": order_id,
        "merchant_id": "G123456789",
        "gross_amount": gross_amount,
        "fraud_status": fraud_status,
        "currency": "IDR",
        "va_numbers": [{ "bank": "bca", "va_number": "12345678901" }],
        "settlement_time": "2026-11-25 10:01:00",
    })
}

/// A Midtrans notification signed with the test server key, as Midtrans sends it.
pub fn signed_notification(
    order_id: &str,
    transaction_status: &str,
    fraud_status: &str,
    gross_amount: &str,
) -> Value {
    midtrans_notification(
        order_id,
        transaction_status,
        fraud_status,
        gross_amount,
        MIDTRANS_SERVER_KEY,
    )
}

impl FakeGateways {
    pub async fn start() -> FakeGateways {
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route("/snap/v1/transactions", post(snap_create))
            .route("/v2/invoices", post(invoice_create))
            .route("/v2/invoices/{id}", get(invoice_get))
            .route("/v2/{order_id}/status", get(midtrans_status))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.base_url.lock().unwrap() = url.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGateways { url, state }
    }

    pub fn fail(&self, fail: bool) {
        self.state.fail.store(fail, Ordering::SeqCst);
    }

    /// Requests received so far, on every endpoint.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// What the Midtrans status API reports for `order_id` from now on.
    pub fn set_midtrans_status(
        &self,
        order_id: &str,
        transaction_status: &str,
        fraud_status: &str,
        gross_amount: &str,
    ) {
        let body = signed_notification(order_id, transaction_status, fraud_status, gross_amount);
        self.state
            .midtrans_status
            .lock()
            .unwrap()
            .insert(order_id.to_string(), body);
    }

    /// Moves a Xendit invoice to `status`, paid with `paid_amount` when given.
    pub fn set_invoice_status(
        &self,
        invoice_id: &str,
        status: &str,
        paid_amount: Option<i64>,
    ) -> Value {
        let mut invoices = self.state.invoices.lock().unwrap();
        let invoice = invoices.get_mut(invoice_id).expect("known invoice");
        invoice["status"] = json!(status);
        if let Some(paid) = paid_amount {
            invoice["paid_amount"] = json!(paid);
            invoice["paid_at"] = json!("2026-11-25T03:01:00.000Z");
            invoice["payment_method"] = json!("BANK_TRANSFER");
            invoice["payment_channel"] = json!("BCA");
        }
        invoice.clone()
    }

    /// A callback body for the invoice as it stands.
    pub fn invoice(&self, invoice_id: &str) -> Value {
        self.state.invoices.lock().unwrap()[invoice_id].clone()
    }

    pub fn invoice_by_external_id(&self, external_id: &str) -> Value {
        self.state
            .invoices
            .lock()
            .unwrap()
            .values()
            .find(|i| i["external_id"] == external_id)
            .cloned()
            .expect("invoice for external_id")
    }

    /// The id of the Xendit invoice made for a deposit's merchant reference.
    pub fn invoice_id(&self, external_id: &str) -> String {
        self.invoice_by_external_id(external_id)["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error_code": "SERVER_ERROR" })),
    )
        .into_response()
}

/// Counts the call, then refuses it while the fake is down (503) or when the
/// request lacks `key` (401 with `denied` as the body).
fn refuse(state: &FakeState, headers: &HeaderMap, key: &str, denied: Value) -> Option<Response> {
    state.calls.fetch_add(1, Ordering::SeqCst);
    if state.fail.load(Ordering::SeqCst) {
        return Some(unavailable());
    }
    if !authorized(headers, key) {
        return Some((StatusCode::UNAUTHORIZED, Json(denied)).into_response());
    }
    None
}

/// `refuse` with Xendit's key and its answer to a wrong one.
fn refuse_xendit(state: &FakeState, headers: &HeaderMap) -> Option<Response> {
    let denied = json!({ "error_code": "INVALID_API_KEY" });
    refuse(state, headers, XENDIT_SECRET_KEY, denied)
}

async fn snap_create(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = refuse(
        &state,
        &headers,
        MIDTRANS_SERVER_KEY,
        json!({ "error_messages": ["Access denied"] }),
    ) {
        return refused;
    }
    let order_id = body["transaction_details"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let gross = body["transaction_details"]["gross_amount"].as_i64();
    let items_total: Option<i64> = body["item_details"].as_array().map(|items| {
        items
            .iter()
            .map(|i| i["price"].as_i64().unwrap_or(0) * i["quantity"].as_i64().unwrap_or(0))
            .sum()
    });
    let valid_id = !order_id.is_empty()
        && order_id.len() <= 50
        && order_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_~.".contains(c));
    let expiry_ok = body["expiry"]["unit"] == "minutes"
        && body["expiry"]["duration"].as_i64().is_some_and(|d| d > 0);
    if !valid_id
        || gross.is_none_or(|g| g <= 0)
        || items_total.is_some_and(|t| Some(t) != gross)
        || !expiry_ok
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error_messages": ["invalid transaction"] })),
        )
            .into_response();
    }
    let mut orders = state.snap_orders.lock().unwrap();
    if orders.contains_key(&order_id) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error_messages": ["order_id has already been taken"] })),
        )
            .into_response();
    }
    orders.insert(order_id, body);
    let token = uuid::Uuid::new_v4().to_string();
    let base = state.base_url.lock().unwrap().clone();
    (
        StatusCode::CREATED,
        Json(json!({ "token": token, "redirect_url": format!("{base}/snap/v2/vtweb/{token}") })),
    )
        .into_response()
}

async fn midtrans_status(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Response {
    if let Some(refused) = refuse(
        &state,
        &headers,
        MIDTRANS_SERVER_KEY,
        json!({ "status_code": "401" }),
    ) {
        return refused;
    }
    match state.midtrans_status.lock().unwrap().get(&order_id) {
        Some(body) => Json(body.clone()).into_response(),
        None => {
            Json(json!({ "status_code": "404", "status_message": "Transaction doesn't exist." }))
                .into_response()
        }
    }
}

async fn invoice_create(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = refuse_xendit(&state, &headers) {
        return refused;
    }
    let (Some(external_id), Some(amount)) = (body["external_id"].as_str(), body["amount"].as_i64())
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error_code": "API_VALIDATION_ERROR" })),
        )
            .into_response();
    };
    let id = format!("inv_{}", uuid::Uuid::new_v4().simple());
    let duration = body["invoice_duration"].as_i64().unwrap_or(86_400);
    let now = chrono::Utc::now();
    let invoice = json!({
        "id": id,
        "external_id": external_id,
        "user_id": "5f0e1b2c3d4e5f6a7b8c9d0e",
        "status": "PENDING",
        "merchant_name": "Booster Test",
        "amount": amount,
        "payer_email": body["payer_email"],
        "description": body["description"],
        "expiry_date": (now + chrono::Duration::seconds(duration)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "invoice_url": format!("https://checkout-staging.xendit.co/web/{id}"),
        "currency": "IDR",
        "created": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "updated": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    state.invoices.lock().unwrap().insert(id, invoice.clone());
    Json(invoice).into_response()
}

async fn invoice_get(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = refuse_xendit(&state, &headers) {
        return refused;
    }
    match state.invoices.lock().unwrap().get(&id) {
        Some(invoice) => Json(invoice.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error_code": "INVOICE_NOT_FOUND_ERROR" })),
        )
            .into_response(),
    }
}

/// The token Xendit sends in `x-callback-token`.
pub fn xendit_token() -> &'static str {
    XENDIT_CALLBACK_TOKEN
}
