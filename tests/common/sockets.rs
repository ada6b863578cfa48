//! A GraphQL WebSocket client for tests: connect with a subprotocol and a
//! bearer token in `connection_init`, then read JSON messages with keep-alives
//! skipped. One copy for every test file.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The modern subprotocol (`graphql-ws` clients, Apollo's GraphQLWsLink).
pub const TRANSPORT_WS: &str = "graphql-transport-ws";

/// Opens `/graphql/ws` on `base` (`http://host:port`) with `protocol`, and says
/// nothing yet.
pub async fn ws_open(base: &str, protocol: &str) -> Socket {
    let mut request = format!("{}/graphql/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    socket
}

/// Opens `/graphql/ws` on `base` with `protocol`, signs in with `token` and
/// waits for the `connection_ack`.
pub async fn ws_connect(base: &str, protocol: &str, token: &str) -> Socket {
    let mut socket = ws_open(base, protocol).await;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

/// The next JSON message, keep-alives (`ka`, `ping`) skipped; panics after 10 s.
pub async fn next_json(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("no message within 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "ka" || value["type"] == "ping" {
                continue;
            }
            return value;
        }
    }
}

/// Waits until the server's LISTEN connection is up (caches fill and socket
/// re-checks happen from then on); panics after 5 s.
pub async fn wait_until_live(app: &super::TestApp) {
    for _ in 0..250 {
        if app.state.caches.is_live() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the LISTEN connection did not come up");
}
