//! The back office on a big panel: fills 1,000,000 orders (90 days, 4 providers, 40
//! services in 8 categories, 2,000 customers, every status, partial refunds and
//! recorded provider costs), then times, over GraphQL as an admin:
//! - `adminDashboard` for the last 30 days and for yesterday,
//! - `adminReport` per provider for yesterday and per day for the 90 days,
//!
//! each with the SQL statements it took, next to the reference: PostgreSQL's own
//! time for one bare `count(*), sum(charge)` over the same orders (the least any
//! aggregate over them costs), measured in the same run. Printed as ratios.
//! Then `GET /admin/exports/orders.csv` of all of them against PostgreSQL's own
//! `COPY ... TO STDOUT` of the same columns, with the peak resident memory.
//!
//! Run: `cargo run --release --example dashboard_bench` (PostgreSQL on
//! 127.0.0.1:5432; ORDERS=200000 for a quicker run).

mod common;

use std::time::{Duration, Instant};

use booster::{app::AppState, config::Config, db::enums::Role};
use chrono::{Days, Utc};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const RUNS: u32 = 5;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::with_bench_database(|url| async move { run(&url).await }).await
}

async fn run(url: &str) -> anyhow::Result<()> {
    let orders: i64 = std::env::var("ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut config = Config::local(url);
    config.server.rate_limit_per_minute = 0;
    let state = AppState::new(config)?;
    let base = common::serve(&state).await?;
    let mut conn = state.pool.get().await?;
    let admin =
        booster::domain::accounts::create_user(&mut conn, "owner@bench.example", "", Role::Owner)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, token) = booster::auth::create_api_key(&mut conn, admin.id, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let filling = Instant::now();
    for statement in fill_statements(orders) {
        diesel::sql_query(statement).execute(&mut conn).await?;
    }
    diesel::sql_query("ANALYZE").execute(&mut conn).await?;
    println!(
        "filled {orders} orders in {:.1} s",
        filling.elapsed().as_secs_f64()
    );
    common::print_resident("at rest");

    let today = Utc::now().date_naive();
    let yesterday = today.checked_sub_days(Days::new(1)).unwrap();
    let month_ago = today.checked_sub_days(Days::new(30)).unwrap();
    let quarter_ago = today.checked_sub_days(Days::new(89)).unwrap();
    // No automatic gzip: the export is downloaded both ways explicitly.
    let http = reqwest::Client::builder().no_gzip().build()?;
    // Each case: its name, the field and extra arguments, the selection, the period.
    let cases = [
        (
            "adminDashboard, last 30 days",
            "adminDashboard",
            "",
            "money { orders revenue providerCost grossProfit marginBps averageOrderValue } ordersByStatus { status orders } deposits { count amount bonus } newUsers activeBuyers attention { ordersNeedingReview ordersFailedToday flaggedDeposits unhealthyProviders lowBalanceProviders servicesOutOfStock }",
            (month_ago, yesterday),
        ),
        (
            "adminDashboard, yesterday",
            "adminDashboard",
            "",
            "money { orders revenue providerCost grossProfit } activeBuyers",
            (yesterday, yesterday),
        ),
        (
            "adminReport per PROVIDER, yesterday",
            "adminReport",
            ", groupBy: PROVIDER",
            "key label money { revenue providerCost grossProfit }",
            (yesterday, yesterday),
        ),
        (
            "adminReport per DAY, 90 days",
            "adminReport",
            ", groupBy: DAY",
            "key money { orders revenue grossProfit }",
            (quarter_ago, yesterday),
        ),
    ];
    println!(
        "{:<40} {:>10} {:>12} {:>14} {:>8}",
        "query", "statements", "booster ms", "bare scan ms", "ratio"
    );
    for (name, field, extra, selection, (from, to)) in cases {
        let query =
            format!(r#"{{ {field}(from: "{from}", to: "{to}"{extra}) {{ {selection} }} }}"#);
        // Warm up once, then the median of RUNS.
        call(&http, &base, &token, &query).await?;
        let before = state.query_counter.get();
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            call(&http, &base, &token, &query).await?;
            times.push(started.elapsed());
        }
        let statements = (state.query_counter.get() - before) as f64 / f64::from(RUNS);
        let reference = bare_scan(&mut conn, from, to).await?;
        let ours = median(times);
        println!(
            "{name:<40} {statements:>10.1} {:>12.1} {:>14.1} {:>8.2}",
            ms(ours),
            ms(reference),
            ours.as_secs_f64() / reference.as_secs_f64()
        );
    }
    common::print_resident("after the dashboard and reports");
    export_against_copy(&http, &base, &token, url).await?;
    common::print_resident("after the export");
    Ok(())
}

/// `GET /admin/exports/orders.csv` of every order against PostgreSQL's own
/// `COPY (...) TO STDOUT` of the same columns (through psql, read to the end by
/// this process as the export is), with the process's resident memory before and
/// its peak during the export. The export is downloaded twice: as a browser asks
/// for it (gzip, which the server compresses) and uncompressed, as COPY is.
async fn export_against_copy(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    url: &str,
) -> anyhow::Result<()> {
    let at_rest = common::resident_mib("self");
    common::reset_peak_resident();
    let (rows, bytes, gzipped) = download(http, base, token, true).await?;
    let (plain_rows, _, plain) = download(http, base, token, false).await?;
    anyhow::ensure!(rows == plain_rows, "gzip {rows} rows, plain {plain_rows}");
    let peak = common::peak_resident_mib();

    let copy = "COPY (SELECT o.id, o.created_at, o.user_id, u.email, o.service_id, s.name, o.status, \
                o.link, o.quantity, o.price_per_1000, o.charge, o.refunded, o.start_count, o.remains, \
                o.provider_id, o.provider_order_id, o.provider_cost \
                FROM orders o JOIN users u ON u.id = o.user_id JOIN services s ON s.id = o.service_id \
                ORDER BY o.id) TO STDOUT WITH (FORMAT csv, HEADER)";
    let started = Instant::now();
    let mut psql = tokio::process::Command::new("psql")
        .arg(url)
        .arg("-c")
        .arg(copy)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut out = psql.stdout.take().expect("piped");
    let mut buffer = vec![0u8; 1 << 16];
    let (mut copy_lines, mut copy_bytes) = (0usize, 0usize);
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut out, &mut buffer).await?;
        if n == 0 {
            break;
        }
        copy_lines += buffer[..n].iter().filter(|b| **b == b'\n').count();
        copy_bytes += n;
    }
    anyhow::ensure!(psql.wait().await?.success(), "psql COPY failed");
    let reference = started.elapsed();
    let copy_rows = copy_lines.saturating_sub(1);
    anyhow::ensure!(rows == copy_rows, "export {rows} rows, COPY {copy_rows}");
    let rate = |rows: usize, d: Duration| rows as f64 / d.as_secs_f64();
    let copy_rate = rate(copy_rows, reference);
    println!(
        "orders.csv, {rows} rows ({:.0} MiB): uncompressed {:.0} rows/s, gzip {:.0} rows/s; COPY TO STDOUT of the same columns: {copy_rate:.0} rows/s ({:.0} MiB); export / COPY = {:.2} uncompressed, {:.2} gzip",
        bytes as f64 / 1048576.0,
        rate(rows, plain),
        rate(rows, gzipped),
        copy_bytes as f64 / 1048576.0,
        rate(rows, plain) / copy_rate,
        rate(rows, gzipped) / copy_rate,
    );
    println!(
        "resident memory of the benchmark process (server and client): {at_rest:.0} MiB before the export, peak {peak:.0} MiB during it"
    );
    Ok(())
}

