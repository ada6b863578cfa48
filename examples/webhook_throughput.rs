//! Webhook throughput: starts the real server against a fresh database with a fake
//! Midtrans (Snap + status API) on 127.0.0.1, creates N pending deposits through
//! GraphQL, then fires N signed `settlement` notifications at `/webhooks/midtrans`
//! with C in flight, and then the same N again (duplicates). Prints notifications
//! per second and the rows written per notification for each phase.
//!
//! `cargo run --release --example webhook_throughput -- [N] [C]` (defaults 2000, 32);
//! PostgreSQL at `BENCH_DATABASE_SERVER` (default `postgres://postgres@127.0.0.1:5432`).

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, post},
};
use booster::{
    app::AppState,
    config::{Config, PaymentsConfig, Secret},
    db::{self, enums::Role},
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

const SERVER_KEY: &str = "SB-Mid-server-bench";

type Orders = Arc<Mutex<HashMap<String, i64>>>;

fn signature(order_id: &str, status_code: &str, gross: &str) -> String {
    hex::encode(Sha512::digest(
        format!("{order_id}{status_code}{gross}{SERVER_KEY}").as_bytes(),
    ))
}

fn settlement(order_id: &str, amount: i64) -> Value {
    let gross = format!("{amount}.00");
    json!({
        "transaction_time": "2026-11-25 10:00:00",
        "transaction_status": "settlement",
        "transaction_id": format!("tx-{order_id}"),
        "status_message": "midtrans payment notification",
        "status_code": "200",
        "signature_key": signature(order_id, "200", &gross),
        "payment_type": "bank_transfer",
        "order_id": order_id,
        "merchant_id": "G000000000",
        "gross_amount": gross,
        "fraud_status": "accept",
        "currency": "IDR",
    })
}

/// Fake Midtrans: Snap creates an order, the status API reports it settled.
async fn fake_midtrans(orders: Orders) -> String {
    async fn snap(
        State(orders): State<Orders>,
        Json(body): Json<Value>,
    ) -> (http::StatusCode, Json<Value>) {
        let order_id = body["transaction_details"]["order_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let amount = body["transaction_details"]["gross_amount"]
            .as_i64()
            .unwrap_or_default();
        orders.lock().unwrap().insert(order_id.clone(), amount);
        (
            http::StatusCode::CREATED,
            Json(
                json!({ "token": order_id, "redirect_url": format!("https://app.sandbox.midtrans.com/snap/v2/vtweb/{order_id}") }),
            ),
        )
    }
    async fn status(State(orders): State<Orders>, Path(order_id): Path<String>) -> Json<Value> {
        let amount = orders.lock().unwrap().get(&order_id).copied();
        Json(match amount {
            Some(amount) => settlement(&order_id, amount),
            None => json!({ "status_code": "404", "status_message": "Transaction doesn't exist." }),
        })
    }
    let app = Router::new()
        .route("/snap/v1/transactions", post(snap))
        .route("/v2/{order_id}/status", get(status))
        .with_state(orders);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    ledger: i64,
    events: i64,
    deposits: i64,
    deposits_updated_since: i64,
}

async fn counts(state: &AppState, since: chrono::DateTime<chrono::Utc>) -> Counts {
    use booster::db::schema::{deposit_events, deposits, ledger_entries};
    let mut conn = state.pool.get().await.unwrap();
    Counts {
        ledger: ledger_entries::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap(),
        events: deposit_events::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap(),
        deposits: deposits::table.count().get_result(&mut conn).await.unwrap(),
        deposits_updated_since: deposits::table
            .filter(deposits::updated_at.ge(since))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap(),
    }
}

async fn fire(
    client: &reqwest::Client,
    base: &str,
    bodies: &[String],
    concurrency: usize,
) -> (Duration, HashMap<String, usize>) {
    let started = Instant::now();
    let outcomes: Vec<String> = stream::iter(bodies.iter().cloned())
        .map(|body| {
            let client = client.clone();
            let url = format!("{base}/webhooks/midtrans");
            async move {
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                let status = response.status();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                match answer["outcome"].as_str() {
                    Some(outcome) => outcome.to_string(),
                    None => format!("HTTP {status}"),
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut tally = HashMap::new();
    for outcome in outcomes {
        *tally.entry(outcome).or_insert(0) += 1;
    }
    (elapsed, tally)
}

fn report(
    phase: &str,
    n: usize,
    elapsed: Duration,
    tally: &HashMap<String, usize>,
    before: Counts,
    after: Counts,
) {
    let per = |x: i64| x as f64 / n as f64;
    println!(
        "{phase}: {n} notifications in {:.2} s = {:.0} notifications/s; outcomes {tally:?}",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    let ledger = after.ledger - before.ledger;
    let events = after.events - before.events;
    let deposits = after.deposits - before.deposits;
    let updated = after.deposits_updated_since;
    // Each credit also updates one users row (the balance), one per ledger entry.
    println!(
        "  rows written per notification: {:.2} (ledger_entries +{ledger}, deposit_events +{events}, deposits +{deposits} inserted / {updated} updated, users {ledger} updated)",
        per(ledger + events + deposits + updated + ledger)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    booster::allocator::tune();
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|v| v.parse()).transpose()?.unwrap_or(2000);
    let concurrency: usize = args.get(2).map(|v| v.parse()).transpose()?.unwrap_or(32);
    let server = std::env::var("BENCH_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("booster_bench_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{server}/{name}");
    db::ensure_database_exists(&url).await?;
    db::run_migrations(&url).await?;

    let orders: Orders = Arc::default();
    let fake = fake_midtrans(orders.clone()).await;
    let mut config = Config::local(&url);
    config.server.max_body_bytes = 1 << 20;
    config.server.rate_limit_per_minute = 0;
    // Midtrans only, at the fake.
    config.payments = PaymentsConfig {
        midtrans_server_key: Some(Secret(SERVER_KEY.into())),
        midtrans_snap_url: fake.clone(),
        midtrans_api_url: fake.clone(),
        gateway_timeout: Duration::from_secs(10),
        ..config.payments
    };
    let state = AppState::new(config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = booster::http::router(state.clone()).expect("router");
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let key = {
        let mut conn = state.pool.get().await?;
        let user = booster::domain::accounts::create_user(
            &mut conn,
            "bench@example.com",
            "Bench",
            Role::Customer,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        booster::auth::create_api_key(&mut conn, user.id, "bench")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .1
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    common::print_resident("at rest");

    // N pending deposits through GraphQL (each one a real call to the fake Snap).
    let started = Instant::now();
    let created: Vec<(String, i64)> = stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let key = key.clone();
            let base = base.clone();
            async move {
                let amount = 10_000 + (i as i64 % 100) * 1_000;
                let answer: Value = client
                    .post(format!("{base}/graphql"))
                    .bearer_auth(key)
                    .json(&json!({
                        "query": "mutation($a: Rupiah!) { createDeposit(amount: $a, gateway: MIDTRANS) { merchantReference } }",
                        "variables": { "a": amount },
                    }))
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("json");
                let reference = answer["data"]["createDeposit"]["merchantReference"]
                    .as_str()
                    .unwrap_or_else(|| panic!("createDeposit failed: {answer}"))
                    .to_string();
                (reference, amount)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    println!(
        "created {n} pending deposits in {:.2} s ({:.0}/s, concurrency {concurrency})",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    let expected_total: i64 = created.iter().map(|(_, a)| a).sum();
    let bodies: Vec<String> = created
        .iter()
        .map(|(r, a)| settlement(r, *a).to_string())
        .collect();

    let since = chrono::Utc::now();
    let before = counts(&state, since).await;
    let (elapsed, tally) = fire(&client, &base, &bodies, concurrency).await;
    let after = counts(&state, since).await;
    report(
        "first deliveries (credit)",
        n,
        elapsed,
        &tally,
        before,
        after,
    );

    let since = chrono::Utc::now();
    let before = counts(&state, since).await;
    let (elapsed, tally) = fire(&client, &base, &bodies, concurrency).await;
    let after = counts(&state, since).await;
    report("duplicate deliveries", n, elapsed, &tally, before, after);

    let mut conn = state.pool.get().await?;
    let mismatches = booster::domain::wallet::audit(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let balance: i64 = booster::db::schema::users::table
        .select(diesel::dsl::sum(booster::db::schema::users::balance))
        .first::<Option<bigdecimal::BigDecimal>>(&mut conn)
        .await?
        .map(|d| d.to_string().parse().unwrap_or(-1))
        .unwrap_or(0);
    println!(
        "balance {balance} (expected {expected_total}); audit mismatches: {}",
        mismatches.len()
    );
    common::print_resident("after the deposits and notifications (with the fake Midtrans)");
    drop(conn);
    drop(state);

    // Remove the benchmark database.
    let (client, connection) =
        tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    Ok(())
}
