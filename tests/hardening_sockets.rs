//! Issue 21, point 3: open subscriptions follow credential changes made while the
//! LISTEN connection was down, order streams re-check per event, and a TRUNCATE
//! of the credential tables reaches the caches.

mod common;

use std::time::Duration;

use booster::db::enums::{Fulfillment, Role};
use common::*;
use diesel_async::RunQueryDsl;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use common::sockets::{self, Socket, wait_until_live, ws_connect};

async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .ok()?;
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return Some(frame.code.into()),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demotion_while_the_listener_is_down_closes_the_admins_socket() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.user("second-admin@example.com", Role::Owner).await;
    wait_until_live(&app).await;
    let mut socket = ws_connect(&app.base_url, sockets::TRANSPORT_WS, &admin).await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { adminOrderUpdates { orderId } }" } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The LISTEN connection drops (a failover, a network cut); while it is down
    // the admin is demoted, and the notice of it is lost.
    let mut conn = app.conn().await;
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE users SET role = 'CUSTOMER' WHERE id = {admin_id}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        close_code(&mut socket).await,
        Some(4403),
        "the socket re-checks once the listener is back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn order_streams_recheck_the_credential_before_each_event() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.user("watcher@example.com", Role::Owner).await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    let (_, customer) = app.funded_customer("buyer@example.com", 100_000).await;
    wait_until_live(&app).await;
    // Straight on the schema, with no socket and so no watcher: only the stream's
    // own check stands between a demoted admin and the next event.
    let schema = booster::graphql::build_schema(app.state.clone());
    let auth = booster::auth::authenticate(&app.state.caches, &app.state.pool, &admin)
        .await
        .unwrap();
    let (viewer, loaders) =
        booster::graphql::request_data(&app.state, booster::auth::Viewer(Some(auth)));
    let request = async_graphql::Request::new("subscription { adminOrderUpdates { orderId } }")
        .data(viewer)
        .data(loaders);
    let mut stream = schema.execute_stream(request);
    let first = tokio::spawn(async move {
        let next = stream.next().await;
        (next, stream)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    diesel::sql_query(format!(
        "UPDATE users SET role = 'CUSTOMER' WHERE id = {admin_id}"
    ))
    .execute(&mut app.conn().await)
    .await
    .unwrap();
    app.ok(
        Some(&customer),
        "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }",
        json!({ "input": { "serviceId": service.to_string(), "link": "https://x.com/a/status/1", "quantity": 100 } }),
    )
    .await;
    let (next, _) = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the stream neither ended nor delivered")
        .unwrap();
    assert!(
        next.is_none(),
        "a demoted admin received an order event: {next:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn truncating_sessions_forgets_cached_sessions() {
    let app = TestApp::spawn().await;
    let (user_id, _) = app.customer("session@example.com").await;
    let (token, _) =
        booster::auth::create_session(&mut *app.conn().await, user_id, Duration::from_secs(3600))
            .await
            .unwrap();
    wait_until_live(&app).await;
    app.read(&token, "{ me { id } }").await;
    diesel::sql_query("TRUNCATE sessions")
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let mut refused = false;
    for _ in 0..50 {
        let answer = app.gql(Some(&token), "{ me { id } }", json!({})).await;
        if answer.get("errors").is_some() {
            assert_eq!(error_code(&answer), "UNAUTHENTICATED");
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "a truncated session stayed usable from the cache");
}

/// A message past the body limit closes the socket with 1009 (message too big),
/// before `connection_init` as after it; one within the limit is answered.
#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_message_closes_the_socket_with_1009() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 64 * 1024).await;
    let (_, customer) = app.customer("big@example.com").await;
    let oversized = |query: &str| {
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "extensions": { "pad": "x".repeat(80 * 1024) } } })
            .to_string()
    };
    let mut anonymous = sockets::ws_open(&app.base_url, sockets::TRANSPORT_WS).await;
    anonymous
        .send(Message::text(oversized("{ __typename }")))
        .await
        .unwrap();
    assert_eq!(close_code(&mut anonymous).await, Some(1009));

    let mut socket = ws_connect(&app.base_url, sockets::TRANSPORT_WS, &customer).await;
    let within = json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }", "extensions": { "pad": "x".repeat(32 * 1024) } } });
    socket
        .send(Message::text(within.to_string()))
        .await
        .unwrap();
    let answer = sockets::next_json(&mut socket).await;
    assert_eq!(
        answer["payload"]["data"]["__typename"], "QueryRoot",
        "{answer}"
    );
    socket
        .send(Message::text(oversized("{ __typename }")))
        .await
        .unwrap();
    assert_eq!(close_code(&mut socket).await, Some(1009));
}