/// Downloads `orders.csv` to the end, with gzip asked for or refused; returns its
/// rows (lines less the header), its bytes (uncompressed) and the time it took.
async fn download(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    gzip: bool,
) -> anyhow::Result<(usize, usize, Duration)> {
    use std::io::Write;
    /// Counts the lines and bytes written to it (the decompressed body).
    #[derive(Default)]
    struct Counter {
        lines: usize,
        bytes: usize,
    }
    impl Write for Counter {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.lines += data.iter().filter(|b| **b == b'\n').count();
            self.bytes += data.len();
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let started = Instant::now();
    // The body as it travels (reqwest would hide the Content-Encoding).
    let encoding = if gzip { "gzip" } else { "identity" };
    let mut response = http
        .get(format!("{base}/admin/exports/orders.csv"))
        .bearer_auth(token)
        .header("Accept-Encoding", encoding)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "export: {}", response.status());
    let compressed = response.headers().get("content-encoding").is_some();
    anyhow::ensure!(
        compressed == gzip,
        "asked for {encoding}, compressed: {compressed}"
    );
    let mut decoder = flate2::write::GzDecoder::new(Counter::default());
    let mut plain = Counter::default();
    while let Some(chunk) = response.chunk().await? {
        match gzip {
            true => decoder.write_all(&chunk)?,
            false => plain.write_all(&chunk)?,
        }
    }
    let counted = if gzip { decoder.finish()? } else { plain };
    Ok((
        counted.lines.saturating_sub(1),
        counted.bytes,
        started.elapsed(),
    ))
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
) -> anyhow::Result<Value> {
    let answer: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(answer.get("errors").is_none(), "{answer}");
    Ok(answer)
}

