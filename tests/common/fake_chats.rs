//! Stand-ins for the Telegram Bot API (`POST /bot<token>/sendMessage`, answering
//! `{"ok": true, "result": {...}}`) and the WhatsApp Cloud API
//! (`POST /<phone-number-id>/messages` with a bearer token, answering
//! `{"messaging_product": "whatsapp", "messages": [{"id": ...}]}`), written from
//! their documentation. They record what was sent.

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct Sent(Arc<Mutex<Vec<Value>>>);

impl Sent {
    pub fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

pub struct FakeChats {
    pub telegram_url: String,
    pub whatsapp_url: String,
    pub telegram: Sent,
    pub whatsapp: Sent,
}

pub const TELEGRAM_TOKEN: &str = "123456:TEST-token";
pub const WHATSAPP_TOKEN: &str = "EAAG-test-token";
pub const WHATSAPP_PHONE_ID: &str = "1001";

async fn telegram_send(
    State(sent): State<Sent>,
    Path(bot): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if bot != format!("bot{TELEGRAM_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        );
    }
    if body["chat_id"].is_null() || body["text"].as_str().unwrap_or_default().is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}),
            ),
        );
    }
    sent.0.lock().unwrap().push(body.clone());
    (
        StatusCode::OK,
        Json(
            json!({"ok": true, "result": {"message_id": 1, "chat": {"id": body["chat_id"]}, "text": body["text"]}}),
        ),
    )
}

async fn whatsapp_send(
    State(sent): State<Sent>,
    Path(phone): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {WHATSAPP_TOKEN}"));
    if !authorized || phone != WHATSAPP_PHONE_ID || body["messaging_product"] != "whatsapp" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Invalid OAuth access token.", "code": 190}})),
        );
    }
    sent.0.lock().unwrap().push(body.clone());
    (
        StatusCode::OK,
        Json(
            json!({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}], "messages": [{"id": "wamid.test"}]}),
        ),
    )
}

impl FakeChats {
    pub async fn start() -> FakeChats {
        let telegram = Sent::default();
        let whatsapp = Sent::default();
        let tg = Router::new()
            .route("/{bot}/sendMessage", post(telegram_send))
            .with_state(telegram.clone());
        let wa = Router::new()
            .route("/{phone}/messages", post(whatsapp_send))
            .with_state(whatsapp.clone());
        let tg_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let wa_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let telegram_url = format!("http://{}", tg_listener.local_addr().unwrap());
        let whatsapp_url = format!("http://{}/v21.0", wa_listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(tg_listener, tg).await.unwrap() });
        let wa = Router::new().nest("/v21.0", wa);
        tokio::spawn(async move { axum::serve(wa_listener, wa).await.unwrap() });
        FakeChats {
            telegram_url,
            whatsapp_url,
            telegram,
            whatsapp,
        }
    }
}
