//! Test harness: a fresh PostgreSQL database per test, the real HTTP server on an
//! ephemeral 127.0.0.1 port, and fake upstream services (Google's key endpoint).
//! Each test's database is a copy of a template migrated once (see `test_db`).
#![allow(dead_code)]

pub mod fake_chats;
pub mod fake_gateways;
pub mod fake_medanpedia;
pub mod fake_moota;
pub mod fake_provider;
pub mod smtp_sink;
pub mod sockets;
pub mod test_db;
pub mod web;
pub mod webhook_receiver;

use std::time::Duration;

use booster::{
    app::AppState,
    auth,
    config::{AuthConfig, Config, PaymentsConfig, Secret, UpstreamConfig},
    db::{self, enums::Role},
    domain::accounts,
};
use serde_json::{Value, json};

pub use test_db::TestDb;

pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const GOOGLE_CLIENT_ID: &str = "booster-test.apps.googleusercontent.com";

/// Serves the fixture JWKS on 127.0.0.1, as Google serves its keys.
pub async fn fake_google_jwks() -> String {
    let jwks: Value = serde_json::from_str(include_str!("../fixtures/google-jwks.json")).unwrap();
    let app = axum::Router::new().route(
        "/oauth2/v3/certs",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move {
                (
                    [("cache-control", "public, max-age=3600")],
                    axum::Json(jwks),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/oauth2/v3/certs")
}

/// The local configuration (`Config::local`) with the fake Google keys at
/// `jwks_url`, no rate limit, both gateways configured but unreachable, and
/// the upstream jobs paced for tests (short intervals, timeouts and backoff).
pub fn test_config(database_url: &str, jwks_url: &str) -> Config {
    let mut config = Config::local(database_url);
    config.database.pool_size = 8;
    config.server.rate_limit_per_minute = 0;
    config.server.api_v2_rate_limit_per_minute = 0;
    config.auth = AuthConfig {
        session_ttl: Duration::from_secs(3600),
        google_client_id: Some(GOOGLE_CLIENT_ID.into()),
        google_jwks_url: jwks_url.to_string(),
        ..config.auth
    };
    // Cheap password hashes: the suite signs in often (the cost is a setting).
    config.accounts.password_hash_memory_kib = 1024;
    config.accounts.password_hash_iterations = 1;
    config.payments = test_payments_config(UNREACHABLE_URL);
    config.upstream = UpstreamConfig {
        dispatch_interval: Duration::from_millis(100),
        dispatch_retry: Duration::from_secs(1),
        status_sync_interval: Duration::from_secs(1),
        status_sync_lease: Duration::from_secs(0),
        health_interval: Duration::from_secs(60),
        provider_timeout: Duration::from_secs(2),
        provider_retry_backoff: Duration::from_millis(10),
        ..config.upstream
    };
    config
}

/// A URL nothing listens on (the discard port): calls fail with "connection refused".
pub const UNREACHABLE_URL: &str = "http://127.0.0.1:9";
pub const MIDTRANS_SERVER_KEY: &str = "SB-Mid-server-test-key";
pub const XENDIT_SECRET_KEY: &str = "xnd_development_test_key";
pub const XENDIT_CALLBACK_TOKEN: &str = "xendit-callback-token-test";

/// Both gateways configured, both at `base_url` (see `fake_gateways`); reconciliation
/// considers every pending deposit at once and is not run in the background.
pub fn test_payments_config(base_url: &str) -> PaymentsConfig {
    PaymentsConfig {
        midtrans_server_key: Some(Secret(MIDTRANS_SERVER_KEY.into())),
        midtrans_snap_url: base_url.to_string(),
        midtrans_api_url: base_url.to_string(),
        xendit_secret_key: Some(Secret(XENDIT_SECRET_KEY.into())),
        xendit_callback_token: Some(Secret(XENDIT_CALLBACK_TOKEN.into())),
        xendit_api_url: base_url.to_string(),
        gateway_timeout: Duration::from_secs(5),
        reconcile_after: Duration::ZERO,
        // Limits and expiry as in local runs.
        ..Config::local(ADMIN_URL).payments
    }
}

/// The real server on an ephemeral port, against its own database.
pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub base_url: String,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new().await;
        let jwks_url = fake_google_jwks().await;
        let mut config = test_config(&db.url, &jwks_url);
        adjust(&mut config);
        let state = AppState::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = state.clone();
        tokio::spawn(async move { booster::http::serve(served, listener).await.unwrap() });
        TestApp {
            db,
            state,
            base_url: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    /// Runs a GraphQL operation over HTTP and returns the whole JSON answer.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.json().await.expect("JSON answer")
    }

    /// POSTs `body` as it is (a persisted query request, say) anonymously and
    /// returns the JSON answer, whatever its status.
    pub async fn gql_request(&self, body: Value) -> Value {
        self.http
            .post(format!("{}/graphql", self.base_url))
            .json(&body)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON answer")
    }

    /// A query without variables, signed in with `token`: its `data` (panics on errors).
    pub async fn read(&self, token: &str, query: &str) -> Value {
        self.ok(Some(token), query, json!({})).await
    }

    /// Like `gql`, but panics on GraphQL errors and returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let answer = self.gql(token, query, variables).await;
        assert!(
            answer.get("errors").is_none(),
            "unexpected errors: {answer:#}"
        );
        answer["data"].clone()
    }

    /// A user with an API key, created directly through the domain.
    pub async fn user(&self, email: &str, role: Role) -> (i64, String) {
        let mut conn = self.state.pool.get().await.unwrap();
        let user = accounts::create_user(&mut conn, email, "", role)
            .await
            .unwrap();
        let (_, key) = auth::create_api_key(&mut conn, user.id, "test")
            .await
            .unwrap();
        (user.id, key)
    }

    pub async fn admin(&self) -> String {
        self.user("admin@example.com", Role::Owner).await.1
    }

    pub async fn customer(&self, email: &str) -> (i64, String) {
        self.user(email, Role::Customer).await
    }

    /// A customer whose balance is credited with `amount` (see `fund`).
    pub async fn funded_customer(&self, email: &str, amount: i64) -> (i64, String) {
        let (id, key) = self.customer(email).await;
        fund(self, id, amount).await;
        (id, key)
    }

    pub async fn conn(&self) -> db::PooledConn {
        self.state.pool.get().await.unwrap()
    }

    /// The server with both payment gateways pointed at a fresh fake.
    pub async fn spawn_with_gateways() -> (TestApp, fake_gateways::FakeGateways) {
        let fake = fake_gateways::FakeGateways::start().await;
        let url = fake.url.clone();
        let app = Self::spawn_with(|config| config.payments = test_payments_config(&url)).await;
        (app, fake)
    }

    /// POSTs a JSON body to a plain HTTP path (webhooks), with extra headers.
    pub async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// The books must balance after every test: `wallet::audit` finds nothing.
    pub async fn assert_books_balanced(&self) {
        let mut conn = self.conn().await;
        let mismatches = booster::domain::wallet::audit(&mut conn).await.unwrap();
        assert!(
            mismatches.is_empty(),
            "ledger and balances disagree: {mismatches:?}"
        );
    }

    /// Starts a deposit through GraphQL; returns the deposit's JSON (id, status,
    /// merchantReference, paymentUrl, snapToken, amount, gateway).
    pub async fn create_deposit(&self, token: &str, amount: i64, gateway: &str) -> Value {
        let data = self
            .ok(
                Some(token),
                "mutation($a: Rupiah!, $g: PaymentGateway!) { createDeposit(amount: $a, gateway: $g) { id status amount gateway merchantReference paymentUrl snapToken expiresAt } }",
                json!({ "a": amount, "g": gateway }),
            )
            .await;
        data["createDeposit"].clone()
    }

    /// Starts a deposit through GraphQL; returns its merchant reference (the
    /// gateway's order id or external id).
    pub async fn deposit_reference(&self, token: &str, amount: i64, gateway: &str) -> String {
        self.create_deposit(token, amount, gateway).await["merchantReference"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A GraphQL multipart request (the upload spec) with one file bound to the
    /// variable `$file`; returns the whole JSON answer.
    pub async fn upload(
        &self,
        token: &str,
        query: &str,
        mut variables: Value,
        file: (&str, &str, Vec<u8>),
    ) -> Value {
        let (name, mime, bytes) = file;
        variables["file"] = Value::Null;
        let operations = json!({ "query": query, "variables": variables });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", json!({ "0": ["variables.file"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(name.to_string())
                    .mime_str(mime)
                    .unwrap(),
            );
        let response = self
            .http
            .post(format!("{}/graphql", self.base_url))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// GETs a plain HTTP path (feeds, exports), signed in with `token` if given; returns the body.
    pub async fn get_text(&self, path: &str, token: Option<&str>) -> String {
        let mut request = self.http.get(format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().text().await.unwrap()
    }

    /// Waits until the process's caches fill (they do only while the LISTEN
    /// connection is up).
    pub async fn caches_live(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.state.caches.is_live() {
            assert!(
                std::time::Instant::now() < deadline,
                "the event listener never connected"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The SQL statements the server ran while `request` ran, and its answer.
    pub async fn statements_of<T>(&self, request: impl Future<Output = T>) -> (u64, T) {
        let before = self.state.query_counter.get();
        let answer = request.await;
        (self.state.query_counter.get() - before, answer)
    }

    /// Places an order through GraphQL (see `order_input`); returns its id.
    pub async fn place(&self, key: &str, input: Value) -> String {
        self.ok(Some(key), PLACE_ORDER, input).await["placeOrder"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Places `input` through GraphQL; returns what the order charged.
    pub async fn charge_of(&self, key: &str, input: Value) -> Value {
        let query = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { charge } }";
        self.ok(Some(key), query, input).await["placeOrder"]["charge"].clone()
    }

    /// Places a mass order (`service|link|quantity` lines); returns its total charge.
    pub async fn mass_charge(&self, key: &str, text: &str) -> Value {
        let query = "mutation($input: PlaceMassOrderInput!) { placeMassOrder(input: $input) { totalCharge } }";
        let data = self
            .ok(Some(key), query, json!({ "input": { "text": text } }))
            .await;
        data["placeMassOrder"]["totalCharge"].clone()
    }

    /// A user's balance, read from the database.
    pub async fn balance(&self, user_id: i64) -> i64 {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await;
        db::schema::users::table
            .find(user_id)
            .select(db::schema::users::balance)
            .first(&mut conn)
            .await
            .unwrap()
    }
}

/// Places an order and returns only its id.
pub const PLACE_ORDER: &str =
    "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }";

/// The `placeOrder` variables: `quantity` of `service` for `link`.
pub fn order_input(service: i64, link: &str, quantity: i64) -> Value {
    json!({ "input": { "serviceId": service.to_string(), "link": link, "quantity": quantity } })
}

/// The number a `count()` query returns, on a fresh connection.
pub async fn count_of<'q, Q>(app: &TestApp, query: Q) -> i64
where
    Q: diesel_async::methods::LoadQuery<'q, diesel_async::AsyncPgConnection, i64> + Send + 'q,
{
    use diesel_async::RunQueryDsl;
    query.get_result(&mut *app.conn().await).await.unwrap()
}

/// The `extensions.code` of the first error in a GraphQL answer.
/// Sends `request` and reads its answer as JSON.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Sends `request` and returns its HTTP status.
pub async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

pub fn error_code(answer: &Value) -> String {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {answer:#}"))
        .to_string()
}

pub fn error_field(answer: &Value) -> String {
    answer["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Asserts that `answer` failed with a VALIDATION error on `field`.
#[track_caller]
pub fn assert_invalid(answer: &Value, field: &str) {
    assert_eq!(
        (error_code(answer), error_field(answer)),
        ("VALIDATION".to_string(), field.to_string())
    );
}

/// Signs a Google-style ID token with the fixture key (or another key).
pub fn google_token(claims: Value, key_pem: &str, kid: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

pub const TEST_KEY: &str = include_str!("../fixtures/google-test-key.pem");
pub const OTHER_KEY: &str = include_str!("../fixtures/other-key.pem");

pub fn google_claims(sub: &str, email: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "https://accounts.google.com",
        "aud": GOOGLE_CLIENT_ID,
        "sub": sub,
        "email": email,
        "email_verified": true,
        "name": "Test User",
        "iat": now,
        "exp": now + 3600,
    })
}

/// Credits a balance through the wallet (an ADJUSTMENT entry), as an admin would.
pub async fn fund(app: &TestApp, user_id: i64, amount: i64) {
    use booster::{db::enums::LedgerKind, domain::wallet};
    let mut conn = app.conn().await;
    let reference = wallet::LedgerRef {
        note: "test funding".into(),
        ..Default::default()
    };
    let funding = wallet::Credit {
        user_id,
        amount,
        kind: LedgerKind::Adjustment,
        reference,
    };
    wallet::credit(&mut conn, funding).await.unwrap();
}

/// Registers an active API v2 provider billing in rupiah; returns its id.
pub async fn api_v2_provider(app: &TestApp, name: &str, base_url: &str, api_key: &str) -> i64 {
    use booster::domain::catalog;
    let input = catalog::ProviderInput::api_v2(name, base_url, api_key);
    catalog::create_provider(&mut *app.conn().await, &app.state.secrets, input)
        .await
        .unwrap()
        .id
}

/// A fake API v2 provider, registered as `name`; returns it with its provider id.
pub async fn registered_fake(app: &TestApp, name: &str) -> (fake_provider::FakeProvider, i64) {
    let fake = fake_provider::FakeProvider::start().await;
    let id = api_v2_provider(app, name, &fake.url, fake_provider::KEY).await;
    (fake, id)
}

/// A service fulfilled by `provider_id` as its remote service `remote_id`.
pub async fn provider_service(app: &TestApp, provider_id: i64, remote_id: &str) -> i64 {
    service_with(
        app,
        booster::db::enums::Fulfillment::Provider,
        10_000,
        10,
        100_000,
        |s| {
            s.provider_id = Some(provider_id);
            s.provider_service_id = Some(remote_id.into());
        },
    )
    .await
}

/// A registered fake provider `name` and a service of its remote service "101":
/// (fake, provider id, service id).
pub async fn fake_provider_service(
    app: &TestApp,
    name: &str,
) -> (fake_provider::FakeProvider, i64, i64) {
    let (fake, provider) = registered_fake(app, name).await;
    let service = provider_service(app, provider, "101").await;
    (fake, provider, service)
}

/// Creates a category and a service directly; returns the service id.
pub async fn service(
    app: &TestApp,
    fulfillment: booster::db::enums::Fulfillment,
    price_per_1000: i64,
    min: i64,
    max: i64,
) -> i64 {
    service_with(app, fulfillment, price_per_1000, min, max, |_| {}).await
}

pub async fn service_with(
    app: &TestApp,
    fulfillment: booster::db::enums::Fulfillment,
    price_per_1000: i64,
    min: i64,
    max: i64,
    adjust: impl FnOnce(&mut booster::db::services::NewService),
) -> i64 {
    use booster::db::{
        enums::*,
        schema::{service_categories, services},
        services::NewService,
    };
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.conn().await;
    let category: i64 = diesel::insert_into(service_categories::table)
        .values(service_categories::name.eq(format!("cat-{}", uuid::Uuid::new_v4())))
        .returning(service_categories::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    let provider_id = if fulfillment == Fulfillment::Provider {
        let name = format!("provider-{}", uuid::Uuid::new_v4());
        Some(api_v2_provider(app, &name, "https://provider.example/api/v2", "k").await)
    } else {
        None
    };
    let mut row = NewService {
        category_id: category,
        name: "Twitter followers".into(),
        description: String::new(),
        platform: Platform::Twitter,
        service_type: ServiceType::Default,
        provider_id,
        provider_service_id: provider_id.map(|_| "1".to_string()),
        provider_rate: provider_id.map(|_| 1.into()),
        markup_bps: None,
        fulfillment,
        price_per_1000,
        min_quantity: min,
        max_quantity: max,
        quantity_step: 1,
        refill: true,
        cancel: true,
        dripfeed: true,
        active: true,
        sort_order: 0,
    };
    adjust(&mut row);
    // Tests place many orders on one link; the same-link guard (on by default)
    // has tests of its own, on services that keep it.
    diesel::insert_into(services::table)
        .values((&row, services::same_link_guard.eq(false)))
        .returning(services::id)
        .get_result(&mut conn)
        .await
        .unwrap()
}
