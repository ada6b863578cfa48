//! `/api/v2`: booster as a provider, speaking the common "API v2" that reseller
//! panels (Perfect Panel, SmartPanel) and their scripts already talk, so they can
//! point at us unchanged. Requests are form-encoded POSTs (also GET query strings
//! and JSON bodies; query and body are merged, the body winning); the caller is the
//! owner of the booster API key in `key` (session tokens are refused). Each action
//! goes through the same domain functions as GraphQL (`actions`); this module owns
//! reading the request, the credential check and the per-key rate limit.

mod actions;
mod wire;

use std::{collections::HashMap, net::SocketAddr};

use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::HeaderMap,
    response::Response,
};

use super::HttpState;
use crate::{
    app::AppState,
    auth::{self, AuthUser, Credential, tokens},
    error::AppError,
};
pub use wire::ApiV2Error;
use wire::{Params, error_answer};

/// Fields longer than this are not API v2 fields (custom comment lists, the longest
/// legitimate ones, have their own bound in order validation).
const MAX_FIELD_CHARS: usize = 1_000_000;

/// `POST /api/v2` and `GET /api/v2`.
pub async fn handle(
    State(state): State<HttpState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = match read_params(&headers, query.as_deref(), &body) {
        Ok(params) => params,
        Err(error) => return error_answer(error),
    };
    let client_ip = peer.map(|Extension(ConnectInfo(peer))| {
        super::client_ip(
            peer.ip(),
            &headers,
            &state.app.config.server.trusted_proxies,
        )
    });
    // While the address is over its limit, a key the cache cannot answer is not
    // looked up.
    if let (Some(ip), Some(key)) = (client_ip, params.text("key"))
        && !auth::is_cached(&state.app.caches, key)
        && let Some(retry_after) = state.ip_limiter.is_blocked(ip)
    {
        return error_answer(ApiV2Error::RateLimited(retry_after));
    }
    let caller = match authenticate(&state.app, &params).await {
        Ok(caller) => caller,
        Err(error) => {
            // Refused keys count against the client's address.
            if let Some(retry_after) = client_ip.and_then(|ip| state.ip_limiter.check(ip).err()) {
                return error_answer(ApiV2Error::RateLimited(retry_after));
            }
            return error_answer(error);
        }
    };
    let key_id = match caller.credential {
        Credential::ApiKey(id) => id,
        Credential::Session(_) => return error_answer(ApiV2Error::InvalidKey),
    };
    // Per key, and per user over all their keys.
    if let Err(retry_after) = state
        .api_v2_limiter
        .check(key_id)
        .and_then(|()| state.api_v2_user_limiter.check(caller.id()))
    {
        return error_answer(ApiV2Error::RateLimited(retry_after));
    }
    let mut conn = match state.app.pool.get().await {
        Ok(conn) => conn,
        Err(error) => return error_answer(ApiV2Error::App(error.into())),
    };
    match actions::run(&state.app, &mut conn, &caller, &params).await {
        Ok(answer) => wire::ok_answer(answer),
        Err(error) => error_answer(error),
    }
}

/// The query string and the body (form or JSON), merged: a body field replaces the
/// same field in the query. Every value is text, bounded, without NUL.
fn read_params(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Params, ApiV2Error> {
    let mut fields: HashMap<String, String> = HashMap::new();
    if let Some(query) = query {
        fields.extend(url::form_urlencoded::parse(query.as_bytes()).into_owned());
    }
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let trimmed = body.trim_ascii_start();
    if is_json || trimmed.starts_with(b"{") {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| ApiV2Error::IncorrectRequest)?;
        let object = value.as_object().ok_or(ApiV2Error::IncorrectRequest)?;
        for (name, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => (if *b { "1" } else { "0" }).to_string(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                // Unknown shapes of fields nobody reads are ignored, like unknown fields.
                _ => continue,
            };
            fields.insert(name.clone(), text);
        }
    } else if !trimmed.is_empty() {
        fields.extend(url::form_urlencoded::parse(body).into_owned());
    }
    for value in fields.values() {
        if value.contains('\0') || value.chars().count() > MAX_FIELD_CHARS {
            return Err(ApiV2Error::IncorrectRequest);
        }
    }
    Ok(Params(fields))
}

/// The owner of the API key in `key`, as they are now (a banned user is refused).
async fn authenticate(app: &AppState, params: &Params) -> Result<AuthUser, ApiV2Error> {
    let key = params.text("key").ok_or(ApiV2Error::InvalidKey)?;
    // Only API keys: a session token is a browser's credential, not a script's.
    if !key.starts_with(tokens::API_KEY_PREFIX) {
        return Err(ApiV2Error::InvalidKey);
    }
    let caller = auth::authenticate(&app.caches, &app.pool, key)
        .await
        .map_err(|error| match error {
            AppError::Unauthenticated(_) => ApiV2Error::InvalidKey,
            other => ApiV2Error::App(other),
        })?;
    if caller.user.is_banned() {
        return Err(ApiV2Error::Banned);
    }
    Ok(caller)
}
