//! Drip-feed run by the panel: each run placed once as an order of its own and
//! sent through the normal dispatch path, a failed run refunded on its own, a
//! cancel refunding exactly the runs not placed, the drip-feed order ending with
//! its runs, and API v2 `status` answering `runs` and the runs' ids.

mod common;

use booster::{
    db::{
        enums::{Fulfillment, OrderStatus},
        orders::OrderRow,
        schema::drip_feeds,
    },
    jobs::{dispatch, drip_feed, status_sync},
};
use common::{fake_provider::AddBehaviour, *};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const DRIP_STATE: &str = "query($id: ID!) { order(id: $id) { status charge dripFeed { runs runsPlaced runsRemaining totalCharge orders { id charge dripFeedRun { orderId runNumber } } } refill { reason } } }";

/// One form POST to `/api/v2`, its JSON answer.
async fn api_v2(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let url = format!("{}/api/v2", app.base_url);
    let response = app.http.post(url).form(form).send().await.unwrap();
    response.json().await.unwrap()
}

/// A provider-filled service (10,000 per 1000) whose provider runs no drip-feed,
/// with drip-feed run by the panel switched on by an admin.
async fn panel_drip_service(app: &TestApp) -> (fake_provider::FakeProvider, i64) {
    let (fake, provider) = registered_fake(app, "MedanPedia-like").await;
    let service = service_with(app, Fulfillment::Provider, 10_000, 10, 10_000, |s| {
        s.provider_id = Some(provider);
        s.provider_service_id = Some("101".into());
        s.dripfeed = false;
        s.refill = true;
    })
    .await;
    (fake, service)
}

async fn enable_panel_drip(app: &TestApp, service: i64) {
    let admin = app.admin().await;
    let answer = app
        .ok(
            Some(&admin),
            "mutation($id: ID!) { adminUpdateService(id: $id, input: { dripfeedByPanel: true }) { dripfeed dripfeedByPanel } }",
            json!({ "id": service.to_string() }),
        )
        .await;
    assert_eq!(
        answer["adminUpdateService"],
        json!({ "dripfeed": true, "dripfeedByPanel": true })
    );
}

async fn order(app: &TestApp, id: i64) -> OrderRow {
    OrderRow::find(&mut *app.conn().await, id)
        .await
        .unwrap()
        .unwrap()
}

/// Makes the feed's next run due now (instead of waiting `interval` minutes).
async fn make_due(app: &TestApp, order_id: i64) {
    diesel::update(drip_feeds::table.find(order_id))
        .filter(drip_feeds::next_run_at.is_not_null())
        .set(drip_feeds::next_run_at.eq(diesel::dsl::now))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
}

