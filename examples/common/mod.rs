//! What the benchmark programs share: a database of their own, created, migrated
//! and dropped around the run, and the one service they order from.
#![allow(dead_code)]

pub mod peers;

use booster::db::{
    self,
    enums::{Fulfillment, Platform, ServiceType},
    schema::{service_categories, services},
    services::NewService,
};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// The configuration of a throughput benchmark: `Config::local` with a pool of
/// `pool_size` connections and no rate limits (it measures throughput, not the
/// limiters).
pub fn throughput_config(url: &str, pool_size: usize) -> booster::config::Config {
    let mut config = booster::config::Config::local(url);
    config.database.pool_size = pool_size;
    config.server.rate_limit_per_minute = 0;
    config.server.anonymous_rate_limit_per_minute = 0;
    config.server.api_v2_rate_limit_per_minute = 0;
    config.server.api_v2_user_rate_limit_per_minute = 0;
    config
}

/// Runs `bench` against a fresh, migrated database on the local PostgreSQL, then
/// drops the database whatever `bench` returned (unless `BENCH_KEEP_DATABASE` is
/// set, to look at it afterwards).
pub async fn with_bench_database<F, Fut>(bench: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // As the server binary does at start.
    booster::allocator::tune();
    let name = format!("booster_bench_{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    db::ensure_database_exists(&url).await?;
    db::run_migrations(&url).await?;
    let result = bench(url.clone()).await;
    if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
        eprintln!("BENCH_KEEP_DATABASE: kept {url}");
        return result;
    }
    let (client, connection) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/postgres",
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    result
}

/// A "Twitter followers" service in a "Bench" category: an own MANUAL product at
/// 10,000 rupiah per 1000, or, given `(provider id, its service id)`, a provider's
/// service at 1,000.
pub async fn bench_service(
    conn: &mut AsyncPgConnection,
    provider: Option<(i64, &str)>,
) -> anyhow::Result<i64> {
    let category: i64 = diesel::insert_into(service_categories::table)
        .values(service_categories::name.eq("Bench"))
        .returning(service_categories::id)
        .get_result(conn)
        .await?;
    let (fulfillment, price_per_1000) = match provider {
        Some(_) => (Fulfillment::Provider, 1000),
        None => (Fulfillment::Manual, 10_000),
    };
    // The benchmarks send many orders to one link: the same-link guard is off.
    Ok(diesel::insert_into(services::table)
        .values((
            NewService {
                category_id: category,
                name: "Twitter followers".into(),
                description: String::new(),
                platform: Platform::Twitter,
                service_type: ServiceType::Default,
                provider_id: provider.map(|(id, _)| id),
                provider_service_id: provider.map(|(_, remote)| remote.to_string()),
                provider_rate: provider.map(|_| 1.into()),
                markup_bps: None,
                fulfillment,
                price_per_1000,
                min_quantity: 10,
                max_quantity: 100_000,
                quantity_step: 1,
                refill: false,
                cancel: provider.is_none(),
                dripfeed: false,
                active: true,
                sort_order: 0,
            },
            services::same_link_guard.eq(false),
        ))
        .returning(services::id)
        .get_result(conn)
        .await?)
}

/// Which pgbench workload: the TPC-B-like default (writes), or select-only (`-S`).
#[derive(Clone, Copy)]
pub enum Pgbench {
    TpcB,
    SelectOnly,
}

/// Runs pgbench with `clients` clients for `seconds` against a scratch database on
/// the same PostgreSQL, and returns its transactions per second (`None` if pgbench
/// is not installed or failed).
pub fn pgbench(mode: Pgbench, clients: usize, seconds: u64) -> Option<f64> {
    use std::process::Command;
    let db = format!("booster_pgbench_{}", std::process::id());
    let psql = |sql: &str| {
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-qc", sql])
            .status()
    };
    psql(&format!("CREATE DATABASE {db}")).ok()?;
    let init = Command::new("pgbench")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-i",
            "-q",
            "-s",
            "16",
            &db,
        ])
        .output()
        .ok()?;
    let result = if init.status.success() {
        let mut args = vec![
            "-h".to_string(),
            "127.0.0.1".into(),
            "-U".into(),
            "postgres".into(),
            "-c".into(),
            clients.to_string(),
            "-j".into(),
            "2".into(),
            "-T".into(),
            seconds.to_string(),
        ];
        if matches!(mode, Pgbench::SelectOnly) {
            args.push("-S".into());
        }
        args.push(db.clone());
        Command::new("pgbench").args(&args).output().ok()
    } else {
        None
    };
    let _ = psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    tps(&result?.stdout)
}

