//! The HTTP surface: health, playground, request ids, CORS, body limit, gzip.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn health_playground_and_middleware() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 64 * 1024).await;
    let http = reqwest::Client::builder().gzip(true).build().unwrap();

    let health = http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health.headers().contains_key("x-request-id"),
        "every response carries its request id"
    );
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["database"],
        "ok"
    );

    // The playground is for browsers asking for a page; any other GET is a query.
    let page = http
        .get(format!("{}/graphql", app.base_url))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("graphiql") || html.contains("GraphiQL"));
    if std::path::Path::new("assets/vendor/graphiql/graphiql.min.js").exists() {
        assert!(
            html.contains("/graphql/assets/graphiql.min.js"),
            "offline assets are used when installed"
        );
        let asset = http
            .get(format!("{}/graphql/assets/graphiql.min.js", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200);
    }

    // A client-chosen request id is kept, so logs can be correlated.
    let answer = http
        .post(format!("{}/graphql", app.base_url))
        .header("x-request-id", "trace-me-123")
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "trace-me-123");

    // CORS preflight from a browser front end.
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/graphql", app.base_url),
        )
        .header("origin", "https://panel.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");

    // Bodies over the limit are refused before they reach GraphQL.
    let huge = format!(
        "{{\"query\": \"{{ me {{ id }} }}\", \"variables\": {{ \"x\": \"{}\" }} }}",
        "a".repeat(100 * 1024)
    );
    let refused = http
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 413);
    // The same without a length up front (chunked): cut while read, still 413.
    // The server answers and closes while the client may still be sending, so the
    // client can see a reset instead of the answer: try until an answer is read.
    let mut answered = None;
    for _ in 0..5 {
        let chunks =
            futures_util::stream::iter((0..100).map(|_| Ok::<_, std::io::Error>("a".repeat(1024))));
        let sent = http
            .post(format!("{}/graphql", app.base_url))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await;
        if let Ok(response) = sent {
            answered = Some(response.status());
            break;
        }
    }
    assert_eq!(answered, Some(reqwest::StatusCode::PAYLOAD_TOO_LARGE));

    // Large answers are compressed for clients that accept gzip.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let (_, key) = app.customer("gzip@example.com").await;
    let compressed = raw
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&key)
        .header("accept-encoding", "gzip")
        .json(&serde_json::json!({ "query": "{ __schema { types { name fields { name } } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        compressed
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_over_the_rate_limit_gets_429_and_rate_limited() {
    let app = TestApp::spawn_with(|c| c.server.rate_limit_per_minute = 5).await;
    let (_, key) = app.customer("busy@example.com").await;
    let (_, other) = app.customer("calm@example.com").await;
    for _ in 0..5 {
        app.ok(Some(&key), "{ me { id } }", serde_json::json!({}))
            .await;
    }
    let response = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED");
    // Limits are per user: someone else is unaffected.
    app.ok(Some(&other), "{ me { id } }", serde_json::json!({}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_disconnects_mid_write_leaves_no_transaction_open() {
    use booster::db::enums::Fulfillment;
    use serde_json::json;
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 10_000).await;
    let (user, key) = app.funded_customer("gone@example.com", 1_000_000).await;
    let (other, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // Another writer holds the customer's balance row, so the order's transaction
    // is certain to be half-way (order inserted, debit waiting) when its client
    // gives up.
    other
        .batch_execute(&format!(
            "BEGIN; SELECT balance FROM users WHERE id = {user} FOR UPDATE"
        ))
        .await
        .unwrap();
    let place = json!({
        "query": "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }",
        "variables": { "input": { "serviceId": service.to_string(), "link": "https://x.com/a/status/1", "quantity": 100 } },
    });
    let request = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&key)
        .json(&place)
        .send();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), request)
            .await
            .is_err(),
        "the order waits for the balance row"
    );
    other.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let idle: i64 = other
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(idle, 0, "the abandoned request left its transaction open");
    // It ran to its end: placed and charged once, with its ledger row.
    assert_eq!(app.balance(user).await, 1_000_000 - 1_000);
    // And another process can debit the same user at once (then roll back).
    other
        .batch_execute("BEGIN; SET LOCAL lock_timeout = '2s'")
        .await
        .unwrap();
    let debited = other
        .execute(
            "UPDATE users SET balance = balance - 1 WHERE id = $1",
            &[&user],
        )
        .await
        .expect("the user's row is not held by an abandoned request");
    assert_eq!(debited, 1);
    other.batch_execute("ROLLBACK").await.unwrap();
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_mistakes_are_validation_errors_naming_the_field() {
    use booster::db::enums::Fulfillment;
    use serde_json::json;
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 10_000).await;
    let admin = app.admin().await;
    let (user, key) = app.funded_customer("mistakes@example.com", 100_000).await;
    let place = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }";
    let cases: Vec<(Option<&str>, &str, serde_json::Value, &str)> = vec![
        // NUL characters, in variables and written in the document.
        (
            Some(&key),
            place,
            json!({ "input": { "serviceId": service.to_string(), "link": "https://x.com/a\u{0}", "quantity": 100 } }),
            "link",
        ),
        (
            Some(&key),
            place,
            json!({ "input": { "serviceId": service.to_string(), "link": "https://x.com/a/status/1", "quantity": 100, "idempotencyKey": "k\u{0}" } }),
            "idempotencyKey",
        ),
        (
            Some(&key),
            "mutation { createApiKey(name: \"bot\\u0000\") { key } }",
            json!({}),
            "name",
        ),
        (
            None,
            "query($q: String) { services(search: $q) { totalCount } }",
            json!({ "q": "\u{0}" }),
            "q",
        ),
        // Cursors that decode to a negative or overflowing position.
        (
            None,
            "{ services(after: \"bzotNQ\") { totalCount } }",
            json!({}),
            "after",
        ),
        (
            None,
            "{ services(after: \"bzo5MjIzMzcyMDM2ODU0Nzc1ODA3\") { totalCount } }",
            json!({}),
            "after",
        ),
        // Dates the scalar accepts but no database column can hold.
        (
            Some(&key),
            "{ myOrders(from: \"-10000-01-01T00:00:00Z\") { totalCount } }",
            json!({}),
            "from",
        ),
        (
            Some(&key),
            "query($to: DateTime) { myTransactions(to: $to) { totalCount } }",
            json!({ "to": "+200000-01-01T00:00:00Z" }),
            "to",
        ),
        // An adjustment that would overflow any balance.
        (
            Some(&admin),
            "mutation($input: AdjustBalanceInput!) { adminAdjustBalance(input: $input) { id } }",
            json!({ "input": { "userId": user.to_string(), "amount": i64::MAX, "reason": "test" } }),
            "amount",
        ),
    ];
    for (token, query, variables, field) in cases {
        let answer = app.gql(token, query, variables).await;
        assert_eq!(
            (error_code(&answer), error_field(&answer)),
            ("VALIDATION".to_string(), field.to_string()),
            "{query}: {answer}"
        );
    }
    assert_eq!(app.balance(user).await, 100_000, "nothing was written");
    let orders = app.read(&key, "{ myOrders { totalCount } }").await;
    assert_eq!(orders["myOrders"]["totalCount"], 0);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_bodies_get_a_plain_answer_and_a_code() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 64 * 1024).await;
    let url = format!("{}/graphql", app.base_url);
    for (body, status) in [("{not json".to_string(), 400), ("[1, 2]".to_string(), 400)] {
        let answer = app
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{body}");
        let json: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(error_code(&json), "BAD_REQUEST", "{json}");
        let message = json["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("Error(") && !message.contains("line "),
            "no Rust or parser internals: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_requests_and_refused_tokens_are_limited_per_client_address() {
    use serde_json::json;
    let query = "{ services(first: 1) { totalCount } }";
    let app = TestApp::spawn_with(|c| c.server.anonymous_rate_limit_per_minute = 5).await;
    // A customer whose key this process has cached (the cache fills once the
    // LISTEN connection is up).
    let (_, known_key) = app.customer("known@example.com").await;
    while !app.state.caches.is_live() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.ok(Some(&known_key), query, json!({})).await;
    let mut limited = 0;
    for i in 0..10 {
        // A made-up X-Forwarded-For from an untrusted peer changes nothing.
        let answer = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("x-forwarded-for", format!("10.0.0.{i}"))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        if answer.status() == 429 {
            assert!(answer.headers().contains_key("retry-after"));
            let body: serde_json::Value = answer.json().await.unwrap();
            assert_eq!(error_code(&body), "RATE_LIMITED");
            limited += 1;
        }
    }
    assert_eq!(limited, 5, "the sixth anonymous request on is refused");
    // Refused tokens count against the same address, before any lookup.
    let answer = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth("bstk_not-a-real-key")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    // A signed-in user has their own limit, untouched by the address's, once
    // their credential is known to this process (a token it must look up waits
    // while the address is over its limit: that lookup is what a guesser costs).
    app.ok(Some(&known_key), query, json!({})).await;
    let (_, unknown_key) = app.customer("signed-in@example.com").await;
    let answer = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&unknown_key)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);

    // Behind a trusted proxy, each forwarded client has its own bucket.
    let app = TestApp::spawn_with(|c| {
        c.server.anonymous_rate_limit_per_minute = 1;
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for i in 0..5 {
        let answer = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "client {i}");
    }
}

/// A TCP connection from `source` (any 127.x address is this machine) to the app.
async fn connect_from(app: &TestApp, source: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(source), 0).into())
        .unwrap();
    let address = app.base_url.trim_start_matches("http://").parse().unwrap();
    socket.connect(address).await.unwrap()
}

