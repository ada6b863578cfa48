//! The GraphQL endpoints over HTTP: `POST /graphql` (JSON, or a multipart upload)
//! and `GET /graphql` (queries only; a browser asking for `text/html` with no
//! query gets the GraphiQL playground), by the GraphQL over HTTP specification
//! (`over_http`), with persisted queries (`graphql::persisted`) and cache headers
//! from the schema's hints. Subscriptions are in `socket`.

mod over_http;
mod socket;

pub use socket::websocket;

use async_graphql::http::GraphiQLSource;
use axum::{
    Extension,
    extract::{ConnectInfo, RawQuery, State},
    http::HeaderMap,
    response::{Html, IntoResponse, Response},
};

use std::net::SocketAddr;

use over_http::{Audience, Media, Params};

use super::{
    HttpState,
    uploads::{self, UploadLimits},
};
use crate::{
    auth::{self, Viewer},
    error::{AppError, AppResult},
    graphql::persisted::Document,
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
    media: Media,
) -> Result<Viewer, Response> {
    if let Some(ip) = client
        && !auth::is_cached(&state.app.caches, token)
        && let Some(retry_after) = state.ip_limiter.is_blocked(ip)
    {
        return Err(rate_limited(retry_after, media));
    }
    match viewer_for(state, Some(token)).await {
        Ok(viewer) => Ok(viewer),
        Err(error) => {
            if let Some(retry_after) = client.and_then(|ip| state.ip_limiter.check(ip).err()) {
                return Err(rate_limited(retry_after, media));
            }
            // Under `application/json` a refused credential is a GraphQL error
            // (200), as it always was; the newer media type carries its status.
            let status = match media {
                Media::Json => http::StatusCode::OK,
                Media::GraphqlResponse => error.http_status(),
            };
            Err(over_http::refusal_with_status(status, error, media))
        }
    }
}

/// What a POST carries.
enum Incoming {
    Params(Params),
    /// A multipart upload, parsed by the engine's reader.
    Upload(async_graphql::Request),
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
    media: Media,
) -> Result<Incoming, (Response, bool)> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let multipart = uploads::is_multipart(content_type);
    if !multipart && !content_type.is_some_and(is_json) {
        let refused = AppError::BadRequest(
            "a GraphQL POST is `Content-Type: application/json` (or a multipart upload)".into(),
        );
        let status = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return Err((
            over_http::refusal_with_status(status, refused, media),
            false,
        ));
    }
    // The body limit layer bounds what this can buffer.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|error| {
            let refused = if caused_by::<http_body_util::LengthLimitError>(&error) {
                (
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is too large",
                )
            } else if caused_by::<tower_http::timeout::TimeoutError>(&error) {
                (
                    http::StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                )
            } else {
                (
                    http::StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
            };
            (bad_request(refused.0, refused.1, media), false)
        })?;
    let Some(content_type) = content_type.filter(|_| multipart) else {
        return over_http::params_from_json(&bytes)
            .map(Incoming::Params)
            .map_err(|error| (over_http::refusal(error, media), false));
    };
    uploads::precheck(content_type, &bytes, limits)
        .await
        .map_err(|refused| {
            (
                bad_request(refused.status(), refused.message(), media),
                true,
            )
        })?;
    async_graphql::http::receive_body(Some(content_type), bytes.as_ref(), limits.options())
        .await
        .map(Incoming::Upload)
        .map_err(|error| (unparsable(error, media), true))
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// An upload that is not a GraphQL request, in plain words (the engine's own text
/// is Rust's `Debug` output).
fn unparsable(error: async_graphql::ParseRequestError, media: Media) -> Response {
    use async_graphql::ParseRequestError as E;
    let (status, what) = match error {
        E::PayloadTooLarge => (
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        ),
        _ => (
            http::StatusCode::BAD_REQUEST,
            "the upload does not follow the GraphQL multipart request specification",
        ),
    };
    bad_request(status, what, media)
}

/// `status` with BAD_REQUEST and a plain message.
fn bad_request(status: http::StatusCode, what: &str, media: Media) -> Response {
    over_http::refusal_with_status(status, AppError::BadRequest(what.into()), media)
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
fn rate_limited(retry_after: u64, media: Media) -> Response {
    let mut response = over_http::refusal(AppError::RateLimited, media);
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, retry_after.into());
    response
}

/// 406 when `Accept` allows neither JSON type.
fn not_acceptable() -> Response {
    let refused = AppError::BadRequest(
        "Accept allows neither application/graphql-response+json nor application/json".into(),
    );
    over_http::refusal_with_status(http::StatusCode::NOT_ACCEPTABLE, refused, Media::Json)
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
}

/// Who is calling from where: the bearer token and the client address.
struct Caller<'a> {
    token: Option<&'a str>,
    client: Option<std::net::IpAddr>,
}

impl<'a> Caller<'a> {
    fn of(
        state: &HttpState,
        peer: Option<Extension<ConnectInfo<SocketAddr>>>,
        headers: &'a HeaderMap,
    ) -> Caller<'a> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::bearer_token);
        let client = peer.map(|Extension(ConnectInfo(peer))| {
            super::client_ip(peer.ip(), headers, &state.app.config.server.trusted_proxies)
        });
        Caller { token, client }
    }

    /// Anonymous requests, refused uploads and tokens that need a lookup are
    /// limited per client address.
    fn over_ip_limit(&self, state: &HttpState) -> Option<u64> {
        self.client.and_then(|ip| state.ip_limiter.check(ip).err())
    }
}

