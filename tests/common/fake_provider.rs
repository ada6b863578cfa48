//! A fake "API v2" provider (Perfect-Panel style: JustAnotherPanel, Peakerr, ...) on
//! 127.0.0.1 speaking the documented wire format (form-encoded POST, `key` +
//! `action`, JSON answers, `{"error": ...}` with HTTP 200): `services` from a list the
//! test controls, `balance`, `add`, `status`, `cancel`, `refill`, `refill_status`.
//! Scriptable to refuse, fail, time out, run short, cancel or be down altogether.
//!
//! Also used by `examples/provider_bench.rs` and `examples/catalog_import_bench.rs`
//! (through `#[path]`), so it needs nothing but axum, serde_json and tokio.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::post,
};
use serde_json::{Value, json};

pub const KEY: &str = "fake-provider-key";

/// What the next `add` calls do.
#[derive(Clone, Debug, PartialEq)]
pub enum AddBehaviour {
    Accept,
    /// A logical refusal, e.g. "Not enough funds on balance".
    Refuse(String),
    /// HTTP 503: refused at the door, nothing done.
    Unavailable,
    /// Accepts the order, then answers too late for the client's timeout.
    AcceptThenHang(Duration),
}

#[derive(Clone, Debug)]
pub struct FakeOrder {
    pub id: i64,
    pub service: String,
    pub link: String,
    pub quantity: Option<i64>,
    pub fields: HashMap<String, String>,
    pub status: String,
    pub start_count: i64,
    pub remains: i64,
    /// A subscription's posts delivered so far (answered in `status` as `posts`).
    pub posts: Option<i64>,
}

#[derive(Default)]
struct Inner {
    orders: Vec<FakeOrder>,
    next_id: i64,
    add_behaviour: Option<AddBehaviour>,
    latency: Duration,
    status_calls: usize,
    add_calls: usize,
    cancels: Vec<i64>,
    refills: Vec<i64>,
    balance: String,
    services: Vec<Value>,
    /// Every request received, whatever its action.
    calls: usize,
    /// While set, every call is answered HTTP 503.
    unavailable: bool,
}

