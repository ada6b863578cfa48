//! The HTTP surface: the axum router and its middleware (request ids, tracing, CORS,
//! body limit, gzip), the GraphQL endpoints, payment webhooks, health, the files
//! crawlers read (`seo.rs`) and the newsletter's links (`newsletter.rs`).

mod api_v2;
mod bank_mutations;
mod chats;
mod exports;
mod graphql;
mod health;
mod newsletter;
mod seo;
pub mod server;
mod service_updates;
mod uploads;
mod webhooks;

use std::time::Duration;

use axum::{
    Router,
    routing::{get, post},
};
use http::{HeaderName, HeaderValue, Method, Request};
use tower::ServiceBuilder;
use tower_http::{
    compression::{CompressionLayer, CompressionLevel},
    cors::{AllowOrigin, Any, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::RequestBodyTimeoutLayer,
    trace::TraceLayer,
};

use crate::{app::AppState, graphql::AppSchema};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub schema: AppSchema,
    pub rate_limiter: crate::rate_limit::UserRateLimiter,
    pub ip_limiter: crate::rate_limit::IpRateLimiter,
    /// Per API key on `/api/v2`.
    pub api_v2_limiter: crate::rate_limit::UserRateLimiter,
    /// Per user on `/api/v2`, over all their keys.
    pub api_v2_user_limiter: crate::rate_limit::UserRateLimiter,
    /// Automatic persisted queries and the manifest of trusted operations.
    pub persisted: std::sync::Arc<crate::graphql::persisted::PersistedQueries>,
}

/// The routes; fails when the persisted query manifest cannot be loaded.
pub fn router(app: AppState) -> anyhow::Result<Router> {
    let persisted = std::sync::Arc::new(crate::graphql::persisted::PersistedQueries::load(
        &app.config.persisted_queries,
    )?);
    let schema = crate::graphql::build_schema(app.clone());
    let config = &app.config.server;
    let cors = cors_layer(&config.cors_allowed_origins);
    let rate_limiter = crate::rate_limit::UserRateLimiter::per_minute(config.rate_limit_per_minute);
    let ip_limiter =
        crate::rate_limit::IpRateLimiter::per_minute(config.anonymous_rate_limit_per_minute);
    let api_v2_limiter =
        crate::rate_limit::UserRateLimiter::per_minute(config.api_v2_rate_limit_per_minute);
    let api_v2_user_limiter =
        crate::rate_limit::UserRateLimiter::per_minute(config.api_v2_user_rate_limit_per_minute);
    let (users, ips, keys, key_owners) = (
        rate_limiter.clone(),
        ip_limiter.clone(),
        api_v2_limiter.clone(),
        api_v2_user_limiter.clone(),
    );
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        loop {
            ticker.tick().await;
            users.retain_recent();
            ips.retain_recent();
            keys.retain_recent();
            key_owners.retain_recent();
        }
    });
    let state = HttpState {
        app: app.clone(),
        schema,
        rate_limiter,
        ip_limiter,
        api_v2_limiter,
        api_v2_user_limiter,
        persisted,
    };

    // Endpoints that write run detached from their connection (see `run_to_end`).
    let writes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::execute))
        .route("/webhooks/midtrans", post(webhooks::midtrans))
        .route("/webhooks/xendit", post(webhooks::xendit))
        .route("/webhooks/telegram", post(chats::telegram))
        .route(
            "/webhooks/whatsapp",
            get(chats::whatsapp_verify).post(chats::whatsapp),
        )
        .route(
            "/webhooks/bank-mutations/{provider}",
            post(bank_mutations::receive),
        )
        .route("/api/v2", get(api_v2::handle).post(api_v2::handle))
        .route("/newsletter/confirm", get(newsletter::confirm))
        .route(
            "/newsletter/unsubscribe",
            get(newsletter::unsubscribe_page).post(newsletter::unsubscribe),
        )
        .route_layer(axum::middleware::from_fn(run_to_end));

    Ok(Router::new()
        .merge(writes)
        .route("/graphql/ws", get(graphql::websocket))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/readyz", get(health::readyz))
        .route("/admin/exports/{name}", get(exports::export))
        .route("/deposits/{id}/proof", get(bank_mutations::deposit_proof))
        .route("/robots.txt", get(seo::robots))
        .route("/sitemap.xml", get(seo::sitemap))
        .route("/sitemaps/{file}", get(seo::sitemap_file))
        .route("/feed.xml", get(seo::feed))
        .route("/updates.xml", get(service_updates::feed))
        // The reference web client (examples/web): plain files, no build step.
        .route(
            "/client",
            get(|| async { axum::response::Redirect::permanent("/client/") }),
        )
        .nest_service(
            "/client/",
            tower_http::services::ServeDir::new(&config.web_client_dir),
        )
        .nest_service(
            "/graphql/assets",
            tower_http::services::ServeDir::new(&config.graphiql_assets_dir),
        )
        // Inside the router, so that the route template is known.
        .route_layer(axum::middleware::from_fn(crate::metrics::track_http))
        .with_state(state)
        .layer(cors)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let request_id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // async-graphql-axum reads whole bodies itself and ignores axum's
                // DefaultBodyLimit, so the limit is enforced here.
                .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
                // A body that stalls would hold its connection (and a detached
                // task) for ever; past the timeout it is answered 408.
                .layer(RequestBodyTimeoutLayer::new(config.body_read_timeout))
                // gzip at its fastest level, as nginx's default `gzip_comp_level 1`:
                // a dynamic answer is compressed once, for one client, so speed
                // beats the last tenth of size (at the default level, compressing
                // took half the CPU of a streamed CSV export).
                .layer(CompressionLayer::new().quality(CompressionLevel::Fastest)),
        ))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        // Credentials travel in the Authorization header, not cookies, so any origin is safe.
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy. A client
/// talking to us directly cannot choose its address by sending the header.
pub fn client_ip(
    peer: std::net::IpAddr,
    headers: &http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|hop| !trusted.contains(hop))
        .unwrap_or(peer)
}

/// Runs the rest of the request in a task of its own, so that a client that
/// disconnects (or times out) mid-request cannot drop a transaction half-way: the
/// work runs to its commit or rollback and only the answer is lost. Without this,
/// a dropped future would hand its connection back to the pool still inside the
/// transaction, holding its row locks until that connection's next checkout.
async fn run_to_end(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use tracing::Instrument;
    let work = next.run(request).instrument(tracing::Span::current());
    match tokio::spawn(work).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "request task failed");
            let public =
                crate::error::AppError::internal(anyhow::anyhow!("request task failed: {error}"))
                    .public();
            (
                public.status,
                axum::Json(serde_json::json!({ "code": public.code, "message": public.message })),
            )
                .into_response()
        }
    }
}

/// Serves the router on `listener` until the state's shutdown token is cancelled
/// (see `server` for the connection limits and timeouts).
pub async fn serve(app: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    server::serve(app.clone(), router(app)?, listener).await
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
