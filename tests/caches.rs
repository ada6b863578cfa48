//! The caches of credentials and the catalogue (`booster::cache`): what they
//! save (statements per request on the order path and the storefront) and that
//! they never answer with something a committed change has superseded, whether
//! the change came through this process's API (at once) or from elsewhere, such
//! as another process or psql (as soon as PostgreSQL's notice arrives).

mod common;

use std::time::{Duration, Instant};

use booster::db::{
    enums::Fulfillment,
    schema::{api_keys, services, users},
};
use common::{TestApp, count_of, error_code, order_input, service};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const PLACE: &str =
    "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id charge status } }";
const PAGE: &str = "{ services(first: 20) { totalCount edges { node { id name pricePer1000 category { name } } } } }";

/// Retries `check` until it holds, for changes announced by PostgreSQL's notice.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The answer's error code, or "" when it succeeded.
fn code_of(answer: &Value) -> String {
    if answer.get("errors").is_some() {
        error_code(answer)
    } else {
        String::new()
    }
}

const LINK: &str = "https://x.com/a";

#[tokio::test]
async fn a_known_key_ordering_a_known_service_costs_one_statement() {
    let app = TestApp::spawn().await;
    app.caches_live().await;
    let (user_id, key) = app.funded_customer("buyer@example.com", 1_000_000).await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 100_000).await;
    let mut events = app.state.events.subscribe();
    app.ok(Some(&key), PLACE, order_input(service, LINK, 1000))
        .await;
    // The first order's event is loaded before counting starts.
    events.recv().await.unwrap();

    let (statements, answer) = app
        .statements_of(async {
            let answer = app
                .gql(Some(&key), PLACE, order_input(service, LINK, 1000))
                .await;
            // This process's listener loads the event it was notified of: one
            // statement per burst of notifications, not per request.
            tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("the order's event")
                .unwrap();
            answer
        })
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["data"]["placeOrder"]["charge"], 10_000);
    // Credential and service from the caches; the order, debit, ledger row,
    // history row and event in one statement (plus the listener's load).
    assert_eq!(statements, 1 + 1, "statements for one placeOrder");
    assert_eq!(app.balance(user_id).await, 1_000_000 - 2 * 10_000);
    app.assert_books_balanced().await;

    // A short balance is still refused with what there is, and writes nothing.
    let (poor, poor_key) = app.funded_customer("poor@example.com", 5_000).await;
    let answer = app
        .gql(Some(&poor_key), PLACE, order_input(service, LINK, 1000))
        .await;
    assert_eq!(error_code(&answer), "INSUFFICIENT_BALANCE");
    assert_eq!(app.balance(poor).await, 5_000);
    let orders = count_of(
        &app,
        booster::db::schema::orders::table
            .filter(booster::db::schema::orders::user_id.eq(poor))
            .count(),
    )
    .await;
    assert_eq!(orders, 0);

    // A retry with the same key is the same order, charged once.
    let mut input = order_input(service, LINK, 1000);
    input["input"]["idempotencyKey"] = json!("k-1");
    let first = app.ok(Some(&key), PLACE, input.clone()).await;
    let again = app.ok(Some(&key), PLACE, input).await;
    assert_eq!(first["placeOrder"]["id"], again["placeOrder"]["id"]);
    assert_eq!(app.balance(user_id).await, 1_000_000 - 3 * 10_000);
    app.assert_books_balanced().await;
}

