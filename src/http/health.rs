//! What operators and their tools ask: `GET /healthz` (200 when the database
//! answers, 503 otherwise), `GET /readyz` (whether the work gets done) and
//! `GET /metrics` (Prometheus).

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::HttpState;

pub async fn healthz(State(state): State<HttpState>) -> (StatusCode, Json<Value>) {
    let database = async {
        let mut conn = state.app.pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), database).await {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "error"})),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "timeout"})),
        ),
    }
}

/// `GET /metrics`: the Prometheus text format (see `crate::metrics`), for a scraper
/// presenting `METRICS_TOKEN` as a bearer token; 404 while no token is configured.
pub async fn metrics(State(state): State<HttpState>, headers: http::HeaderMap) -> Response {
    let Some(expected) = &state.app.config.server.metrics_token else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer_token)
        .unwrap_or_default();
    if !crate::payments::constant_time_eq(given.as_bytes(), expected.0.as_bytes()) {
        return http::StatusCode::UNAUTHORIZED.into_response();
    }
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&state.app.pool, &state.app.page_pool).await,
    )
        .into_response()
}

/// `GET /readyz`: whether the panel is doing its work (see `domain::readiness`);
/// 503 with the problems when not, so an uptime checker alone can page the owner.
/// Anonymous, so under the per-address limit (429 with `Retry-After` past it).
pub async fn readyz(
    State(state): State<HttpState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let client = peer.map(|axum::Extension(axum::extract::ConnectInfo(peer))| {
        super::client_ip(
            peer.ip(),
            &headers,
            &state.app.config.server.trusted_proxies,
        )
    });
    if let Some(retry_after) = client.and_then(|ip| state.ip_limiter.check(ip).err()) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, retry_after.to_string())],
            Json(json!({ "code": "RATE_LIMITED", "message": "too many requests, retry later" })),
        )
            .into_response();
    }
    let checked = async {
        let mut conn = state.app.pool.get().await?;
        crate::domain::readiness::check(
            &mut conn,
            &state.app.config.server,
            state.app.config.payments.unmatched_mutation_alert_after,
            &crate::jobs::schedule(&state.app.config),
        )
        .await
    };
    match checked.await {
        Ok(readiness) => {
            let status = if readiness.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(readiness)).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "problems": ["the database does not answer"] })),
            )
                .into_response()
        }
    }
}
