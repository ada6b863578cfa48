//! A fake MedanPedia on 127.0.0.1: `profile`, `services`, `order`, `status` (single
//! and many), `refill`, `refill_status`, each a POST form with `api_id` + `api_key`,
//! answering `{"status": true, "data": ...}` or `{"status": false, "msg": ...}` as
//! MedanPedia does (a wrong key gets the older `data`-message form).
#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Path, State},
    routing::post,
};
use serde_json::{Value, json};

pub const API_ID: &str = "12345";
pub const API_KEY: &str = "fake-medanpedia-key";

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub service: String,
    pub target: String,
    pub quantity: Option<String>,
    pub custom_comments: Option<String>,
    pub status: String,
    pub charge: i64,
    pub start_count: i64,
    pub remains: i64,
}

#[derive(Default)]
struct Inner {
    services: Vec<Value>,
    orders: HashMap<i64, FakeOrder>,
    next_order: i64,
    refills: HashMap<i64, (i64, String)>,
    next_refill: i64,
}

#[derive(Clone)]
pub struct FakeMedanPedia {
    /// The API root: endpoints are `<url>/<endpoint>`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeMedanPedia {
    pub async fn start(services: Vec<Value>) -> FakeMedanPedia {
        let inner = Arc::new(Mutex::new(Inner {
            services,
            next_order: 5000,
            next_refill: 70,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/{endpoint}", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeMedanPedia {
            url: format!("http://{addr}"),
            inner,
        }
    }

    pub fn set_services(&self, services: Vec<Value>) {
        self.inner.lock().unwrap().services = services;
    }

    pub fn order(&self, id: i64) -> Option<FakeOrder> {
        self.inner.lock().unwrap().orders.get(&id).cloned()
    }

    /// Moves an order on, as the provider's own processing would.
    pub fn set_order(&self, id: i64, status: &str, start_count: i64, remains: i64) {
        let mut inner = self.inner.lock().unwrap();
        let order = inner.orders.get_mut(&id).expect("known order");
        order.status = status.to_string();
        order.start_count = start_count;
        order.remains = remains;
    }
}

/// A service as MedanPedia lists it (numbers as numbers, price in rupiah per 1000).
pub fn service(id: i64, name: &str, category: &str, price: i64) -> Value {
    json!({
        "id": id,
        "name": name,
        "category": category,
        "price": price,
        "min": 100,
        "max": 50000,
        "description": format!("{name}, fast start"),
    })
}

fn refused(msg: &str) -> Json<Value> {
    Json(json!({"status": false, "msg": msg}))
}

fn order_status(order: &FakeOrder) -> Value {
    json!({
        "status": order.status,
        "charge": order.charge,
        "start_count": order.start_count,
        "remains": order.remains,
    })
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(endpoint): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    if form.get("api_id").map(String::as_str) != Some(API_ID)
        || form.get("api_key").map(String::as_str) != Some(API_KEY)
    {
        return Json(json!({"status": false, "data": "API ID atau API Key salah"}));
    }
    let field = |name: &str| form.get(name).cloned();
    let mut inner = inner.lock().unwrap();
    match endpoint.as_str() {
        "profile" => {
            Json(json!({"status": true, "data": {"username": "booster", "balance": 250000}}))
        }
        "services" => Json(json!({"status": true, "data": inner.services.clone()})),
        "order" => {
            let Some(service) = field("service") else {
                return refused("Parameter tidak sesuai");
            };
            let price = inner
                .services
                .iter()
                .find(|s| {
                    s["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(service.as_str())
                })
                .map(|s| s["price"].as_i64().unwrap_or(0));
            let Some(price) = price else {
                return refused("Layanan tidak ditemukan");
            };
            let Some(target) = field("target") else {
                return refused("Parameter tidak sesuai");
            };
            let quantity = field("quantity");
            let q: i64 = quantity
                .as_deref()
                .and_then(|q| q.parse().ok())
                .unwrap_or(0);
            inner.next_order += 1;
            let id = inner.next_order;
            let charge = price * q / 1000;
            inner.orders.insert(
                id,
                FakeOrder {
                    service,
                    target,
                    quantity,
                    custom_comments: field("custom_comments"),
                    status: "Pending".into(),
                    charge,
                    start_count: 0,
                    remains: q,
                },
            );
            Json(
                json!({"status": true, "msg": "Pesanan berhasil dibuat", "data": {"id": id, "price": charge}}),
            )
        }
        "status" => {
            let Some(ids) = field("id") else {
                return refused("Parameter tidak sesuai");
            };
            let find = |id: &str| {
                id.trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(|i| inner.orders.get(&i))
            };
            if ids.contains(',') {
                let mut orders = serde_json::Map::new();
                for id in ids.split(',') {
                    let entry = match find(id) {
                        Some(order) => {
                            let mut v = order_status(order);
                            v["msg"] = json!("Pesanan ditemukan");
                            v
                        }
                        None => json!({"msg": "Pesanan tidak ditemukan", "status": false}),
                    };
                    orders.insert(id.trim().to_string(), entry);
                }
                Json(json!({"status": true, "orders": orders}))
            } else {
                match find(&ids) {
                    Some(order) => {
                        let mut v = order_status(order);
                        v["id"] = json!(ids.trim());
                        Json(json!({"status": true, "data": v}))
                    }
                    None => refused("Pesanan tidak ditemukan"),
                }
            }
        }
        "refill" => {
            let order = field("id_order").and_then(|i| i.parse::<i64>().ok());
            match order {
                Some(id) if inner.orders.get(&id).is_some_and(|o| o.status == "Success") => {
                    inner.next_refill += 1;
                    let refill = inner.next_refill;
                    inner.refills.insert(refill, (id, "Pending".into()));
                    Json(json!({"status": true, "data": {"id_refill": refill}}))
                }
                Some(id) if inner.orders.contains_key(&id) => {
                    refused("Pesanan tidak dapat di-refill")
                }
                _ => refused("Pesanan tidak ditemukan"),
            }
        }
        "refill_status" => {
            match field("id_refill")
                .and_then(|i| i.parse::<i64>().ok())
                .and_then(|i| inner.refills.get(&i))
            {
                Some((_, status)) => Json(json!({"status": true, "data": {"status": status}})),
                None => refused("Refill tidak ditemukan"),
            }
        }
        _ => refused("Endpoint tidak ditemukan"),
    }
}
