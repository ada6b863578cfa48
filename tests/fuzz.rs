//! Fuzzing, as property tests over what comes from outside: GraphQL requests (raw
//! bodies and token-soup documents) against the real server, API v2 and MedanPedia
//! answers read by the provider clients over real HTTP, and webhook bodies from
//! both gateways. Whatever arrives: no 5xx, no INTERNAL, no panic, texts bounded,
//! nothing credited.
//!
//! Bounded for CI: `FUZZ_CASES` cases per target (default 200); raise it locally
//! for a longer run, e.g. `FUZZ_CASES=20000 cargo test --test fuzz`.

mod common;

use std::sync::{Arc, Mutex};

use booster::providers::{
    ProviderClient, RemoteOrderRequest,
    api_v2::{ApiV2Client, RetryPolicy},
    bounded::{Bounded, MAX_ID, MAX_MESSAGE},
    medanpedia::MedanPediaClient,
};
use common::*;
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Value, json};

fn runner() -> TestRunner {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Keys the wire formats use, and any string.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "order", "status", "charge", "start_count", "remains", "currency", "error",
            "balance", "service", "name", "rate", "min", "max", "type", "category",
            "refill", "cancel", "dripfeed", "desc", "refill_id", "data", "msg", "id",
            "1", "2", "order_id", "status_code", "gross_amount", "transaction_status",
            "fraud_status", "signature_key", "external_id", "amount", "paid_amount",
            "payment_method", "transaction_id",
        ])
        .prop_map(String::from),
        1 => any::<String>(),
    ]
}

/// Any JSON, leaning to the values panels and gateways send.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "-?[0-9]{0,25}(\\.[0-9]{0,12})?".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        (0usize..20_000).prop_map(|n| Value::String("9".repeat(n))),
        prop::sample::select(vec![
            "Completed",
            "In progress",
            "Partial",
            "Canceled",
            "Pending",
            "Processing",
            "Success",
            "Error",
            "IDR",
            "USD",
            "",
            "settlement",
            "capture",
            "PAID",
            "EXPIRED",
            "accept",
            "deny",
            "\u{0}",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: JSON, or bytes that are not.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
    ]
}