/// The transactions per second pgbench printed (`tps = 1234.5 (...)`).
fn tps(stdout: &[u8]) -> Option<f64> {
    String::from_utf8_lossy(stdout)
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| {
            l.trim_start_matches("tps = ")
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

/// Runs a custom pgbench script (`-f`, no initialisation, no vacuum) with
/// `clients` clients for `seconds` against `database_url`'s database, with
/// `defines` as `-D name=value`; returns its transactions per second (`None` if
/// pgbench is not installed or failed, with its error printed).
pub fn pgbench_script(
    database_url: &str,
    script: &str,
    defines: &[(&str, String)],
    clients: usize,
    seconds: u64,
) -> Option<f64> {
    pgbench_script_run(database_url, script, defines, clients, seconds).map(|run| run.tps)
}

/// What one pgbench run measured: transactions per second and every
/// transaction's latency (from its per-transaction log, `-l`), sorted.
pub struct PgbenchRun {
    pub tps: f64,
    pub latencies_ms: Vec<f64>,
}

impl PgbenchRun {
    /// The latency at `quantile` (0.5, 0.99) in milliseconds; NaN with no sample.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        quantile_of(&self.latencies_ms, quantile)
    }
}

/// The value at `quantile` of sorted `values`; NaN when empty.
pub fn quantile_of(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Like [`pgbench_script`], with the per-transaction latencies.
pub fn pgbench_script_run(
    database_url: &str,
    script: &str,
    defines: &[(&str, String)],
    clients: usize,
    seconds: u64,
) -> Option<PgbenchRun> {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("booster-pgbench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("script.sql");
    std::fs::write(&path, script).ok()?;
    let database = database_url.rsplit('/').next()?;
    let mut command = Command::new("pgbench");
    command.args(["-h", "127.0.0.1", "-U", "postgres", "-n", "-j", "2"]);
    command.args(["-c", &clients.to_string(), "-T", &seconds.to_string()]);
    command
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join("log").display()));
    for (name, value) in defines {
        command.args(["-D", &format!("{name}={value}")]);
    }
    command.arg("-f").arg(&path).arg(database);
    let output = command.output().ok();
    // Each log line: client, transaction, its latency in microseconds, ...
    let mut latencies_ms: Vec<f64> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("log."))
        .flat_map(|entry| {
            std::fs::read_to_string(entry.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|line| line.split_whitespace().nth(2)?.parse::<f64>().ok())
                .map(|micros| micros / 1000.0)
                .collect::<Vec<_>>()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    if !output.status.success() {
        eprintln!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    latencies_ms.sort_by(f64::total_cmp);
    Some(PgbenchRun {
        tps: tps(&output.stdout)?,
        latencies_ms,
    })
}

/// A customer with a billion rupiah and an API key: returns (user id, key).
pub async fn funded_user(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> anyhow::Result<(i64, String)> {
    use booster::{
        auth,
        db::enums::{LedgerKind, Role},
        domain::{accounts, wallet},
    };
    let error = |e: booster::error::AppError| anyhow::anyhow!("{e}");
    let user = accounts::create_user(conn, email, "", Role::Customer)
        .await
        .map_err(error)?;
    let funding = wallet::Credit {
        user_id: user.id,
        amount: 1_000_000_000,
        kind: LedgerKind::Adjustment,
        reference: Default::default(),
    };
    wallet::credit(conn, funding).await.map_err(error)?;
    let (_, key) = auth::create_api_key(conn, user.id, "bench")
        .await
        .map_err(error)?;
    Ok((user.id, key))
}

/// Serves `state` on an ephemeral 127.0.0.1 port through the real accept loop;
/// returns the base URL.
pub async fn serve(state: &booster::app::AppState) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(booster::http::serve(state.clone(), listener));
    Ok(base)
}

/// `count` funded customers `<prefix><i>@bench.example`; returns their API keys.
pub async fn funded_keys(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    Ok(funded_users(conn, prefix, count)
        .await?
        .into_iter()
        .map(|(_, key)| key)
        .collect())
}

/// Like [`funded_keys`], with the users' ids: `(id, key)` in creation order.
pub async fn funded_users(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<(i64, String)>> {
    let mut users = Vec::with_capacity(count);
    for i in 0..count {
        users.push(funded_user(conn, &format!("{prefix}{i}@bench.example")).await?);
    }
    Ok(users)
}

/// The platforms the seeded catalogues spread over, with their display names.
pub const PLATFORMS: [(Platform, &str); 7] = [
    (Platform::Twitter, "Twitter"),
    (Platform::Instagram, "Instagram"),
    (Platform::Tiktok, "TikTok"),
    (Platform::Youtube, "YouTube"),
    (Platform::Facebook, "Facebook"),
    (Platform::Telegram, "Telegram"),
    (Platform::Spotify, "Spotify"),
];

/// The kinds of service the seeded catalogues name.
pub const KINDS: [&str; 8] = [
    "Followers",
    "Likes",
    "Views",
    "Comments",
    "Retweets",
    "Members",
    "Plays",
    "Shares",
];

/// Starts this process's peak resident memory (`VmHWM`) afresh from what is
/// resident now (Linux: `5` to `/proc/self/clear_refs`).
pub fn reset_peak_resident() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory since the start or the last
/// [`reset_peak_resident`], in MiB; NaN when `/proc` does not tell.
pub fn peak_resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The resident memory of a process (`"self"` or a process id), in MiB; NaN when
/// `/proc` does not tell.
pub fn resident_mib(process: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Prints this process's resident memory (the server, its clients and any fake
/// it runs) and its peak so far, `when` saying at which point.
pub fn print_resident(when: &str) {
    println!(
        "resident memory {when}: {:.0} MiB (peak so far {:.0} MiB; server and clients in one process)",
        resident_mib("self"),
        peak_resident_mib()
    );
}
