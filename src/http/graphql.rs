//! The GraphQL endpoints: `POST /graphql`, the GraphiQL playground on `GET /graphql`,
//! and subscriptions on `GET /graphql/ws` (both `graphql-transport-ws` and the
//! legacy `graphql-ws` protocol), authenticated by the `connection_init` payload.

use async_graphql::{
    Data,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Extension,
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::HeaderMap,
    response::{Html, IntoResponse, Response},
};

use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::{CancellationToken, PollSender};

use std::net::SocketAddr;

use super::{
    HttpState,
    uploads::{self, UploadLimits},
};
use crate::{
    auth::{self, Viewer},
    error::{AppError, AppResult},
    graphql::{
        error::GraphqlError,
        socket::{CLOSE_INIT_TIMEOUT, CLOSE_REVOKED, INIT_TIMEOUT, SocketSession},
    },
};

/// Resolves the bearer token of a request (header or connection_init payload).
async fn viewer_for(state: &HttpState, token: Option<&str>) -> AppResult<Viewer> {
    let Some(token) = token else {
        return Ok(Viewer(None));
    };
    Ok(Viewer(Some(
        auth::authenticate(&state.app.caches, &state.app.pool, token).await?,
    )))
}

/// The viewer of a bearer token. A token the credential cache cannot answer costs
/// a database lookup: while the client address is over its limit that lookup is
/// not made (429), and a refused token counts against the address.
async fn authenticate(
    state: &HttpState,
    token: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Viewer, Response> {
    if let Some(ip) = client
        && !auth::is_cached(&state.app.caches, token)
        && let Some(retry_after) = state.ip_limiter.is_blocked(ip)
    {
        return Err(rate_limited(retry_after));
    }
    match viewer_for(state, Some(token)).await {
        Ok(viewer) => Ok(viewer),
        Err(error) => {
            if let Some(retry_after) = client.and_then(|ip| state.ip_limiter.check(ip).err()) {
                return Err(rate_limited(retry_after));
            }
            Err(GraphQLResponse::from(error_response(error)).into_response())
        }
    }
}

fn error_response(error: AppError) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![GraphqlError::from(error).into_server_error()])
}

/// Reads the body and parses it as a GraphQL request (JSON, or a multipart
/// upload). The body is read here rather than by async-graphql's extractor, which
/// flattens read errors to text: the cause decides the answer (413 over the body
/// limit even when chunked, 408 when it stalls). A multipart body is checked by
/// `uploads::precheck` before the engine's parser (which opens a file per part)
/// sees it; `Err(true)` marks such a refusal.
async fn read_request(
    headers: &HeaderMap,
    body: axum::body::Body,
    limits: UploadLimits,
) -> Result<async_graphql::Request, (Response, bool)> {
    // The body limit layer bounds what this can buffer.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|error| {
            let refused = if caused_by::<http_body_util::LengthLimitError>(&error) {
                bad_request(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is too large",
                )
            } else if caused_by::<tower_http::timeout::TimeoutError>(&error) {
                bad_request(
                    http::StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                )
            } else {
                bad_request(
                    http::StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
            };
            (refused, false)
        })?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let multipart = uploads::is_multipart(content_type);
    if let (true, Some(content_type)) = (multipart, content_type) {
        uploads::precheck(content_type, &bytes, limits)
            .await
            .map_err(|refused| (bad_request(refused.status(), refused.message()), true))?;
    }
    async_graphql::http::receive_body(content_type, bytes.as_ref(), limits.options())
        .await
        .map_err(|error| (unparsable(error), multipart))
}

/// A body that is not a GraphQL request, in plain words (the engine's own text is
/// Rust's `Debug` output).
fn unparsable(error: async_graphql::ParseRequestError) -> Response {
    use async_graphql::ParseRequestError as E;
    let (status, what) = match error {
        E::PayloadTooLarge => (
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        ),
        E::UnsupportedBatch => (
            http::StatusCode::BAD_REQUEST,
            "batch requests are not supported",
        ),
        E::InvalidRequest(_) | E::Io(_) => (
            http::StatusCode::BAD_REQUEST,
            "the body is not a GraphQL request (JSON with a `query`)",
        ),
        _ => (
            http::StatusCode::BAD_REQUEST,
            "the upload does not follow the GraphQL multipart request specification",
        ),
    };
    bad_request(status, what)
}

