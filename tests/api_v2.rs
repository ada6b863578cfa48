//! `/api/v2`: booster as a provider, as reseller software sees it.

mod common;

use booster::db::enums::{Fulfillment, ServiceType};
use common::*;
use serde_json::{Value, json};

/// One form-encoded POST to `/api/v2`.
async fn call(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/api/v2", app.base_url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn ok(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let (status, answer) = call(app, form).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("error").is_none(), "{form:?}: {answer}");
    answer
}

/// `ok` for an action that takes one argument besides the key.
async fn ok_one(app: &TestApp, key: &str, action: &str, argument: (&str, &str)) -> Value {
    ok(app, &[("key", key), ("action", action), argument]).await
}

async fn error(app: &TestApp, form: &[(&str, &str)]) -> String {
    let (status, answer) = call(app, form).await;
    assert_eq!(status, 200, "logical errors are HTTP 200: {answer}");
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error for {form:?}: {answer}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_answers_in_the_api_v2_shapes() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 15_000, 100, 10_000).await;
    let (user, key) = app.funded_customer("reseller@example.com", 100_000).await;
    let key = key.as_str();

    // services: ids as integers, rate/min/max as strings, the API v2 type label.
    let services = ok(&app, &[("key", key), ("action", "services")]).await;
    let listed = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .expect("the service is listed");
    assert_eq!(listed["rate"], "15000.00");
    assert_eq!(listed["min"], "100");
    assert_eq!(listed["max"], "10000");
    assert_eq!(listed["type"], "Default");
    assert!(listed["category"].is_string() && listed["refill"].is_boolean());

    // add, then status of one and of many.
    let service_text = service.to_string();
    let add = [
        ("key", key),
        ("action", "add"),
        ("service", service_text.as_str()),
        ("link", "https://x.com/booster/status/1"),
        ("quantity", "1000"),
    ];
    let placed = ok(&app, &add).await;
    let order = placed["order"].as_i64().expect("order id as an integer");
    assert_eq!(app.balance(user).await, 85_000, "charged like GraphQL");
    let order_text = order.to_string();
    let one = ok_one(&app, key, "status", ("order", &order_text)).await;
    assert_eq!(
        one,
        json!({ "charge": "15000.00", "start_count": "0", "status": "Pending", "remains": "1000", "currency": "IDR" })
    );

    let (_, stranger_key) = app.funded_customer("stranger@example.com", 100_000).await;
    let stranger_order = ok(
        &app,
        &[
            ("key", stranger_key.as_str()),
            ("action", "add"),
            ("service", service_text.as_str()),
            ("link", "https://x.com/other/status/2"),
            ("quantity", "100"),
        ],
    )
    .await["order"]
        .to_string();
    let orders = format!("{stranger_order},abc,{order},999999");
    let many = ok_one(&app, key, "status", ("orders", &orders)).await;
    let keys: Vec<&String> = many.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [&stranger_order, "abc", &order_text, "999999"],
        "request order"
    );
    assert_eq!(
        many[&stranger_order],
        json!({ "error": "Incorrect order ID" })
    );
    assert_eq!(many["abc"], json!({ "error": "Incorrect order ID" }));
    assert_eq!(many["999999"], json!({ "error": "Incorrect order ID" }));
    assert_eq!(many[&order_text]["status"], "Pending");

    // Someone else's order cannot be cancelled either; mine (not yet sent) can.
    let cancel = format!("{stranger_order},{order}");
    let canceled = ok_one(&app, key, "cancel", ("orders", &cancel)).await;
    assert_eq!(
        canceled,
        json!([
            { "order": stranger_order.parse::<i64>().unwrap(), "cancel": { "error": "Incorrect order ID" } },
            { "order": order, "cancel": 1 },
        ])
    );
    assert_eq!(app.balance(user).await, 100_000, "refunded in full");
    let after = ok_one(&app, key, "status", ("order", &order_text)).await;
    assert_eq!(after["status"], "Canceled");
    assert_eq!(after["charge"], "0.00", "net of the refund");

    // refill of an order that cannot be refilled, refill_status of unknown refills.
    let refill = ok_one(&app, key, "refill", ("orders", &order_text)).await;
    assert!(refill[0]["refill"]["error"].is_string(), "{refill}");
    assert_eq!(
        error(
            &app,
            &[("key", key), ("action", "refill_status"), ("refill", "77")]
        )
        .await,
        "Refill not found"
    );
    let refills = ok_one(&app, key, "refill_status", ("refills", "77,x")).await;
    assert_eq!(
        refills,
        json!([
            { "refill": 77, "status": { "error": "Refill not found" } },
            { "refill": "x", "status": { "error": "Refill not found" } },
        ])
    );

    let balance = ok(&app, &[("key", key), ("action", "balance")]).await;
    assert_eq!(
        balance,
        json!({ "balance": "100000.00", "currency": "IDR" })
    );

    // The errors clients match on.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("action", "balance")], "Invalid API key"),
        (
            vec![("key", "bstk_nope"), ("action", "balance")],
            "Invalid API key",
        ),
        (vec![("key", key), ("action", "fly")], "Incorrect request"),
        (
            vec![
                ("key", key),
                ("action", "add"),
                ("service", "999999"),
                ("link", "https://x.com/a"),
                ("quantity", "100"),
            ],
            "Incorrect service ID",
        ),
        (
            vec![
                ("key", key),
                ("action", "add"),
                ("service", &service_text),
                ("link", "https://x.com/a"),
                ("quantity", "10"),
            ],
            "Quantity less than minimal 100",
        ),
        (
            vec![
                ("key", key),
                ("action", "add"),
                ("service", &service_text),
                ("link", "https://x.com/a"),
                ("quantity", "20000"),
            ],
            "Quantity more than maximum 10000",
        ),
        (
            vec![
                ("key", key),
                ("action", "add"),
                ("service", &service_text),
                ("link", "not a link"),
                ("quantity", "100"),
            ],
            "Bad link",
        ),
        (
            vec![
                ("key", key),
                ("action", "add"),
                ("service", &service_text),
                ("link", "https://x.com/a"),
                ("quantity", "10000"),
            ],
            "Not enough funds on balance",
        ),
        (
            vec![("key", key), ("action", "status"), ("order", "x")],
            "Incorrect order ID",
        ),
    ];
    for (form, expected) in cases {
        assert_eq!(error(&app, &form).await, expected, "{form:?}");
    }
    assert_eq!(
        app.balance(user).await,
        100_000,
        "refused calls charge nothing"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn query_strings_and_json_bodies_work_too() {
    let app = TestApp::spawn().await;
    let (_, key) = app.funded_customer("script@example.com", 5_000).await;
    let by_query = json_answer(
        app.http
            .get(format!("{}/api/v2?action=balance&key={key}", app.base_url)),
    )
    .await;
    assert_eq!(by_query["balance"], "5000.00");
    // JSON body, merged with the query (the body wins), unknown fields ignored.
    let by_json = json_answer(
        app.http
            .post(format!(
                "{}/api/v2?action=services&key=bstk_wrong",
                app.base_url
            ))
            .json(&json!({ "key": key, "action": "balance", "unknown": [1, 2] })),
    )
    .await;
    assert_eq!(by_json["balance"], "5000.00");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_add_with_a_request_id_charges_once() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Provider, 10_000, 10, 5000).await;
    let (user, key) = app.funded_customer("retry@example.com", 100_000).await;
    let service = service.to_string();
    let form = [
        ("key", key.as_str()),
        ("action", "add"),
        ("service", service.as_str()),
        ("link", "https://x.com/a/status/1"),
        ("quantity", "1000"),
        ("request_id", "reseller-order-5521"),
    ];
    let answers = futures_util::future::join_all((0..10).map(|_| call(&app, &form))).await;
    let ids: Vec<&Value> = answers.iter().map(|(_, a)| &a["order"]).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.is_i64()),
        "{answers:?}"
    );
    assert_eq!(app.balance(user).await, 90_000, "charged once");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_keys_banned_users_and_session_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (user, key) = app.funded_customer("gone@example.com", 5_000).await;
    assert_eq!(
        ok(&app, &[("key", &key), ("action", "balance")]).await["balance"],
        "5000.00"
    );
    // A session token is a browser's credential, not an API key.
    let session = {
        let mut conn = app.conn().await;
        booster::auth::create_session(&mut conn, user, std::time::Duration::from_secs(600))
            .await
            .unwrap()
            .0
    };
    assert_eq!(
        error(&app, &[("key", &session), ("action", "balance")]).await,
        "Invalid API key"
    );
    // Revoked: refused at once.
    let second = app
        .read(
            &key,
            "mutation { createApiKey(name: \"panel\") { key apiKey { id } } }",
        )
        .await;
    let second_key = second["createApiKey"]["key"].as_str().unwrap().to_string();
    let second_id = second["createApiKey"]["apiKey"]["id"].clone();
    app.ok(
        Some(&key),
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({ "id": second_id }),
    )
    .await;
    assert_eq!(
        error(&app, &[("key", &second_key), ("action", "balance")]).await,
        "Invalid API key"
    );
    // Banned: refused, whatever key.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminBanUser(userId: $id, reason: \"fraud\") { id } }",
        json!({ "id": user.to_string() }),
    )
    .await;
    assert_eq!(
        error(&app, &[("key", &key), ("action", "balance")]).await,
        "Your account is suspended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_a_hundred_orders_is_one_statement_and_one_rate_limit_token() {
    let app = TestApp::spawn_with(|c| c.server.api_v2_rate_limit_per_minute = 5).await;
    let service = service(&app, Fulfillment::Provider, 1_000, 10, 5000).await;
    let (_, key) = app.funded_customer("poller@example.com", 1_000_000).await;
    let lines: String = (0..100)
        .map(|i| format!("{service}|https://x.com/u/status/{i}|10\n"))
        .collect();
    app.ok(
        Some(&key),
        "mutation($input: PlaceMassOrderInput!) { placeMassOrder(input: $input) { placedCount } }",
        json!({ "input": { "text": lines } }),
    )
    .await;
    let ids: Vec<String> = app
        .read(&key, "{ myOrders(first: 100) { edges { node { id } } } }")
        .await["myOrders"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 100);
    let orders = ids.join(",");
    let (statements, answer) = app
        .statements_of(ok(
            &app,
            &[("key", &key), ("action", "status"), ("orders", &orders)],
        ))
        .await;
    assert_eq!(answer.as_object().unwrap().len(), 100);
    println!("status of 100 orders: {statements} SQL statements");
    // The key lookup, the orders, and the pool's liveness check on checkout(s).
    assert!(
        statements <= 5,
        "{statements} statements for one status call"
    );

    // 101 ids is not a bulk call any panel accepts.
    let too_many = format!("{orders},1");
    assert_eq!(
        error(
            &app,
            &[("key", &key), ("action", "status"), ("orders", &too_many)]
        )
        .await,
        "Incorrect request"
    );
    // The per-key limit: 5 a minute here, each call one token whatever its size.
    let mut limited = 0;
    for _ in 0..5 {
        let (status, answer) = call(&app, &[("key", &key), ("action", "balance")]).await;
        if status == 429 {
            assert_eq!(answer["error"], "Too many requests");
            limited += 1;
        }
    }
    assert_eq!(limited, 2, "calls 6 and 7 of the minute are refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_type_takes_its_fields() {
    let app = TestApp::spawn().await;
    let (user, key) = app.funded_customer("types@example.com", 1_000_000).await;
    let comments = service_with(&app, Fulfillment::Provider, 10_000, 1, 1000, |s| {
        s.service_type = ServiceType::CustomComments;
    })
    .await
    .to_string();
    let drip = service_with(&app, Fulfillment::Provider, 10_000, 10, 10_000, |s| {
        s.dripfeed = true;
    })
    .await
    .to_string();
    let placed = ok(
        &app,
        &[
            ("key", &key),
            ("action", "add"),
            ("service", &comments),
            ("link", "https://x.com/booster/status/9"),
            ("comments", "great\nlove it\nwow"),
        ],
    )
    .await;
    let order = placed["order"].to_string();
    let status = ok(
        &app,
        &[("key", &key), ("action", "status"), ("order", &order)],
    )
    .await;
    assert_eq!(status["remains"], "3", "quantity = the number of comments");
    ok(
        &app,
        &[
            ("key", &key),
            ("action", "add"),
            ("service", &drip),
            ("link", "https://x.com/booster/status/10"),
            ("quantity", "100"),
            ("runs", "5"),
            ("interval", "30"),
        ],
    )
    .await;
    let extra: Value = {
        use booster::db::schema::orders;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        orders::table
            .filter(orders::user_id.eq(user))
            .order(orders::id.desc())
            .select(orders::extra)
            .first(&mut app.conn().await)
            .await
            .unwrap()
    };
    assert_eq!(extra["runs"], 5, "{extra}");
    assert_eq!(extra["interval"], 30, "{extra}");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn booster_resells_booster_through_its_own_api_v2_client() {
    use booster::jobs::{dispatch, status_sync};
    let upstream = TestApp::spawn().await;
    let downstream = TestApp::spawn().await;
    // Upstream: a service its admin fulfils, and the reseller's funded account.
    let upstream_service = service(&upstream, Fulfillment::Manual, 20_000, 100, 10_000).await;
    let (reseller, reseller_key) = upstream
        .funded_customer("reseller@example.com", 500_000)
        .await;
    let upstream_admin = upstream.admin().await;

    // Downstream: the upstream is an API v2 provider like any other panel.
    let provider = api_v2_provider(
        &downstream,
        "booster upstream",
        &format!("{}/api/v2", upstream.base_url),
        &reseller_key,
    )
    .await;
    let admin = downstream.admin().await;
    let imported = downstream
        .ok(
            Some(&admin),
            "mutation($input: ImportProviderServicesInput!) { adminImportProviderServices(input: $input) { imported importedServiceIds } }",
            json!({ "input": { "providerId": provider.to_string(), "serviceIds": [upstream_service.to_string()] } }),
        )
        .await;
    assert_eq!(imported["adminImportProviderServices"]["imported"], 1);
    let downstream_service = imported["adminImportProviderServices"]["importedServiceIds"][0]
        .as_str()
        .unwrap()
        .to_string();
    let (customer, customer_key) = downstream
        .funded_customer("buyer@example.com", 100_000)
        .await;
    let placed = downstream
        .ok(
            Some(&customer_key),
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id charge } }",
            json!({ "input": { "serviceId": downstream_service, "link": "https://x.com/client/status/42", "quantity": 1000 } }),
        )
        .await;
    // The upstream's 20,000 per 1000 plus the default 10% markup.
    assert_eq!(placed["placeOrder"]["charge"], 22_000);
    let order_id = placed["placeOrder"]["id"].as_str().unwrap().to_string();

    // Dispatch sends it upstream through /api/v2: the reseller pays the upstream.
    let report = dispatch::run(&downstream.state).await.unwrap();
    assert_eq!((report.claimed, report.accepted), (1, 1));
    assert_eq!(upstream.balance(reseller).await, 480_000);
    let upstream_orders = upstream
        .ok(
            Some(&upstream_admin),
            "query($u: ID) { adminOrders(userId: $u) { edges { node { id quantity link } } } }",
            json!({ "u": reseller.to_string() }),
        )
        .await;
    let upstream_order = upstream_orders["adminOrders"]["edges"][0]["node"].clone();
    assert_eq!(upstream_order["quantity"], 1000);
    assert_eq!(upstream_order["link"], "https://x.com/client/status/42");

    // The upstream's admin sets the order's status; status sync brings it down to
    // what the customer sees.
    let set_upstream_and_sync = async |mut input: Value| {
        let set = "mutation($input: AdminUpdateOrderStatusInput!) { adminUpdateOrderStatus(input: $input) { status } }";
        input["orderId"] = upstream_order["id"].clone();
        upstream
            .ok(Some(&upstream_admin), set, json!({ "input": input }))
            .await;
        status_sync::run(&downstream.state).await.unwrap();
        let status = "query($id: ID!) { order(id: $id) { status startCount remains refunded } }";
        downstream
            .ok(Some(&customer_key), status, json!({ "id": order_id }))
            .await
    };
    // The upstream's admin delivers 750 of 1000.
    let seen = set_upstream_and_sync(json!({ "status": "IN_PROGRESS", "startCount": 1200 })).await;
    assert_eq!(seen["order"]["status"], "IN_PROGRESS");
    assert_eq!(seen["order"]["startCount"], 1200);
    let seen = set_upstream_and_sync(json!({ "status": "PARTIAL", "remains": 250 })).await;
    assert_eq!(seen["order"]["status"], "PARTIAL");
    assert_eq!(seen["order"]["remains"], 250);
    // A quarter back on both sides, each at its own price.
    assert_eq!(seen["order"]["refunded"], 5_500);
    assert_eq!(downstream.balance(customer).await, 100_000 - 22_000 + 5_500);
    assert_eq!(upstream.balance(reseller).await, 500_000 - 20_000 + 5_000);
    upstream.assert_books_balanced().await;
    downstream.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resellers_discount_applies_everywhere_but_never_below_cost() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // Imported at a provider rate of 10,000 per 1000 (rupiah), listed at 11,000.
    let imported = service_with(&app, Fulfillment::Provider, 11_000, 10, 10_000, |s| {
        s.provider_rate = Some("10000".parse().unwrap());
    })
    .await;
    // The panel's own service: no provider cost.
    let own = service(&app, Fulfillment::Manual, 20_000, 10, 10_000).await;
    let (reseller, key) = app.funded_customer("agency@example.com", 1_000_000).await;
    let (_, other_key) = app.customer("retail@example.com").await;

    let set_discount = async |token: &str, bps: i64| {
        let set = "mutation($u: ID!, $bps: Int!) { adminSetUserDiscount(userId: $u, discountBps: $bps) { discountBps } }";
        let variables = json!({ "u": reseller.to_string(), "bps": bps });
        app.gql(Some(token), set, variables).await
    };
    let refused = set_discount(&other_key, 9000).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let invalid = set_discount(&admin, 10_001).await;
    assert_eq!(error_field(&invalid), "discountBps");
    let done = set_discount(&admin, 2000).await;
    assert!(done.get("errors").is_none(), "{done:#}");
    assert_eq!(done["data"]["adminSetUserDiscount"]["discountBps"], 2000);

    // 20% off: the own service at 16,000; the imported one stops at its cost.
    let prices = "query($a: ID!, $b: ID!) { a: service(id: $a) { pricePer1000 } b: service(id: $b) { pricePer1000 } }";
    let ids = json!({ "a": imported.to_string(), "b": own.to_string() });
    let seen = app.ok(Some(&key), prices, ids.clone()).await;
    assert_eq!(
        (
            seen["a"]["pricePer1000"].clone(),
            seen["b"]["pricePer1000"].clone()
        ),
        (json!(10_000), json!(16_000))
    );
    let retail = app.ok(Some(&other_key), prices, ids).await;
    assert_eq!(
        retail["b"]["pricePer1000"], 20_000,
        "others pay the list price"
    );

    let listed = ok(&app, &[("key", &key), ("action", "services")]).await;
    let rate_of = |id: i64| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == id)
            .unwrap()["rate"]
            .clone()
    };
    assert_eq!(rate_of(imported), "10000.00");
    assert_eq!(rate_of(own), "16000.00");

    // What is charged is what was shown, by API v2, GraphQL and mass order alike.
    let own_text = own.to_string();
    ok(
        &app,
        &[
            ("key", &key),
            ("action", "add"),
            ("service", &own_text),
            ("link", "https://x.com/a"),
            ("quantity", "1000"),
        ],
    )
    .await;
    assert_eq!(app.balance(reseller).await, 1_000_000 - 16_000);
    let placed = order_input(imported, "https://x.com/b", 1000);
    assert_eq!(app.charge_of(&key, placed).await, 10_000);
    let mass = format!("{own}|https://x.com/c|500\n");
    assert_eq!(app.mass_charge(&key, &mass).await, 8_000);
    app.assert_books_balanced().await;
}