pub async fn execute(
    State(state): State<HttpState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Some(media) = over_http::negotiate(accept(&headers)) else {
        return not_acceptable();
    };
    let caller = Caller::of(&state, peer, &headers);
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // An upload is read only from a signed-in caller: the credential is checked
    // before the body.
    let mut viewer = None;
    if uploads::is_multipart(content_type) {
        let Some(token) = caller.token else {
            if let Some(retry_after) = caller.over_ip_limit(&state) {
                return rate_limited(retry_after, media);
            }
            let refused = AppError::Unauthenticated("uploads need a signed-in caller".into());
            let status = http::StatusCode::UNAUTHORIZED;
            return over_http::refusal_with_status(status, refused, media);
        };
        match authenticate(&state, token, caller.client, media).await {
            Ok(found) => viewer = Some(found),
            Err(refused) => return refused,
        }
    }
    let server = &state.app.config.server;
    let limits = UploadLimits {
        max_files: server.upload_max_files,
        max_file_bytes: server.upload_max_bytes,
    };
    let incoming = match read_request(&headers, body, limits, media).await {
        Ok(incoming) => incoming,
        Err((refused, counts)) => {
            if counts && let Some(retry_after) = caller.over_ip_limit(&state) {
                return rate_limited(retry_after, media);
            }
            return refused;
        }
    };
    run(&state, &caller, viewer, &headers, incoming, media, false).await
}

/// `GET /graphql`: the playground for a browser asking for a page, otherwise a
/// query from the query string (never a mutation: 405 with `Allow: POST`).
pub async fn get(
    State(state): State<HttpState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query_string): RawQuery,
) -> Response {
    let query_string = query_string.unwrap_or_default();
    if query_string.is_empty() && over_http::wants_html(accept(&headers)) {
        return playground(&state).into_response();
    }
    let Some(media) = over_http::negotiate(accept(&headers)) else {
        return not_acceptable();
    };
    let caller = Caller::of(&state, peer, &headers);
    let params = match over_http::params_from_query_string(&query_string) {
        Ok(params) => params,
        Err(error) => return over_http::refusal(error, media),
    };
    run(
        &state,
        &caller,
        None,
        &headers,
        Incoming::Params(params),
        media,
        true,
    )
    .await
}

/// Authenticates, limits, resolves a persisted query and executes.
async fn run(
    state: &HttpState,
    caller: &Caller<'_>,
    viewer: Option<Viewer>,
    headers: &HeaderMap,
    incoming: Incoming,
    media: Media,
    over_get: bool,
) -> Response {
    let viewer = match viewer {
        Some(viewer) => viewer,
        None => match caller.token {
            None => Viewer(None),
            Some(token) => match authenticate(state, token, caller.client, media).await {
                Ok(viewer) => viewer,
                Err(refused) => return refused,
            },
        },
    };
    let over_limit = match &viewer.0 {
        Some(user) => state.rate_limiter.check(user.id()).err(),
        None => caller.over_ip_limit(state),
    };
    if let Some(retry_after) = over_limit {
        return rate_limited(retry_after, media);
    }
    let anonymous = viewer.0.is_none();
    let request = match incoming {
        Incoming::Upload(request) => request,
        Incoming::Params(params) => match prepare(state, params, anonymous, over_get) {
            Ok(request) => request,
            Err(refused) => return refused(media),
        },
    };
    let (viewer, loaders) = crate::graphql::request_data(&state.app, viewer);
    let mut request = request
        .data(viewer)
        .data(loaders)
        .data(crate::graphql::ClientAddress(caller.client))
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
    over_http::answer(
        response,
        media,
        Audience {
            signed_in: !anonymous,
        },
    )
}

/// A refusal still waiting for the media type it is written in.
type Refusal = Box<dyn FnOnce(Media) -> Response + Send>;

/// The engine's request from the parameters: the persisted query resolved, and a
/// mutation over GET refused (405 with `Allow: POST`).
fn prepare(
    state: &HttpState,
    params: Params,
    anonymous: bool,
    over_get: bool,
) -> Result<async_graphql::Request, Refusal> {
    let refusal =
        |error: AppError| -> Refusal { Box::new(move |media| over_http::refusal(error, media)) };
    let document =
        Document::from_request(params.query, params.extensions.as_ref()).map_err(refusal)?;
    let query = state
        .persisted
        .resolve(document, anonymous)
        .map_err(refusal)?;
    if over_get && writes(&query, params.operation_name.as_deref()) {
        return Err(Box::new(|media| {
            let refused =
                AppError::BadRequest("a mutation is sent with POST; GET runs queries only".into());
            let mut answer = over_http::refusal_with_status(
                http::StatusCode::METHOD_NOT_ALLOWED,
                refused,
                media,
            );
            answer
                .headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
            answer
        }));
    }
    let mut request = async_graphql::Request::new(query.as_ref());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        request = request.variables(async_graphql::Variables::from_json(
            serde_json::Value::Object(variables),
        ));
    }
    if let Some(extensions) = params.extensions {
        for (name, value) in extensions {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.insert(name, value);
            }
        }
    }
    Ok(request)
}

/// Whether the operation a GET would run is not a query (a document that does not
/// parse is left to the engine, which reports it).
fn writes(query: &str, operation_name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) => {
            operations.values().next().map(|operation| &operation.node)
        }
    };
    operation.is_some_and(|operation| operation.ty != OperationType::Query)
}

/// The playground. With the assets installed by `scripts/fetch-graphiql.sh` it works
/// offline; without them it falls back to async-graphql's CDN-loaded page.
fn playground(state: &HttpState) -> Html<String> {
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
