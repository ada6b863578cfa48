//! Payment webhooks: Midtrans notifications (signature_key, confirmed with the status
//! API) and Xendit callbacks (x-callback-token); exactly-once crediting under
//! duplicate, concurrent and out-of-order deliveries; forged, malformed, wrong-amount
//! and unknown-deposit notifications; reconciliation of lost webhooks.

mod common;

use booster::{
    db::{deposits::DepositRow, enums::DepositStatus, schema},
    jobs::reconcile_deposits,
};
use common::{fake_gateways::*, *};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const MIDTRANS: &str = "/webhooks/midtrans";
const XENDIT: &str = "/webhooks/xendit";

async fn deposit_row(app: &TestApp, merchant_ref: &str) -> DepositRow {
    let mut conn = app.conn().await;
    DepositRow::find_by_merchant_ref(&mut conn, merchant_ref)
        .await
        .unwrap()
        .unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.conn().await;
    diesel::sql_query(format!("SELECT count(*)::bigint AS n FROM {table}"))
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n
}

async fn ledger_count(app: &TestApp) -> i64 {
    count(app, "ledger_entries").await
}

/// Sends a Midtrans notification signed with the test server key, after making the
/// fake status API report the same state.
async fn midtrans_notify(
    app: &TestApp,
    fake: &FakeGateways,
    order_id: &str,
    status: &str,
    fraud: &str,
    gross: &str,
) -> (u16, Value) {
    fake.set_midtrans_status(order_id, status, fraud, gross);
    let body = signed_notification(order_id, status, fraud, gross);
    app.post_json(MIDTRANS, &[], &body.to_string()).await
}

