//! Signed webhooks for resellers: every status change of 1,000 orders reaches the
//! receiver exactly once after dedupe and in order per order while it fails the
//! first attempt of every tenth delivery; signatures checked by an independent
//! implementation (Python's `hmac`); private and metadata addresses refused; a
//! receiver that keeps failing paused and its owner told.

mod common;

use std::{collections::HashMap, time::Duration};

use booster::db::enums::OrderStatus;
use booster::{
    db::{enums::Fulfillment, orders::OrderRow, schema::orders},
    domain::orders::{StatusChange, write_changes},
    jobs::callback_outbox,
};
use common::{webhook_receiver::WebhookReceiver, *};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const SET: &str =
    "mutation($url: String!) { setOrderCallback(url: $url) { secret callback { url pausedAt } } }";

async fn callback_app(adjust: impl FnOnce(&mut booster::config::CallbacksConfig)) -> TestApp {
    TestApp::spawn_with(|c| {
        // The receiver is on 127.0.0.1: allowed here, as on a developer's machine.
        c.callbacks.allow_private_addresses = true;
        c.callbacks.retry_after = Duration::ZERO;
        adjust(&mut c.callbacks);
    })
    .await
}

/// Moves every order of `user` to `status` in one batch, as the status sync does.
async fn move_all(app: &TestApp, ids: &[i64], status: OrderStatus) {
    let mut conn = app.conn().await;
    let rows: Vec<OrderRow> = orders::table
        .filter(orders::id.eq_any(ids))
        .order(orders::id)
        .select(OrderRow::as_select())
        .load(&mut conn)
        .await
        .unwrap();
    let changes: Vec<StatusChange> = rows
        .iter()
        .map(|o| StatusChange {
            remains: Some(if status == OrderStatus::Completed {
                0
            } else {
                5
            }),
            ..StatusChange::to(o, status, "from the provider")
        })
        .collect();
    write_changes(&mut conn, changes).await.unwrap();
}

