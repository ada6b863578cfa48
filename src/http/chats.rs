//! Inbound chat webhooks: `POST /webhooks/telegram` (must carry the secret token
//! given to `setWebhook`) and `GET`/`POST /webhooks/whatsapp` (the verification
//! handshake with `hub.verify_token`, then payloads signed with the app secret).
//! Anything unsigned, or for a channel that is not configured, is 403 and changes
//! nothing; the answer never tells whether an account exists. Each message goes
//! to `domain::chats::handle_inbound`; replies leave through the chat outbox.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::HttpState;
use crate::{
    channels::{Inbound, telegram, whatsapp},
    db::enums::ChatChannel,
    domain::chats,
};

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn handle_all(state: &HttpState, channel: ChatChannel, messages: Vec<Inbound>) -> Response {
    let Ok(mut conn) = state.app.pool.get().await else {
        // Telegram and Meta retry on a 5xx: the message is not lost.
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    for message in &messages {
        if let Err(error) =
            chats::handle_inbound(&mut conn, &state.app.config.orders, channel, message).await
        {
            tracing::warn!(%error, ?channel, "a chat message could not be answered");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    StatusCode::OK.into_response()
}

pub async fn telegram(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let config = &state.app.config.channels.telegram;
    let expected = config.webhook_secret.as_deref();
    if config.bot_token.is_none()
        || !telegram::authentic(expected, header(&headers, telegram::SECRET_HEADER))
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Ok(update) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let messages = telegram::read_update(&update).into_iter().collect();
    handle_all(&state, ChatChannel::Telegram, messages).await
}

/// Meta's subscription handshake: echo `hub.challenge` when the token matches.
pub async fn whatsapp_verify(
    State(state): State<HttpState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = state.app.config.channels.whatsapp.verify_token.as_deref();
    let given = query.get("hub.verify_token").map(String::as_str);
    let subscribing = query.get("hub.mode").map(String::as_str) == Some("subscribe");
    match (expected, given, query.get("hub.challenge")) {
        (Some(expected), Some(given), Some(challenge))
            if subscribing
                && crate::payments::constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            challenge
                .chars()
                .take(200)
                .collect::<String>()
                .into_response()
        }
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

pub async fn whatsapp(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let config = &state.app.config.channels.whatsapp;
    if config.token.is_none()
        || !whatsapp::authentic(
            config.app_secret.as_deref(),
            header(&headers, whatsapp::SIGNATURE_HEADER),
            &body,
        )
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    handle_all(
        &state,
        ChatChannel::Whatsapp,
        whatsapp::read_messages(&payload),
    )
    .await
}
