//! Measures `/api/v2` as resellers use it, with 16 concurrent clients (16 reseller
//! accounts, each with its own key):
//! - `add`: orders per second, next to pgbench's TPC-B-like writes;
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
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    let tpcb = common::pgbench(common::Pgbench::TpcB, CLIENTS, SECONDS);
    let select_only = common::pgbench(common::Pgbench::SelectOnly, CLIENTS, SECONDS);

    // add: every client places orders for SECONDS; the ids are kept for status.
    let service = service.to_string();
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let adds = keys.iter().map(|key| {
        let (http, base, key, service) = (&http, &base, key.clone(), service.clone());
        async move {
            let mut ids = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let link = format!("https://x.com/bench/status/{i}");
                let answer: Value = http
                    .post(base)
                    .form(&[
                        ("key", key.as_str()),
                        ("action", "add"),
                        ("service", service.as_str()),
                        ("link", link.as_str()),
                        ("quantity", "100"),
                    ])
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = answer["order"]
                    .as_i64()
                    .ok_or_else(|| anyhow::anyhow!("add refused: {answer}"))?;
                ids.push(id);
                i += 1;
            }
            anyhow::Ok((key, ids))
        }
    });
    let started = Instant::now();
    let placed = futures_util::future::try_join_all(adds).await?;
    let add_rate = placed.iter().map(|(_, ids)| ids.len()).sum::<usize>() as f64
        / started.elapsed().as_secs_f64();

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

    println!("/api/v2, {CLIENTS} concurrent reseller keys, {SECONDS} s per phase:");
    println!("  add:                 {add_rate:.0} orders/s");
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
    Ok(())
}
