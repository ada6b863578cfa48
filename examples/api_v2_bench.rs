//! Measures `/api/v2` as resellers use it, with 16 concurrent clients:
//! - `add` with 16 reseller accounts, each with its own key: orders per second
//!   and latency, next to pgbench's TPC-B-like writes;
//! - `add` with all 16 clients on one key (one busy reseller, whose orders are
//!   placed in groups: `domain::orders::group_commit`), as a ratio of the 16-key
//!   throughput and p99, and the same with the group commit off (a second server,
//!   `ORDER_GROUP_MAX=1`) for comparison;
//! - `status` of 100 ids: requests per second and SQL statements per request, next
//!   to pgbench's select-only reads.
//!
//! All on the same PostgreSQL, in the same run, printed as ratios.
//!
//! Run: `cargo run --release --example api_v2_bench` (PostgreSQL on 127.0.0.1:5432).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use booster::app::AppState;
use serde_json::Value;

const CLIENTS: usize = 16;
const SECONDS: u64 = 10;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::with_bench_database(|url| async move { run(&url).await }).await
}

async fn run(url: &str) -> anyhow::Result<()> {
    let state = AppState::new(common::throughput_config(url, 32))?;
    let base = format!("{}/api/v2", common::serve(&state).await?);

    let mut conn = state.pool.get().await?;
    let service = common::bench_service(&mut conn, None).await?;
    let keys = common::funded_keys(&mut conn, "reseller", CLIENTS).await?;
    drop(conn);
    common::print_resident("at rest");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    let tpcb = common::pgbench(common::Pgbench::TpcB, CLIENTS, SECONDS);
    let select_only = common::pgbench(common::Pgbench::SelectOnly, CLIENTS, SECONDS);

    // add: every client places orders for SECONDS, first each with its own key
    // (the ids are kept for status), then all on one key (one busy reseller),
    // then on one key with the group commit off (`ORDER_GROUP_MAX=1`) on a
    // second server over the same database.
    let service = service.to_string();
    let spread = add_phase(&http, &base, &keys, &service).await?;
    let mut conn = state.pool.get().await?;
    let hot = common::funded_keys(&mut conn, "hot", 1).await?.remove(0);
    let hot_alone = common::funded_keys(&mut conn, "hot-alone", 1)
        .await?
        .remove(0);
    drop(conn);
    let one_key = add_phase(&http, &base, &vec![hot; CLIENTS], &service).await?;
    let mut alone_config = common::throughput_config(url, 32);
    alone_config.orders.group_max = 1;
    let alone_state = AppState::new(alone_config)?;
    let alone_base = format!("{}/api/v2", common::serve(&alone_state).await?);
    let one_key_alone = add_phase(&http, &alone_base, &vec![hot_alone; CLIENTS], &service).await?;
    let add_rate = spread.rate;
    let placed = spread.placed;

    // status: every client polls 100 of its orders at a time for SECONDS.
    let requests = Arc::new(AtomicU64::new(0));
    let statements_before = state.query_counter.get();
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let polls = placed.iter().map(|(key, ids)| {
        let (http, base, requests) = (&http, &base, requests.clone());
        let chunks: Vec<String> = ids
            .chunks(100)
            .filter(|chunk| chunk.len() == 100)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        async move {
            anyhow::ensure!(!chunks.is_empty(), "fewer than 100 orders to poll");
            let mut n = 0;
            while Instant::now() < deadline {
                let answer: Value = http
                    .post(base)
                    .form(&[
                        ("key", key.as_str()),
                        ("action", "status"),
                        ("orders", chunks[n % chunks.len()].as_str()),
                    ])
                    .send()
                    .await?
                    .json()
                    .await?;
                anyhow::ensure!(
                    answer.as_object().is_some_and(|o| o.len() == 100),
                    "status refused: {answer}"
                );
                requests.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(())
        }
    });
    let started = Instant::now();
    futures_util::future::try_join_all(polls).await?;
    let status_requests = requests.load(Ordering::Relaxed);
    let status_rate = status_requests as f64 / started.elapsed().as_secs_f64();
    let per_request =
        (state.query_counter.get() - statements_before) as f64 / status_requests as f64;

    println!("/api/v2, {CLIENTS} concurrent clients, {SECONDS} s per phase:");
    println!(
        "  add, {CLIENTS} keys:          {add_rate:.0} orders/s, p50 {:.1} ms, p99 {:.1} ms",
        spread.p50_ms, spread.p99_ms
    );
    println!(
        "  add, one key:          {:.0} orders/s, p50 {:.1} ms, p99 {:.1} ms; one key / {CLIENTS} keys = {:.2} (throughput), {:.2} (p99)",
        one_key.rate,
        one_key.p50_ms,
        one_key.p99_ms,
        one_key.rate / add_rate,
        one_key.p99_ms / spread.p99_ms
    );
    println!(
        "  add, one key, ORDER_GROUP_MAX=1 (each order alone): {:.0} orders/s, p50 {:.1} ms, p99 {:.1} ms; / {CLIENTS} keys = {:.2} (throughput), {:.2} (p99)",
        one_key_alone.rate,
        one_key_alone.p50_ms,
        one_key_alone.p99_ms,
        one_key_alone.rate / add_rate,
        one_key_alone.p99_ms / spread.p99_ms
    );
    match tpcb {
        Some(tps) => println!(
            "  pgbench -c {CLIENTS} (TPC-B-like, same PostgreSQL): {tps:.0} tps; add / pgbench = {:.2}",
            add_rate / tps
        ),
        None => println!("  pgbench unavailable"),
    }
    println!(
        "  status of 100 ids:   {status_rate:.0} requests/s ({:.0} order statuses/s), {per_request:.2} SQL statements per request",
        status_rate * 100.0
    );
    match select_only {
        Some(tps) => println!(
            "  pgbench -S -c {CLIENTS} (select-only, same PostgreSQL): {tps:.0} tps; status requests / pgbench = {:.2}",
            status_rate / tps
        ),
        None => println!("  pgbench -S unavailable"),
    }
    common::print_resident("after add and status (two servers in this process)");
    Ok(())
}

/// What one `add` phase measured.
struct AddPhase {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Each client's key and the orders it placed.
    placed: Vec<(String, Vec<i64>)>,
}

/// `CLIENTS` clients, client `c` with `keys[c]`, each placing orders one after
/// another for `SECONDS`; every answer must be an order.
async fn add_phase(
    http: &reqwest::Client,
    base: &str,
    keys: &[String],
    service: &str,
) -> anyhow::Result<AddPhase> {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let adds = keys.iter().enumerate().map(|(client, key)| async move {
        let mut ids = Vec::new();
        let mut latencies = Vec::new();
        let mut i = 0u64;
        while Instant::now() < deadline {
            // A link of its own per client and order: the same-link guard stays out.
            let link = format!("https://x.com/bench{client}/status/{i}");
            let sent = Instant::now();
            let answer: Value = http
                .post(base)
                .form(&[
                    ("key", key.as_str()),
                    ("action", "add"),
                    ("service", service),
                    ("link", link.as_str()),
                    ("quantity", "100"),
                ])
                .send()
                .await?
                .json()
                .await?;
            latencies.push(sent.elapsed());
            let id = answer["order"]
                .as_i64()
                .ok_or_else(|| anyhow::anyhow!("add refused: {answer}"))?;
            ids.push(id);
            i += 1;
        }
        anyhow::Ok((key.clone(), ids, latencies))
    });
    let started = Instant::now();
    let done = futures_util::future::try_join_all(adds).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = done.iter().flat_map(|(_, _, l)| l.clone()).collect();
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    Ok(AddPhase {
        rate: latencies.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        placed: done.into_iter().map(|(key, ids, _)| (key, ids)).collect(),
    })
}