/// `status` with BAD_REQUEST and a plain message.
fn bad_request(status: http::StatusCode, what: &str) -> Response {
    let mut response =
        GraphQLResponse::from(error_response(AppError::BadRequest(what.into()))).into_response();
    *response.status_mut() = status;
    response
}

/// Whether `error` is, or is caused by, a `Cause`.
fn caused_by<Cause: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.is::<Cause>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// 429 with `Retry-After` and RATE_LIMITED.
fn rate_limited(retry_after: u64) -> Response {
    let mut response = GraphQLResponse::from(error_response(AppError::RateLimited)).into_response();
    *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, retry_after.into());
    response
}

pub async fn execute(
    State(state): State<HttpState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer_token);
    // Anonymous requests, refused uploads and tokens that need a lookup are
    // limited per client address.
    let client = peer.map(|Extension(ConnectInfo(peer))| {
        super::client_ip(
            peer.ip(),
            &headers,
            &state.app.config.server.trusted_proxies,
        )
    });
    let over_ip_limit = || client.and_then(|ip| state.ip_limiter.check(ip).err());
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let upload = uploads::is_multipart(content_type);
    // An upload is read only from a signed-in caller: the credential is checked
    // before the body.
    let mut viewer = None;
    if upload {
        let Some(token) = token else {
            if let Some(retry_after) = over_ip_limit() {
                return rate_limited(retry_after);
            }
            let mut refused = GraphQLResponse::from(error_response(AppError::Unauthenticated(
                "uploads need a signed-in caller".into(),
            )))
            .into_response();
            *refused.status_mut() = http::StatusCode::UNAUTHORIZED;
            return refused;
        };
        match authenticate(&state, token, client).await {
            Ok(found) => viewer = Some(found),
            Err(refused) => return refused,
        }
    }
    let server = &state.app.config.server;
    let limits = UploadLimits {
        max_files: server.upload_max_files,
        max_file_bytes: server.upload_max_bytes,
    };
    let request = match read_request(&headers, body, limits).await {
        Ok(request) => request,
        Err((refused, counts)) => {
            if counts && let Some(retry_after) = over_ip_limit() {
                return rate_limited(retry_after);
            }
            return refused;
        }
    };
    let viewer = match viewer {
        Some(viewer) => viewer,
        None => match token {
            None => Viewer(None),
            Some(token) => match authenticate(&state, token, client).await {
                Ok(viewer) => viewer,
                Err(refused) => return refused,
            },
        },
    };
    let over_limit = match &viewer.0 {
        Some(user) => state.rate_limiter.check(user.id()).err(),
        None => over_ip_limit(),
    };
    if let Some(retry_after) = over_limit {
        return rate_limited(retry_after);
    }
    let anonymous = viewer.0.is_none();
    let (viewer, loaders) = crate::graphql::request_data(&state.app, viewer);
    let mut request = request
        .data(viewer)
        .data(loaders)
        .data(crate::graphql::ClientAddress(client))
        .data(crate::graphql::ClientUserAgent(
            headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .chars()
                .take(crate::domain::accounts::sign_in::MAX_USER_AGENT_CHARS)
                .collect(),
        ));
    if anonymous && !state.app.config.server.graphql_anonymous_introspection {
        request = request.disable_introspection();
    }
    let response = state.schema.execute(request).await;
    let outcome = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|ext| ext.get("code"))
        .map_or_else(
            || "ok".to_string(),
            |code| code.to_string().trim_matches('"').to_string(),
        );
    metrics::counter!(crate::metrics::GRAPHQL_REQUESTS, "outcome" => outcome).increment(1);
    GraphQLResponse::from(response).into_response()
}

