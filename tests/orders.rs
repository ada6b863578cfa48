//! Orders: concurrency of charges and stock, mass orders, idempotency, refunds,
//! and live status over WebSocket across processes.

mod common;

use std::time::{Duration, Instant};

use booster::db::enums::{Fulfillment, ServiceType};
use common::{
    sockets::{next_json, ws_connect, ws_open},
    *,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status charge quantity remains } }";

const LINK: &str = "https://x.com/booster/status/1";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_orders_against_a_balance_for_37() {
    let app = TestApp::spawn_with(|c| c.database.pool_size = 20).await;
    // 15,000 per 1000 x 100 = 1,500 rupiah per order.
    let service = service(&app, Fulfillment::Provider, 15_000, 10, 10_000).await;
    let (user, key) = app.funded_customer("buyer@example.com", 37 * 1_500).await;

    let attempts = (0..100).map(|_| {
        let app = &app;
        let key = key.clone();
        async move {
            app.gql(Some(&key), PLACE, order_input(service, LINK, 100))
                .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let placed = answers.iter().filter(|a| a.get("errors").is_none()).count();
    let refused: Vec<String> = answers
        .iter()
        .filter(|a| a.get("errors").is_some())
        .map(error_code)
        .collect();
    assert_eq!(placed, 37, "exactly the orders the balance covers succeed");
    assert!(
        refused.iter().all(|c| c == "INSUFFICIENT_BALANCE"),
        "{refused:?}"
    );
    assert_eq!(app.balance(user).await, 0);
    let data = app
        .read(
            &key,
            "{ myOrders(first: 100) { totalCount edges { node { status charge } } } }",
        )
        .await;
    assert_eq!(data["myOrders"]["totalCount"], 37);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_buyers_for_twenty_stock_items() {
    let app = TestApp::spawn_with(|c| c.database.pool_size = 20).await;
    let admin = app.admin().await;
    // One account costs 50,000 rupiah (50,000,000 per 1000).
    let service = service(&app, Fulfillment::Stock, 50_000_000, 1, 5).await;
    let items: Vec<String> = (0..20)
        .map(|i| format!("user{i}:pass{i}:user{i}@mail.example:mailpass{i}"))
        .collect();
    let upload = app
        .ok(
            Some(&admin),
            "mutation($s: ID!, $items: String!) { adminUploadStock(serviceId: $s, items: $items) { added duplicates unsold } }",
            json!({ "s": service.to_string(), "items": format!("{}\n{}\n", items.join("\n"), items[0]) }),
        )
        .await;
    assert_eq!(
        upload["adminUploadStock"],
        json!({ "added": 20, "duplicates": 1, "unsold": 20 })
    );

    let mut buyers = Vec::new();
    for i in 0..50 {
        let (id, key) = app
            .funded_customer(&format!("buyer{i}@example.com"), 50_000)
            .await;
        buyers.push((id, key));
    }
    let attempts = buyers.iter().map(|(_, key)| {
        let app = &app;
        async move {
            app.gql(
                Some(key),
                "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status deliveredItems } }",
                json!({ "input": { "serviceId": service.to_string(), "link": "https://x.com/buyer", "quantity": 1 } }),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut delivered: Vec<String> = Vec::new();
    for (answer, (user, _)) in answers.iter().zip(&buyers) {
        if answer.get("errors").is_none() {
            assert_eq!(answer["data"]["placeOrder"]["status"], "COMPLETED");
            let got = answer["data"]["placeOrder"]["deliveredItems"]
                .as_array()
                .unwrap();
            assert_eq!(got.len(), 1);
            delivered.push(got[0].as_str().unwrap().to_string());
            assert_eq!(app.balance(*user).await, 0);
        } else {
            assert_eq!(error_code(answer), "OUT_OF_STOCK", "{answer}");
            assert_eq!(
                app.balance(*user).await,
                50_000,
                "refused buyers are not charged"
            );
        }
    }
    assert_eq!(delivered.len(), 20);
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), 20, "no item sold twice");
    let stock = app
        .ok(
            Some(&admin),
            "query($s: ID!) { adminStock(serviceId: $s) { unsold sold } }",
            json!({ "s": service.to_string() }),
        )
        .await;
    assert_eq!(stock["adminStock"], json!({ "unsold": 0, "sold": 20 }));

    // Only the buyer (and admins) can read delivered items.
    let order_id =
        answers.iter().find(|a| a.get("errors").is_none()).unwrap()["data"]["placeOrder"]["id"]
            .clone();
    let (_, stranger) = app.customer("stranger@example.com").await;
    let answer = app
        .gql(
            Some(&stranger),
            "query($id: ID!) { order(id: $id) { deliveredItems } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(error_code(&answer), "NOT_FOUND");
    let as_admin = app
        .ok(
            Some(&admin),
            "query($id: ID!) { order(id: $id) { deliveredItems } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(
        as_admin["order"]["deliveredItems"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_orders_in_both_modes_charge_only_valid_lines() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 100, 5000).await;
    let (user, key) = app.funded_customer("agency@example.com", 1_000_000).await;
    let text = format!(
        "{service}|https://x.com/a/status/1|1000\n\
         {service}|https://instagram.com/p/x|1000\n\
         {service}|https://x.com/b|50\n\
         999999|https://x.com/c|1000\n\
         this is not an order\n\
         {service}|https://twitter.com/d|2000\n"
    );
    let mutation = "mutation($input: PlaceMassOrderInput!) { placeMassOrder(input: $input) {
        placedCount totalCharge massOrder { id orderCount rejectedCount totalCharge } errors { line field message } } }";

    let all_or_nothing = app
        .ok(
            Some(&key),
            mutation,
            json!({ "input": { "text": text, "allOrNothing": true } }),
        )
        .await;
    let payload = &all_or_nothing["placeMassOrder"];
    assert_eq!(payload["placedCount"], 0);
    assert_eq!(payload["massOrder"], Value::Null);
    let lines: Vec<i64> = payload["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3, 4, 5]);
    assert_eq!(payload["errors"][0]["field"], "link");
    assert_eq!(payload["errors"][1]["field"], "quantity");
    assert_eq!(payload["errors"][2]["field"], "serviceId");
    assert_eq!(app.balance(user).await, 1_000_000, "nothing charged");

    let valid_only = app
        .ok(
            Some(&key),
            mutation,
            json!({ "input": { "text": text, "allOrNothing": false } }),
        )
        .await;
    let payload = &valid_only["placeMassOrder"];
    assert_eq!(payload["placedCount"], 2);
    assert_eq!(payload["totalCharge"], 30_000);
    assert_eq!(payload["massOrder"]["rejectedCount"], 4);
    assert_eq!(app.balance(user).await, 970_000);

    // CSV with a header is accepted too.
    let csv = format!(
        "service,link,quantity\n{service},https://x.com/e,100\n{service},\"https://x.com/f\",200\n"
    );
    let data = app
        .ok(Some(&key), mutation, json!({ "input": { "text": csv } }))
        .await;
    assert_eq!(data["placeMassOrder"]["placedCount"], 2);
    assert_eq!(app.balance(user).await, 967_000);

    let listed = app.read(&key, "{ myMassOrders { totalCount edges { node { orderCount totalCharge } } } myOrders { totalCount } }").await;
    assert_eq!(listed["myMassOrders"]["totalCount"], 2);
    assert_eq!(listed["myOrders"]["totalCount"], 4);

    // One debit per mass order, not one per line.
    use booster::db::schema::ledger_entries;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let charges: i64 = ledger_entries::table
        .filter(ledger_entries::kind.eq("ORDER_CHARGE"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(charges, 2);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retried_place_order_with_an_idempotency_key_charges_once() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 5000).await;
    let (user, key) = app.funded_customer("retry@example.com", 100_000).await;
    let mut input = order_input(service, LINK, 1000);
    input["input"]["idempotencyKey"] = json!("checkout-7f3a");
    let attempts = (0..10).map(|_| app.gql(Some(&key), PLACE, input.clone()));
    let answers = futures_util::future::join_all(attempts).await;
    let ids: Vec<Value> = answers
        .iter()
        .map(|a| a["data"]["placeOrder"]["id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0] && id.is_string()),
        "{answers:?}"
    );
    assert_eq!(app.balance(user).await, 90_000);

    // The same key for a different order is a conflict, not a silent reuse.
    input["input"]["quantity"] = json!(2000);
    let answer = app.gql(Some(&key), PLACE, input).await;
    assert_eq!(error_code(&answer), "CONFLICT");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_of_order_by_id_batch_and_hide_other_peoples_orders() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 5000).await;
    let (_, mine) = app.funded_customer("mine@example.com", 100_000).await;
    let (_, theirs) = app.funded_customer("theirs@example.com", 100_000).await;
    let own = app.place(&mine, order_input(service, LINK, 100)).await;
    let other = app.place(&theirs, order_input(service, LINK, 100)).await;
    // Own, someone else's and unknown ids, 1,500 aliases in all.
    let ids = [own.clone(), other.clone(), "999999".to_string()];
    let aliases: String = (0..1_500)
        .map(|i| format!("o{i}: order(id: \"{}\") {{ id status }} ", ids[i % 3]))
        .collect();
    let document = format!("{{ {aliases} }}");
    let (statements, answer) = app
        .statements_of(app.gql(Some(&mine), &document, json!({})))
        .await;
    println!("1,500 aliases of order(id:): {statements} SQL statements");
    assert!(
        statements <= 50,
        "{statements} statements for 1,500 aliases"
    );
    let errors = answer["errors"]
        .as_array()
        .expect("errors for hidden orders");
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "NOT_FOUND"),
        "someone else's order answers exactly like a missing one: {errors:?}"
    );
    let own_only: String = (0..1_000)
        .map(|i| format!("o{i}: order(id: \"{own}\") {{ id }} "))
        .collect();
    let data = app
        .ok(Some(&mine), &format!("{{ {own_only} }}"), json!({}))
        .await;
    assert_eq!(data["o999"]["id"], json!(own));

    // Admins read any order, and look users up by id the same batched way.
    let admin = app.admin().await;
    let answer = app
        .ok(
            Some(&admin),
            "query($a: ID!, $b: ID!) { a: order(id: $a) { id } b: order(id: $b) { id } u: adminUser(id: \"999999\") { id } }",
            json!({ "a": own, "b": other }),
        )
        .await;
    assert_eq!(answer["b"]["id"], json!(other));
    assert!(answer["u"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn place_order_validates_every_field_before_writing() {
    let app = TestApp::spawn().await;
    let default = service(&app, Fulfillment::Provider, 10_000, 100, 1000).await;
    let stepped = service_with(&app, Fulfillment::Provider, 10_000, 100, 1000, |s| {
        s.quantity_step = 50
    })
    .await;
    let inactive = service_with(&app, Fulfillment::Provider, 10_000, 100, 1000, |s| {
        s.active = false
    })
    .await;
    let comments = service_with(&app, Fulfillment::Provider, 10_000, 1, 1000, |s| {
        s.service_type = ServiceType::CustomComments
    })
    .await;
    let poll = service_with(&app, Fulfillment::Provider, 10_000, 1, 1000, |s| {
        s.service_type = ServiceType::Poll
    })
    .await;
    let (user, key) = app.funded_customer("v@example.com", 5_000).await;
    let base = |service: i64| json!({ "serviceId": service.to_string(), "link": "https://x.com/a", "quantity": 100 });
    let with = |service: i64, patch: Value| {
        let mut input = base(service);
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({ "input": input })
    };
    let cases = [
        (
            with(default, json!({ "quantity": 99 })),
            "VALIDATION",
            "quantity",
        ),
        (
            with(default, json!({ "quantity": 1001 })),
            "VALIDATION",
            "quantity",
        ),
        (
            with(stepped, json!({ "quantity": 120 })),
            "VALIDATION",
            "quantity",
        ),
        (
            with(default, json!({ "link": "https://instagram.com/p/1" })),
            "VALIDATION",
            "link",
        ),
        (with(default, json!({ "link": "" })), "VALIDATION", "link"),
        (
            with(default, json!({ "runs": 5 })),
            "VALIDATION",
            "interval",
        ),
        (
            with(default, json!({ "runs": 1, "interval": 10 })),
            "VALIDATION",
            "runs",
        ),
        (with(inactive, json!({})), "VALIDATION", "serviceId"),
        (with(424242, json!({})), "VALIDATION", "serviceId"),
        (with(comments, json!({})), "VALIDATION", "comments"),
        (
            with(
                comments,
                json!({ "comments": "nice\ngreat\n", "quantity": 3 }),
            ),
            "VALIDATION",
            "quantity",
        ),
        (with(poll, json!({})), "VALIDATION", "answerNumber"),
        (
            with(default, json!({ "quantity": 1000 })),
            "INSUFFICIENT_BALANCE",
            "",
        ),
        (
            with(default, json!({ "idempotencyKey": "" })),
            "VALIDATION",
            "idempotencyKey",
        ),
    ];
    for (input, code, field) in cases {
        let answer = app.gql(Some(&key), PLACE, input.clone()).await;
        assert_eq!(error_code(&answer), code, "{input}: {answer}");
        assert_eq!(error_field(&answer), field, "{input}: {answer}");
    }
    let data = app.read(&key, "{ myOrders { totalCount } }").await;
    assert_eq!(data["myOrders"]["totalCount"], 0);
    assert_eq!(app.balance(user).await, 5_000);

    // Custom comments: quantity comes from the lines; drip-feed charges quantity x runs.
    let order = app
        .ok(
            Some(&key),
            PLACE,
            with(
                comments,
                json!({ "comments": "nice\n\ngreat\n", "quantity": null }),
            ),
        )
        .await;
    assert_eq!(order["placeOrder"]["quantity"], 2);
    let order = app
        .ok(
            Some(&key),
            PLACE,
            with(default, json!({ "runs": 3, "interval": 30 })),
        )
        .await;
    assert_eq!(
        (
            order["placeOrder"]["quantity"].clone(),
            order["placeOrder"]["charge"].clone()
        ),
        (json!(300), json!(3000))
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refunds_happen_exactly_once_and_cancel_requests_follow_the_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Provider, 15_840, 100, 10_000).await;
    let (user, key) = app.funded_customer("r@example.com", 100_000).await;
    let id = app.place(&key, order_input(service, LINK, 1000)).await;
    assert_eq!(app.balance(user).await, 100_000 - 15_840);

    let set = "mutation($input: AdminUpdateOrderStatusInput!) { adminUpdateOrderStatus(input: $input) { status remains refunded } }";
    app.ok(
        Some(&admin),
        set,
        json!({ "input": { "orderId": id, "status": "IN_PROGRESS", "startCount": 3572 } }),
    )
    .await;
    // Two partial settlements race: one refund of 15,840 x 157 / 1000 = 2,486 (rounded down).
    let partial = json!({ "input": { "orderId": id, "status": "PARTIAL", "remains": 157, "note": "provider ran short" } });
    let (a, b) = tokio::join!(
        app.gql(Some(&admin), set, partial.clone()),
        app.gql(Some(&admin), set, partial.clone())
    );
    for answer in [&a, &b] {
        assert_eq!(
            answer["data"]["adminUpdateOrderStatus"]["status"], "PARTIAL",
            "{answer}"
        );
        assert_eq!(answer["data"]["adminUpdateOrderStatus"]["refunded"], 2486);
    }
    // A later cancel of a settled order changes nothing.
    app.ok(
        Some(&admin),
        set,
        json!({ "input": { "orderId": id, "status": "CANCELED" } }),
    )
    .await;
    assert_eq!(app.balance(user).await, 100_000 - 15_840 + 2_486);

    let history = app.ok(Some(&key), "query($id: ID!) { order(id: $id) { status history { status startCount remains note } } }", json!({ "id": id })).await;
    let statuses: Vec<&str> = history["order"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["PENDING", "IN_PROGRESS", "PARTIAL"]);
    assert_eq!(history["order"]["history"][2]["startCount"], 3572);

    // A pending order is canceled at once with a full refund; a second cancel is refused.
    let pending = app.place(&key, order_input(service, LINK, 100)).await;
    let cancel = "mutation($id: ID!) { requestOrderCancel(orderId: $id) { order { status refunded } request { kind } } }";
    let data = app.ok(Some(&key), cancel, json!({ "id": pending })).await;
    assert_eq!(
        data["requestOrderCancel"]["order"],
        json!({ "status": "CANCELED", "refunded": 1584 })
    );
    assert_eq!(
        error_code(&app.gql(Some(&key), cancel, json!({ "id": pending })).await),
        "CONFLICT"
    );

    // A running order gets one open cancel request; refills need a completed order.
    let running = app.place(&key, order_input(service, LINK, 100)).await;
    app.ok(
        Some(&admin),
        set,
        json!({ "input": { "orderId": running, "status": "PROCESSING" } }),
    )
    .await;
    let data = app.ok(Some(&key), cancel, json!({ "id": running })).await;
    assert_eq!(data["requestOrderCancel"]["request"]["kind"], "CANCEL");
    assert_eq!(
        error_code(&app.gql(Some(&key), cancel, json!({ "id": running })).await),
        "CONFLICT"
    );
    let refill = "mutation($id: ID!) { requestOrderRefill(orderId: $id) { kind status } }";
    assert_eq!(
        error_code(&app.gql(Some(&key), refill, json!({ "id": running })).await),
        "CONFLICT"
    );
    app.ok(
        Some(&admin),
        set,
        json!({ "input": { "orderId": running, "status": "COMPLETED" } }),
    )
    .await;
    assert_eq!(
        app.ok(Some(&key), refill, json!({ "id": running })).await["requestOrderRefill"]["status"],
        "PENDING"
    );

    // Another customer can neither see nor cancel the order.
    let (_, other) = app.customer("o@example.com").await;
    assert_eq!(
        error_code(
            &app.gql(Some(&other), cancel, json!({ "id": running }))
                .await
        ),
        "NOT_FOUND"
    );
    app.assert_books_balanced().await;
}

/// Starts the real binary as a second server process on the same database.
async fn spawn_server_process(database_url: &str) -> (tokio::process::Child, String) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_booster"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("BOOSTER_SECRET_KEY", "2a".repeat(32))
        .env("RUST_LOG", "warn")
        // The jobs would dispatch the test's order and add events of their own.
        .env("RUN_JOBS", "false")
        .kill_on_drop(true)
        .spawn()
        .expect("start booster serve");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("second server process did not come up");
}

#[tokio::test(flavor = "multi_thread")]
async fn subscription_on_one_process_sees_changes_made_by_another() {
    let app = TestApp::spawn().await;
    let (_child, other_process) = spawn_server_process(&app.db.url).await;
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 10_000).await;
    let (_, key) = app.funded_customer("live@example.com", 100_000).await;
    let order_id = app.place(&key, order_input(service, LINK, 100)).await;

    // Modern protocol (graphql-transport-ws) on the other process.
    let mut modern = ws_connect(&other_process, "graphql-transport-ws", &key).await;
    modern
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": {
                "query": "subscription($id: ID!) { orderStatusChanged(orderId: $id) { orderId status startCount note } }",
                "variables": { "id": order_id } } })
            .to_string(),
        ))
        .await
        .unwrap();
    // Legacy protocol (graphql-ws) for all of the customer's orders.
    let mut legacy = ws_connect(&other_process, "graphql-ws", &key).await;
    legacy
        .send(Message::text(
            json!({ "id": "1", "type": "start", "payload": { "query": "subscription { myOrderUpdates { orderId status } }" } }).to_string(),
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let set = "mutation($input: AdminUpdateOrderStatusInput!) { adminUpdateOrderStatus(input: $input) { status } }";
    let mut latencies = Vec::new();
    for (status, start) in [
        ("PROCESSING", None),
        ("IN_PROGRESS", Some(120)),
        ("COMPLETED", None),
    ] {
        let started = Instant::now();
        app.ok(
            Some(&admin),
            set,
            json!({ "input": { "orderId": order_id, "status": status, "startCount": start } }),
        )
        .await;
        let event = next_json(&mut modern).await;
        latencies.push(started.elapsed());
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(
            event["payload"]["data"]["orderStatusChanged"]["status"],
            status
        );
        assert_eq!(
            event["payload"]["data"]["orderStatusChanged"]["orderId"],
            order_id
        );
        let event = next_json(&mut legacy).await;
        assert_eq!(event["type"], "data", "{event}");
        assert_eq!(event["payload"]["data"]["myOrderUpdates"]["status"], status);
    }
    println!("status change -> subscription event across processes: {latencies:?}");

    // Someone else's order: NOT_FOUND, as if it did not exist.
    let (_, stranger) = app.customer("stranger@example.com").await;
    let mut socket = ws_connect(&other_process, "graphql-transport-ws", &stranger).await;
    socket
        .send(Message::text(
            json!({ "id": "9", "type": "subscribe", "payload": {
                "query": "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }", "variables": { "id": order_id } } })
            .to_string(),
        ))
        .await
        .unwrap();
    let refused = next_json(&mut socket).await;
    let text = refused.to_string();
    assert!(text.contains("NOT_FOUND"), "{text}");
    // A missing order answers exactly the same: ids cannot be probed.
    socket
        .send(Message::text(
            json!({ "id": "10", "type": "subscribe", "payload": {
                "query": "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }", "variables": { "id": "999999" } } })
            .to_string(),
        ))
        .await
        .unwrap();
    let missing = loop {
        let message = next_json(&mut socket).await;
        if message["id"] == "10" {
            break message;
        }
    };
    assert_eq!(
        missing["payload"][0]["message"], refused["payload"][0]["message"],
        "{missing} vs {refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_order_from_an_uploaded_file_and_completion_times() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 100, 5000).await;
    let (user, key) = app.funded_customer("upload@example.com", 100_000).await;
    // GraphQL multipart request spec: operations, map, then the file part.
    let operations = json!({
        "query": "mutation($file: Upload!) { placeMassOrder(input: { file: $file }) { placedCount totalCharge errors { line } } }",
        "variables": { "file": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(
                format!("{service}|https://x.com/a|100\n{service}|https://x.com/b|200\n")
                    .into_bytes(),
            )
            .file_name("orders.txt")
            .mime_str("text/plain")
            .unwrap(),
        );
    let answer: Value = json_answer(
        app.http
            .post(format!("{}/graphql", app.base_url))
            .bearer_auth(&key)
            .multipart(form),
    )
    .await;
    assert_eq!(
        answer["data"]["placeMassOrder"]["placedCount"], 2,
        "{answer}"
    );
    assert_eq!(answer["data"]["placeMassOrder"]["totalCharge"], 3000);
    assert_eq!(app.balance(user).await, 97_000);

    // Completing orders feeds the service's average completion time in the catalogue.
    let ids = app
        .read(&key, "{ myOrders { edges { node { id } } } }")
        .await;
    for edge in ids["myOrders"]["edges"].as_array().unwrap() {
        app.ok(
            Some(&admin),
            "mutation($id: ID!) { adminUpdateOrderStatus(input: { orderId: $id, status: COMPLETED }) { status } }",
            json!({ "id": edge["node"]["id"] }),
        )
        .await;
    }
    let data = app
        .ok(
            None,
            "query($id: ID!) { service(id: $id) { averageCompletionSeconds } }",
            json!({ "id": service.to_string() }),
        )
        .await;
    assert!(
        data["service"]["averageCompletionSeconds"].is_i64(),
        "{data}"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_over_the_websocket_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 10_000).await;
    let (user, key) = app.funded_customer("socket@example.com", 100_000).await;
    let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": {
                "query": PLACE, "variables": order_input(service, LINK, 100) } })
            .to_string(),
        ))
        .await
        .unwrap();
    let answer = next_json(&mut socket).await;
    let errors = if answer["type"] == "error" {
        answer["payload"].clone()
    } else {
        answer["payload"]["errors"].clone()
    };
    assert_eq!(errors[0]["extensions"]["code"], "BAD_REQUEST", "{answer}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("POST /graphql")
    );
    // Queries still work on the socket.
    socket
        .send(Message::text(
            json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ me { id } }" } })
                .to_string(),
        ))
        .await
        .unwrap();
    let answer = loop {
        let message = next_json(&mut socket).await;
        if message["id"] == "2" {
            break message;
        }
    };
    assert_eq!(
        answer["payload"]["data"]["me"]["id"],
        user.to_string(),
        "{answer}"
    );
    assert_eq!(app.balance(user).await, 100_000, "nothing was charged");
    let orders = app.read(&key, "{ myOrders { totalCount } }").await;
    assert_eq!(orders["myOrders"]["totalCount"], 0);
}

/// Reads until the server closes the socket; returns the close code.
async fn close_code(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> u16 {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the socket was not closed within 10 s");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                panic!("closed without a code")
            }
            Some(Ok(_)) => continue,
        }
    }
}

