//! Measures the order path on this machine and prints the figures:
//! - placeOrder throughput over HTTP/GraphQL with 16 concurrent clients (16 accounts,
//!   and 16 clients sharing one account, the worst case for the balance row), and
//!   the SQL statements per order, next to two references measured in the same
//!   run on the same PostgreSQL with 16 clients: an order-shaped pgbench script
//!   (the same four writes and notify in one transaction, one account per client,
//!   on the benchmark's own tables) and pgbench's TPC-B-like default;
//! - a 10,000-line mass order, end to end;
//! - latency from a status change to its subscription event over a WebSocket.
//!
//! Run: `cargo run --release --example order_bench` (PostgreSQL on 127.0.0.1:5432).

mod common;

use std::time::{Duration, Instant};

use booster::{app::AppState, auth, db::enums::Role, domain::accounts};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

const CLIENTS: usize = 16;

/// What one placeOrder writes, as an application doing it statement by statement
/// in one transaction would: the guarded debit, the order, its ledger row, its
/// first history row and the event's notify. Client n orders for account
/// `first_user + n`, as each benchmark client has its own account.
const ORDER_SHAPED_SCRIPT: &str = "\
\\set uid :first_user + :client_id
BEGIN;
UPDATE users SET balance = balance - 1000 WHERE id = :uid AND balance >= 1000 RETURNING balance AS balance_after \\gset
INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, extra, remains) VALUES (:uid, :service, 'https://x.com/bench', 100, 10000, 1000, 'PENDING', '{}', 100) RETURNING id AS order_id \\gset
INSERT INTO ledger_entries (user_id, amount, balance_after, kind, order_id, note) VALUES (:uid, -1000, :balance_after, 'ORDER_CHARGE', :order_id, '');
INSERT INTO order_events (order_id, status, remains, note) VALUES (:order_id, 'PENDING', 100, 'order placed') RETURNING id AS event_id \\gset
SELECT pg_notify('booster_order_events', :event_id::text);
END;
";
const SECONDS: u64 = 10;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::with_bench_database(|url| async move { run(&url).await }).await
}