/// The playground. With the assets installed by `scripts/fetch-graphiql.sh` it works
/// offline; without them it falls back to async-graphql's CDN-loaded page.
pub async fn playground(State(state): State<HttpState>) -> impl IntoResponse {
    let local = state
        .app
        .config
        .server
        .graphiql_assets_dir
        .join("graphiql.min.js");
    if local.exists() {
        return Html(include_str!("graphiql.html").to_string());
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("booster GraphiQL")
            .finish(),
    )
}

fn token_from_init(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let raw = ["Authorization", "authorization", "token", "authToken"]
        .iter()
        .find_map(|key| object.get(*key))
        .or_else(|| {
            object
                .get("headers")
                .and_then(|h| h.get("Authorization").or_else(|| h.get("authorization")))
        })?
        .as_str()?;
    Some(auth::bearer_token(raw).unwrap_or(raw).to_string())
}

pub async fn websocket(
    State(state): State<HttpState>,
    slot: Option<Extension<std::sync::Arc<super::server::ConnectionSlot>>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            // The socket keeps its connection's place in the limits until it closes.
            let _slot = slot;
            let open = metrics::gauge!(crate::metrics::WEBSOCKETS);
            open.increment(1);
            serve_socket(state, protocol, socket).await;
            open.decrement(1);
        })
        .into_response()
}

/// Runs the GraphQL protocol over the socket. Outgoing messages pass through a
/// channel so that the socket can still be closed with [`CLOSE_REVOKED`] when the
/// credential stops allowing it (see `graphql::socket`).
async fn serve_socket(state: HttpState, protocol: GraphQLProtocol, socket: WebSocket) {
    let revoked = CancellationToken::new();
    let init_timed_out = CancellationToken::new();
    let initialised = CancellationToken::new();
    let ended = CancellationToken::new();
    let _end_watchers = ended.clone().drop_guard();
    // A socket that never says who it is does not hold a connection for long.
    tokio::spawn({
        let (initialised, init_timed_out, ended) =
            (initialised.clone(), init_timed_out.clone(), ended.clone());
        async move {
            tokio::select! {
                _ = initialised.cancelled() => {}
                _ = ended.cancelled() => {}
                _ = tokio::time::sleep(INIT_TIMEOUT) => init_timed_out.cancel(),
            }
        }
    });
    let (mut sink, stream) = socket.split();
    let (outgoing, mut to_send) = tokio::sync::mpsc::channel::<Message>(64);
    let schema = state.schema.clone();
    let stop = futures_util::future::select(
        Box::pin(revoked.clone().cancelled_owned()),
        Box::pin(init_timed_out.clone().cancelled_owned()),
    );
    let incoming = stream.take_until(stop);
    let on_init = {
        let revoked = revoked.clone();
        move |payload: serde_json::Value| async move {
            initialised.cancel();
            let token = token_from_init(&payload);
            let viewer = viewer_for(&state, token.as_deref())
                .await
                .map_err(|e| async_graphql::Error::from(GraphqlError::from(e)))?;
            let session = SocketSession {
                token,
                connected_as_admin: viewer.require_staff().is_ok(),
                user_id: viewer.0.as_ref().map(|user| user.id()),
                revoked,
                rate_limiter: state.rate_limiter.clone(),
                subscriptions: Default::default(),
            };
            if let Some(user) = &viewer.0 {
                session.watch(state.app.clone(), user.id(), ended);
            }
            let (viewer, loaders) = crate::graphql::request_data(&state.app, viewer);
            let mut data = Data::default();
            data.insert(viewer);
            data.insert(loaders);
            data.insert(session);
            Ok(data)
        }
    };
    let protocol_run =
        GraphQLWebSocket::new_with_pair(PollSender::new(outgoing), incoming, schema, protocol)
            .on_connection_init(on_init)
            .serve();
    let forward = async {
        while let Some(message) = to_send.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(protocol_run, forward);
    let close = if revoked.is_cancelled() {
        Some((
            CLOSE_REVOKED,
            "the credential no longer allows this connection",
        ))
    } else if init_timed_out.is_cancelled() {
        Some((CLOSE_INIT_TIMEOUT, "connection_init not received in time"))
    } else {
        None
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}
