//! Measures a customer's own pages next to PostGraphile 4 serving the same
//! database in the same run, and prints the figures:
//! - requests/s and p99 latency of `myOrders` (each order with its service's
//!   name), `myTransactions` and `myTickets`, pages of 20 and 100, for a customer
//!   holding 5,000 of 100,000 orders (5,000 of 100,000 ledger entries, 1,000 of
//!   20,000 tickets), signed in with an API key, measured with wrk (16
//!   connections, 2 threads); PostGraphile answers `allOrders` / `allLedgerEntries`
//!   / `allTickets` with `condition: { userId }`, newest first, the same columns.
//!   PostGraphile runs without row security and without a credential check, so it
//!   does less than booster, which checks the key's current state per request;
//! - the SQL statements booster runs per page (`totalCount` is not asked, so not
//!   counted).
//!
//! Every endpoint's answer is checked once, outside the timed runs, to hold the
//! whole page of the customer's own rows and no errors.
//!
//! Run: `scripts/bench-vs-postgraphile.sh customer_pages_bench` (installs wrk and
//! PostGraphile, starts PostgreSQL). `CUSTOMER_BENCH_SECONDS` (default 10) and
//! `CUSTOMER_BENCH_WARMUP` (default 2) set each run; `CUSTOMER_BENCH_PG_WORKERS`
//! PostGraphile's `--cluster-workers` (default: one per CPU);
//! `CUSTOMER_BENCH_ONLY` (e.g. `myOrders:100`) runs that one list and size, for
//! a profiler.

mod common;

use std::path::Path;

use booster::{app::AppState, config::Config};
use common::peers::{self, Load, PostGraphile, WrkResult, number_from_env, wrk};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const CUSTOMERS: i64 = 20;
const ORDERS: i64 = 100_000;
const LEDGER_ENTRIES: i64 = 100_000;
const TICKETS: i64 = 20_000;
const PAGE_SIZES: [usize; 2] = [20, 100];
const CONNECTIONS: usize = 16;
const THREADS: usize = 2;
const STATEMENT_SAMPLES: u32 = 100;
/// PostGraphile's pool, the same as booster's (`Config::local`).
const POOL_SIZE: usize = 16;

/// One list as each side asks for it.
struct List {
    name: &'static str,
    booster: fn(usize) -> String,
    postgraphile: fn(usize, i64) -> String,
    /// The field of PostGraphile's answer.
    theirs: &'static str,
}

const LISTS: [List; 3] = [
    List {
        name: "myOrders",
        booster: |first| {
            format!(
                "{{ myOrders(first: {first}) {{ nodes {{ id link quantity charge status createdAt service {{ name }} }} }} }}"
            )
        },
        postgraphile: |first, user| {
            format!(
                "{{ allOrders(first: {first}, condition: {{ userId: \"{user}\" }}, orderBy: ID_DESC) \
                 {{ nodes {{ id link quantity charge status createdAt serviceByServiceId {{ name }} }} }} }}"
            )
        },
        theirs: "allOrders",
    },
    List {
        name: "myTransactions",
        booster: |first| {
            format!(
                "{{ myTransactions(first: {first}) {{ nodes {{ id amount balanceAfter kind createdAt }} }} }}"
            )
        },
        postgraphile: |first, user| {
            format!(
                "{{ allLedgerEntries(first: {first}, condition: {{ userId: \"{user}\" }}, orderBy: ID_DESC) \
                 {{ nodes {{ id amount balanceAfter kind createdAt }} }} }}"
            )
        },
        theirs: "allLedgerEntries",
    },
    List {
        name: "myTickets",
        booster: |first| {
            format!(
                "{{ myTickets(first: {first}) {{ nodes {{ id subject status lastMessageAt }} }} }}"
            )
        },
        postgraphile: |first, user| {
            format!(
                "{{ allTickets(first: {first}, condition: {{ userId: \"{user}\" }}, orderBy: ID_DESC) \
                 {{ nodes {{ id subject status lastMessageAt }} }} }}"
            )
        },
        theirs: "allTickets",
    },
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    peers::against_postgraphile(|url, postgraphile| async move { run(&url, &postgraphile).await })
        .await
}

