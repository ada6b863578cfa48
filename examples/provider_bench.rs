//! Measures the provider side of fulfillment against a fake API v2 provider that
//! answers every call after 50 ms, and prints the figures:
//! - orders dispatched per second (16 and 64 calls in flight);
//! - time to sync the status of 10,000 open orders (batches of 100 per call), all
//!   moving to "In progress", then the same orders again with mixed endings
//!   (completed, partial, canceled), then once more with nothing new;
//! - SQL statements per dispatched order and per 100-order status batch;
//!
//! and checks the work was done: the books balance, every changed order has a new
//! history row, refunds were paid exactly once, a repeat changes nothing.
//!
//! Run: `cargo run --release --example provider_bench` (PostgreSQL on 127.0.0.1:5432).

#[path = "../tests/common/fake_provider.rs"]
mod fake_provider;

mod common;

use std::time::{Duration, Instant};

use booster::{
    app::AppState,
    config::Config,
    db::{
        enums::OrderStatus,
        schema::{order_events, orders, services},
    },
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
    config.upstream.dispatch_concurrency = concurrency;
    config.upstream.dispatch_batch = 200;
    config.upstream.status_sync_lease = Duration::from_secs(3600);
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
    let outcome =
        order_rules::place_mass_order(&mut conn, &buyer, &text, true, 5_000, &Default::default())
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
    common::print_resident("at rest");

    for concurrency in [16, 64] {
        let state = AppState::new(config(url, concurrency))?;
        let (service, user) = setup_once(&state, &fake).await?;
        let count = 2_000;
        pending_orders(&state, service, user, count).await?;
        let statements_before = state.query_counter.get();
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
        let statements = state.query_counter.get() - statements_before;
        let rate = count as f64 / elapsed.as_secs_f64();
        let bound = concurrency as f64 / LATENCY.as_secs_f64();
        println!(
            "dispatch, {concurrency} calls in flight: {count} orders in {:.2} s = {rate:.0} orders/s (bound by latency: {bound:.0}/s, ratio {:.2}); {:.2} statements per order",
            elapsed.as_secs_f64(),
            rate / bound,
            statements as f64 / count as f64
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
                posts: None,
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
    let open: Vec<i64> = {
        let mut conn = state.pool.get().await?;
        orders::table
            .filter(orders::status.eq(OrderStatus::Processing))
            .select(orders::id)
            .load(&mut conn)
            .await?
    };
    let report = sync("status sync", &state, &fake).await?;
    anyhow::ensure!(report.changed == open.len(), "changed {report:?}");
    let mut conn = state.pool.get().await?;
    check_books(&mut conn).await?;
    let in_progress = orders::table
        .filter(orders::id.eq_any(&open))
        .filter(orders::status.eq(OrderStatus::InProgress))
        .filter(orders::remains.eq(50))
        .filter(orders::start_count.eq(500))
        .count()
        .get_result::<i64>(&mut conn)
        .await?;
    anyhow::ensure!(
        in_progress == open.len() as i64,
        "{in_progress} in progress"
    );
    check_history(&mut conn, &open, OrderStatus::InProgress, open.len()).await?;

    // The same orders end upstream in four ways: a tenth completed, a tenth
    // partial (30 of 100 missing), a tenth canceled, the rest still running with
    // fewer remaining.
    let (refund_rows_before, refunded_before) = refunds(&mut conn).await?;
    for (i, order_id) in open.iter().enumerate() {
        let id = (1_000_000 + order_id).to_string();
        match i % 10 {
            0 => fake.set_status(&id, "Completed", 500, 0),
            1 => fake.set_status(&id, "Partial", 500, 30),
            2 => fake.set_status(&id, "Canceled", 500, 100),
            _ => fake.set_status(&id, "In progress", 500, 20),
        }
    }
    diesel::sql_query("UPDATE orders SET last_synced_at = NULL WHERE status = 'IN_PROGRESS'")
        .execute(&mut conn)
        .await?;
    drop(conn);
    let report = sync("status sync, mixed endings", &state, &fake).await?;
    anyhow::ensure!(report.changed == open.len(), "changed {report:?}");
    let mut conn = state.pool.get().await?;
    check_books(&mut conn).await?;
    let tenth = open.len() / 10;
    let by_status: Vec<(OrderStatus, i64)> = orders::table
        .filter(orders::id.eq_any(&open))
        .group_by(orders::status)
        .select((orders::status, diesel::dsl::count_star()))
        .load(&mut conn)
        .await?;
    let count_of = |status| {
        by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n as usize)
    };
    anyhow::ensure!(
        [
            count_of(OrderStatus::Completed),
            count_of(OrderStatus::Partial),
            count_of(OrderStatus::Canceled),
            count_of(OrderStatus::InProgress)
        ] == [tenth, tenth, tenth, open.len() - 3 * tenth],
        "statuses {by_status:?}"
    );
    for (status, count) in [
        (OrderStatus::Completed, tenth),
        (OrderStatus::Partial, tenth),
        (OrderStatus::Canceled, tenth),
    ] {
        check_history(&mut conn, &open, status, count).await?;
    }
    // Each order cost 100; partial ones get 30 back, canceled ones all 100.
    let (refunds_count, refunded) = refunds(&mut conn).await?;
    let expected = (tenth * (30 + 100)) as i64;
    anyhow::ensure!(
        refunds_count - refund_rows_before == (2 * tenth) as i64
            && refunded - refunded_before == expected,
        "refunds: {} rows, {} rupiah; expected {} rows, {expected} rupiah",
        refunds_count - refund_rows_before,
        refunded - refunded_before,
        2 * tenth
    );
    let notices: i64 = booster::db::schema::notifications::table
        .filter(booster::db::schema::notifications::order_id.eq_any(&open))
        .count()
        .get_result(&mut conn)
        .await?;
    anyhow::ensure!(notices == (3 * tenth) as i64, "{notices} notifications");

    // Nothing new upstream: a repeat changes nothing and refunds nothing.
    diesel::sql_query("UPDATE orders SET last_synced_at = NULL WHERE status = 'IN_PROGRESS'")
        .execute(&mut conn)
        .await?;
    let history_before: i64 = order_events::table.count().get_result(&mut conn).await?;
    drop(conn);
    let report = sync("status sync, nothing new", &state, &fake).await?;
    let mut conn = state.pool.get().await?;
    let history_after: i64 = order_events::table.count().get_result(&mut conn).await?;
    anyhow::ensure!(
        report.changed == 0 && history_after == history_before,
        "a repeat changed {report:?}, {} history rows",
        history_after - history_before
    );
    anyhow::ensure!(refunds(&mut conn).await? == (refunds_count, refunded));
    check_books(&mut conn).await?;
    println!(
        "checks passed: books balanced, one history row per change, refunds once, a repeat changes nothing"
    );
    common::print_resident("after dispatch and sync (with the fake provider)");
    Ok(())
}

/// One status sync run, timed and counted.
async fn sync(
    label: &str,
    state: &AppState,
    fake: &FakeProvider,
) -> anyhow::Result<status_sync::SyncReport> {
    let calls_before = fake.status_calls();
    let statements_before = state.query_counter.get();
    let started = Instant::now();
    let report = status_sync::run(state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    let calls = fake.status_calls() - calls_before;
    let statements = state.query_counter.get() - statements_before;
    println!(
        "{label}: {} open orders ({} changed): {:.2} s, {calls} status calls of up to 100 ids, {:.1} statements per 100-order batch",
        report.checked,
        report.changed,
        elapsed.as_secs_f64(),
        statements as f64 / calls.max(1) as f64
    );
    Ok(report)
}

async fn check_books(conn: &mut diesel_async::AsyncPgConnection) -> anyhow::Result<()> {
    let mismatches = booster::domain::wallet::audit(conn)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        mismatches.is_empty(),
        "books out of balance: {mismatches:?}"
    );
    Ok(())
}

/// Every one of `orders` now in `status` has exactly one history row saying so
/// with its current counts, and there are `expected` of them.
async fn check_history(
    conn: &mut diesel_async::AsyncPgConnection,
    orders_: &[i64],
    status: OrderStatus,
    expected: usize,
) -> anyhow::Result<()> {
    let rows: i64 = order_events::table
        .inner_join(orders::table)
        .filter(orders::id.eq_any(orders_))
        .filter(orders::status.eq(status))
        .filter(order_events::status.eq(status))
        .filter(order_events::remains.is_not_distinct_from(orders::remains))
        .filter(order_events::start_count.is_not_distinct_from(orders::start_count))
        .count()
        .get_result(conn)
        .await?;
    anyhow::ensure!(
        rows == expected as i64,
        "{rows} {status} history rows, expected {expected}"
    );
    Ok(())
}

/// (REFUND ledger rows, rupiah refunded) over the whole ledger.
async fn refunds(conn: &mut diesel_async::AsyncPgConnection) -> anyhow::Result<(i64, i64)> {
    use booster::db::schema::ledger_entries;
    let (count, sum): (i64, i64) = ledger_entries::table
        .filter(ledger_entries::kind.eq("REFUND"))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::BigInt>("COALESCE(SUM(amount), 0)::bigint"),
        ))
        .first(conn)
        .await?;
    Ok((count, sum))
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