/// Whether the server has closed the connection (reads end-of-file) within `wait`.
async fn closed_within(stream: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// How many of `streams` the server closes within 300 ms (watched all at once).
async fn closed_at_once(streams: &mut [tokio::net::TcpStream]) -> usize {
    let watches = streams
        .iter_mut()
        .map(|stream| closed_within(stream, Duration::from_millis(300)));
    futures_util::future::join_all(watches)
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count()
}

async fn healthz_from(app: &TestApp, source: [u8; 4]) -> reqwest::StatusCode {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .expect("healthz answers")
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connection_floods_are_capped_and_timed_out() {
    let app = TestApp::spawn_with(|c| {
        c.server.max_connections_per_ip = 20;
        c.server.max_connections = 60;
        c.server.header_read_timeout = Duration::from_secs(2);
        c.server.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    // One address opens 100 connections and sends nothing: 20 are held, the other
    // 80 are closed as soon as they are accepted.
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(connect_from(&app, [127, 0, 0, 1]).await);
    }
    let refused = closed_at_once(&mut flood).await;
    assert_eq!(refused, 80, "past 20 connections from one address, refused");
    // Everyone else still gets in meanwhile.
    assert_eq!(healthz_from(&app, [127, 0, 0, 2]).await, 200);
    // The idle ones are closed once they have not sent headers in time.
    let started = std::time::Instant::now();
    for stream in &mut flood {
        assert!(closed_within(stream, Duration::from_secs(4)).await);
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        healthz_from(&app, [127, 0, 0, 1]).await,
        200,
        "the address is let in again"
    );

    // An idle keep-alive connection is closed after the same timeout.
    {
        use tokio::io::AsyncWriteExt;
        let mut stream = connect_from(&app, [127, 0, 0, 3]).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: booster\r\n\r\n")
            .await
            .unwrap();
        assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
    }

    // A body that stalls is answered 408 and its connection let go.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = connect_from(&app, [127, 0, 0, 4]).await;
        stream
            .write_all(b"POST /graphql HTTP/1.1\r\nhost: booster\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"query\"")
            .await
            .unwrap();
        let mut answer = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .expect("answered in time")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }

    // The total cap holds over many addresses: 60 in all.
    let mut spread = Vec::new();
    for i in 0..70u8 {
        spread.push(connect_from(&app, [127, 0, 1, i]).await);
    }
    let refused = closed_at_once(&mut spread).await;
    assert_eq!(refused, 10, "past 60 connections in all, refused");
}