/// Runs the callback outbox until nothing is left to send.
async fn drain(app: &TestApp) {
    for _ in 0..100 {
        let report = callback_outbox::run(&app.state).await.unwrap();
        if report.delivered == 0 && report.retrying == 0 && report.failed == 0 {
            return;
        }
    }
    panic!("the callback outbox did not drain");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_of_1000_orders_arrives_once_in_order_and_signed() {
    let app = callback_app(|_| {}).await;
    let receiver = WebhookReceiver::start().await;
    receiver.fail_first_attempt_of_every(10);
    let service = service(&app, Fulfillment::Manual, 1_000, 10, 10_000).await;
    let (user, key) = app
        .funded_customer("reseller@example.com", 10_000_000)
        .await;

    let set = app
        .ok(Some(&key), SET, json!({ "url": receiver.url }))
        .await;
    let secret = set["setOrderCallback"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.starts_with("whsec_"));
    // Setting it again keeps the secret, which is never shown again.
    let again = app
        .ok(Some(&key), SET, json!({ "url": receiver.url }))
        .await;
    assert_eq!(again["setOrderCallback"]["secret"], Value::Null);

    let text: String = (0..1000)
        .map(|n| format!("{service}|https://x.com/r/status/{n}|100\n"))
        .collect();
    let placed = app
        .ok(
            Some(&key),
            "mutation($text: String!) { placeMassOrder(input: { text: $text }) { placedCount } }",
            json!({ "text": text }),
        )
        .await;
    assert_eq!(placed["placeMassOrder"]["placedCount"], 1000);
    let ids: Vec<i64> = orders::table
        .filter(orders::user_id.eq(user))
        .select(orders::id)
        .load(&mut *app.conn().await)
        .await
        .unwrap();

    move_all(&app, &ids, OrderStatus::InProgress).await;
    move_all(&app, &ids, OrderStatus::Completed).await;
    drain(&app).await;

    let received = receiver.received();
    // Every tenth delivery failed once and was sent again.
    assert_eq!(received.len(), 2000 + 200);
    let mut seen = std::collections::HashSet::new();
    let mut per_order: HashMap<i64, Vec<String>> = HashMap::new();
    for call in &received {
        if !seen.insert(call.id.clone()) {
            continue;
        }
        let body: Value = serde_json::from_str(&call.body).unwrap();
        assert_eq!(body["id"], call.id);
        per_order
            .entry(body["order"].as_i64().unwrap())
            .or_default()
            .push(body["status"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 2000, "each change once after dedupe");
    assert_eq!(per_order.len(), 1000);
    for (order, statuses) in &per_order {
        assert_eq!(statuses, &["In progress", "Completed"], "order {order}");
    }

    // An independent check of every signature: Python's hmac over id.timestamp.body.
    let calls: Vec<Value> = received
        .iter()
        .map(|c| json!({ "id": c.id, "timestamp": c.timestamp, "signature": c.signature, "body": c.body }))
        .collect();
    let file = std::env::temp_dir().join(format!("callbacks-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({ "secret": secret, "calls": calls })).unwrap(),
    )
    .unwrap();
    let script = r#"
import base64, hashlib, hmac, json, sys
data = json.load(open(sys.argv[1]))
key = base64.b64decode(data["secret"][len("whsec_"):])
good = 0
for call in data["calls"]:
    signed = f'{call["id"]}.{call["timestamp"]}.{call["body"]}'.encode()
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    good += hmac.compare_digest(expected, call["signature"])
print(good, len(data["calls"]))
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs");
    std::fs::remove_file(&file).ok();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "2200 2200",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The log: delivered, with how many attempts it took.
    let log = app
        .read(&key, "{ myCallbackDeliveries(first: 20) { edges { node { id status attempts lastStatusCode } } } }")
        .await;
    let nodes = log["myCallbackDeliveries"]["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), 20);
    for node in nodes {
        let node = &node["node"];
        let number: u64 = node["id"].as_str().unwrap()[4..].parse().unwrap();
        assert_eq!(node["status"], "DELIVERED");
        assert_eq!(node["lastStatusCode"], 200);
        assert_eq!(
            node["attempts"],
            if number.is_multiple_of(10) { 2 } else { 1 }
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn private_and_metadata_addresses_are_refused() {
    let app = TestApp::spawn().await;
    let (_, key) = app.funded_customer("ssrf@example.com", 1).await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "http://example.com/hook",
    ] {
        let answer = app.gql(Some(&key), SET, json!({ "url": url })).await;
        let error = &answer["errors"][0];
        assert_eq!(error["extensions"]["code"], "VALIDATION", "{url}: {answer}");
        assert_eq!(error["extensions"]["field"], "url", "{url}: {answer}");
    }
    let none = app.read(&key, "{ myOrderCallback { url } }").await;
    assert_eq!(none["myOrderCallback"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_keeps_failing_is_paused_and_its_owner_told() {
    let app = callback_app(|c| c.give_up_after = Duration::ZERO).await;
    let receiver = WebhookReceiver::start().await;
    receiver.fail_all(true);
    let service = service(&app, Fulfillment::Manual, 1_000, 10, 10_000).await;
    let (_, key) = app.funded_customer("down@example.com", 1_000_000).await;
    app.ok(Some(&key), SET, json!({ "url": receiver.url }))
        .await;
    let first = app
        .place(&key, order_input(service, "https://x.com/d/status/1", 100))
        .await;
    let first: i64 = first.parse().unwrap();
    move_all(&app, &[first], OrderStatus::InProgress).await;
    drain(&app).await;
    assert_eq!(receiver.received().len(), 1);
    let state = app
        .read(
            &key,
            "{ myOrderCallback { pausedAt } myNotifications { kind } }",
        )
        .await;
    assert!(state["myOrderCallback"]["pausedAt"].is_string(), "{state}");
    assert!(
        state["myNotifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "CALLBACK_PAUSED"),
        "{state}"
    );
    // Paused: later changes are not pushed.
    move_all(&app, &[first], OrderStatus::Completed).await;
    drain(&app).await;
    assert_eq!(receiver.received().len(), 1);
    // Set again, it resumes.
    receiver.fail_all(false);
    app.ok(Some(&key), SET, json!({ "url": receiver.url }))
        .await;
    let second = app
        .place(&key, order_input(service, "https://x.com/d/status/2", 100))
        .await;
    move_all(&app, &[second.parse().unwrap()], OrderStatus::InProgress).await;
    drain(&app).await;
    assert_eq!(receiver.received().len(), 2);
}
