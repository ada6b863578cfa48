//! Measures the order path on this machine and prints the figures:
//! - placeOrder throughput over HTTP/GraphQL with 16 concurrent clients (16 accounts,
//!   and 16 clients sharing one account, the worst case for the balance row), and
//!   the SQL statements per order, next to two references measured in the same
//!   run on the same PostgreSQL with 16 clients: an order-shaped pgbench script
//!   (the same four writes and notify in one transaction, one account per client,
//!   on the benchmark's own tables) and pgbench's TPC-B-like default;
//! - a 10,000-line mass order, end to end, against the same rows written by hand
//!   with one multi-row INSERT per table in one transaction;
//! - latency from a status change to its subscription event over a WebSocket with
//!   1,000 subscriptions open, against a plain LISTEN client hearing the same
//!   change.
//!
//! Run: `cargo run --release --example order_bench` (PostgreSQL on 127.0.0.1:5432).

mod common;

use std::time::{Duration, Instant};

use booster::{app::AppState, db::enums::OrderStatus, domain::orders};
use diesel_async::{AsyncConnection, RunQueryDsl};
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
    let service = common::bench_service(&mut conn, None).await?;
    let users = common::funded_users(&mut conn, "client", CLIENTS).await?;
    let keys: Vec<String> = users.iter().map(|(_, key)| key.clone()).collect();
    drop(conn);
    common::print_resident("at rest");
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
    let spread = place_orders_for(&http, &base, service, &keys).await?;
    let statements =
        (state.query_counter.get() - statements_before) as f64 / spread.placed.max(1) as f64;
    let separate = spread.rate;
    let shared_keys = vec![keys[0].clone(); CLIENTS];
    let shared = place_orders_for(&http, &base, service, &shared_keys).await?;

    println!("placeOrder over HTTP/GraphQL, {CLIENTS} concurrent clients, {SECONDS} s each:");
    println!(
        "  16 accounts:        {separate:.0} orders/s, p99 {:.1} ms, {statements:.2} SQL statements per order",
        spread.p99_ms
    );
    println!(
        "  1 shared account:   {:.0} orders/s, p99 {:.1} ms; / 16 accounts = {:.2} (throughput), {:.2} (p99)",
        shared.rate,
        shared.p99_ms,
        shared.rate / separate,
        shared.p99_ms / spread.p99_ms
    );
    let ratio = |name: &str, tps: Option<f64>| match tps {
        Some(tps) => println!(
            "  {name} (pgbench -c {CLIENTS}, same PostgreSQL): {tps:.0} tps; placeOrder / it = {:.2}",
            separate / tps
        ),
        None => println!("  {name}: pgbench unavailable"),
    };
    ratio("order-shaped transaction", order_shaped);
    ratio("TPC-B-like", tpc_b);
    common::print_resident("after placeOrder");

    // 10,000-line mass order against the same rows written by hand, alternating,
    // three rounds each (medians).
    let mass_user = users[1].0;
    let mut booster_times = Vec::new();
    let mut by_hand_times = Vec::new();
    for round in 0..3 {
        let lines: String = (0..10_000)
            .map(|i| format!("{service}|https://x.com/mass{round}/status/{i}|100\n"))
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
        booster_times.push(started.elapsed());
        assert_eq!(
            answer["data"]["placeMassOrder"]["placedCount"], 10_000,
            "{answer}"
        );
        let links: Vec<String> = (0..10_000)
            .map(|i| format!("https://x.com/hand{round}/status/{i}"))
            .collect();
        let mut conn = state.pool.get().await?;
        by_hand_times.push(mass_order_by_hand(&mut conn, mass_user, service, &links).await?);
    }
    booster_times.sort();
    by_hand_times.sort();
    let (booster_mass, by_hand) = (booster_times[1], by_hand_times[1]);
    println!(
        "mass order of 10,000 lines: {:.2} s end to end ({:.0} orders/s); the same rows by hand (one multi-row INSERT per table, one transaction): {:.2} s; by hand / booster = {:.2}",
        booster_mass.as_secs_f64(),
        10_000.0 / booster_mass.as_secs_f64(),
        by_hand.as_secs_f64(),
        by_hand.as_secs_f64() / booster_mass.as_secs_f64()
    );
    common::print_resident("after the mass orders");

    // Status change -> subscription event, with 1,000 subscriptions open: 10
    // customers, each with one socket subscribed to 100 of their orders. Each
    // change is the status-change transaction itself (`orders::record_status`),
    // heard twice: by booster over the WebSocket, and by a plain LISTEN client on
    // the same channel (the bare round trip), both timed from the transaction's
    // start.
    let watchers = common::funded_users(&mut *state.pool.get().await?, "watcher", 10).await?;
    let mut sockets = Vec::new();
    let mut watched = Vec::new();
    for (n, (_, key)) in watchers.iter().enumerate() {
        let lines: String = (0..100)
            .map(|i| format!("{service}|https://x.com/watch{n}/status/{i}|100\n"))
            .collect();
        let answer: Value = http
            .post(format!("{base}/graphql"))
            .bearer_auth(key)
            .json(&json!({ "query": "mutation($t: String!) { placeMassOrder(input: { text: $t }) { massOrder { id } } }", "variables": { "t": lines } }))
            .send()
            .await?
            .json()
            .await?;
        let mass_id: i64 = answer["data"]["placeMassOrder"]["massOrder"]["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("mass order refused: {answer}"))?
            .parse()?;
        let order_ids = orders_of_mass_order(&mut *state.pool.get().await?, mass_id).await?;
        let mut request =
            format!("{}/graphql/ws", base.replace("http://", "ws://")).into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        socket.send(Message::text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } }).to_string())).await?;
        next_message(&mut socket).await;
        let per_socket: usize = std::env::var("BENCH_SUBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        for id in order_ids.iter().take(per_socket) {
            socket
                .send(Message::text(
                    json!({ "id": id.to_string(), "type": "subscribe", "payload": { "query": "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status note } }", "variables": { "id": id.to_string() } } }).to_string(),
                ))
                .await?;
        }
        watched.push(order_ids[0]);
        sockets.push(socket);
    }
    let mut bare = diesel_async::AsyncPgConnection::establish(url).await?;
    diesel::sql_query(format!("LISTEN {}", booster::events::ORDER_CHANNEL))
        .execute(&mut bare)
        .await?;
    let mut heard = std::pin::pin!(bare.notifications_stream());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut writer = state.pool.get().await?;
    let (mut over_socket, mut over_listen) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let (n, order_id) = (i % watched.len(), watched[i % watched.len()]);
        let status = if (i / watched.len()) % 2 == 0 {
            OrderStatus::InProgress
        } else {
            OrderStatus::Processing
        };
        let started = Instant::now();
        writer
            .transaction(async |conn| {
                let order = orders::lock_order(conn, order_id).await?;
                orders::record_status(conn, &order, status, None, None, "bench").await
            })
            .await
            .map_err(anyhow_err)?;
        let listened = async {
            heard.next().await;
            started.elapsed()
        };
        let socket = &mut sockets[n];
        let wanted = order_id.to_string();
        let delivered = async {
            loop {
                let event = next_message(socket).await;
                if event["id"] == wanted.as_str() {
                    assert_eq!(
                        event["payload"]["data"]["orderStatusChanged"]["status"],
                        status.to_string()
                    );
                    return started.elapsed();
                }
            }
        };
        let (listened, delivered) = tokio::join!(listened, delivered);
        over_listen.push(listened);
        over_socket.push(delivered);
    }
    over_socket.sort();
    over_listen.sort();
    let at = |v: &[Duration], q: f64| {
        ms(v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1])
    };
    println!(
        "status change -> subscription event, 1,000 subscriptions open, {} changes: p50 {:.2} ms, p99 {:.2} ms; a plain LISTEN client on the same change: p50 {:.2} ms, p99 {:.2} ms; booster / bare = {:.2} (p50), {:.2} (p99)",
        over_socket.len(),
        at(&over_socket, 0.5),
        at(&over_socket, 0.99),
        at(&over_listen, 0.5),
        at(&over_listen, 0.99),
        at(&over_socket, 0.5) / at(&over_listen, 0.5),
        at(&over_socket, 0.99) / at(&over_listen, 0.99),
    );
    common::print_resident("after the live status");
    Ok(())
}

