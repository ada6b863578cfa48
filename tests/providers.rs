//! Orders flowing to providers and statuses flowing back: dispatch, sync, refunds,
//! crash safety, fallback and provider health, against fake API v2 providers.

mod common;

use std::time::Duration;

use booster::{
    db::{enums::OrderStatus, orders::OrderRow},
    domain::upstream,
    jobs::{dispatch, order_requests, status_sync},
};
use common::{fake_provider::AddBehaviour, *};
use serde_json::{Value, json};

/// Places an order for `quantity` of `service`; returns its id.
async fn place(app: &TestApp, key: &str, service: i64, quantity: i64) -> String {
    app.place(
        key,
        order_input(service, "https://x.com/client/status/42", quantity),
    )
    .await
}

async fn order(app: &TestApp, id: &str) -> OrderRow {
    OrderRow::find(&mut *app.conn().await, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_reaches_the_provider_once_and_its_statuses_flow_back() {
    let app = TestApp::spawn().await;
    let (fake, _, service) = fake_provider_service(&app, "JAP").await;
    let (user, key) = app.funded_customer("c@example.com", 100_000).await;
    let mut events = app.state.events.subscribe();
    let id = place(&app, &key, service, 1000).await;

    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!((report.claimed, report.accepted), (1, 1));
    assert_eq!(
        dispatch::run(&app.state).await.unwrap().claimed,
        0,
        "nothing left to send"
    );
    let upstream = fake.orders();
    assert_eq!(upstream.len(), 1, "sent exactly once");
    assert_eq!(
        (
            upstream[0].service.as_str(),
            upstream[0].quantity,
            upstream[0].link.as_str()
        ),
        ("101", Some(1000), "https://x.com/client/status/42")
    );
    let local = order(&app, &id).await;
    assert_eq!(local.status, OrderStatus::Processing);
    assert_eq!(
        local.provider_order_id.as_deref(),
        Some(upstream[0].id.to_string().as_str())
    );

    let remote = upstream[0].id.to_string();
    fake.set_status(&remote, "In progress", 3572, 600);
    status_sync::run(&app.state).await.unwrap();
    fake.set_status(&remote, "Completed", 3572, 0);
    status_sync::run(&app.state).await.unwrap();
    let local = order(&app, &id).await;
    assert_eq!(
        (local.status, local.start_count, local.remains),
        (OrderStatus::Completed, Some(3572), Some(0))
    );

    // The subscriber saw every step, in order.
    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
        if event.order_id.to_string() == id {
            seen.push(event.status);
        }
        if seen.last() == Some(&OrderStatus::Completed) {
            break;
        }
    }
    assert_eq!(
        seen,
        vec![
            OrderStatus::Pending,
            OrderStatus::Submitting,
            OrderStatus::Processing,
            OrderStatus::InProgress,
            OrderStatus::Completed
        ]
    );
    assert_eq!(
        app.balance(user).await,
        90_000,
        "a completed order is not refunded"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_and_canceled_orders_are_refunded_once_even_when_syncs_race() {
    let app = TestApp::spawn().await;
    let (fake, provider) = registered_fake(&app, "Peakerr").await;
    let service = provider_service(&app, provider, "7").await;
    let (user, key) = app.funded_customer("p@example.com", 1_000_000).await;
    let partial = place(&app, &key, service, 1000).await; // 10,000
    let canceled = place(&app, &key, service, 500).await; // 5,000
    dispatch::run(&app.state).await.unwrap();
    fake.set_status(
        &order(&app, &partial).await.provider_order_id.unwrap(),
        "Partial",
        100,
        157,
    );
    fake.set_status(
        &order(&app, &canceled).await.provider_order_id.unwrap(),
        "Canceled",
        100,
        500,
    );

    // Two workers sync at once, then a third time: the refunds happen once.
    let (a, b) = tokio::join!(status_sync::run(&app.state), status_sync::run(&app.state));
    a.unwrap();
    b.unwrap();
    status_sync::run(&app.state).await.unwrap();
    let p = order(&app, &partial).await;
    let c = order(&app, &canceled).await;
    assert_eq!(
        (p.status, p.refunded, p.remains),
        (OrderStatus::Partial, 1570, Some(157))
    );
    assert_eq!((c.status, c.refunded), (OrderStatus::Canceled, 5000));
    assert_eq!(app.balance(user).await, 1_000_000 - 15_000 + 1570 + 5000);

    // Applying the same report again directly changes nothing either.
    let remote = booster::providers::RemoteStatus {
        status: OrderStatus::Partial,
        label: "Partial".into(),
        start_count: None,
        remains: Some(157),
        charge: None,
        posts: None,
    };
    upstream::apply_remote_status(&mut *app.conn().await, p.id, &remote)
        .await
        .unwrap();
    assert_eq!(app.balance(user).await, 1_000_000 - 15_000 + 1570 + 5000);
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let refunds: i64 = booster::db::schema::ledger_entries::table
        .filter(booster::db::schema::ledger_entries::kind.eq("REFUND"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(refunds, 2);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_dying_mid_submission_never_causes_a_second_submission() {
    let app = TestApp::spawn_with(|c| c.upstream.submit_stuck_after = Duration::from_secs(0)).await;
    let (fake, _, service) = fake_provider_service(&app, "JAP").await;
    let (_, key) = app.funded_customer("k@example.com", 100_000).await;

    // 1. Killed between claim and submit: claimed, never sent.
    let lost = place(&app, &key, service, 100).await;
    let claimed = upstream::claim_for_dispatch(&mut *app.conn().await, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // (the worker dies here)
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!(report.recovered_stuck, 1);
    assert_eq!(
        order(&app, &lost).await.status,
        OrderStatus::NeedsReview,
        "the order is kept, not lost and not resent"
    );
    assert_eq!(fake.add_calls(), 0);

    // The admin checks the provider: it does not have the order, so it is sent again, once.
    let admin = app.admin().await;
    let resolve = "mutation($id: ID!, $p: String) { adminResolveOrderReview(orderId: $id, providerOrderId: $p) { status } }";
    let data = app
        .ok(Some(&admin), resolve, json!({ "id": lost, "p": null }))
        .await;
    assert_eq!(data["adminResolveOrderReview"]["status"], "PENDING");
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(fake.add_calls(), 1);
    assert_eq!(order(&app, &lost).await.status, OrderStatus::Processing);

    // 2. The provider accepted but the answer never came back (timeout): unclear, so
    //    the order waits for review and is never resubmitted automatically.
    fake.set_add(AddBehaviour::AcceptThenHang(Duration::from_secs(5)));
    let unclear = place(&app, &key, service, 100).await;
    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!(report.needs_review, 1);
    assert_eq!(fake.orders().len(), 2, "the provider has it");
    fake.set_add(AddBehaviour::Accept);
    for _ in 0..3 {
        dispatch::run(&app.state).await.unwrap();
    }
    assert_eq!(fake.orders().len(), 2, "never sent a second time");
    assert_eq!(order(&app, &unclear).await.status, OrderStatus::NeedsReview);
    // The admin finds it upstream and links it; it is synced from then on.
    let remote = fake.orders()[1].id.to_string();
    let data = app
        .ok(Some(&admin), resolve, json!({ "id": unclear, "p": remote }))
        .await;
    assert_eq!(data["adminResolveOrderReview"]["status"], "PROCESSING");
    fake.set_status(&remote, "Completed", 5, 0);
    status_sync::run(&app.state).await.unwrap();
    assert_eq!(order(&app, &unclear).await.status, OrderStatus::Completed);
    let notes = admin_notifications(&app, &admin).await;
    assert!(notes.iter().any(|n| n["kind"] == "ORDER_NEEDS_REVIEW"));
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_order_uses_the_fallback_provider_or_fails_with_a_refund() {
    let app = TestApp::spawn().await;
    let (primary, p1) = registered_fake(&app, "Primary").await;
    let (backup, p2) = registered_fake(&app, "Backup").await;
    let main_service = provider_service(&app, p1, "101").await;
    let backup_service = provider_service(&app, p2, "555").await;
    let lonely_service = provider_service(&app, p1, "102").await;
    let admin = app.admin().await;
    app.ok(
        Some(&admin),
        "mutation($id: ID!, $f: ID!) { adminUpdateService(id: $id, input: { fallbackServiceId: $f }) { id } }",
        json!({ "id": main_service.to_string(), "f": backup_service.to_string() }),
    )
    .await;
    let (user, key) = app.funded_customer("f@example.com", 100_000).await;
    primary.set_add(AddBehaviour::Refuse("Not enough funds on balance".into()));

    let rescued = place(&app, &key, main_service, 1000).await;
    let failed = place(&app, &key, lonely_service, 1000).await;
    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!((report.fallback, report.failed), (1, 1));
    dispatch::run(&app.state).await.unwrap();

    let rescued = order(&app, &rescued).await;
    assert_eq!(rescued.status, OrderStatus::Processing);
    assert_eq!(
        (rescued.provider_id, rescued.provider_service_id.as_deref()),
        (Some(p2), Some("555"))
    );
    assert_eq!(
        rescued.charge, 10_000,
        "the customer's price does not change"
    );
    assert_eq!(backup.orders().len(), 1);
    assert_eq!(backup.orders()[0].service, "555");

    let failed = order(&app, &failed).await;
    assert_eq!(
        (failed.status, failed.refunded),
        (OrderStatus::Failed, 10_000)
    );
    assert_eq!(app.balance(user).await, 100_000 - 10_000);
    let notes = app
        .read(&key, "{ myNotifications { kind message orderId } }")
        .await;
    let note = &notes["myNotifications"][0];
    assert_eq!(note["kind"], "ORDER_FAILED");
    let message = note["message"].as_str().unwrap();
    assert!(message.contains("refunded in full"), "{message}");
    // Customers never learn which provider fills their orders, nor its answers: the
    // notification and both orders' history are neutral; admins keep the detail.
    assert!(!message.contains("Not enough funds"), "{message}");
    for id in [failed.id, rescued.id] {
        let seen = app
            .ok(
                Some(&key),
                "query($id: ID!) { order(id: $id) { history { note } } }",
                json!({ "id": id.to_string() }),
            )
            .await;
        let history = seen["order"]["history"].to_string();
        for secret in ["Primary", "Backup", "Not enough funds", "555", "101", "102"] {
            assert!(!history.contains(secret), "{secret} in {history}");
        }
    }
    let admin_view = app
        .ok(
            Some(&admin),
            "query($id: ID!) { order(id: $id) { lastError } }",
            json!({ "id": failed.id.to_string() }),
        )
        .await;
    assert!(
        admin_view["order"]["lastError"]
            .as_str()
            .unwrap()
            .contains("Not enough funds")
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unhealthy_providers_orders_wait_instead_of_failing() {
    let app = TestApp::spawn().await;
    let (fake, provider, service) = fake_provider_service(&app, "Flaky").await;
    let (user, key) = app.funded_customer("h@example.com", 100_000).await;
    fake.set_add(AddBehaviour::Unavailable);
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(place(&app, &key, service, 100).await);
    }
    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!(report.retried, 6);
    for id in &ids {
        let o = order(&app, id).await;
        assert_eq!(o.status, OrderStatus::Pending, "waiting, not failed");
        assert!(o.last_error.as_deref().unwrap_or("").contains("503"));
    }
    // The provider is now marked unhealthy: even orders due again are not sent.
    let admin = app.admin().await;
    let health = app
        .ok(Some(&admin), "query($id: ID!) { adminProvider(id: $id) { healthy consecutiveFailures lastError callsLastHour failuresLastHour } }", json!({ "id": provider.to_string() }))
        .await;
    assert_eq!(health["adminProvider"]["healthy"], false, "{health}");
    assert!(
        health["adminProvider"]["failuresLastHour"]
            .as_i64()
            .unwrap()
            >= 6
    );
    fake.set_add(AddBehaviour::Accept);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!(report.claimed, 0, "unhealthy providers are skipped");
    assert_eq!(
        fake.add_calls(),
        6 * 3,
        "each order tried 3 times in its one attempt, then left alone"
    );
    let notes = admin_notifications(&app, &admin).await;
    assert!(notes.iter().any(|n| n["kind"] == "PROVIDER_UNHEALTHY"));
    assert_eq!(
        app.balance(user).await,
        100_000 - 6 * 1000,
        "nothing refunded: the orders are still owed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_refill_requests_are_forwarded_and_followed() {
    let app = TestApp::spawn().await;
    let (fake, _, service) = fake_provider_service(&app, "JAP").await;
    let (_, key) = app.funded_customer("q@example.com", 100_000).await;
    let running = place(&app, &key, service, 1000).await;
    let done = place(&app, &key, service, 1000).await;
    dispatch::run(&app.state).await.unwrap();
    // Orders are sent concurrently: map them to their upstream ids through the order rows.
    let running_remote = order(&app, &running).await.provider_order_id.unwrap();
    let done_remote = order(&app, &done).await.provider_order_id.unwrap();
    fake.set_status(&done_remote, "Completed", 1, 0);
    status_sync::run(&app.state).await.unwrap();

    app.ok(
        Some(&key),
        "mutation($id: ID!) { requestOrderCancel(orderId: $id) { request { status } } }",
        json!({ "id": running }),
    )
    .await;
    app.ok(
        Some(&key),
        "mutation($id: ID!) { requestOrderRefill(orderId: $id) { status } }",
        json!({ "id": done }),
    )
    .await;
    let report = order_requests::run(&app.state).await.unwrap();
    assert_eq!(report.forwarded, 2);
    assert_eq!(fake.cancels(), vec![running_remote.parse::<i64>().unwrap()]);
    assert_eq!(fake.refills(), vec![done_remote.parse::<i64>().unwrap()]);
    let report = order_requests::run(&app.state).await.unwrap();
    assert_eq!(report.completed, 1, "the refill is followed to completion");
    let requests = app
        .ok(
            Some(&key),
            "query($id: ID!) { order(id: $id) { requests { kind status } } }",
            json!({ "id": done }),
        )
        .await;
    assert_eq!(
        requests["order"]["requests"][0],
        json!({ "kind": "REFILL", "status": "COMPLETED" })
    );

    // The provider then cancels the order: the status sync refunds it in full.
    fake.set_status(&running_remote, "Canceled", 0, 1000);
    status_sync::run(&app.state).await.unwrap();
    let canceled = order(&app, &running).await;
    assert_eq!(
        (canceled.status, canceled.refunded),
        (OrderStatus::Canceled, 10_000)
    );
    let answer: Value = app
        .read(&key, "{ myOrders { edges { node { status } } } }")
        .await;
    assert_eq!(
        answer["myOrders"]["edges"][0]["node"]["status"],
        "COMPLETED"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_low_provider_balance_warns_the_admins_once() {
    let app = TestApp::spawn().await;
    let (fake, provider) = registered_fake(&app, "JAP").await;
    let admin = app.admin().await;
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminUpdateProvider(id: $id, input: { lowBalanceThreshold: \"200\" }) { lowBalanceThreshold } }",
        json!({ "id": provider.to_string() }),
    )
    .await;
    // The fake reports 100.50: below the threshold, twice; the admins hear it once.
    booster::jobs::provider_health::run(&app.state)
        .await
        .unwrap();
    booster::jobs::provider_health::run(&app.state)
        .await
        .unwrap();
    let data = app
        .ok(
            Some(&admin),
            "query($id: ID!) { adminProvider(id: $id) { balance balanceCheckedAt healthy lastLatencyMs } adminNotifications { kind message } }",
            json!({ "id": provider.to_string() }),
        )
        .await;
    assert_eq!(data["adminProvider"]["balance"], "100.5");
    assert_eq!(data["adminProvider"]["healthy"], true);
    let warnings: Vec<&Value> = data["adminNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "PROVIDER_LOW_BALANCE")
        .collect();
    assert_eq!(warnings.len(), 1, "{data}");
    assert!(warnings[0]["message"].as_str().unwrap().contains("100.5"));
    // Topped up, then low again: a new warning for the new crossing.
    fake.set_balance("500");
    booster::jobs::provider_health::run(&app.state)
        .await
        .unwrap();
    fake.set_balance("10");
    booster::jobs::provider_health::run(&app.state)
        .await
        .unwrap();
    let data = admin_notifications(&app, &admin).await;
    let count = data
        .iter()
        .filter(|n| n["kind"] == "PROVIDER_LOW_BALANCE")
        .count();
    assert_eq!(count, 2);
}

/// The admins' notifications, each with its kind, order id and message.
async fn admin_notifications(app: &TestApp, admin: &str) -> Vec<Value> {
    let query = "{ adminNotifications { kind orderId message } }";
    let data = app.ok(Some(admin), query, json!({})).await;
    data["adminNotifications"].as_array().unwrap().clone()
}

async fn wait_for_status(app: &TestApp, id: &str, status: OrderStatus) {
    for _ in 0..200 {
        if order(app, id).await.status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("order {id} never reached {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_during_dispatch_finishes_the_calls_in_flight_and_claims_nothing_more() {
    let app = TestApp::spawn_with(|c| {
        c.upstream.dispatch_batch = 2;
        c.upstream.dispatch_concurrency = 2;
    })
    .await;
    let (fake, provider) = registered_fake(&app, "Slow").await;
    fake.set_latency(Duration::from_millis(500));
    let service = provider_service(&app, provider, "101").await;
    let (_, key) = app.funded_customer("stop@example.com", 100_000).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(place(&app, &key, service, 100).await);
    }
    let state = app.state.clone();
    let round = tokio::spawn(async move { dispatch::run(&state).await });
    wait_for_status(&app, &ids[0], OrderStatus::Submitting).await;
    // SIGTERM arrives while two calls are in flight.
    app.state.shutdown.cancel();
    let report = round.await.unwrap().unwrap();
    assert_eq!((report.claimed, report.accepted), (2, 2), "{report:?}");
    let mut statuses = Vec::new();
    for id in &ids {
        statuses.push(order(&app, id).await.status);
    }
    let count = |s: OrderStatus| statuses.iter().filter(|&&x| x == s).count();
    assert_eq!(count(OrderStatus::Processing), 2, "{statuses:?}");
    assert_eq!(count(OrderStatus::Pending), 4, "nothing new is claimed");
    assert_eq!(count(OrderStatus::Submitting), 0, "nothing is stranded");
    assert_eq!(fake.add_calls(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claimed_request_is_not_claimed_again_before_its_lease_ends() {
    let app = TestApp::spawn_with(|c| c.upstream.status_sync_lease = Duration::from_secs(60)).await;
    let (fake, _, service) = fake_provider_service(&app, "JAP").await;
    let (_, key) = app.funded_customer("lease@example.com", 100_000).await;
    let running = place(&app, &key, service, 1000).await;
    dispatch::run(&app.state).await.unwrap();
    app.ok(
        Some(&key),
        "mutation($id: ID!) { requestOrderCancel(orderId: $id) { request { status } } }",
        json!({ "id": running }),
    )
    .await;
    let lease = Duration::from_secs(60);
    // Two workers, one after the other: before the fix the second claimed the same
    // PENDING request again and both forwarded it.
    let first = upstream::claim_requests(&mut *app.conn().await, 10, lease)
        .await
        .unwrap();
    let second = upstream::claim_requests(&mut *app.conn().await, 10, lease)
        .await
        .unwrap();
    assert_eq!((first.len(), second.len()), (1, 0));
    let report = order_requests::run(&app.state).await.unwrap();
    assert_eq!(report.forwarded, 0, "the lease holder alone may forward it");
    assert!(fake.cancels().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_settled_while_its_dispatch_was_in_flight_goes_to_review_when_accepted() {
    let app = TestApp::spawn().await;
    let (fake, provider) = registered_fake(&app, "Slow").await;
    fake.set_latency(Duration::from_millis(400));
    let service = provider_service(&app, provider, "101").await;
    let admin = app.admin().await;
    let (user, key) = app.funded_customer("late@example.com", 100_000).await;
    let id = place(&app, &key, service, 1000).await;
    let state = app.state.clone();
    let round = tokio::spawn(async move { dispatch::run(&state).await });
    wait_for_status(&app, &id, OrderStatus::Submitting).await;
    app.ok(
        Some(&admin),
        "mutation($input: AdminUpdateOrderStatusInput!) { adminUpdateOrderStatus(input: $input) { status } }",
        json!({ "input": { "orderId": id, "status": "CANCELED", "note": "customer asked by phone" } }),
    )
    .await;
    round.await.unwrap().unwrap();
    let late = order(&app, &id).await;
    assert_eq!(
        (late.status, late.refunded),
        (OrderStatus::NeedsReview, 10_000),
        "refunded once, and flagged: the provider will deliver it anyway"
    );
    assert!(late.provider_order_id.is_some());
    let feed = admin_notifications(&app, &admin).await;
    assert!(
        feed.iter().any(|n| n["kind"] == "ORDER_NEEDS_REVIEW"
            && n["message"]
                .as_str()
                .unwrap()
                .contains("after it was CANCELED")),
        "{feed:?}"
    );
    assert_eq!(app.balance(user).await, 100_000);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_provider_answer_is_bounded_and_the_refusal_still_refunds() {
    let app = TestApp::spawn().await;
    let (fake, _, service) = fake_provider_service(&app, "Verbose").await;
    let (user, key) = app.funded_customer("long@example.com", 100_000).await;
    // Longer than PostgreSQL's 8000-byte NOTIFY payload: before the fix the refusal's
    // transaction failed and the order landed in NEEDS_REVIEW, unrefunded.
    fake.set_add(AddBehaviour::Refuse("x".repeat(20_000)));
    let id = place(&app, &key, service, 1000).await;
    let report = dispatch::run(&app.state).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = order(&app, &id).await;
    assert_eq!(
        (failed.status, failed.refunded),
        (OrderStatus::Failed, 10_000)
    );
    let kept = failed.last_error.unwrap();
    assert!(kept.chars().count() <= 301, "{} characters", kept.len());
    assert_eq!(app.balance(user).await, 100_000);
    app.assert_books_balanced().await;
}
