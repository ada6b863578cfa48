//! What operators watch: `/metrics` (Prometheus text format) and `/readyz`.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use booster::{
    app::AppState,
    config::Secret,
    db::enums::Fulfillment,
    error::{AppError, AppResult},
    jobs::{self, Job, Runner},
};
use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "scrape-me-9f2c";

/// The scrape as text.
async fn metrics_text(app: &TestApp) -> String {
    app.http
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The scrape, parsed as Prometheus would: (name, labels, value) for each sample.
async fn scrape(app: &TestApp) -> Vec<prometheus_parse::Sample> {
    let text = metrics_text(app).await;
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines)
        .expect("valid Prometheus text format")
        .samples
}

/// The sum of `name`'s samples whose labels include every pair of `labels`.
fn value(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

struct AlwaysFails;

#[async_trait]
impl Job for AlwaysFails {
    fn name(&self) -> &'static str {
        "always_fails"
    }
    fn interval(&self, _: &booster::config::Config) -> Duration {
        Duration::from_millis(50)
    }
    async fn run_once(&self, _: &AppState) -> AppResult<Option<String>> {
        Err(AppError::internal(anyhow::anyhow!("on purpose")))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_protected_parse_and_move() {
    let hidden = TestApp::spawn().await;
    let absent = hidden
        .http
        .get(format!("{}/metrics", hidden.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(absent.status(), 404, "no token configured, no endpoint");

    let app = TestApp::spawn_with(|c| c.server.metrics_token = Some(Secret(TOKEN.into()))).await;
    let refused = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let service = service(&app, Fulfillment::Provider, 10_000, 10, 5000).await;
    let (_, key) = app.funded_customer("watched@example.com", 100_000).await;
    let before = scrape(&app).await;
    app.ok(
        Some(&key),
        "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }",
        json!({ "input": { "serviceId": service.to_string(), "link": "https://x.com/secret-link/status/1", "quantity": 100 } }),
    )
    .await;
    let refused_webhook = app
        .http
        .post(format!("{}/webhooks/midtrans", app.base_url))
        .json(&json!({ "order_id": "nope", "signature_key": "0" }))
        .send()
        .await
        .unwrap();
    assert!(refused_webhook.status().is_client_error());
    // The order's provider is unreachable: dispatch puts it back for a retry.
    let report = jobs::dispatch::run(&app.state).await.unwrap();
    assert_eq!(report.claimed, 1);
    // A failing job, on a state of its own (stopping it must not stop the server).
    let jobs_state = AppState::new(app.state.config.clone()).unwrap();
    let runner = Runner::start(&jobs_state, vec![Box::new(AlwaysFails)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    jobs_state.shutdown.cancel();
    runner.stop(Duration::from_secs(5)).await;

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(moved("booster_orders_placed_total", &[]) >= 1.0);
    assert!(moved("booster_orders_dispatched_total", &[]) >= 1.0);
    assert!(
        moved(
            "booster_graphql_root_fields_total",
            &[("field", "placeOrder"), ("outcome", "ok")]
        ) >= 1.0
    );
    assert!(
        value(
            &after,
            "booster_ledger_entries_total",
            &[("kind", "ORDER_CHARGE")]
        ) >= 1.0
    );
    assert!(moved("booster_webhooks_total", &[("gateway", "midtrans")]) >= 1.0);
    assert!(
        moved(
            "booster_job_runs_total",
            &[("job", "always_fails"), ("outcome", "failed")]
        ) >= 1.0
    );
    assert!(moved("booster_graphql_requests_total", &[("outcome", "ok")]) >= 1.0);
    assert!(
        moved(
            "booster_http_requests_total",
            &[("route", "/graphql"), ("method", "POST"), ("status", "200")]
        ) >= 1.0
    );
    // Figures read from the database at scrape time.
    assert!(value(&after, "booster_orders_open", &[("status", "PENDING")]) >= 1.0);
    assert!(
        value(
            &after,
            "booster_ledger_rupiah_total",
            &[("direction", "credited")]
        ) >= 100_000.0
    );
    assert!(
        value(
            &after,
            "booster_ledger_rupiah_total",
            &[("direction", "debited")]
        ) >= 1_000.0
    );
    assert!(
        value(
            &after,
            "booster_db_pool_connections",
            &[("pool", "main"), ("state", "max")]
        ) >= 1.0
    );
    assert_eq!(
        value(
            &after,
            "booster_db_pool_connections",
            &[("pool", "pages"), ("state", "max")]
        ),
        app.state.config.database.page_pool_size as f64
    );

    // Nothing about people or secrets in any label.
    let text = metrics_text(&app).await;
    for secret in [
        key.as_str(),
        "watched@example.com",
        "secret-link",
        TOKEN,
        MIDTRANS_SERVER_KEY,
    ] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_fails_when_the_jobs_stop() {
    let app = TestApp::spawn_with(|c| c.server.ready_job_grace = Duration::from_millis(800)).await;
    let ready = || async {
        let response = app
            .http
            .get(format!("{}/readyz", app.base_url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, body) = ready().await;
    assert_eq!(status, 503, "no job has run yet: {body}");

    // A worker runs every job (on its own state: stopping it leaves the server up).
    let worker = AppState::new(app.state.config.clone()).unwrap();
    let runner = Runner::start(&worker, jobs::all());
    let mut became_ready = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if ready().await.0 == 200 {
            became_ready = true;
            break;
        }
    }
    assert!(
        became_ready,
        "ready once every job has run: {:?}",
        ready().await
    );

    // The worker stops: dispatch (every 100 ms here) falls silent and readiness goes.
    worker.shutdown.cancel();
    runner.stop(Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("dispatch")),
        "{body}"
    );
    let dispatch = body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "dispatch")
        .unwrap();
    assert_eq!(dispatch["stale"], true);
    assert!(dispatch["lastSuccessAt"].is_string());
}