/// The ids of a mass order's orders, oldest first.
async fn orders_of_mass_order(
    conn: &mut diesel_async::AsyncPgConnection,
    mass_order_id: i64,
) -> anyhow::Result<Vec<i64>> {
    use booster::db::schema::orders;
    use diesel::{ExpressionMethods, QueryDsl};
    Ok(orders::table
        .filter(orders::mass_order_id.eq(mass_order_id))
        .order(orders::id)
        .select(orders::id)
        .load(conn)
        .await?)
}

/// The reference for a mass order: what it writes (the mass order, the debit and
/// its one ledger row, the orders, their first history rows) by hand, one
/// multi-row INSERT per table (the orders from one bound array of links) in one
/// statement, so one transaction and one round trip. Returns how long it took.
async fn mass_order_by_hand(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: i64,
    service: i64,
    links: &[String],
) -> anyhow::Result<Duration> {
    use diesel::sql_types::{Array, BigInt, Text};
    let started = Instant::now();
    let written = diesel::sql_query(
        "WITH mass AS ( \
             INSERT INTO mass_orders (user_id, order_count, rejected_count, total_charge, all_or_nothing) \
             VALUES ($1, cardinality($3::text[]), 0, 1000 * cardinality($3::text[]), false) RETURNING id \
         ), debit AS ( \
             UPDATE users SET balance = balance - 1000 * cardinality($3::text[]) \
             WHERE id = $1 AND balance >= 1000 * cardinality($3::text[]) RETURNING balance \
         ), charged AS ( \
             INSERT INTO ledger_entries (user_id, amount, balance_after, kind, mass_order_id, note) \
             SELECT $1, -1000 * cardinality($3::text[]), debit.balance, 'ORDER_CHARGE', mass.id, '' \
             FROM debit, mass \
         ), placed AS ( \
             INSERT INTO orders (user_id, service_id, mass_order_id, link, quantity, price_per_1000, \
                                 charge, status, extra, remains) \
             SELECT $1, $2, mass.id, link, 100, 10000, 1000, 'PENDING', '{}', 100 \
             FROM mass, debit, unnest($3::text[]) AS link \
             RETURNING id, remains \
         ), history AS ( \
             INSERT INTO order_events (order_id, status, remains, note) \
             SELECT id, 'PENDING', remains, 'placed by hand' FROM placed \
         ) \
         SELECT 1 FROM placed",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(service)
    .bind::<Array<Text>, _>(links)
    .execute(conn)
    .await?;
    anyhow::ensure!(written == links.len(), "{written} orders written by hand");
    Ok(started.elapsed())
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

/// What one placeOrder phase measured.
struct Phase {
    rate: f64,
    placed: u64,
    p99_ms: f64,
}

/// Orders per second over `SECONDS`, how many were placed, and the p99 latency.
async fn place_orders_for(
    http: &reqwest::Client,
    base: &str,
    service: i64,
    keys: &[String],
) -> anyhow::Result<Phase> {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let workers = keys.iter().cloned().map(|key| {
        let http = http.clone();
        let base = base.to_string();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                if place_one(&http, &base, service, &key)
                    .await
                    .ok()
                    .flatten()
                    .is_some()
                {
                    latencies.push(sent.elapsed());
                }
            }
            latencies
        })
    });
    let mut latencies = Vec::new();
    for worker in workers.collect::<Vec<_>>() {
        latencies.extend(worker.await?);
    }
    anyhow::ensure!(!latencies.is_empty(), "no order was placed");
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let p99 =
        latencies[((latencies.len() as f64 * 0.99).ceil() as usize).clamp(1, latencies.len()) - 1];
    Ok(Phase {
        rate: latencies.len() as f64 / elapsed,
        placed: latencies.len() as u64,
        p99_ms: ms(p99),
    })
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