/// The median of RUNS timings of the least aggregate over the same orders.
async fn bare_scan(
    conn: &mut diesel_async::AsyncPgConnection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<Duration> {
    let sql = format!(
        "SELECT count(*), sum(charge) FROM orders WHERE created_at >= timestamp '{from}' AT TIME ZONE 'Asia/Jakarta' \
         AND created_at < (timestamp '{to}' + interval '1 day') AT TIME ZONE 'Asia/Jakarta'"
    );
    diesel::sql_query(&sql).execute(conn).await?;
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        diesel::sql_query(&sql).execute(conn).await?;
        times.push(started.elapsed());
    }
    Ok(median(times))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A panel's worth of data, written by PostgreSQL itself (set-based, seconds).
fn fill_statements(orders: i64) -> Vec<String> {
    vec![
        "INSERT INTO providers (name, kind, base_url, api_key_encrypted, api_key_hint, currency, exchange_rate, active) \
         SELECT 'provider ' || g, 'API_V2', 'https://p' || g || '.example/api/v2', '\\x00', '****', \
           CASE WHEN g % 2 = 0 THEN 'USD' ELSE 'IDR' END, CASE WHEN g % 2 = 0 THEN 16000 ELSE 1 END, true \
         FROM generate_series(1, 4) g"
            .into(),
        "INSERT INTO service_categories (name, sort_order) SELECT 'category ' || g, g FROM generate_series(1, 8) g".into(),
        "INSERT INTO services (category_id, name, platform, service_type, provider_id, provider_service_id, provider_rate, \
           fulfillment, price_per_1000, min_quantity, max_quantity) \
         SELECT (SELECT id FROM service_categories ORDER BY id OFFSET (g % 8) LIMIT 1), 'service ' || g, 'TWITTER', 'DEFAULT', \
           (SELECT id FROM providers ORDER BY id OFFSET (g % 4) LIMIT 1), g::text, 0.5 + g % 7, 'PROVIDER', 10000 + g * 100, 10, 100000 \
         FROM generate_series(1, 40) g"
            .into(),
        "INSERT INTO users (email, name, role, created_at) \
         SELECT 'customer' || g || '@bench.example', '', 'CUSTOMER', now() - (g % 120) * interval '1 day' \
         FROM generate_series(1, 2000) g"
            .into(),
        format!(
            "WITH u AS (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE role = 'CUSTOMER'), \
                  s AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(price_per_1000 ORDER BY id) AS prices, \
                          array_agg(provider_id ORDER BY id) AS providers, \
                          array_agg(provider_service_id ORDER BY id) AS remote_ids FROM services) \
             INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, remains, refunded, \
               provider_id, provider_service_id, provider_order_id, provider_cost, created_at, updated_at) \
             SELECT u.ids[1 + g % 2000], s.ids[x.si], 'https://x.com/a/status/' || g, x.q, s.prices[x.si], \
               x.q * s.prices[x.si] / 1000, x.st, \
               CASE WHEN x.st = 'PARTIAL' THEN x.q / 4 WHEN x.st IN ('CANCELED', 'FAILED') THEN x.q ELSE 0 END, \
               CASE WHEN x.st = 'PARTIAL' THEN (x.q * s.prices[x.si] / 1000) / 4 \
                    WHEN x.st IN ('CANCELED', 'FAILED') THEN x.q * s.prices[x.si] / 1000 ELSE 0 END, \
               s.providers[x.si], s.remote_ids[x.si], g::text, x.q * s.prices[x.si] / 1100, \
               x.at, x.at \
             FROM generate_series(1::bigint, {orders}) g CROSS JOIN u CROSS JOIN s, \
               LATERAL (SELECT 100 + (g * 7919) % 4900 AS q, 1 + g % 40 AS si, \
                 now() - (g % 90) * interval '1 day' - (g % 86400) * interval '1 second' AS at, \
                 (ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','PARTIAL','CANCELED','FAILED','IN_PROGRESS','PROCESSING'])[1 + g % 10] AS st) x"
        ),
    ]
}