/// A server on 127.0.0.1 that answers every request with the current case's body.
async fn answering_server(answer: Arc<Mutex<(u16, Vec<u8>)>>) -> String {
    use axum::{http::StatusCode, response::IntoResponse};
    let app = axum::Router::new().fallback(move || {
        let answer = answer.clone();
        async move {
            let (status, body) = answer.lock().unwrap().clone();
            (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                body,
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn assert_bounded_error(error: &booster::providers::ProviderError) {
    use booster::providers::ProviderError::*;
    let (Transient(message) | Refused(message) | Unclear(message)) = error;
    assert!(
        message.chars().count() <= MAX_MESSAGE + 1,
        "unbounded: {message}"
    );
}

/// Every call of a provider client, on one answer: typed results, bounded texts.
async fn exercise(client: &Bounded) {
    let extra = json!({});
    let request = RemoteOrderRequest {
        service: "1",
        link: "https://x.com/a",
        quantity: Some(100),
        extra: &extra,
    };
    match client.add_order(&request).await {
        Ok(id) => assert!(
            !id.is_empty() && id.chars().count() <= MAX_ID && !id.chars().any(char::is_control),
            "implausible order id accepted: {id:?}"
        ),
        Err(error) => assert_bounded_error(&error),
    }
    let ids = vec!["1".to_string(), "2".to_string()];
    match client.statuses(&ids).await {
        Ok(statuses) => {
            for status in statuses.values() {
                match status {
                    Ok(remote) => assert!(remote.label.chars().count() <= MAX_ID + 1),
                    Err(message) => assert!(message.chars().count() <= MAX_MESSAGE + 1),
                }
            }
        }
        Err(error) => assert_bounded_error(&error),
    }
    match client.cancel(&ids).await {
        Ok(answers) => {
            for answer in answers.values() {
                if let Err(message) = answer {
                    assert!(message.chars().count() <= MAX_MESSAGE + 1);
                }
            }
        }
        Err(error) => assert_bounded_error(&error),
    }
    match client.refill("1").await {
        Ok(id) => assert!(id.chars().count() <= MAX_ID),
        Err(error) => assert_bounded_error(&error),
    }
    match client.balance().await {
        Ok((_, currency)) => assert!(currency.chars().count() <= 11),
        Err(error) => assert_bounded_error(&error),
    }
    if let Err(error) = client.services().await {
        assert_bounded_error(&error);
    }
}

#[test]
fn provider_answers_never_panic_and_come_out_bounded() {
    let rt = runtime();
    let answer = Arc::new(Mutex::new((200u16, Vec::new())));
    let base = rt.block_on(answering_server(answer.clone()));
    let http = reqwest::Client::new();
    let no_retry = RetryPolicy {
        attempts: 1,
        first_backoff: std::time::Duration::from_millis(1),
        timeout: std::time::Duration::from_secs(5),
    };
    let api_v2 = Bounded(Box::new(
        ApiV2Client::new(http.clone(), format!("{base}/api/v2"), "key".into()).with_retry(no_retry),
    ));
    let medanpedia = Bounded(Box::new(
        MedanPediaClient::new(http, base.clone(), "id".into(), "key".into()).with_retry(no_retry),
    ));
    let status = prop::sample::select(vec![200u16, 200, 200, 400, 404, 429, 500, 502]);
    runner()
        .run(&(status, body()), |(status, body)| {
            *answer.lock().unwrap() = (status, body);
            rt.block_on(async {
                exercise(&api_v2).await;
                exercise(&medanpedia).await;
            });
            Ok(())
        })
        .unwrap();
}

/// GraphQL documents made of the language's tokens in any order.
fn document() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "{",
        "}",
        "(",
        ")",
        ":",
        "...",
        "fragment",
        "F",
        "on",
        "Query",
        "query",
        "mutation",
        "subscription",
        "services",
        "me",
        "id",
        "name",
        "edges",
        "node",
        "first:",
        "after:",
        "1",
        "-1",
        "99999999999999999999",
        "\"x\"",
        "\"\\u0000\"",
        "\"bzotNQ\"",
        "$v",
        "@include(if: true)",
        "@skip(if: false)",
        "__typename",
        "__schema",
        "types",
        "fields",
        "order(id: \"1\")",
        "service(id: \"1\")",
        "placeOrder",
        "input:",
        "[",
        "]",
        "#",
        "\n",
        ",",
        "null",
        "true",
        "999e999",
        "myOrders",
        "from:",
        "\"-10000-01-01T00:00:00Z\"",
        "totalCount",
        "balance",
        "adminUsers",
        "categories",
        "=",
        "!",
        "String",
        "ID",
    ]);
    prop::collection::vec(tokens, 0..60).prop_map(|tokens| tokens.join(" "))
}

fn assert_no_internal(answer: &Value) {
    if let Some(errors) = answer["errors"].as_array() {
        for error in errors {
            assert_ne!(error["extensions"]["code"], "INTERNAL", "{answer}");
        }
    }
}

#[test]
fn graphql_requests_never_fail_inside() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let (_, customer) = rt.block_on(app.customer("fuzz@example.com"));
    let url = format!("{}/graphql", app.base_url);
    let tokens = prop::sample::select(vec![None, Some(customer.clone())]);
    let variables = prop_oneof![json_value(), Just(json!({}))];
    runner()
        .run(
            &(document(), variables, tokens),
            |(query, variables, token)| {
                rt.block_on(async {
                    let mut request = app
                        .http
                        .post(&url)
                        .json(&json!({ "query": query, "variables": variables }));
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    let response = request.send().await.unwrap();
                    let status = response.status();
                    assert!(status.as_u16() < 500, "{status} for {query}");
                    let answer: Value = response.json().await.expect("a JSON answer");
                    assert_no_internal(&answer);
                });
                Ok(())
            },
        )
        .unwrap();
    let content_types = prop::sample::select(vec![
        "application/json",
        "application/graphql-response+json",
        "multipart/form-data; boundary=x",
        "text/plain",
    ]);
    runner()
        .run(&(body(), content_types), |(body, content_type)| {
            rt.block_on(async {
                let response = app
                    .http
                    .post(&url)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                assert!(status.as_u16() < 500, "{status}");
                let answer: Value = response.json().await.expect("a JSON answer");
                assert_no_internal(&answer);
            });
            Ok(())
        })
        .unwrap();
}

/// A Midtrans notification: fields of any shape, signed correctly or not.
fn midtrans_body() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        "[0-9]{1,6}".prop_map(String::from),
        any::<String>(),
        Just("settlement".to_string()),
        Just("capture".to_string()),
        Just("10000.00".to_string()),
    ];
    (
        text.clone(),
        text.clone(),
        text.clone(),
        text,
        any::<bool>(),
        json_value(),
    )
        .prop_map(
            |(order_id, status_code, gross_amount, transaction_status, sign, extra)| {
                let signature = if sign {
                    booster::payments::midtrans::signature(
                        &order_id,
                        &status_code,
                        &gross_amount,
                        MIDTRANS_SERVER_KEY,
                    )
                } else {
                    "0".repeat(128)
                };
                json!({
                    "order_id": order_id,
                    "status_code": status_code,
                    "gross_amount": gross_amount,
                    "transaction_status": transaction_status,
                    "fraud_status": "accept",
                    "signature_key": signature,
                    "extra": extra,
                })
            },
        )
}

#[test]
fn webhook_bodies_never_fail_inside_or_credit_anything() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let midtrans = format!("{}/webhooks/midtrans", app.base_url);
    let xendit = format!("{}/webhooks/xendit", app.base_url);
    let body = prop_oneof![
        midtrans_body().prop_map(|v| v.to_string().into_bytes()),
        body(),
    ];
    runner()
        .run(&(body, any::<bool>()), |(body, token_right)| {
            rt.block_on(async {
                for (url, token) in [
                    (&midtrans, None),
                    (
                        &xendit,
                        Some(if token_right {
                            XENDIT_CALLBACK_TOKEN
                        } else {
                            "wrong"
                        }),
                    ),
                ] {
                    let mut request = app
                        .http
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body.clone());
                    if let Some(token) = token {
                        request = request.header("x-callback-token", token);
                    }
                    let response = request.send().await.unwrap();
                    let status = response.status();
                    assert!(status.as_u16() < 500, "{status} from {url}");
                    let answer: Value = response.json().await.expect("a JSON answer");
                    assert_ne!(answer["code"], "INTERNAL", "{answer}");
                }
            });
            Ok(())
        })
        .unwrap();
    rt.block_on(async {
        use booster::db::schema::ledger_entries;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let entries: i64 = ledger_entries::table
            .count()
            .get_result(&mut app.conn().await)
            .await
            .unwrap();
        assert_eq!(entries, 0, "no webhook credited anything");
        app.assert_books_balanced().await;
    });
}
