//! Measures the provider side of fulfillment against a fake API v2 provider that
//! answers every call after 50 ms, and prints the figures:
//! - orders dispatched per second (16 and 64 calls in flight);
//! - time to sync the status of 10,000 open orders (batches of 100 per call).
//!
//! Run: `cargo run --release --example provider_bench` (PostgreSQL on 127.0.0.1:5432).

#[path = "../tests/common/fake_provider.rs"]
mod fake_provider;

mod common;

use std::time::{Duration, Instant};

use booster::{
    app::AppState,
    config::Config,
    db::schema::{orders, services},
    domain::{catalog, orders as order_rules},
    jobs::{dispatch, status_sync},
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use fake_provider::{FakeProvider, KEY};

const LATENCY: Duration = Duration::from_millis(50);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::with_bench_database(|url| async move { run(&url).await }).await
}

fn config(url: &str, concurrency: usize) -> Config {
    let mut config = Config::local(url);
    config.database.pool_size = 40;
    config.fulfillment.dispatch_concurrency = concurrency;
    config.fulfillment.dispatch_batch = 200;
    config.fulfillment.status_sync_lease = Duration::from_secs(3600);
    config
}

async fn setup(state: &AppState, fake: &FakeProvider) -> anyhow::Result<(i64, i64)> {
    let mut conn = state.pool.get().await?;
    let provider = catalog::create_provider(
        &mut conn,
        &state.secrets,
        catalog::ProviderInput::api_v2("Fake JAP", &fake.url, KEY),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let service = common::bench_service(&mut conn, Some((provider.id, "101"))).await?;
    let (user, _) = common::funded_user(&mut conn, "bench@example.com").await?;
    Ok((service, user))
}

async fn pending_orders(
    state: &AppState,
    service: i64,
    user: i64,
    count: usize,
) -> anyhow::Result<()> {
    let text: String = (0..count)
        .map(|i| format!("{service}|https://x.com/bench/status/{i}|100\n"))
        .collect();
    let mut conn = state.pool.get().await?;
    let buyer = booster::db::users::UserRow::find(&mut conn, user)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {user}"))?;
    let outcome = order_rules::place_mass_order(&mut conn, &buyer, &text, true)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        outcome.placed == count,
        "placed {} of {count}",
        outcome.placed
    );
    Ok(())
}

async fn run(url: &str) -> anyhow::Result<()> {
    let fake = FakeProvider::start().await;
    fake.set_latency(LATENCY);
    println!(
        "fake API v2 provider answering every call after {} ms",
        LATENCY.as_millis()
    );

    for concurrency in [16, 64] {
        let state = AppState::new(config(url, concurrency))?;
        let (service, user) = setup_once(&state, &fake).await?;
        let count = 2_000;
        pending_orders(&state, service, user, count).await?;
        let started = Instant::now();
        let mut sent = 0;
        while sent < count {
            let report = dispatch::run(&state)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(report.claimed > 0, "dispatch stalled: {report:?}");
            sent += report.accepted;
        }
        let elapsed = started.elapsed();
        println!(
            "dispatch, {concurrency} calls in flight: {count} orders in {:.2} s = {:.0} orders/s (bound by latency: {:.0}/s)",
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64(),
            concurrency as f64 / LATENCY.as_secs_f64()
        );
    }

    // 10,000 open orders, all changing upstream.
    let state = AppState::new(config(url, 16))?;
    let (service, user) = setup_once(&state, &fake).await?;
    {
        // The dispatch phase's orders are finished, so only the new 10,000 are open.
        let mut conn = state.pool.get().await?;
        diesel::sql_query(
            "UPDATE orders SET status = 'COMPLETED' WHERE status IN ('PROCESSING', 'IN_PROGRESS')",
        )
        .execute(&mut conn)
        .await?;
    }
    pending_orders(&state, service, user, 10_000).await?;
    {
        // Accepted upstream without paying for 10,000 slow calls: give each order an
        // upstream id directly.
        let mut conn = state.pool.get().await?;
        let ids: Vec<(i64, i64)> = orders::table
            .filter(orders::status.eq(booster::db::enums::OrderStatus::Pending))
            .select((orders::id, orders::quantity))
            .load(&mut conn)
            .await?;
        let upstream: Vec<fake_provider::FakeOrder> = ids
            .iter()
            .map(|(id, quantity)| fake_provider::FakeOrder {
                id: 1_000_000 + id,
                service: "101".into(),
                link: String::new(),
                quantity: Some(*quantity),
                fields: Default::default(),
                status: "In progress".into(),
                start_count: 500,
                remains: quantity / 2,
            })
            .collect();
        fake.insert_orders(upstream);
        diesel::sql_query(
            "UPDATE orders SET status = 'PROCESSING', provider_order_id = (1000000 + id)::text, last_synced_at = NULL WHERE status = 'PENDING'",
        )
        .execute(&mut conn)
        .await?;
        println!("open orders prepared: {}", ids.len());
    }
    let calls_before = fake.status_calls();
    let started = Instant::now();
    let report = status_sync::run(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    let calls = fake.status_calls() - calls_before;
    println!(
        "status sync of {} open orders ({} changed): {:.2} s, {} status calls of up to 100 ids",
        report.checked,
        report.changed,
        elapsed.as_secs_f64(),
        calls
    );
    Ok(())
}

async fn setup_once(state: &AppState, fake: &FakeProvider) -> anyhow::Result<(i64, i64)> {
    let mut conn = state.pool.get().await?;
    let existing: Option<i64> = services::table
        .select(services::id)
        .first(&mut conn)
        .await
        .optional()?;
    let user: Option<i64> = booster::db::schema::users::table
        .select(booster::db::schema::users::id)
        .first(&mut conn)
        .await
        .optional()?;
    drop(conn);
    match (existing, user) {
        (Some(service), Some(user)) => Ok((service, user)),
        _ => setup(state, fake).await,
    }
}
