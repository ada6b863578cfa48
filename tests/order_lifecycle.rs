//! The order's life beyond placement: the refill warranty (window, cooldown,
//! open refill, newer order on the link), the same-link guard under concurrency,
//! and scheduled start, against a fake API v2 provider.

mod common;

use booster::{
    db::{enums::OrderStatus, orders::OrderRow, schema::order_requests, schema::orders},
    jobs::{dispatch, order_requests as order_requests_job, status_sync},
};
use common::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const ACTIVE_LINK: &str =
    "You have active order with this link. Please wait until order being completed.";
const REFILL: &str = "mutation($id: ID!) { requestOrderRefill(orderId: $id) { status } }";
const REFILL_STATE: &str = "query($id: ID!) { order(id: $id) { completedAt refill { available availableUntil nextAvailableAt reason message } } }";

/// A fake provider's service with the warranty and guard set by an admin.
async fn guarded_service(app: &TestApp, input: Value) -> (fake_provider::FakeProvider, i64) {
    let (fake, _, service) = fake_provider_service(app, "JAP").await;
    let admin = app.admin().await;
    app.ok(
        Some(&admin),
        "mutation($id: ID!, $input: UpdateServiceInput!) { adminUpdateService(id: $id, input: $input) { refillPeriodDays refillCooldownHours sameLinkGuard } }",
        json!({ "id": service.to_string(), "input": input }),
    )
    .await;
    (fake, service)
}