fn subscribe(id: &str, query: &str) -> Message {
    Message::text(
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_loses_access_as_soon_as_its_credential_does() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // A revoked API key: its socket is closed with 4403.
    let (user, key) = app.customer("revoked@example.com").await;
    let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
    socket
        .send(subscribe(
            "1",
            "subscription { myOrderUpdates { orderId } }",
        ))
        .await
        .unwrap();
    let other_key = app
        .read(
            &key,
            "mutation { createApiKey(name: \"second\") { key apiKey { id } } }",
        )
        .await;
    let keys = app.read(&key, "{ myApiKeys { id name } }").await;
    let first = keys["myApiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] != "second")
        .unwrap()["id"]
        .clone();
    let second = other_key["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        Some(&second),
        "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
        json!({ "id": first }),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4403);

    // A banned user: sessions are revoked and the socket is closed.
    let (banned, banned_key) = app.customer("banned@example.com").await;
    let session = {
        let mut conn = app.conn().await;
        booster::auth::create_session(&mut conn, banned, Duration::from_secs(3600))
            .await
            .unwrap()
            .0
    };
    let mut socket = ws_connect(&app.base_url, "graphql-ws", &session).await;
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminBanUser(userId: $id, reason: \"fraud\") { id } }",
        json!({ "id": banned.to_string() }),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4403);
    let answer = app.gql(Some(&session), "{ me { id } }", json!({})).await;
    assert_eq!(
        error_code(&answer),
        "UNAUTHENTICATED",
        "a ban ends every session"
    );
    let answer = app.gql(Some(&banned_key), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&answer), "FORBIDDEN");

    // A demoted admin stops receiving every customer's events.
    let (demoted, demoted_key) = app
        .user("second-admin@example.com", booster::db::enums::Role::Owner)
        .await;
    let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &demoted_key).await;
    socket
        .send(subscribe(
            "1",
            "subscription { adminOrderUpdates { orderId } }",
        ))
        .await
        .unwrap();
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminSetUserRole(userId: $id, role: CUSTOMER) { role } }",
        json!({ "id": demoted.to_string() }),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4403);
    let _ = user;
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_are_limited_like_http() {
    let app = TestApp::spawn_with(|c| c.server.rate_limit_per_minute = 5).await;
    // No connection_init: closed after a few seconds (4408), not held forever.
    let mut silent = ws_open(&app.base_url, "graphql-transport-ws").await;
    assert_eq!(close_code(&mut silent).await, 4408);

    // The user's rate limit counts operations on the socket as it counts requests.
    let (_, key) = app.customer("chatty@example.com").await;
    let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
    for i in 0..8 {
        socket
            .send(subscribe(&i.to_string(), "{ me { id } }"))
            .await
            .unwrap();
    }
    let mut limited = 0;
    let mut answered = 0;
    while answered < 8 {
        let message = next_json(&mut socket).await;
        if message["type"] == "complete" {
            continue;
        }
        answered += 1;
        if message.to_string().contains("RATE_LIMITED") {
            limited += 1;
        }
    }
    assert!(
        limited >= 3,
        "{limited} of 8 operations limited at 5 per minute"
    );

    // At most 100 subscriptions on one socket.
    let app = TestApp::spawn().await;
    let (_, key) = app.customer("hoarder@example.com").await;
    let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
    for i in 0..101 {
        socket
            .send(subscribe(
                &format!("s{i}"),
                "subscription { myOrderUpdates { orderId } }",
            ))
            .await
            .unwrap();
    }
    let refused = next_json(&mut socket).await;
    assert!(
        refused.to_string().contains("at most 100 subscriptions"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_message_is_bounded_like_a_request_body() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 64 * 1024).await;
    let (_, key) = app.customer("verbose@example.com").await;
    // Under the limit, a message larger than the socket's read buffer arrives
    // whole: a connection_init padded to 60 KiB is acknowledged.
    let mut socket = ws_open(&app.base_url, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": {
        "Authorization": format!("Bearer {key}"), "padding": "x".repeat(60 * 1024) } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");

    // Over it, the same message is not read: the server ends the connection at
    // once (well before the 5 s allowed for a connection_init) instead of
    // holding it and acknowledging.
    let mut oversized = ws_open(&app.base_url, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": {
        "Authorization": format!("Bearer {key}"), "padding": "x".repeat(100 * 1024) } });
    let started = Instant::now();
    let _ = oversized.send(Message::text(init.to_string())).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), oversized.next())
            .await
            .expect("the connection did not end within 10 s")
        {
            Some(Ok(Message::Close(frame))) => {
                assert_ne!(frame.map(|f| u16::from(f.code)), Some(4408));
                break;
            }
            None | Some(Err(_)) => break,
            Some(Ok(Message::Text(text))) => {
                assert!(
                    !text.contains("connection_ack"),
                    "an oversized message was read"
                );
            }
            Some(Ok(_)) => continue,
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended after {:?}: by the init timeout, not the size",
        started.elapsed()
    );

    // The first socket is unaffected.
    socket
        .send(subscribe("1", "{ me { email } }"))
        .await
        .unwrap();
    let answer = next_json(&mut socket).await;
    assert_eq!(
        answer["payload"]["data"]["me"]["email"],
        "verbose@example.com"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_user_holds_at_most_500_subscriptions_over_all_sockets() {
    let app = TestApp::spawn().await;
    let (_, key) = app.customer("many-sockets@example.com").await;
    let mut sockets = Vec::new();
    for s in 0..5 {
        let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
        for i in 0..100 {
            socket
                .send(subscribe(
                    &format!("{s}-{i}"),
                    "subscription { myOrderUpdates { orderId } }",
                ))
                .await
                .unwrap();
        }
        sockets.push(socket);
    }
    // Each subscription re-checks the credential first: give the server time to
    // register all 500.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut sixth = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
    sixth
        .send(subscribe(
            "one-more",
            "subscription { myOrderUpdates { orderId } }",
        ))
        .await
        .unwrap();
    let refused = next_json(&mut sixth).await;
    assert!(
        refused
            .to_string()
            .contains("at most 500 subscriptions per user"),
        "{refused}"
    );
    // Closing a socket frees its places.
    drop(sockets.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    sixth
        .send(subscribe(
            "after-close",
            "subscription { myOrderUpdates { orderId } }",
        ))
        .await
        .unwrap();
    // Only the completion of the refused one may come; the new one runs quietly.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while let Ok(message) = tokio::time::timeout_at(deadline, next_json(&mut sixth)).await {
        assert_ne!(message["id"], "after-close", "refused again: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_that_falls_behind_still_gets_every_event_once() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 1_000, 10, 5000).await;
    let (_, key) = app.funded_customer("burst@example.com", 1_000_000).await;
    let mut socket = ws_connect(&app.base_url, "graphql-transport-ws", &key).await;
    socket
        .send(subscribe(
            "1",
            "subscription { myOrderUpdates { orderId status } }",
        ))
        .await
        .unwrap();
    // One order whose event arrives proves the subscription is live.
    let first = loop {
        let placed = app
            .ok(Some(&key), PLACE, order_input(service, LINK, 10))
            .await;
        let id = placed["placeOrder"]["id"].clone();
        let event = tokio::time::timeout(Duration::from_secs(1), next_json(&mut socket)).await;
        if let Ok(event) = event {
            assert_eq!(event["payload"]["data"]["myOrderUpdates"]["orderId"], id);
            break id;
        }
    };
    // 6,000 events at once while the client reads nothing: more than the bus holds
    // (4,096), so this subscriber falls behind and must replay from history.
    let lines: String = (0..6_000)
        .map(|i| format!("{service}|https://x.com/u/status/{i}|10\n"))
        .collect();
    let placed = app
        .ok(
            Some(&key),
            "mutation($input: PlaceMassOrderInput!) { placeMassOrder(input: $input) { placedCount } }",
            json!({ "input": { "text": lines } }),
        )
        .await;
    assert_eq!(placed["placeMassOrder"]["placedCount"], 6_000);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 6_000 {
        let event = next_json(&mut socket).await;
        let update = &event["payload"]["data"]["myOrderUpdates"];
        assert_eq!(update["status"], "PENDING", "{event}");
        assert_ne!(update["orderId"], first);
        assert!(
            seen.insert(update["orderId"].as_str().unwrap().to_string()),
            "each event once: {event}"
        );
    }
    // Nothing more is owed.
    let extra = tokio::time::timeout(Duration::from_millis(500), next_json(&mut socket)).await;
    assert!(extra.is_err(), "no duplicates after the replay: {extra:?}");
}