async fn add(app: &TestApp, key: &str, service: i64, extra: &[(&str, &str)]) -> Value {
    let service = service.to_string();
    let mut form = vec![
        ("key", key),
        ("action", "add"),
        ("service", service.as_str()),
        ("link", "https://x.com/brand/status/1"),
        ("quantity", "100"),
    ];
    form.extend_from_slice(extra);
    api_v2(app, &form).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_panel_places_each_run_once_refunds_a_failed_run_and_ends_with_its_runs() {
    let app = TestApp::spawn().await;
    let (fake, service) = panel_drip_service(&app).await;
    let (user, key) = app.funded_customer("drip@example.com", 100_000).await;

    // The provider runs no drip-feed: refused until the panel runs it.
    let refused = add(&app, &key, service, &[("runs", "3"), ("interval", "10")]).await;
    assert!(
        refused["error"].as_str().unwrap().contains("drip-feed"),
        "{refused}"
    );
    enable_panel_drip(&app, service).await;
    let placed = add(&app, &key, service, &[("runs", "3"), ("interval", "10")]).await;
    let id = placed["order"].as_i64().expect("an order id");
    // 3 runs of 100 at 10,000 per 1000, paid up front.
    assert_eq!(app.balance(user).await, 97_000);
    let parent = order(&app, id).await;
    assert_eq!(
        (parent.status, parent.charge, parent.quantity),
        (OrderStatus::InProgress, 3000, 300)
    );

    // The drip-feed order itself never goes upstream; its first run does.
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(fake.add_calls(), 0);
    let round = drip_feed::run(&app.state).await.unwrap();
    assert_eq!(round.runs_placed, 1);
    // The next run waits for its interval.
    assert_eq!(drip_feed::run(&app.state).await.unwrap().runs_placed, 0);
    dispatch::run(&app.state).await.unwrap();
    let sent = fake.orders();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].quantity, Some(100));
    assert!(
        !sent[0].fields.contains_key("runs") && !sent[0].fields.contains_key("interval"),
        "a run is an ordinary order upstream: {:?}",
        sent[0].fields
    );
    assert_eq!(order(&app, id).await.charge, 2000, "the run took its share");

    // Four workers at once when the second run is due: it is placed once.
    make_due(&app, id).await;
    let rounds = futures_util::future::join_all((0..4).map(|_| drip_feed::run(&app.state))).await;
    let placed: usize = rounds.into_iter().map(|r| r.unwrap().runs_placed).sum();
    assert_eq!(placed, 1);

    // The provider refuses the second run: it fails and only its share comes back.
    fake.set_add(AddBehaviour::Refuse("Not enough funds on balance".into()));
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(app.balance(user).await, 98_000);
    fake.set_add(AddBehaviour::Accept);

    make_due(&app, id).await;
    assert_eq!(drip_feed::run(&app.state).await.unwrap().runs_placed, 1);
    make_due(&app, id).await;
    assert_eq!(
        drip_feed::run(&app.state).await.unwrap().runs_placed,
        0,
        "three runs, no fourth"
    );
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(
        order(&app, id).await.charge,
        0,
        "every share went to its run"
    );

    let state = app
        .ok(Some(&key), DRIP_STATE, json!({ "id": id.to_string() }))
        .await;
    let runs = state["order"]["dripFeed"]["orders"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(runs.len(), 3);
    let run_ids: Vec<i64> = runs
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    for (n, run) in runs.iter().enumerate() {
        assert_eq!(run["dripFeedRun"]["orderId"], id.to_string());
        assert_eq!(run["dripFeedRun"]["runNumber"], n + 1);
        assert_eq!(run["charge"], 1000);
    }
    assert_eq!(state["order"]["dripFeed"]["runsPlaced"], 3);
    assert_eq!(state["order"]["dripFeed"]["runsRemaining"], 0);
    assert_eq!(state["order"]["dripFeed"]["totalCharge"], 3000);
    // Refills are asked for run by run.
    assert_eq!(state["order"]["refill"]["reason"], "RUN_BY_RUN");

    // The first run completes, the third delivers 60 of 100 (40 back).
    let remote: Vec<String> = fake.orders().iter().map(|o| o.id.to_string()).collect();
    assert_eq!(
        remote.len(),
        2,
        "the refused run was never accepted upstream"
    );
    fake.set_status(&remote[0], "Completed", 10, 0);
    fake.set_status(&remote[1], "Partial", 10, 40);
    // Not over while a run is open.
    assert_eq!(drip_feed::run(&app.state).await.unwrap().finished, 0);
    status_sync::run(&app.state).await.unwrap();
    assert_eq!(app.balance(user).await, 98_400);
    assert_eq!(drip_feed::run(&app.state).await.unwrap().finished, 1);
    let ended = order(&app, id).await;
    assert_eq!(
        (ended.status, ended.remains),
        (OrderStatus::Partial, Some(140)),
        "160 of 300 delivered"
    );

    let status = api_v2(
        &app,
        &[
            ("key", &key),
            ("action", "status"),
            ("order", &id.to_string()),
        ],
    )
    .await;
    assert_eq!(status["status"], "Partial", "{status}");
    assert_eq!(status["runs"], "3");
    assert_eq!(status["orders"], json!(run_ids));
    // What the customer paid in the end: 1000 + 0 + 600.
    assert_eq!(status["charge"], "1600.00");
    assert_eq!(status["remains"], "140");
    // Nothing more happens on another round.
    let round = drip_feed::run(&app.state).await.unwrap();
    assert_eq!((round.runs_placed, round.finished), (0, 0));
    assert_eq!(app.balance(user).await, 98_400);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn canceling_refunds_exactly_the_runs_not_placed_once() {
    let app = TestApp::spawn().await;
    let (fake, service) = panel_drip_service(&app).await;
    enable_panel_drip(&app, service).await;
    let (user, key) = app.funded_customer("stop@example.com", 100_000).await;

    // 5 runs of 100 (5,000); two are placed and sent.
    let placed = add(&app, &key, service, &[("runs", "5"), ("interval", "30")]).await;
    let id = placed["order"].as_i64().expect("an order id");
    drip_feed::run(&app.state).await.unwrap();
    make_due(&app, id).await;
    drip_feed::run(&app.state).await.unwrap();
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(app.balance(user).await, 95_000);

    // Canceled twice at once: the three runs not placed come back once.
    let cancel = "mutation($id: ID!) { requestOrderCancel(orderId: $id) { order { status } } }";
    let vars = json!({ "id": id.to_string() });
    let (a, b) = tokio::join!(
        app.gql(Some(&key), cancel, vars.clone()),
        app.gql(Some(&key), cancel, vars.clone())
    );
    let errors = [&a, &b]
        .iter()
        .filter(|r| r.get("errors").is_some())
        .count();
    assert_eq!(errors, 1, "{a} {b}");
    assert_eq!(app.balance(user).await, 98_000);
    let state = app.ok(Some(&key), DRIP_STATE, vars.clone()).await;
    assert_eq!(
        state["order"]["status"], "IN_PROGRESS",
        "its run still runs"
    );
    assert_eq!(state["order"]["dripFeed"]["runsRemaining"], 0);
    make_due(&app, id).await;
    assert_eq!(drip_feed::run(&app.state).await.unwrap().runs_placed, 0);

    // Its two runs complete: the drip-feed order ends PARTIAL, no money moves.
    for placed in fake.orders() {
        fake.set_status(&placed.id.to_string(), "Completed", 5, 0);
    }
    status_sync::run(&app.state).await.unwrap();
    assert_eq!(drip_feed::run(&app.state).await.unwrap().finished, 1);
    let ended = order(&app, id).await;
    assert_eq!(
        (ended.status, ended.remains),
        (OrderStatus::Partial, Some(300))
    );
    assert_eq!(app.balance(user).await, 98_000);

    // Scheduled over API v2 for tomorrow and canceled before any run: all back.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .timestamp()
        .to_string();
    let placed = add(
        &app,
        &key,
        service,
        &[("runs", "2"), ("interval", "5"), ("start_at", &tomorrow)],
    )
    .await;
    let later = placed["order"].as_i64().expect("an order id");
    assert_eq!(app.balance(user).await, 96_000);
    assert_eq!(drip_feed::run(&app.state).await.unwrap().runs_placed, 0);
    let answer = api_v2(
        &app,
        &[
            ("key", &key),
            ("action", "cancel"),
            ("orders", &later.to_string()),
        ],
    )
    .await;
    assert_eq!(answer[0]["cancel"], 1, "{answer}");
    let canceled = order(&app, later).await;
    assert_eq!(
        (canceled.status, canceled.refunded),
        (OrderStatus::Canceled, 2000)
    );
    assert_eq!(app.balance(user).await, 98_000);
    let bad = add(&app, &key, service, &[("start_at", "next week")]).await;
    assert!(bad["error"].as_str().unwrap().contains("start_at"), "{bad}");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_killed_mid_round_never_place_a_run_twice() {
    let app = TestApp::spawn().await;
    let (_fake, service) = panel_drip_service(&app).await;
    enable_panel_drip(&app, service).await;
    let (user, key) = app.funded_customer("kill@example.com", 1_000_000).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let link = format!("https://x.com/brand/status/{n}");
        let form = [
            ("key", key.as_str()),
            ("action", "add"),
            ("service", &service.to_string()),
            ("link", &link),
            ("quantity", "100"),
            ("runs", "5"),
            ("interval", "1"),
        ];
        ids.push(
            api_v2(&app, &form).await["order"]
                .as_i64()
                .expect("an order id"),
        );
    }
    // Workers killed at random points: each round runs on a connection of its
    // own that dies with it, as a killed process's does, mid-transaction or not.
    for attempt in 0..40u64 {
        for id in &ids {
            make_due(&app, *id).await;
        }
        let url = app.db.url.clone();
        let round = tokio::spawn(async move {
            use diesel_async::AsyncConnection;
            let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                .await
                .unwrap();
            booster::domain::orders::drip::place_due_runs(&mut conn, 7).await
        });
        tokio::time::sleep(std::time::Duration::from_millis((attempt * 7) % 60)).await;
        round.abort();
        let _ = round.await;
    }
    let placed_while_killing: i64 = booster::db::schema::drip_feed_runs::table
        .count()
        .get_result(&mut *app.conn().await)
        .await
        .unwrap();
    println!("runs placed by the 40 killed rounds: {placed_while_killing} of 100");
    // Then clean rounds until every run is placed.
    for _ in 0..5 {
        for id in &ids {
            make_due(&app, *id).await;
        }
        drip_feed::run(&app.state).await.unwrap();
    }
    let mut conn = app.conn().await;
    let feeds: Vec<(i64, i32)> = drip_feeds::table
        .select((drip_feeds::order_id, drip_feeds::runs_placed))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(feeds.len(), 20);
    for (order_id, runs_placed) in feeds {
        assert_eq!(runs_placed, 5, "order {order_id}");
        let numbers: Vec<i32> = booster::db::schema::drip_feed_runs::table
            .filter(booster::db::schema::drip_feed_runs::parent_order_id.eq(order_id))
            .select(booster::db::schema::drip_feed_runs::run_number)
            .order(booster::db::schema::drip_feed_runs::run_number)
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            numbers,
            vec![1, 2, 3, 4, 5],
            "order {order_id}: each run once"
        );
        let parent = order(&app, order_id).await;
        assert_eq!(parent.charge, 0, "every share went to a run");
    }
    // 20 feeds of 5,000: charged once each, nothing refunded, nothing twice.
    assert_eq!(app.balance(user).await, 1_000_000 - 20 * 5000);
    app.assert_books_balanced().await;
}