async fn order(app: &TestApp, id: &str) -> OrderRow {
    OrderRow::find(&mut *app.conn().await, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// The first error of a GraphQL answer: (code, message).
fn refusal(answer: &Value) -> (String, String) {
    let error = &answer["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// One form POST to `/api/v2`, its JSON answer.
async fn api_v2(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let url = format!("{}/api/v2", app.base_url);
    let response = app.http.post(url).form(form).send().await.unwrap();
    response.json().await.unwrap()
}

async fn refill_state(app: &TestApp, key: &str, id: &str) -> Value {
    app.ok(Some(key), REFILL_STATE, json!({ "id": id })).await["order"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refill_follows_the_warranty_window_cooldown_and_newer_orders() {
    let app = TestApp::spawn().await;
    let (fake, service) = guarded_service(
        &app,
        json!({ "refillPeriodDays": 7, "refillCooldownHours": 24, "sameLinkGuard": true }),
    )
    .await;
    let (_, key) = app.funded_customer("r@example.com", 100_000).await;
    let link = "https://x.com/client/status/7";
    let first = app.place(&key, order_input(service, link, 1000)).await;
    // Not completed yet: no refill, and no window to show.
    let state = refill_state(&app, &key, &first).await;
    assert_eq!(state["refill"]["reason"], "NOT_COMPLETED");
    assert_eq!(state["refill"]["availableUntil"], Value::Null);

    dispatch::run(&app.state).await.unwrap();
    let remote = order(&app, &first).await.provider_order_id.unwrap();
    fake.set_status(&remote, "Completed", 10, 0);
    status_sync::run(&app.state).await.unwrap();
    let completed = order(&app, &first).await;
    assert_eq!(completed.status, OrderStatus::Completed);
    let completed_at = completed.completed_at.expect("completion is stamped");
    let state = refill_state(&app, &key, &first).await;
    assert_eq!(state["refill"]["available"], true);
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(state["refill"]["availableUntil"].clone()).unwrap();
    assert_eq!(until, completed_at + chrono::Duration::days(7));

    // A newer order on the same link is running: a refill would be meaningless.
    let second = app.place(&key, order_input(service, link, 1000)).await;
    let state = refill_state(&app, &key, &first).await;
    assert_eq!(state["refill"]["reason"], "NEWER_ORDER_ON_LINK");
    let refused = app.gql(Some(&key), REFILL, json!({ "id": first })).await;
    assert_eq!(refusal(&refused).0, "CONFLICT");
    assert!(
        refusal(&refused).1.contains("newer order on this link"),
        "{refused}"
    );
    app.ok(
        Some(&key),
        "mutation($id: ID!) { requestOrderCancel(orderId: $id) { order { status } } }",
        json!({ "id": second }),
    )
    .await;

    // Now it is accepted, once: a second while the first is open is refused.
    app.ok(Some(&key), REFILL, json!({ "id": first })).await;
    let again = app.gql(Some(&key), REFILL, json!({ "id": first })).await;
    assert!(refusal(&again).1.contains("already open"), "{again}");
    assert_eq!(
        refill_state(&app, &key, &first).await["refill"]["reason"],
        "ALREADY_REQUESTED"
    );
    order_requests_job::run(&app.state).await.unwrap();
    order_requests_job::run(&app.state).await.unwrap();
    assert_eq!(fake.refills().len(), 1);

    // The refill completed: the cooldown holds the next one back for 24 hours.
    let state = refill_state(&app, &key, &first).await;
    assert_eq!(state["refill"]["reason"], "COOLDOWN", "{state}");
    assert!(state["refill"]["nextAvailableAt"].is_string());
    let cooled = app.gql(Some(&key), REFILL, json!({ "id": first })).await;
    assert!(
        refusal(&cooled).1.contains("next one can be asked for at"),
        "{cooled}"
    );

    // A day later it is open again; past the period it is closed for good, in
    // GraphQL and in API v2 alike.
    let mut conn = app.conn().await;
    let order_id: i64 = first.parse().unwrap();
    diesel::update(order_requests::table.filter(order_requests::order_id.eq(order_id)))
        .set(order_requests::created_at.eq(chrono::Utc::now() - chrono::Duration::hours(25)))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        refill_state(&app, &key, &first).await["refill"]["available"],
        true
    );
    diesel::update(orders::table.find(order_id))
        .set(orders::completed_at.eq(chrono::Utc::now() - chrono::Duration::days(8)))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        refill_state(&app, &key, &first).await["refill"]["reason"],
        "EXPIRED"
    );
    let form = [
        ("key", key.as_str()),
        ("action", "refill"),
        ("order", first.as_str()),
    ];
    let answer = api_v2(&app, &form).await;
    let text = answer["error"].as_str().unwrap_or_default();
    assert!(
        text.contains("refill period of this order ended"),
        "{answer}"
    );
    assert_eq!(
        fake.refills().len(),
        1,
        "nothing refused reached the provider"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_orders_on_one_link_place_one() {
    let app = TestApp::spawn().await;
    let (_, service) = guarded_service(&app, json!({ "sameLinkGuard": true })).await;
    let (user, key) = app.funded_customer("g@example.com", 1_000_000).await;
    let link = "https://x.com/client/status/9";
    let answers = futures_util::future::join_all((0..20).map(|_| {
        app.gql(
            Some(&key),
            common::PLACE_ORDER,
            order_input(service, link, 1000),
        )
    }))
    .await;
    let placed = answers.iter().filter(|a| a["errors"].is_null()).count();
    assert_eq!(placed, 1, "exactly one order runs on the link");
    for refused in answers.iter().filter(|a| !a["errors"].is_null()) {
        assert_eq!(refusal(refused), ("VALIDATION".into(), ACTIVE_LINK.into()));
    }
    assert_eq!(app.balance(user).await, 1_000_000 - 10_000, "charged once");

    // The same link written differently is the same link; another one is free.
    let spelled = app
        .gql(
            Some(&key),
            common::PLACE_ORDER,
            order_input(service, "www.x.com/client/status/9/", 1000),
        )
        .await;
    assert_eq!(refusal(&spelled).1, ACTIVE_LINK);
    app.place(
        &key,
        order_input(service, "https://x.com/client/status/10", 1000),
    )
    .await;

    // API v2 and mass orders refuse in the words resellers' tools know.
    let service_id = service.to_string();
    let form = [
        ("key", key.as_str()),
        ("action", "add"),
        ("service", service_id.as_str()),
        ("link", link),
        ("quantity", "1000"),
    ];
    let answer = api_v2(&app, &form).await;
    assert_eq!(answer["error"], ACTIVE_LINK);
    let text = format!(
        "{service}|https://x.com/a/1|1000\n{service}|https://x.com/a/1|1000\n{service}|{link}|1000\n"
    );
    let mass = app
        .ok(
            Some(&key),
            "mutation($text: String!) { placeMassOrder(input: { text: $text, allOrNothing: false }) { placedCount errors { line field message } } }",
            json!({ "text": text }),
        )
        .await;
    assert_eq!(mass["placeMassOrder"]["placedCount"], 1);
    let errors = &mass["placeMassOrder"]["errors"];
    assert_eq!(errors.as_array().unwrap().len(), 2, "{mass}");
    for error in errors.as_array().unwrap() {
        assert_eq!(
            (error["field"].as_str(), error["message"].as_str()),
            (Some("link"), Some(ACTIVE_LINK))
        );
    }
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_order_waits_for_its_time_and_cancels_in_full_before_it() {
    let app = TestApp::spawn().await;
    // The service takes no cancel once running; a scheduled order is not running.
    let (fake, service) = guarded_service(&app, json!({ "cancel": false })).await;
    let (user, key) = app.funded_customer("s@example.com", 100_000).await;
    let at = chrono::Utc::now() + chrono::Duration::hours(2);
    let mut input = order_input(service, "https://x.com/client/status/1", 1000);
    input["input"]["startAt"] = json!(at);
    let scheduled = app.place(&key, input.clone()).await;
    assert_eq!(app.balance(user).await, 90_000, "charged at once");
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(fake.add_calls(), 0, "not sent before its time");
    let row = order(&app, &scheduled).await;
    assert_eq!(
        (row.status, row.scheduled_at.map(|t| t.timestamp())),
        (OrderStatus::Pending, Some(at.timestamp()))
    );

    let canceled = app
        .ok(
            Some(&key),
            "mutation($id: ID!) { requestOrderCancel(orderId: $id) { order { status refunded } } }",
            json!({ "id": scheduled }),
        )
        .await;
    assert_eq!(
        canceled["requestOrderCancel"]["order"],
        json!({ "status": "CANCELED", "refunded": 10000 })
    );
    assert_eq!(app.balance(user).await, 100_000);

    // Its time comes: the next dispatch round sends it.
    let second = app.place(&key, input).await;
    diesel::update(orders::table.find(second.parse::<i64>().unwrap()))
        .set((
            orders::scheduled_at.eq(chrono::Utc::now()),
            orders::next_attempt_at.eq(chrono::Utc::now()),
        ))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(fake.add_calls(), 1);
    assert_eq!(order(&app, &second).await.status, OrderStatus::Processing);
    let refused = app
        .gql(
            Some(&key),
            "mutation($id: ID!) { requestOrderCancel(orderId: $id) { order { status } } }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(
        refusal(&refused).0,
        "VALIDATION",
        "a running order of this service is not canceled"
    );

    // Too far ahead is refused on the field.
    let mut far = order_input(service, "https://x.com/client/status/2", 1000);
    far["input"]["startAt"] = json!(chrono::Utc::now() + chrono::Duration::days(31));
    let answer = app.gql(Some(&key), common::PLACE_ORDER, far).await;
    assert_eq!(refusal(&answer).0, "VALIDATION");
    assert_eq!(
        answer["errors"][0]["extensions"]["field"], "startAt",
        "{answer}"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_updates_feed_tells_what_customers_would_notice_and_nothing_of_providers() {
    let app = TestApp::spawn().await;
    let (_, _, provider_service) = fake_provider_service(&app, "JAP").await;
    let service = common::service(
        &app,
        booster::db::enums::Fulfillment::Manual,
        10_000,
        10,
        1000,
    )
    .await;
    let admin = app.admin().await;
    let update = |input: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.ok(
                Some(&admin),
                "mutation($id: ID!, $input: UpdateServiceInput!) { adminUpdateService(id: $id, input: $input) { id } }",
                json!({ "id": service.to_string(), "input": input }),
            )
            .await;
        }
    };
    update(json!({ "pricePer1000": 8000 })).await;
    update(json!({ "pricePer1000": 9000 })).await;
    update(json!({ "minQuantity": 20, "maxQuantity": 2000 })).await;
    update(json!({ "active": false })).await;
    // A hidden service's price is nobody's news.
    update(json!({ "pricePer1000": 7000 })).await;
    update(json!({ "active": true })).await;

    let feed = app
        .ok(
            None,
            "{ serviceUpdates(first: 10) { edges { node { kind service { id } oldPricePer1000 newPricePer1000 oldMinQuantity newMinQuantity oldMaxQuantity newMaxQuantity } } } }",
            json!({}),
        )
        .await;
    let mine: Vec<Value> = feed["serviceUpdates"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .filter(|n| n["service"]["id"] == service.to_string().as_str())
        .collect();
    let kinds: Vec<&str> = mine.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ENABLED",
            "DISABLED",
            "LIMITS_CHANGED",
            "PRICE_UP",
            "PRICE_DOWN",
            "NEW"
        ]
    );
    assert_eq!(
        (&mine[3]["oldPricePer1000"], &mine[3]["newPricePer1000"]),
        (&json!(8000), &json!(9000))
    );
    assert_eq!(
        (&mine[4]["oldPricePer1000"], &mine[4]["newPricePer1000"]),
        (&json!(10_000), &json!(8000))
    );
    assert_eq!(
        [
            &mine[2]["oldMinQuantity"],
            &mine[2]["newMinQuantity"],
            &mine[2]["oldMaxQuantity"],
            &mine[2]["newMaxQuantity"]
        ],
        [&json!(10), &json!(20), &json!(1000), &json!(2000)]
    );
    assert_eq!(
        mine[0]["newPricePer1000"], 7000,
        "enabled again at its current price"
    );
    assert!(
        feed["serviceUpdates"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["service"]["id"] == provider_service.to_string().as_str()),
        "imported services are in the feed too"
    );

    // The Atom feed says the same in words, without providers or costs.
    let response = app
        .http
        .get(format!("{}/updates.xml", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let xml = response.text().await.unwrap();
    assert!(xml.contains("Price down: Twitter followers, Rp"), "{xml}");
    assert!(xml.contains("<category term=\"LIMITS_CHANGED\"/>"));
    assert!(
        !xml.to_lowercase().contains("provider") && !xml.contains("JAP"),
        "{xml}"
    );
}

/// Minutes after the base it was placed, quantity, final status, seconds to first
/// progress, seconds to completion.
type ScriptedOrder = (i64, i64, &'static str, Option<i64>, Option<i64>);

#[tokio::test(flavor = "multi_thread")]
async fn service_figures_are_measured_from_a_scripted_history() {
    let app = TestApp::spawn().await;
    let service = common::service(
        &app,
        booster::db::enums::Fulfillment::Manual,
        1000,
        10,
        10_000,
    )
    .await;
    let (user, key) = app.customer("f@example.com").await;
    // (minutes after the base it was placed, quantity, final status, seconds to
    // first progress, seconds to completion), placed five days ago; the last one
    // is older than the 30-day window and counts nowhere.
    let script: [ScriptedOrder; 6] = [
        (0, 1000, "COMPLETED", Some(60), Some(3600)),
        (60, 2000, "COMPLETED", Some(120), Some(7200)),
        (120, 500, "PARTIAL", Some(300), Some(1000)),
        (180, 1000, "CANCELED", None, None),
        (240, 1000, "PENDING", None, None),
        (-60 * 24 * 40, 1000, "COMPLETED", Some(5), Some(10)),
    ];
    let base = chrono::Utc::now() - chrono::Duration::days(5);
    let mut conn = app.conn().await;
    let mut first = None;
    for (minutes, quantity, status, progress, done) in script {
        let placed = base + chrono::Duration::minutes(minutes);
        let at = |seconds: Option<i64>| seconds.map(|s| placed + chrono::Duration::seconds(s));
        let id: i64 = diesel::insert_into(orders::table)
            .values((
                orders::user_id.eq(user),
                orders::service_id.eq(service),
                orders::link.eq(format!("https://x.com/f/{minutes}")),
                orders::quantity.eq(quantity),
                orders::price_per_1000.eq(1000),
                orders::charge.eq(0),
                orders::status.eq(status),
                orders::created_at.eq(placed),
                orders::completed_at.eq(at(done)),
            ))
            .returning(orders::id)
            .get_result(&mut conn)
            .await
            .unwrap();
        first.get_or_insert(id);
        if let Some(progress) = at(progress) {
            diesel::sql_query("INSERT INTO order_events (order_id, status, note, created_at) VALUES ($1, 'IN_PROGRESS', '', $2)")
                .bind::<diesel::sql_types::BigInt, _>(id)
                .bind::<diesel::sql_types::Timestamptz, _>(progress)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    diesel::insert_into(order_requests::table)
        .values((
            order_requests::order_id.eq(first.unwrap()),
            order_requests::kind.eq("REFILL"),
            order_requests::status.eq("COMPLETED"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);

    let run = booster::jobs::service_figures::run(&app.state)
        .await
        .unwrap();
    assert!(run.services >= 1);
    let figures = app
        .ok(
            None,
            "query($id: ID!) { service(id: $id) { figures { startP50Seconds startP90Seconds startedOrders secondsPer1000 timedOrders partialOrCanceledBps endedOrders refillRequestsBps windowDays } } }",
            json!({ "id": service.to_string() }),
        )
        .await["service"]["figures"]
        .clone();
    // By hand: starts 60, 120, 300 s (p50 120; p90 120 + 0.8 × 180 = 264); speed
    // 3600 s per 1000 for both completed orders; 2 of 4 ended orders PARTIAL or
    // CANCELED; 1 refill over 3 completed orders (3333 bps, rounded down).
    assert_eq!(
        figures,
        json!({
            "startP50Seconds": 120, "startP90Seconds": 264, "startedOrders": 3,
            "secondsPer1000": 3600, "timedOrders": 2,
            "partialOrCanceledBps": 5000, "endedOrders": 4,
            "refillRequestsBps": 3333, "windowDays": 30
        })
    );
    let listed = api_v2(&app, &[("key", &key), ("action", "services")]).await;
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .unwrap()
        .clone();
    assert_eq!(
        (
            &listed["start_time_p50"],
            &listed["average_time_per_1000"],
            &listed["refill_days"]
        ),
        (&json!(120), &json!(3600), &json!(30))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_through_api_v2_is_forwarded_followed_and_refunded_for_posts_not_reached() {
    use booster::db::enums::{Fulfillment, ServiceType};
    let app = TestApp::spawn().await;
    let (fake, provider) = registered_fake(&app, "JAP").await;
    let service = service_with(&app, Fulfillment::Provider, 10_000, 50, 500, |s| {
        s.provider_id = Some(provider);
        s.provider_service_id = Some("101".into());
        s.service_type = ServiceType::Subscriptions;
    })
    .await;
    let (user, key) = app.funded_customer("sub@example.com", 100_000).await;
    let service_id = service.to_string();
    let add = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("key", key.clone()),
            ("action", "add".to_string()),
            ("service", service_id.clone()),
            ("link", "https://x.com/brand".to_string()),
        ];
        form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        form
    };
    let send = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            api_v2(app, &form).await
        }
    };
    // Without a username, or with a delay panels do not offer, nothing is placed.
    let refused = send(add(&[("min", "100"), ("max", "200"), ("posts", "10")])).await;
    assert!(
        refused["error"].as_str().unwrap().contains("username"),
        "{refused}"
    );
    let refused = send(add(&[
        ("username", "brand"),
        ("min", "100"),
        ("max", "200"),
        ("posts", "10"),
        ("delay", "7"),
    ]))
    .await;
    assert!(
        refused["error"].as_str().unwrap().contains("delay"),
        "{refused}"
    );
    assert_eq!(app.balance(user).await, 100_000);

    // 10 posts reserved at max 200: 2,000 units at 10,000 per 1000.
    let placed = send(add(&[
        ("username", "brand"),
        ("min", "100"),
        ("max", "200"),
        ("posts", "10"),
        ("delay", "30"),
    ]))
    .await;
    let order_id = placed["order"].as_i64().expect("an order id").to_string();
    assert_eq!(app.balance(user).await, 80_000);
    dispatch::run(&app.state).await.unwrap();
    let sent = fake.orders().pop().unwrap();
    assert_eq!(sent.quantity, None, "a subscription sends no quantity");
    for (field, value) in [
        ("username", "brand"),
        ("min", "100"),
        ("max", "200"),
        ("posts", "10"),
        ("delay", "30"),
    ] {
        assert_eq!(
            sent.fields.get(field).map(String::as_str),
            Some(value),
            "{field}"
        );
    }

    // Running: what is left shows as remains. Expired after 4 of 10 posts: the
    // 6 posts not reached come back, once.
    let remote = sent.id.to_string();
    fake.set_subscription(&remote, "Active", 3);
    status_sync::run(&app.state).await.unwrap();
    let running = order(&app, &order_id).await;
    assert_eq!(
        (running.status, running.remains),
        (OrderStatus::InProgress, Some(1400))
    );
    fake.set_subscription(&remote, "Expired", 4);
    status_sync::run(&app.state).await.unwrap();
    status_sync::run(&app.state).await.unwrap();
    let ended = order(&app, &order_id).await;
    assert_eq!(
        (ended.status, ended.remains, ended.refunded),
        (OrderStatus::Partial, Some(1200), 12_000)
    );
    assert_eq!(app.balance(user).await, 80_000 + 12_000);
    let status = api_v2(
        &app,
        &[("key", &key), ("action", "status"), ("order", &order_id)],
    )
    .await;
    assert_eq!(status["status"], "Partial", "{status}");
    assert_eq!(status["posts"], "4", "{status}");
    assert_eq!(status["expiry"], Value::Null);
    // The customer's subscriptions, and how far each got.
    let mine = app
        .read(
            &key,
            "{ myOrders(serviceType: SUBSCRIPTIONS) { edges { node { id subscription { username max posts postsReached } } } } }",
        )
        .await;
    assert_eq!(
        mine["myOrders"]["edges"],
        json!([{ "node": { "id": order_id, "subscription": {
            "username": "brand", "max": 200, "posts": 10, "postsReached": 4 } } }])
    );
    let others = app
        .read(
            &key,
            "{ myOrders(serviceType: DEFAULT) { edges { node { id } } } }",
        )
        .await;
    assert_eq!(others["myOrders"]["edges"], json!([]));
    app.assert_books_balanced().await;
}
