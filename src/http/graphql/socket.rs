//! The WebSocket endpoint `GET /graphql/ws` (both `graphql-transport-ws` and the
//! legacy `graphql-ws` protocol), authenticated by the `connection_init` payload;
//! the socket is closed when its credential stops allowing it.

use async_graphql::{Data, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Extension,
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::{CancellationToken, PollSender};

use super::{super::HttpState, viewer_for};
use crate::{
    auth,
    graphql::{
        error::GraphqlError,
        socket::{CLOSE_INIT_TIMEOUT, CLOSE_REVOKED, INIT_TIMEOUT, SocketSession},
    },
};

/// The socket's read buffer. GraphQL messages are small; tungstenite's default
/// (128 KiB) is zeroed before every read and stays resident for the socket's life.
/// A larger message still arrives whole: the buffer grows for it.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// RFC 6455's close code for a message too big to process.
const CLOSE_TOO_BIG: u16 = 1009;

/// Whether a read failed on the size limits (`max_message_size`,
/// `max_frame_size`) rather than on the connection.
fn is_too_big(error: &axum::Error) -> bool {
    use std::error::Error;
    matches!(
        error
            .source()
            .and_then(|e| e.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
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
    slot: Option<Extension<std::sync::Arc<super::super::server::ConnectionSlot>>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max_message_bytes = state.app.config.server.max_body_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // A message is bounded as a request body is (tungstenite's defaults let
        // anyone, before `connection_init`, make the server hold 64 MiB); past
        // it the socket is closed with 1009.
        .max_message_size(max_message_bytes)
        .max_frame_size(max_message_bytes)
        .read_buffer_size(READ_BUFFER_BYTES)
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
    // An oversized message ends the protocol (it stops at the first read error);
    // the socket then says why with 1009, as RFC 6455 asks.
    let too_big = CancellationToken::new();
    let incoming = stream
        .inspect({
            let too_big = too_big.clone();
            move |read| {
                if read.as_ref().is_err_and(is_too_big) {
                    too_big.cancel();
                }
            }
        })
        .take_until(stop);
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
    } else if too_big.is_cancelled() {
        Some((CLOSE_TOO_BIG, "message too big"))
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
