//! Measures the anonymous public catalogue page next to PostGraphile v4 serving
//! the same database in the same run, and prints the figures:
//! - requests/s and p99 latency of `services(first: 20)` and `services(first: 100)`
//!   (the fields a storefront lists, with the category's name; no Authorization
//!   header) on a 5,000-service catalogue in 25 categories, measured with wrk
//!   (16 connections, 2 threads) against booster, then against PostGraphile's
//!   `allServices` (active ones, by sort order then id, the same columns and the
//!   category's name through the foreign key; the benchmark's database gets an
//!   index on `services (sort_order, id)` for that order);
//! - the SQL statements booster runs per page.
//!
//! Every endpoint's answer is checked once, outside the timed runs, to hold the
//! whole page and no errors.
//!
//! Run: `scripts/bench-catalogue.sh` (installs wrk and PostGraphile from
//! `bench/postgraphile`, starts PostgreSQL), or, with those in place,
//! `cargo run --release --example catalog_bench` (PostgreSQL on 127.0.0.1:5432).
//! `CATALOG_BENCH_SECONDS` (default 10) sets each measured run,
//! `CATALOG_BENCH_WARMUP` (default 2) the warm-up before it, and
//! `CATALOG_BENCH_PG_WORKERS` PostGraphile's `--cluster-workers` (default: one per
//! CPU, as many as booster's runtime has threads; 1 runs a single process).

mod common;

use common::peers::{self, Load, PostGraphile, number_from_env, wrk};

use std::path::Path;

use booster::{
    app::AppState,
    config::Config,
    db::{
        categories::NewCategory,
        enums::{Fulfillment, ServiceType},
        schema::{service_categories, services},
        services::NewService,
    },
};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const SERVICES: usize = 5_000;
const CATEGORIES: usize = 25;
const PAGE_SIZES: [usize; 2] = [20, 100];
const CONNECTIONS: usize = 16;
const THREADS: usize = 2;
/// Sequential requests over which booster's statements per page are counted.
const STATEMENT_SAMPLES: u32 = 200;
/// PostGraphile's pool, the same as booster's (`Config::local`).
const POOL_SIZE: usize = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    peers::against_postgraphile(|url, postgraphile| async move { run(&url, &postgraphile).await })
        .await
}

async fn run(url: &str, postgraphile: &Path) -> anyhow::Result<()> {
    let seconds = number_from_env("CATALOG_BENCH_SECONDS", 10)?;
    let warmup = number_from_env("CATALOG_BENCH_WARMUP", 2)?;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = number_from_env("CATALOG_BENCH_PG_WORKERS", cpus as u64)?.max(1);

    let mut config = Config::local(url);
    // The benchmark measures the catalogue, not the limiters (0: no limit).
    config.server.rate_limit_per_minute = 0;
    config.server.anonymous_rate_limit_per_minute = 0;
    let state = AppState::new(config)?;
    seed(&state).await?;
    let booster = format!("{}/graphql", common::serve(&state).await?);
    common::print_resident("at rest");

    let load = Load {
        threads: THREADS,
        connections: CONNECTIONS,
        warmup,
        seconds,
    };
    let http = reqwest::Client::new();
    let pg = PostGraphile::start(postgraphile, url, workers, POOL_SIZE, &http).await?;

    println!(
        "anonymous catalogue page, {SERVICES} active services in {CATEGORIES} categories; \
         wrk -t{THREADS} -c{CONNECTIONS}, {warmup} s warm-up, {seconds} s measured; \
         PostGraphile 4 with {workers} worker(s), pool {POOL_SIZE}"
    );

    // Answers first: a page of errors must not pass for speed.
    let mut statements = Vec::new();
    for first in PAGE_SIZES {
        check(&http, &booster, &booster_query(first), "services", first).await?;
        check(
            &http,
            &pg.url,
            &postgraphile_query(first),
            "allServices",
            first,
        )
        .await?;
        statements.push(
            peers::statements_per_request(
                &state,
                &http,
                &booster,
                &booster_query(first),
                None,
                STATEMENT_SAMPLES,
            )
            .await?,
        );
    }

    let mut rows = Vec::new();
    for first in PAGE_SIZES {
        let ours = wrk(&booster, &booster_query(first), &[], load).await?;
        let theirs = wrk(&pg.url, &postgraphile_query(first), &[], load).await?;
        rows.push((first, ours, theirs));
    }
    drop(pg);

    println!(
        "{:>6} {:>14} {:>10} {:>19} {:>10} {:>9}  p99 booster <= PostGraphile",
        "first", "booster req/s", "p99 ms", "PostGraphile req/s", "p99 ms", "ratio"
    );
    let mut met = true;
    for (first, ours, theirs) in &rows {
        let ratio = ours.requests_per_sec / theirs.requests_per_sec;
        let p99_ok = ours.p99_ms <= theirs.p99_ms;
        met &= ratio >= 1.5 && p99_ok;
        println!(
            "{first:>6} {:>14.0} {:>10.2} {:>19.0} {:>10.2} {ratio:>9.2}  {}",
            ours.requests_per_sec,
            ours.p99_ms,
            theirs.requests_per_sec,
            theirs.p99_ms,
            if p99_ok { "yes" } else { "no" }
        );
    }
    for (first, per_page) in PAGE_SIZES.iter().zip(&statements) {
        println!(
            "booster SQL statements per page, first {first}: {per_page:.2} \
             (over {STATEMENT_SAMPLES} sequential requests)"
        );
    }
    for (first, ours, theirs) in &rows {
        for (who, result) in [("booster", ours), ("PostGraphile", theirs)] {
            if let Some(errors) = &result.socket_errors {
                println!("note: first {first}, {who}: wrk {errors}");
            }
        }
    }
    println!(
        "issue 14 target (>= 1.5x PostGraphile's requests/s, p99 not higher, both sizes): {}",
        if met { "met" } else { "not met" }
    );
    common::print_resident("after the pages (the load comes from wrk)");
    Ok(())
}