#[tokio::test]
async fn the_storefront_page_is_served_from_the_cache_until_the_catalogue_changes() {
    let app = TestApp::spawn().await;
    app.caches_live().await;
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 100_000).await;
    let first = app.ok(None, PAGE, json!({})).await;
    assert_eq!(first["services"]["totalCount"], 1);

    // The notices of the setup's own inserts may still empty the cache once.
    eventually("a page served without a statement", async || {
        let (statements, again) = app.statements_of(app.ok(None, PAGE, json!({}))).await;
        assert_eq!(again, first);
        statements == 0
    })
    .await;

    // An admin's change through the API shows at once.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminUpdateService(id: $id, input: { name: \"Renamed\", pricePer1000: 12000 }) { id } }",
        json!({ "id": service }),
    )
    .await;
    let page = app.ok(None, PAGE, json!({})).await;
    let node = &page["services"]["edges"][0]["node"];
    assert_eq!(
        (node["name"].as_str(), node["pricePer1000"].as_i64()),
        (Some("Renamed"), Some(12_000))
    );
    let (_, key) = app.funded_customer("buyer@example.com", 1_000_000).await;
    let order = app
        .ok(Some(&key), PLACE, order_input(service, LINK, 1000))
        .await;
    assert_eq!(order["placeOrder"]["charge"], 12_000);
    // The notice of the admin's own change may arrive only now and empty the
    // caches: wait until the page is cached again, so that the new page below can
    // only come from the outside change's notice (which empties the services
    // cache first).
    let cached = app.ok(None, PAGE, json!({})).await;
    eventually("the renamed page served without a statement", async || {
        let (statements, again) = app.statements_of(app.ok(None, PAGE, json!({}))).await;
        assert_eq!(again, cached);
        statements == 0
    })
    .await;

    // A change from elsewhere (another process, psql) shows once its notice
    // arrives, on the page and in what an order is charged.
    diesel::update(services::table.find(service))
        .set((
            services::price_per_1000.eq(15_000),
            services::name.eq("Outside"),
        ))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    eventually("the page showing the outside change", async || {
        let page = app.ok(None, PAGE, json!({})).await;
        page["services"]["edges"][0]["node"]["name"] == "Outside"
    })
    .await;
    let order = app
        .ok(Some(&key), PLACE, order_input(service, LINK, 1000))
        .await;
    assert_eq!(order["placeOrder"]["charge"], 15_000);

    // Deactivated from elsewhere: gone from the page, and refused.
    diesel::update(services::table.find(service))
        .set(services::active.eq(false))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    eventually("the page dropping the service", async || {
        app.ok(None, PAGE, json!({})).await["services"]["totalCount"] == 0
    })
    .await;
    let refused = app
        .gql(Some(&key), PLACE, order_input(service, LINK, 1000))
        .await;
    assert_eq!(error_code(&refused), "VALIDATION", "{refused}");
}

#[tokio::test]
async fn a_cached_credential_stops_working_when_it_is_revoked_banned_or_demoted() {
    let app = TestApp::spawn().await;
    app.caches_live().await;
    let admin = app.admin().await;
    let me = "{ me { id balance } }";

    // Revoked through the API: refused on the very next request.
    let (user_id, key) = app.funded_customer("buyer@example.com", 50_000).await;
    let data = app.ok(Some(&key), me, json!({})).await;
    assert_eq!(data["me"]["balance"], 50_000);
    let keys = app.read(&key, "{ myApiKeys { id } }").await;
    let key_id = keys["myApiKeys"][0]["id"].clone();
    app.ok(
        Some(&key),
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({ "id": key_id }),
    )
    .await;
    assert_eq!(
        error_code(&app.gql(Some(&key), me, json!({})).await),
        "UNAUTHENTICATED"
    );

    // Banned by an admin through the API: refused on the next request.
    let (other, other_key) = app.funded_customer("other@example.com", 50_000).await;
    app.ok(Some(&other_key), me, json!({})).await;
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminBanUser(userId: $id, reason: \"fraud\") { id } }",
        json!({ "id": other }),
    )
    .await;
    assert_eq!(
        error_code(&app.gql(Some(&other_key), me, json!({})).await),
        "FORBIDDEN"
    );

    // Changed from elsewhere: the notice takes the cached credential away.
    let (third, third_key) = app.funded_customer("third@example.com", 50_000).await;
    app.ok(Some(&third_key), me, json!({})).await;
    diesel::update(api_keys::table.filter(api_keys::user_id.eq(third)))
        .set(api_keys::revoked_at.eq(diesel::dsl::now))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    eventually("the revoked key being refused", async || {
        code_of(&app.gql(Some(&third_key), me, json!({})).await) == "UNAUTHENTICATED"
    })
    .await;

    // An admin demoted from elsewhere loses admin access.
    let admin_query = "{ adminUsers(first: 1) { totalCount } }";
    app.ok(Some(&admin), admin_query, json!({})).await;
    diesel::update(users::table.filter(users::email.eq("admin@example.com")))
        .set(users::role.eq("CUSTOMER"))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    eventually("the demoted admin being refused", async || {
        code_of(&app.gql(Some(&admin), admin_query, json!({})).await) == "FORBIDDEN"
    })
    .await;

    // A balance change does not empty the cache, yet `me` shows the balance now.
    let _ = user_id;
    let (fourth, fourth_key) = app.funded_customer("fourth@example.com", 50_000).await;
    app.ok(Some(&fourth_key), me, json!({})).await;
    common::fund(&app, fourth, 25_000).await;
    assert_eq!(
        app.ok(Some(&fourth_key), me, json!({})).await["me"]["balance"],
        75_000
    );
}
