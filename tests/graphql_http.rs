//! GraphQL over HTTP from outside: the reference audit suite, persisted queries in
//! the protocol Apollo Client and urql speak, who may cache an answer, and the
//! anonymous allow-list.

mod common;

use booster::{db::enums::Fulfillment, graphql::persisted::sha256_hex};
use common::*;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

const STOREFRONT: &str =
    "query Storefront { services(first: 20) { nodes { id name pricePer1000 } } }";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// A GET of `/graphql` with `params` in its query string.
async fn get(app: &TestApp, params: &[(&str, String)], token: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{}/graphql", app.base_url))
        .query(params);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn cache_control(response: &reqwest::Response) -> String {
    response.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_graphql_over_http_audit_reports_no_error_and_no_warning() {
    // The audit asks `__type` of an anonymous caller: introspection is a setting,
    // on here as on a public API that allows it.
    let app = TestApp::spawn_with(|c| c.server.graphql_anonymous_introspection = true).await;
    let url = format!("{}/graphql", app.base_url);
    let output = web::run_node("audit.mjs", &[&url]).await;
    println!("{output}");
    let summary: Value = serde_json::from_str(output.lines().last().unwrap()).unwrap();
    let not_ok: Vec<&str> = output.lines().filter(|l| !l.starts_with("OK ")).collect();
    assert!(summary["ok"].as_u64().unwrap() >= 50, "{output}");
    assert_eq!(summary["error"], 0, "{not_ok:#?}");
    assert_eq!(summary["warn"], 0, "{not_ok:#?}");
}

#[tokio::test]
async fn persisted_queries_follow_the_apollo_protocol_over_post_and_get() {
    let app = TestApp::spawn().await;
    service(&app, Fulfillment::Manual, 5_000, 10, 1_000).await;
    let hash = sha256_hex(STOREFRONT);

    // The hash alone: not known yet.
    let unknown = app
        .gql_request(json!({ "extensions": persisted(&hash) }))
        .await;
    assert_eq!(
        error_code(&unknown),
        "PERSISTED_QUERY_NOT_FOUND",
        "{unknown}"
    );
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");

    // Someone else's query filed under this hash is refused and not remembered.
    let forged = app
        .gql_request(json!({ "query": "{ me { id } }", "extensions": persisted(&hash) }))
        .await;
    assert_eq!(error_code(&forged), "BAD_REQUEST", "{forged}");

    // The query with its hash runs and is remembered.
    let registered = app
        .gql_request(json!({ "query": STOREFRONT, "extensions": persisted(&hash) }))
        .await;
    assert_eq!(
        registered["data"]["services"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // From now on the hash alone, over GET as a CDN would see it: a cacheable answer.
    let answer = get(&app, &[("extensions", persisted(&hash).to_string())], None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(cache_control(&answer), "public, max-age=60");
    let vary = answer.headers()[header::VARY].to_str().unwrap().to_string();
    assert!(vary.contains("Authorization"), "{vary}");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["data"], registered["data"]);

    // A mutation is never run over GET.
    let mutation = get(&app, &[("query", "mutation { signOut }".to_string())], None).await;
    assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(mutation.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn a_signed_in_or_personal_answer_is_never_marked_cacheable() {
    let app = TestApp::spawn().await;
    service(&app, Fulfillment::Manual, 5_000, 10, 1_000).await;
    let (_, key) = app.customer("buyer@example.com").await;
    let storefront = [("query", STOREFRONT.to_string())];

    let anonymous = get(&app, &storefront, None).await;
    assert_eq!(cache_control(&anonymous), "public, max-age=60");
    // What a sign-in page needs is public too.
    let google = get(&app, &[("query", "{ googleClientId }".to_string())], None).await;
    assert_eq!(cache_control(&google), "public, max-age=60");
    let body: Value = google.json().await.unwrap();
    assert_eq!(
        body["data"]["googleClientId"].as_str(),
        app.state.config.auth.google_client_id.as_deref()
    );

    // The same public query signed in: private (a customer level may price it).
    let signed_in = get(&app, &storefront, Some(&key)).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(cache_control(&signed_in), "private, no-store");
    let posted = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&key)
        .json(&json!({ "query": STOREFRONT }))
        .send()
        .await
        .unwrap();
    assert_eq!(cache_control(&posted), "private, no-store");

    // A public field beside one without a hint, an answer with errors, a query with
    // no hinted field: nothing to keep.
    for query in [
        "{ services(first: 1) { nodes { id } } me { id } }",
        "{ services(first: 1) { nodes { id } } myOrders(first: 1) { nodes { id } } }",
        "{ __typename }",
        "{ services(first: -1) { nodes { id } } }",
    ] {
        let answer = get(&app, &[("query", query.to_string())], None).await;
        assert_eq!(cache_control(&answer), "no-store", "{query}");
    }
}

#[tokio::test]
async fn request_errors_follow_the_media_type_the_client_accepts() {
    let app = TestApp::spawn().await;
    let post = |accept: &'static str, body: &'static str| {
        app.http
            .post(format!("{}/graphql", app.base_url))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, accept)
            .body(body)
            .send()
    };
    // A document that does not validate: 200 with errors in the legacy type, 400
    // without `data` in the new one.
    let legacy = post("application/json", r#"{"query": "{ noSuchField }"}"#)
        .await
        .unwrap();
    assert_eq!(legacy.status(), StatusCode::OK);
    assert!(
        legacy.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let strict = post(GRAPHQL_RESPONSE, r#"{"query": "{ noSuchField }"}"#)
        .await
        .unwrap();
    assert_eq!(strict.status(), StatusCode::BAD_REQUEST);
    assert!(
        strict.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(GRAPHQL_RESPONSE)
    );
    let body: Value = strict.json().await.unwrap();
    assert!(body.get("data").is_none(), "{body}");
    assert!(body["errors"][0]["message"].is_string());
    // Malformed requests are 400 in both; an unacceptable media type is 406; a POST
    // without a JSON content type is 415.
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let broken = post(accept, r#"{"query": 1}"#).await.unwrap();
        assert_eq!(broken.status(), StatusCode::BAD_REQUEST, "{accept}");
        let body: Value = broken.json().await.unwrap();
        assert_eq!(error_code(&body), "BAD_REQUEST");
    }
    let refused = post("text/plain", r#"{"query": "{ __typename }"}"#)
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
    let untyped = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .body(r#"{"query": "{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn the_allow_list_holds_anonymous_callers_to_the_manifest() {
    let manifest_dir = tempfile_dir();
    let manifest = manifest_dir.join("operations.json");
    let manifest_text = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{ "id": sha256_hex(STOREFRONT), "name": "Storefront", "type": "query", "body": STOREFRONT }]
    });
    std::fs::write(&manifest, manifest_text.to_string()).unwrap();
    let path = manifest.clone();
    let app = TestApp::spawn_with(move |c| {
        c.persisted_queries.manifest = Some(path);
        c.persisted_queries.anonymous_allow_list = true;
    })
    .await;
    service(&app, Fulfillment::Manual, 5_000, 10, 1_000).await;

    // The manifest's operation, by hash alone, known from the start.
    let known = get(
        &app,
        &[("extensions", persisted(&sha256_hex(STOREFRONT)).to_string())],
        None,
    )
    .await;
    assert_eq!(known.status(), StatusCode::OK);
    let body: Value = known.json().await.unwrap();
    assert_eq!(
        body["data"]["services"]["nodes"].as_array().unwrap().len(),
        1
    );

    // Anything else from an anonymous caller is refused, with or without a hash.
    let other = "{ categories { id } }";
    for request in [
        json!({ "query": other }),
        json!({ "query": other, "extensions": persisted(&sha256_hex(other)) }),
        json!({ "extensions": persisted(&sha256_hex(other)) }),
    ] {
        let answer = app
            .http
            .post(format!("{}/graphql", app.base_url))
            .header(header::ACCEPT, GRAPHQL_RESPONSE)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{request}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_IN_LIST", "{body}");
    }

    // A signed-in caller is held by its credential instead.
    let (_, key) = app.customer("buyer@example.com").await;
    let data = app.ok(Some(&key), other, json!({})).await;
    assert!(data["categories"].is_array());

    // A manifest whose id is not its body's hash stops the start.
    let forged = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{ "id": sha256_hex(STOREFRONT), "body": "{ me { id } }" }]
    });
    std::fs::write(&manifest, forged.to_string()).unwrap();
    let config = booster::config::PersistedQueriesConfig {
        manifest: Some(manifest),
        anonymous_allow_list: true,
        ..Default::default()
    };
    let refused = booster::graphql::persisted::PersistedQueries::load(&config);
    assert!(refused.is_err());
    assert!(!format!("{:#}", refused.err().unwrap()).contains("me { id }"));
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("booster-manifest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
