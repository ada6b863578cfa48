//! The job runner and the processes: a panicking run is logged and the job runs
//! again; `serve` and `worker` stop cleanly on SIGTERM, even with a WebSocket still
//! open; debug logging never carries SQL parameters.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use booster::{
    app::AppState,
    config::Config,
    error::AppResult,
    jobs::{Job, Runner},
};
use common::*;

/// Panics on its first run, then counts its runs.
struct Flaky(Arc<AtomicUsize>);

#[async_trait]
impl Job for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn interval(&self, _: &Config) -> Duration {
        Duration::from_millis(10)
    }
    async fn run_once(&self, _: &AppState) -> AppResult<Option<String>> {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the first run panics");
        }
        Ok(Some("ran".into()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_job_runs_again_and_stops_at_shutdown() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let runner = Runner::start(&app.state, vec![Box::new(Flaky(runs.clone()))]);
    for _ in 0..500 {
        if runs.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        runs.load(Ordering::SeqCst) >= 3,
        "the job kept running after its panic"
    );
    app.state.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), runner.stop(Duration::from_secs(5)))
        .await
        .expect("the runner stops at shutdown");
    let after_stop = runs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs.load(Ordering::SeqCst), after_stop, "no run after stop");
}

fn booster(command: &str, database_url: &str, bind: &str) -> tokio::process::Command {
    let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_booster"));
    process
        .arg(command)
        .env("DATABASE_URL", database_url)
        .env("BIND", bind)
        .env("BOOSTER_SECRET_KEY", "2a".repeat(32))
        .env("SHUTDOWN_GRACE_SECONDS", "3")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    process
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A 127.0.0.1 address with a port nothing listens on yet.
fn free_local_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", listener.local_addr().unwrap().port())
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_worker_stop_cleanly_on_sigterm() {
    let app = TestApp::spawn().await;
    let bind = free_local_address();
    let mut serve = booster("serve", &app.db.url, &bind).spawn().unwrap();
    let mut worker = booster("worker", &app.db.url, "127.0.0.1:0")
        .spawn()
        .unwrap();
    let base = format!("http://{bind}");
    let mut up = false;
    for _ in 0..100 {
        if app
            .http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "booster serve did not come up");
    // A WebSocket that never closes by itself must not keep the process alive.
    let _socket = common::sockets::ws_open(&format!("http://{bind}"), "graphql-transport-ws").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    sigterm(&serve);
    sigterm(&worker);
    for (name, child) in [("serve", &mut serve), ("worker", &mut worker)] {
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{name} still running 15 s after SIGTERM"))
            .unwrap();
        assert!(status.success(), "{name} exited with {status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_logs_never_carry_sql_parameters() {
    let app = TestApp::spawn().await;
    let (_, key) = app.customer("logged@example.com").await;
    let bind = free_local_address();
    let mut serve = booster("serve", &app.db.url, &bind)
        .env("RUST_LOG", "debug")
        .env("RUN_JOBS", "false")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://{bind}/graphql");
    let mut answered = false;
    for _ in 0..100 {
        let sent = app
            .http
            .post(&url)
            .bearer_auth(&key)
            .json(&serde_json::json!({ "query": "{ me { id } }" }))
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "booster serve did not answer");
    // API v2 callers put the key in the query string or the form.
    let api_v2 = format!("http://{bind}/api/v2");
    let by_query = app
        .http
        .get(format!("{api_v2}?action=balance&key={key}"))
        .send()
        .await
        .unwrap();
    assert!(by_query.status().is_success());
    let by_form = app
        .http
        .post(&api_v2)
        .form(&[("key", key.as_str()), ("action", "nope")])
        .send()
        .await
        .unwrap();
    assert!(by_form.status().is_success());
    sigterm(&serve);
    let output = tokio::time::timeout(Duration::from_secs(15), async {
        use tokio::io::AsyncReadExt;
        let mut stderr = String::new();
        serve
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        stderr
    })
    .await
    .expect("serve exits after SIGTERM");
    assert!(output.contains("DEBUG"), "debug logging is on");
    // The API key's hash is a parameter of the authentication query.
    assert!(
        !output.contains("with parameters"),
        "SQL parameters reached the log"
    );
    assert!(!output.contains(&key), "the API key reached the log");
}