#[derive(Clone)]
pub struct FakeProvider {
    /// The API endpoint (`http://127.0.0.1:<port>/api/v2`).
    pub url: String,
    state: Arc<Mutex<Inner>>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        Self::with_services(Vec::new()).await
    }

    /// A provider listing these services (see [`service`]).
    pub async fn with_services(services: Vec<Value>) -> FakeProvider {
        let state = Arc::new(Mutex::new(Inner {
            next_id: 1000,
            balance: "100.50".into(),
            services,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/api/v2", post(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeProvider {
            url: format!("http://{addr}/api/v2"),
            state,
        }
    }

    pub fn set_add(&self, behaviour: AddBehaviour) {
        self.state.lock().unwrap().add_behaviour = Some(behaviour);
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// What `services` lists from now on.
    pub fn set_services(&self, services: Vec<Value>) {
        self.state.lock().unwrap().services = services;
    }

    /// What `balance` reports from now on (USD).
    pub fn set_balance(&self, balance: &str) {
        self.state.lock().unwrap().balance = balance.into();
    }

    /// While set, every call is answered HTTP 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.state.lock().unwrap().unavailable = unavailable;
    }

    /// Requests received so far, whatever their action.
    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    pub fn status_calls(&self) -> usize {
        self.state.lock().unwrap().status_calls
    }

    /// Upstream ids of the orders canceled and refilled so far, in order.
    pub fn cancels(&self) -> Vec<i64> {
        self.state.lock().unwrap().cancels.clone()
    }

    pub fn refills(&self) -> Vec<i64> {
        self.state.lock().unwrap().refills.clone()
    }

    /// Orders the provider knows without their having been sent through `add`.
    pub fn insert_orders(&self, orders: impl IntoIterator<Item = FakeOrder>) {
        self.state.lock().unwrap().orders.extend(orders);
    }

    pub fn orders(&self) -> Vec<FakeOrder> {
        self.state.lock().unwrap().orders.clone()
    }

    pub fn add_calls(&self) -> usize {
        self.state.lock().unwrap().add_calls
    }

    /// Changes the upstream state of the order with this provider id.
    fn update(&self, id: &str, change: impl FnOnce(&mut FakeOrder)) {
        let id: i64 = id.parse().unwrap();
        let mut inner = self.state.lock().unwrap();
        change(
            inner
                .orders
                .iter_mut()
                .find(|o| o.id == id)
                .expect("fake order"),
        );
    }

    /// Sets a subscription's status and the posts it delivered.
    pub fn set_subscription(&self, id: &str, status: &str, posts: i64) {
        self.update(id, |order| {
            order.status = status.into();
            order.posts = Some(posts);
        });
    }

    /// Sets the upstream state of the order with this provider id.
    pub fn set_status(&self, id: &str, status: &str, start_count: i64, remains: i64) {
        self.update(id, |order| {
            order.status = status.into();
            order.start_count = start_count;
            order.remains = remains;
        });
    }

    /// Sets every known order's state at once.
    pub fn set_all(&self, status: &str, remains: impl Fn(&FakeOrder) -> i64) {
        let mut inner = self.state.lock().unwrap();
        for order in inner.orders.iter_mut() {
            order.remains = remains(order);
            order.status = status.into();
        }
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

fn status_json(order: &FakeOrder) -> Value {
    let mut answer = json!({ "charge": "0.27819", "start_count": order.start_count.to_string(), "status": order.status, "remains": order.remains.to_string(), "currency": "USD" });
    // Subscriptions answer their posts and child orders, as API v2 panels do.
    if let Some(posts) = order.posts {
        answer["posts"] = json!(posts.to_string());
        answer["orders"] = json!((1..=posts).map(|n| order.id * 1000 + n).collect::<Vec<_>>());
    }
    answer
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let (latency, unavailable) = {
        let mut inner = state.lock().unwrap();
        inner.calls += 1;
        (inner.latency, inner.unavailable)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if unavailable {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "maintenance" })),
        )
            .into_response();
    }
    if form.get("key").map(String::as_str) != Some(KEY) {
        return Json(json!({ "error": "Incorrect API key" })).into_response();
    }
    let action = form.get("action").cloned().unwrap_or_default();
    match action.as_str() {
        "services" => Json(Value::Array(state.lock().unwrap().services.clone())).into_response(),
        "balance" => Json(json!({ "balance": state.lock().unwrap().balance, "currency": "USD" }))
            .into_response(),
        "add" => {
            let behaviour = {
                let mut inner = state.lock().unwrap();
                inner.add_calls += 1;
                inner.add_behaviour.clone().unwrap_or(AddBehaviour::Accept)
            };
            match behaviour {
                AddBehaviour::Refuse(message) => Json(json!({ "error": message })).into_response(),
                AddBehaviour::Unavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
                }
                AddBehaviour::Accept | AddBehaviour::AcceptThenHang(_) => {
                    let Some(link) = form.get("link").cloned() else {
                        return Json(json!({ "error": "Incorrect request" })).into_response();
                    };
                    let id = {
                        let mut inner = state.lock().unwrap();
                        inner.next_id += 1;
                        let id = inner.next_id;
                        let quantity = form.get("quantity").and_then(|q| q.parse().ok());
                        let fields = form
                            .iter()
                            .filter(|(k, _)| !["key", "action"].contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        inner.orders.push(FakeOrder {
                            id,
                            service: form.get("service").cloned().unwrap_or_default(),
                            link,
                            quantity,
                            fields,
                            status: "Pending".into(),
                            start_count: 0,
                            remains: quantity.unwrap_or(0),
                            posts: (form.contains_key("posts") || form.contains_key("old_posts"))
                                .then_some(0),
                        });
                        id
                    };
                    if let AddBehaviour::AcceptThenHang(delay) = behaviour {
                        tokio::time::sleep(delay).await;
                    }
                    Json(json!({ "order": id })).into_response()
                }
            }
        }
        "status" => {
            let mut inner = state.lock().unwrap();
            inner.status_calls += 1;
            let find = |id: &str| {
                id.trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| inner.orders.iter().find(|o| o.id == id))
            };
            if let Some(ids) = form.get("orders") {
                let ids: Vec<&str> = ids.split(',').collect();
                if ids.len() > 100 {
                    return Json(json!({ "error": "Incorrect request" })).into_response();
                }
                let mut map = serde_json::Map::new();
                for id in ids {
                    let entry = find(id)
                        .map(status_json)
                        .unwrap_or_else(|| json!({ "error": "Incorrect order ID" }));
                    map.insert(id.trim().to_string(), entry);
                }
                Json(Value::Object(map)).into_response()
            } else {
                let id = form.get("order").cloned().unwrap_or_default();
                Json(
                    find(&id)
                        .map(status_json)
                        .unwrap_or_else(|| json!({ "error": "Incorrect order ID" })),
                )
                .into_response()
            }
        }
        "cancel" => {
            let mut inner = state.lock().unwrap();
            let ids: Vec<i64> = form
                .get("orders")
                .map(|s| s.split(',').filter_map(|i| i.trim().parse().ok()).collect())
                .unwrap_or_default();
            let mut answer = Vec::new();
            for id in ids {
                if inner.orders.iter().any(|o| o.id == id) {
                    inner.cancels.push(id);
                    answer.push(json!({ "order": id, "cancel": 1 }));
                } else {
                    answer
                        .push(json!({ "order": id, "cancel": { "error": "Incorrect order ID" } }));
                }
            }
            Json(Value::Array(answer)).into_response()
        }
        "refill" => {
            let mut inner = state.lock().unwrap();
            let id: i64 = form
                .get("order")
                .and_then(|i| i.parse().ok())
                .unwrap_or_default();
            if inner.orders.iter().any(|o| o.id == id) {
                inner.refills.push(id);
                let refill_id = inner.refills.len();
                Json(json!({ "refill": refill_id.to_string() })).into_response()
            } else {
                Json(json!({ "error": "Incorrect order ID" })).into_response()
            }
        }
        "refill_status" => Json(json!({ "status": "Completed" })).into_response(),
        _ => Json(json!({ "error": "Incorrect request" })).into_response(),
    }
}
