//! The GraphQL endpoints: `POST /graphql`, the GraphiQL playground on `GET /graphql`,
//! and subscriptions on `GET /graphql/ws` (both `graphql-transport-ws` and the
//! legacy `graphql-ws` protocol), authenticated by the `connection_init` payload.

use async_graphql::{
    Data,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
    http::HeaderMap,
    response::{Html, IntoResponse, Response},
};

use super::HttpState;
use crate::{
    auth::{self, Viewer},
    error::{AppError, AppResult},
    graphql::{error::ApiError, socket::OverWebSocket},
};

/// Resolves the bearer token of a request (header or connection_init payload).
async fn viewer_for(state: &HttpState, token: Option<&str>) -> AppResult<Viewer> {
    let Some(token) = token else {
        return Ok(Viewer(None));
    };
    let mut conn = state.app.pool.get().await?;
    Ok(Viewer(Some(auth::authenticate(&mut conn, token).await?)))
}

fn error_response(error: AppError) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![ApiError::from(error).into_server_error()])
}

pub async fn execute(
    State(state): State<HttpState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer_token);
    let viewer = match viewer_for(&state, token).await {
        Ok(viewer) => viewer,
        Err(error) => return GraphQLResponse::from(error_response(error)).into_response(),
    };
    if let Some(user) = &viewer.0
        && let Err(retry_after) = state.rate_limiter.check(user.id())
    {
        let body = GraphQLResponse::from(error_response(AppError::RateLimited));
        let mut response = body.into_response();
        *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, retry_after.into());
        return response;
    }
    let (viewer, loaders) = crate::graphql::request_data(&state.app, viewer);
    let request = request.into_inner().data(viewer).data(loaders);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
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
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = token_from_init(&payload);
                    let viewer = viewer_for(&state, token.as_deref())
                        .await
                        .map_err(|e| async_graphql::Error::from(ApiError::from(e)))?;
                    let (viewer, loaders) = crate::graphql::request_data(&state.app, viewer);
                    let mut data = Data::default();
                    data.insert(viewer);
                    data.insert(loaders);
                    data.insert(OverWebSocket);
                    Ok(data)
                })
                .serve()
        })
        .into_response()
}
