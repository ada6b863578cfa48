//! `GET /healthz`: 200 when the database answers, 503 otherwise.

use axum::{Json, extract::State, http::StatusCode};
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