async fn run(url: &str) -> anyhow::Result<()> {
    // No gateway keys: deposits are not part of this benchmark.
    let mut config = common::throughput_config(url, 32);
    config.server.max_body_bytes = 8 * 1024 * 1024;
    let state = AppState::new(config)?;
    let base = common::serve(&state).await?;

    let mut conn = state.pool.get().await?;
    let admin = accounts::create_user(&mut conn, "admin@bench.example", "", Role::Owner)
        .await
        .map_err(anyhow_err)?;
    let (_, admin_key) = auth::create_api_key(&mut conn, admin.id, "bench")
        .await
        .map_err(anyhow_err)?;
    let service = common::bench_service(&mut conn, None).await?;
    let users = common::funded_users(&mut conn, "client", CLIENTS).await?;
    let keys: Vec<String> = users.iter().map(|(_, key)| key.clone()).collect();
    drop(conn);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    // The references on the same server, same run: the order's own writes as a
    // pgbench transaction (client n orders for the n-th account), and TPC-B.
    let first_user = users[0].0;
    anyhow::ensure!(
        users
            .iter()
            .enumerate()
            .all(|(i, (id, _))| *id == first_user + i as i64),
        "the benchmark accounts' ids are not consecutive"
    );
    let order_shaped = common::pgbench_script(
        url,
        ORDER_SHAPED_SCRIPT,
        &[
            ("first_user", first_user.to_string()),
            ("service", service.to_string()),
        ],
        CLIENTS,
        SECONDS,
    );
    let tpc_b = common::pgbench(common::Pgbench::TpcB, CLIENTS, SECONDS);

    let statements_before = state.query_counter.get();
    let (separate, placed) = place_orders_for(&http, &base, service, &keys).await?;
    let statements = (state.query_counter.get() - statements_before) as f64 / placed.max(1) as f64;
    let shared_keys = vec![keys[0].clone(); CLIENTS];
    let (shared, _) = place_orders_for(&http, &base, service, &shared_keys).await?;

    println!("placeOrder over HTTP/GraphQL, {CLIENTS} concurrent clients, {SECONDS} s each:");
    println!(
        "  16 accounts:        {separate:.0} orders/s, {statements:.2} SQL statements per order"
    );
    println!("  1 shared account:   {shared:.0} orders/s");
    let ratio = |name: &str, tps: Option<f64>| match tps {
        Some(tps) => println!(
            "  {name} (pgbench -c {CLIENTS}, same PostgreSQL): {tps:.0} tps; placeOrder / it = {:.2}",
            separate / tps
        ),
        None => println!("  {name}: pgbench unavailable"),
    };
    ratio("order-shaped transaction", order_shaped);
    ratio("TPC-B-like", tpc_b);

    // 10,000-line mass order.
    let lines: String = (0..10_000)
        .map(|i| format!("{service}|https://x.com/bench/status/{i}|100\n"))
        .collect();
    let started = Instant::now();
    let answer: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&keys[1])
        .json(&json!({ "query": "mutation($t: String!) { placeMassOrder(input: { text: $t }) { placedCount totalCharge errors { line } } }", "variables": { "t": lines } }))
        .send()
        .await?
        .json()
        .await?;
    let elapsed = started.elapsed();
    assert_eq!(
        answer["data"]["placeMassOrder"]["placedCount"], 10_000,
        "{answer}"
    );
    println!(
        "mass order of 10,000 lines: {:.2} s end to end ({:.0} orders/s)",
        elapsed.as_secs_f64(),
        10_000.0 / elapsed.as_secs_f64()
    );

    // Status change -> subscription event.
    let order_id = place_one(&http, &base, service, &keys[2])
        .await?
        .expect("order");
    let mut request =
        format!("{}/graphql/ws", base.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket.send(Message::text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", keys[2]) } }).to_string())).await?;
    next_message(&mut socket).await;
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status note } }", "variables": { "id": order_id } } }).to_string(),
        ))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    for i in 0..50 {
        let status = if i % 2 == 0 {
            "IN_PROGRESS"
        } else {
            "PROCESSING"
        };
        let started = Instant::now();
        let answer: Value = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&admin_key)
            .json(&json!({ "query": "mutation($id: ID!, $s: OrderStatus!) { adminUpdateOrderStatus(input: { orderId: $id, status: $s }) { status } }", "variables": { "id": order_id, "s": status } }))
            .send()
            .await?
            .json()
            .await?;
        assert!(answer.get("errors").is_none(), "{answer}");
        let event = next_message(&mut socket).await;
        latencies.push(started.elapsed());
        assert_eq!(
            event["payload"]["data"]["orderStatusChanged"]["status"],
            status
        );
    }
    latencies.sort();
    println!(
        "status change (mutation sent) -> subscription event received: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} changes",
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 95 / 100]),
        ms(*latencies.last().unwrap()),
        latencies.len()
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn anyhow_err(e: booster::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn place_one(
    http: &reqwest::Client,
    base: &str,
    service: i64,
    key: &str,
) -> anyhow::Result<Option<String>> {
    let answer: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": "mutation($s: ID!) { placeOrder(input: { serviceId: $s, link: \"https://x.com/bench\", quantity: 100 }) { id } }", "variables": { "s": service.to_string() } }))
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["data"]["placeOrder"]["id"]
        .as_str()
        .map(str::to_string))
}

/// Orders per second over `SECONDS`, and how many were placed.
async fn place_orders_for(
    http: &reqwest::Client,
    base: &str,
    service: i64,
    keys: &[String],
) -> anyhow::Result<(f64, u64)> {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let workers = keys.iter().cloned().map(|key| {
        let http = http.clone();
        let base = base.to_string();
        tokio::spawn(async move {
            let mut placed = 0u64;
            while Instant::now() < deadline {
                if place_one(&http, &base, service, &key)
                    .await
                    .ok()
                    .flatten()
                    .is_some()
                {
                    placed += 1;
                }
            }
            placed
        })
    });
    let mut total = 0;
    for worker in workers.collect::<Vec<_>>() {
        total += worker.await?;
    }
    Ok((total as f64 / started.elapsed().as_secs_f64(), total))
}

async fn next_message(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ping" && value["type"] != "ka" {
                return value;
            }
        }
    }
}