async fn run(url: &str, postgraphile: &Path) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let load = Load {
        threads: THREADS,
        connections: CONNECTIONS,
        warmup: number_from_env("CUSTOMER_BENCH_WARMUP", 2)?,
        seconds: number_from_env("CUSTOMER_BENCH_SECONDS", 10)?,
    };
    let workers = number_from_env("CUSTOMER_BENCH_PG_WORKERS", cpus as u64)?.max(1);

    let mut config = Config::local(url);
    config.server.rate_limit_per_minute = 0;
    config.server.anonymous_rate_limit_per_minute = 0;
    let state = AppState::new(config)?;
    let (customer, key) = seed(&state).await?;
    let booster = format!("{}/graphql", common::serve(&state).await?);
    common::print_resident("at rest");
    let http = reqwest::Client::new();
    let pg = PostGraphile::start(postgraphile, url, workers, POOL_SIZE, &http).await?;
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];

    println!(
        "a customer's pages: {ORDERS} orders, {LEDGER_ENTRIES} ledger entries and {TICKETS} \
         tickets over {CUSTOMERS} customers, the measured one holding 1 in {CUSTOMERS}; \
         wrk -t{THREADS} -c{CONNECTIONS}, {} s warm-up, {} s measured; PostGraphile 4 with \
         {workers} worker(s), pool {POOL_SIZE}",
        load.warmup, load.seconds
    );
    let mut rows: Vec<(&str, usize, WrkResult, WrkResult, f64)> = Vec::new();
    let only = std::env::var("CUSTOMER_BENCH_ONLY").ok();
    for list in &LISTS {
        for first in PAGE_SIZES {
            if only
                .as_ref()
                .is_some_and(|only| *only != format!("{}:{first}", list.name))
            {
                continue;
            }
            let ours = (list.booster)(first);
            let theirs = (list.postgraphile)(first, customer);
            check(&http, &booster, &ours, Some(&bearer), list.name, first).await?;
            check(&http, &pg.url, &theirs, None, list.theirs, first).await?;
            let statements = peers::statements_per_request(
                &state,
                &http,
                &booster,
                &ours,
                Some(&bearer),
                STATEMENT_SAMPLES,
            )
            .await?;
            let booster_run = wrk(&booster, &ours, &auth, load).await?;
            let pg_run = wrk(&pg.url, &theirs, &[], load).await?;
            rows.push((list.name, first, booster_run, pg_run, statements));
        }
    }
    drop(pg);

    println!(
        "{:<15} {:>5} {:>14} {:>8} {:>19} {:>8} {:>7} {:>11}",
        "list",
        "first",
        "booster req/s",
        "p99 ms",
        "PostGraphile req/s",
        "p99 ms",
        "ratio",
        "statements"
    );
    let mut met = true;
    for (name, first, ours, theirs, statements) in &rows {
        let ratio = ours.requests_per_sec / theirs.requests_per_sec;
        met &= ratio >= 2.0 && ours.p99_ms <= theirs.p99_ms;
        println!(
            "{name:<15} {first:>5} {:>14.0} {:>8.2} {:>19.0} {:>8.2} {ratio:>7.2} {statements:>11.2}",
            ours.requests_per_sec, ours.p99_ms, theirs.requests_per_sec, theirs.p99_ms
        );
        for (who, result) in [("booster", ours), ("PostGraphile", theirs)] {
            if let Some(errors) = &result.socket_errors {
                println!("note: {name} {first}, {who}: wrk {errors}");
            }
        }
    }
    println!(
        "issue 27 target (>= 2x PostGraphile's requests/s, p99 not higher, every list and size): {}",
        if met { "met" } else { "not met" }
    );
    common::print_resident("after the pages (the load comes from wrk)");
    Ok(())
}

/// The measured customer (with an API key) and 19 others; the rows spread over
/// them one in twenty, inserted set-based; then ANALYZE.
async fn seed(state: &AppState) -> anyhow::Result<(i64, String)> {
    let mut conn = state.pool.get().await?;
    let service = common::bench_service(&mut conn, None).await?;
    let (customer, key) = common::funded_user(&mut conn, "measured@bench.example").await?;
    let mut users = vec![customer];
    for (id, _) in common::funded_users(&mut conn, "other", CUSTOMERS as usize - 1).await? {
        users.push(id);
    }
    let statements = [
        format!(
            "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, created_at) \
             SELECT ($1::bigint[])[g % {CUSTOMERS} + 1], {service}, 'https://x.com/bench/status/' || g, 1000, 10000, 10000, \
                    (ARRAY['PENDING','IN_PROGRESS','COMPLETED','PARTIAL','CANCELED'])[g % 5 + 1], \
                    now() - (({ORDERS} - g) || ' seconds')::interval \
             FROM generate_series(1, {ORDERS}) AS g"
        ),
        format!(
            "INSERT INTO ledger_entries (user_id, amount, balance_after, kind, created_at) \
             SELECT ($1::bigint[])[g % {CUSTOMERS} + 1], -10000, g, 'ORDER_CHARGE', \
                    now() - (({LEDGER_ENTRIES} - g) || ' seconds')::interval \
             FROM generate_series(1, {LEDGER_ENTRIES}) AS g"
        ),
        format!(
            "INSERT INTO tickets (user_id, subject, topic) \
             SELECT ($1::bigint[])[g % {CUSTOMERS} + 1], 'Where is my order ' || g, 'ORDER' \
             FROM generate_series(1, {TICKETS}) AS g"
        ),
    ];
    for statement in statements {
        diesel::sql_query(statement)
            .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&users)
            .execute(&mut conn)
            .await?;
    }
    diesel::sql_query("ANALYZE orders, ledger_entries, tickets")
        .execute(&mut conn)
        .await?;
    Ok((customer, key))
}

/// Asks once and fails unless the answer is `first` rows and no errors.
async fn check(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    bearer: Option<&str>,
    field: &str,
    first: usize,
) -> anyhow::Result<()> {
    let mut request = http.post(url).json(&json!({ "query": query }));
    if let Some(bearer) = bearer {
        request = request.header("Authorization", bearer);
    }
    let response = request.send().await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    anyhow::ensure!(
        status.is_success() && answer.get("errors").is_none(),
        "{url} answered {status}: {answer}"
    );
    let nodes = answer["data"][field]["nodes"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{url}: no {field}.nodes in {answer}"))?;
    anyhow::ensure!(
        nodes.len() == first,
        "{url}: {} rows instead of {first}",
        nodes.len()
    );
    Ok(())
}