/// 25 categories in a shuffled display order, and 5,000 active services spread
/// over them with varied sort orders, inserted 1,000 rows a statement; then the
/// index PostGraphile's order needs.
async fn seed(state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.pool.get().await?;
    let categories: Vec<NewCategory> = (0..CATEGORIES)
        .map(|i| NewCategory {
            name: format!(
                "{} {} {i}",
                common::PLATFORMS[i % 7].1,
                common::KINDS[i % 8]
            ),
            description: format!(
                "Everything for {} in one place.",
                common::PLATFORMS[i % 7].1
            ),
            sort_order: ((i * 7) % CATEGORIES) as i32,
            active: true,
        })
        .collect();
    let category_ids: Vec<i64> = diesel::insert_into(service_categories::table)
        .values(&categories)
        .returning(service_categories::id)
        .get_results(&mut conn)
        .await?;
    let services: Vec<NewService> = (0..SERVICES)
        .map(|i| {
            let (platform, platform_name) = common::PLATFORMS[i % 7];
            let kind = common::KINDS[(i / 7) % 8];
            NewService {
                category_id: category_ids[(i * 13) % CATEGORIES],
                name: format!("{platform_name} {kind} | real, fast start #{i}"),
                description: format!(
                    "High-quality {platform_name} {} with a 30-day guarantee; starts within the hour.",
                    kind.to_lowercase()
                ),
                platform,
                service_type: if i % 10 == 3 {
                    ServiceType::CustomComments
                } else {
                    ServiceType::Default
                },
                provider_id: None,
                provider_service_id: None,
                provider_rate: None,
                markup_bps: None,
                fulfillment: Fulfillment::Manual,
                price_per_1000: 1_000 + (i as i64 * 769) % 250_000,
                min_quantity: [10, 50, 100][i % 3],
                max_quantity: [10_000, 100_000, 1_000_000][i % 3],
                quantity_step: 1,
                refill: i % 3 == 0,
                cancel: i % 2 == 0,
                dripfeed: false,
                active: true,
                sort_order: ((i * 37) % 1_000) as i32,
            }
        })
        .collect();
    for chunk in services.chunks(1_000) {
        diesel::insert_into(services::table)
            .values(chunk)
            .execute(&mut conn)
            .await?;
    }
    // PostGraphile's page orders by the services' own order; booster's (category,
    // then service) has its indexes from the migrations. Without this one PostgreSQL
    // would sort all 5,000 services for every PostGraphile page (~5 ms instead of
    // ~0.3 ms), and the comparison would measure a missing index.
    diesel::sql_query("CREATE INDEX catalog_bench_postgraphile_order ON services (sort_order, id)")
        .execute(&mut conn)
        .await?;
    diesel::sql_query("ANALYZE service_categories, services")
        .execute(&mut conn)
        .await?;
    Ok(())
}

fn booster_query(first: usize) -> String {
    format!(
        "{{ services(first: {first}) {{ edges {{ node {{ id name platform type pricePer1000 \
         minQuantity maxQuantity refill cancel category {{ name }} }} }} }} }}"
    )
}

fn postgraphile_query(first: usize) -> String {
    format!(
        "{{ allServices(first: {first}, condition: {{ active: true }}, orderBy: [SORT_ORDER_ASC, ID_ASC]) \
         {{ edges {{ node {{ id name platform serviceType pricePer1000 minQuantity maxQuantity \
         refill cancel serviceCategoryByCategoryId {{ name }} }} }} }} }}"
    )
}

/// Asks `url` once, anonymously, and fails unless the answer is `first` services,
/// each with its category's name, and no errors.
async fn check(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    field: &str,
    first: usize,
) -> anyhow::Result<()> {
    let response = http
        .post(url)
        .json(&json!({ "query": query }))
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    anyhow::ensure!(
        status.is_success() && answer.get("errors").is_none(),
        "{url} answered {status}: {answer}"
    );
    let edges = answer["data"][field]["edges"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{url}: no {field}.edges in {answer}"))?;
    anyhow::ensure!(
        edges.len() == first,
        "{url}: {} services instead of {first}",
        edges.len()
    );
    anyhow::ensure!(
        edges.iter().all(|edge| {
            let node = &edge["node"];
            let category = node
                .get("category")
                .or_else(|| node.get("serviceCategoryByCategoryId"));
            node["name"].is_string() && category.is_some_and(|c| c["name"].is_string())
        }),
        "{url}: a service without its name or its category's: {answer}"
    );
    Ok(())
}
