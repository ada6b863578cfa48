//! A minimal API v2 panel for catalogue tests: `services` (from a list the test
//! controls) and `balance`, at `<url>` (POST form with `key` + `action`), answering
//! exactly as Perfect-Panel-style panels do. Orders are not its business.
//!
//! Also used by `examples/catalog_import_bench.rs` (through `#[path]`), so it needs
//! nothing but axum, serde_json and tokio.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{Form, Json, Router, extract::State, http::StatusCode, routing::post};
use serde_json::{Value, json};

pub const API_KEY: &str = "fake-api-v2-key";

#[derive(Default)]
struct Inner {
    services: Mutex<Vec<Value>>,
    calls: AtomicUsize,
    unavailable: AtomicBool,
}

#[derive(Clone)]
pub struct FakeApiV2Catalog {
    /// The API endpoint (`http://127.0.0.1:<port>/api/v2`).
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeApiV2Catalog {
    pub async fn start(services: Vec<Value>) -> FakeApiV2Catalog {
        let inner = Arc::new(Inner::default());
        *inner.services.lock().unwrap() = services;
        let app = Router::new()
            .route("/api/v2", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeApiV2Catalog {
            url: format!("http://{addr}/api/v2"),
            inner,
        }
    }

    pub fn set_services(&self, services: Vec<Value>) {
        *self.inner.services.lock().unwrap() = services;
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// While set, every call is answered 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

/// One service as panels list it: `service` as a number, numbers as strings.
pub fn service(id: i64, name: &str, category: &str, type_label: &str, rate: &str) -> Value {
    json!({
        "service": id,
        "name": name,
        "type": type_label,
        "category": category,
        "rate": rate,
        "min": "10",
        "max": "10000",
        "refill": false,
        "cancel": true,
    })
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    inner.calls.fetch_add(1, Ordering::SeqCst);
    if inner.unavailable.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "maintenance"})),
        );
    }
    if form.get("key").map(String::as_str) != Some(API_KEY) {
        return (StatusCode::OK, Json(json!({"error": "Incorrect API key"})));
    }
    let answer = match form.get("action").map(String::as_str) {
        Some("services") => Value::Array(inner.services.lock().unwrap().clone()),
        Some("balance") => json!({"balance": "100.84292", "currency": "USD"}),
        _ => json!({"error": "Incorrect request"}),
    };
    (StatusCode::OK, Json(answer))
}