async fn xendit_notify(app: &TestApp, body: &Value) -> (u16, Value) {
    app.post_json(
        XENDIT,
        &[("x-callback-token", xendit_token())],
        &body.to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn midtrans_settlement_credits_once_and_later_reports_change_nothing() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("budi@example.com").await;
    let deposit = app.create_deposit(&token, 50_000, "MIDTRANS").await;
    assert_eq!(deposit["status"], "PENDING");
    assert!(deposit["snapToken"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        deposit["paymentUrl"]
            .as_str()
            .unwrap()
            .contains("/snap/v2/vtweb/")
    );
    let order_id = deposit["merchantReference"].as_str().unwrap().to_string();
    // The Snap request followed the documented shape.
    let sent = fake.state.snap_orders.lock().unwrap()[&order_id].clone();
    assert_eq!(sent["transaction_details"]["gross_amount"], 50_000);

    // pending keeps waiting
    let (status, body) =
        midtrans_notify(&app, &fake, &order_id, "pending", "accept", "50000.00").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("WAITING")));
    assert_eq!(app.balance(user_id).await, 0);

    let (status, body) =
        midtrans_notify(&app, &fake, &order_id, "settlement", "accept", "50000.00").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("CREDITED")));
    assert_eq!(app.balance(user_id).await, 50_000);

    // duplicate delivery
    let (status, body) =
        midtrans_notify(&app, &fake, &order_id, "settlement", "accept", "50000.00").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("DUPLICATE")));
    // out of order: a stale "pending" after settlement
    let body = signed_notification(&order_id, "pending", "accept", "50000.00");
    let (status, _) = app.post_json(MIDTRANS, &[], &body.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(app.balance(user_id).await, 50_000);
    let row = deposit_row(&app, &order_id).await;
    assert_eq!(row.status, DepositStatus::Paid);
    assert_eq!(
        row.gateway_ref.as_deref(),
        Some(format!("tx-{order_id}").as_str())
    );
    assert!(!row.flagged);

    // The customer sees it paid, and the ledger entry.
    let data = app.read(&token, "{ me { balance } myDeposits { totalCount edges { node { status paidAt amount } } } myTransactions { edges { node { kind amount balanceAfter deposit { merchantReference } } } } }").await;
    assert_eq!(data["me"]["balance"], 50_000);
    assert_eq!(data["myDeposits"]["edges"][0]["node"]["status"], "PAID");
    let entry = &data["myTransactions"]["edges"][0]["node"];
    assert_eq!(entry["kind"], "DEPOSIT");
    assert_eq!(entry["amount"], 50_000);
    assert_eq!(entry["deposit"]["merchantReference"], order_id.as_str());

    // Reconciliation has nothing left to do.
    let report = reconcile_deposits::run(&app.state).await.unwrap();
    assert_eq!(report.checked, 0);
    assert_eq!(ledger_count(&app).await, 1);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn xendit_paid_callback_credits_once() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("sari@example.com").await;
    let deposit = app.create_deposit(&token, 25_000, "XENDIT").await;
    let external_id = deposit["merchantReference"].as_str().unwrap().to_string();
    let invoice = fake.invoice_by_external_id(&external_id);
    assert_eq!(invoice["amount"], 25_000);
    assert_eq!(deposit["paymentUrl"], invoice["invoice_url"]);
    let invoice_id = invoice["id"].as_str().unwrap().to_string();

    let callback = fake.set_invoice_status(&invoice_id, "PAID", Some(25_000));
    let (status, body) = xendit_notify(&app, &callback).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("CREDITED")));
    // SETTLED later is the same money: no second credit.
    let callback = fake.set_invoice_status(&invoice_id, "SETTLED", None);
    let (status, body) = xendit_notify(&app, &callback).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("DUPLICATE")));
    assert_eq!(app.balance(user_id).await, 25_000);
    let row = deposit_row(&app, &external_id).await;
    assert_eq!(row.status, DepositStatus::Paid);
    assert_eq!(row.gateway_ref.as_deref(), Some(invoice_id.as_str()));
    assert_eq!(ledger_count(&app).await, 1);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_deliveries_credit_once() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("dewi@example.com").await;

    let order_id = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    fake.set_midtrans_status(&order_id, "settlement", "accept", "10000.00");
    let notification =
        signed_notification(&order_id, "settlement", "accept", "10000.00").to_string();

    let external_id = app.deposit_reference(&token, 20_000, "XENDIT").await;
    let callback = fake
        .set_invoice_status(&fake.invoice_id(&external_id), "PAID", Some(20_000))
        .to_string();

    let mut tasks = Vec::new();
    for _ in 0..20 {
        for (path, body, headers) in [
            (MIDTRANS, notification.clone(), vec![]),
            (
                XENDIT,
                callback.clone(),
                vec![("x-callback-token", xendit_token())],
            ),
        ] {
            let http = app.http.clone();
            let url = format!("{}{path}", app.base_url);
            tasks.push(tokio::spawn(async move {
                let mut request = http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body);
                for (k, v) in headers {
                    request = request.header(k, v);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (
                    status,
                    body["outcome"].as_str().unwrap_or_default().to_string(),
                )
            }));
        }
    }
    let mut credited = 0;
    for task in tasks {
        let (status, outcome) = task.await.unwrap();
        assert_eq!(status, 200, "every delivery is acknowledged");
        match outcome.as_str() {
            "CREDITED" => credited += 1,
            "DUPLICATE" => {}
            other => panic!("unexpected outcome {other}"),
        }
    }
    assert_eq!(credited, 2, "one credit per deposit");
    assert_eq!(app.balance(user_id).await, 30_000);
    assert_eq!(ledger_count(&app).await, 2);
    // One event row per distinct report, however many deliveries.
    assert_eq!(count(&app, "deposit_events").await, 2);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_malformed_and_unknown_notifications_change_nothing() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("eko@example.com").await;
    let order_id = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    let external_id = app.deposit_reference(&token, 10_000, "XENDIT").await;
    let invoice_id = fake.invoice_id(&external_id);
    fake.set_midtrans_status(&order_id, "settlement", "accept", "10000.00");
    let paid_invoice = fake.set_invoice_status(&invoice_id, "PAID", Some(10_000));

    // Midtrans: signed with another key.
    let forged =
        midtrans_notification(&order_id, "settlement", "accept", "10000.00", "not-the-key");
    assert_eq!(
        app.post_json(MIDTRANS, &[], &forged.to_string()).await.0,
        403
    );
    // Midtrans: a genuine signature for 10000.00, the amount then changed.
    let mut tampered = signed_notification(&order_id, "settlement", "accept", "10000.00");
    tampered["gross_amount"] = json!("1000000.00");
    assert_eq!(
        app.post_json(MIDTRANS, &[], &tampered.to_string()).await.0,
        403
    );
    // Malformed: not JSON, missing fields, wrong types.
    assert_eq!(app.post_json(MIDTRANS, &[], "{not json").await.0, 400);
    assert_eq!(
        app.post_json(MIDTRANS, &[], r#"{"order_id": "x"}"#).await.0,
        400
    );
    assert_eq!(app.post_json(MIDTRANS, &[], r#"[1,2,3]"#).await.0, 400);
    // Unknown deposit, correctly signed.
    let unknown = signed_notification("DEP-999999-deadbeef", "settlement", "accept", "10000.00");
    assert_eq!(
        app.post_json(MIDTRANS, &[], &unknown.to_string()).await.0,
        404
    );

    // Xendit: wrong, missing token.
    let body = paid_invoice.to_string();
    assert_eq!(
        app.post_json(XENDIT, &[("x-callback-token", "guess")], &body)
            .await
            .0,
        403
    );
    assert_eq!(app.post_json(XENDIT, &[], &body).await.0, 403);
    // Malformed, with a valid token.
    let token_header = [("x-callback-token", xendit_token())];
    assert_eq!(app.post_json(XENDIT, &token_header, "garbage").await.0, 400);
    assert_eq!(
        app.post_json(XENDIT, &token_header, r#"{"status": "PAID"}"#)
            .await
            .0,
        400
    );
    // Unknown external_id.
    let mut unknown = paid_invoice.clone();
    unknown["external_id"] = json!("DEP-424242-00000000");
    assert_eq!(xendit_notify(&app, &unknown).await.0, 404);
    // A Midtrans order id sent as a Xendit callback is not a Xendit deposit.
    let mut crossed = paid_invoice.clone();
    crossed["external_id"] = json!(order_id);
    assert_eq!(xendit_notify(&app, &crossed).await.0, 404);

    assert_eq!(app.balance(user_id).await, 0);
    assert_eq!(ledger_count(&app).await, 0);
    assert_eq!(count(&app, "deposit_events").await, 0);
    for reference in [&order_id, &external_id] {
        let row = deposit_row(&app, reference).await;
        assert_eq!(row.status, DepositStatus::Pending);
        assert!(!row.flagged);
    }
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_amounts_are_flagged_not_credited() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("fajar@example.com").await;
    let order_id = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    let (status, body) =
        midtrans_notify(&app, &fake, &order_id, "settlement", "accept", "9000.00").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("FLAGGED")));

    let external_id = app.deposit_reference(&token, 10_000, "XENDIT").await;
    let invoice_id = fake.invoice_id(&external_id);
    let callback = fake.set_invoice_status(&invoice_id, "PAID", Some(5_000));
    let (status, body) = xendit_notify(&app, &callback).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("FLAGGED")));

    assert_eq!(app.balance(user_id).await, 0);
    for reference in [&order_id, &external_id] {
        let row = deposit_row(&app, reference).await;
        assert!(row.flagged);
        assert!(row.flag_reason.unwrap().contains("amount mismatch"));
        assert_eq!(row.status, DepositStatus::Pending);
    }
    // Admins find them, with the notification history.
    let admin = app.admin().await;
    let data = app.read(&admin, "{ adminDeposits(flagged: true) { totalCount edges { node { flagged flagReason user { email } events { source outcome gatewayStatus payload } } } } }").await;
    assert_eq!(data["adminDeposits"]["totalCount"], 2);
    let node = &data["adminDeposits"]["edges"][0]["node"];
    assert_eq!(node["user"]["email"], "fajar@example.com");
    assert_eq!(node["events"][0]["outcome"], "FLAGGED");
    assert_eq!(node["events"][0]["source"], "WEBHOOK");
    // Flagged deposits are left to the admin, not polled.
    assert_eq!(
        reconcile_deposits::run(&app.state).await.unwrap().checked,
        0
    );
    // Customers cannot see admin fields.
    let answer = app
        .gql(
            Some(&token),
            "{ myDeposits { edges { node { flagged } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_expiry_and_reversals() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("gita@example.com").await;

    let denied = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    let (status, body) = midtrans_notify(&app, &fake, &denied, "deny", "deny", "10000.00").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("FAILED")));
    assert_eq!(
        deposit_row(&app, &denied).await.status,
        DepositStatus::Failed
    );

    let expired = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    let (_, body) = midtrans_notify(&app, &fake, &expired, "expire", "accept", "10000.00").await;
    assert_eq!(body["outcome"], "EXPIRED");
    assert_eq!(
        deposit_row(&app, &expired).await.status,
        DepositStatus::Expired
    );

    // challenge is still pending
    let challenged = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    let (_, body) =
        midtrans_notify(&app, &fake, &challenged, "capture", "challenge", "10000.00").await;
    assert_eq!(body["outcome"], "WAITING");
    // ... until accepted
    let (_, body) =
        midtrans_notify(&app, &fake, &challenged, "capture", "accept", "10000.00").await;
    assert_eq!(body["outcome"], "CREDITED");
    assert_eq!(app.balance(user_id).await, 10_000);

    // A settlement turned into deny, then a chargeback: flagged, never un-paid.
    let (_, body) = midtrans_notify(&app, &fake, &challenged, "deny", "accept", "10000.00").await;
    assert_eq!(body["outcome"], "FLAGGED");
    let (_, body) =
        midtrans_notify(&app, &fake, &challenged, "chargeback", "accept", "10000.00").await;
    assert_eq!(body["outcome"], "FLAGGED");
    let row = deposit_row(&app, &challenged).await;
    assert_eq!(row.status, DepositStatus::Paid);
    assert!(row.flagged);
    let reason = row.flag_reason.unwrap();
    assert!(
        reason.contains("deny") && reason.contains("chargeback"),
        "{reason}"
    );
    assert_eq!(app.balance(user_id).await, 10_000);

    // Status API down while confirming: 502, so Midtrans retries; nothing changes.
    let waiting = app.deposit_reference(&token, 10_000, "MIDTRANS").await;
    fake.set_midtrans_status(&waiting, "settlement", "accept", "10000.00");
    fake.fail(true);
    let body = signed_notification(&waiting, "settlement", "accept", "10000.00");
    assert_eq!(app.post_json(MIDTRANS, &[], &body.to_string()).await.0, 502);
    fake.fail(false);
    assert_eq!(
        deposit_row(&app, &waiting).await.status,
        DepositStatus::Pending
    );
    // The status API is the authority: a forged-looking "settlement" the API calls
    // pending is not credited.
    fake.set_midtrans_status(&waiting, "pending", "accept", "10000.00");
    let (status, body) = app.post_json(MIDTRANS, &[], &body.to_string()).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("WAITING")));
    assert_eq!(app.balance(user_id).await, 10_000);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_webhooks_are_recovered_by_reconciliation() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("hadi@example.com").await;
    let order_id = app.deposit_reference(&token, 15_000, "MIDTRANS").await;
    let external_id = app.deposit_reference(&token, 35_000, "XENDIT").await;
    let invoice_id = fake.invoice_id(&external_id);
    let unpaid = app.deposit_reference(&token, 10_000, "MIDTRANS").await;

    // Nothing paid yet: everything checked, nothing changes.
    let report = reconcile_deposits::run(&app.state).await.unwrap();
    assert_eq!((report.checked, report.credited, report.expired), (3, 0, 0));

    // Both get paid; neither webhook arrives.
    fake.set_midtrans_status(&order_id, "settlement", "accept", "15000.00");
    fake.set_invoice_status(&invoice_id, "PAID", Some(35_000));
    // A gateway outage only postpones.
    fake.fail(true);
    let report = reconcile_deposits::run(&app.state).await.unwrap();
    assert_eq!(report.credited, 0);
    assert!(report.errors >= 3);
    fake.fail(false);
    let report = reconcile_deposits::run(&app.state).await.unwrap();
    assert_eq!(report.credited, 2);
    assert_eq!(app.balance(user_id).await, 50_000);

    // The unpaid one expires once its time is up (the gateway never heard of a payment).
    {
        let mut conn = app.conn().await;
        diesel::update(schema::deposits::table.filter(schema::deposits::merchant_ref.eq(&unpaid)))
            .set(schema::deposits::expires_at.eq(chrono::Utc::now() - chrono::Duration::minutes(1)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let report = reconcile_deposits::run(&app.state).await.unwrap();
    assert_eq!((report.checked, report.expired, report.credited), (1, 1, 0));
    assert_eq!(
        deposit_row(&app, &unpaid).await.status,
        DepositStatus::Expired
    );

    // A late webhook for the reconciled deposit is a harmless duplicate.
    let (status, body) =
        midtrans_notify(&app, &fake, &order_id, "settlement", "accept", "15000.00").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("DUPLICATE")));
    assert_eq!(
        reconcile_deposits::run(&app.state).await.unwrap().checked,
        0
    );
    assert_eq!(app.balance(user_id).await, 50_000);
    assert_eq!(ledger_count(&app).await, 2);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_reconcilers_credit_each_deposit_once() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (user_id, token) = app.customer("joko@example.com").await;
    let mut expected = 0;
    for i in 0..12 {
        let amount = 10_000 + i * 1_000;
        expected += amount;
        if i % 2 == 0 {
            let order_id = app.deposit_reference(&token, amount, "MIDTRANS").await;
            fake.set_midtrans_status(&order_id, "settlement", "accept", &format!("{amount}.00"));
        } else {
            let external_id = app.deposit_reference(&token, amount, "XENDIT").await;
            fake.set_invoice_status(&fake.invoice_id(&external_id), "PAID", Some(amount));
        }
    }
    // Four "processes" at once, plus the webhooks for half of them racing in.
    let mut runs = Vec::new();
    for _ in 0..4 {
        let state = app.state.clone();
        runs.push(tokio::spawn(async move {
            reconcile_deposits::run(&state).await.unwrap()
        }));
    }
    let mut credited = 0;
    for run in runs {
        credited += run.await.unwrap().credited;
    }
    assert_eq!(credited, 12);
    assert_eq!(app.balance(user_id).await, expected);
    assert_eq!(ledger_count(&app).await, 12);

    // A redelivered paid notification for a paid deposit is answered without asking
    // Midtrans again.
    let paid: Vec<String> = {
        let mut conn = app.conn().await;
        schema::deposits::table
            .filter(schema::deposits::gateway.eq(booster::db::enums::PaymentGateway::Midtrans))
            .select(schema::deposits::merchant_ref)
            .load(&mut conn)
            .await
            .unwrap()
    };
    let calls_before = fake.calls();
    let row = deposit_row(&app, &paid[0]).await;
    let body = signed_notification(
        &paid[0],
        "settlement",
        "accept",
        &format!("{}.00", row.amount),
    );
    let (status, answer) = app.post_json(MIDTRANS, &[], &body.to_string()).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("DUPLICATE"))
    );
    let calls_after = fake.calls();
    assert_eq!(calls_before, calls_after);
    app.assert_books_balanced().await;
}
