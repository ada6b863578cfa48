//! The wallet through GraphQL: creating deposits (validation, gateway failures),
//! transaction history, admin adjustments and ledger, and concurrent debits.

mod common;

use booster::{
    db::{
        enums::{DepositStatus, LedgerKind},
        schema,
    },
    domain::wallet::{self, LedgerRef},
};
use common::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

const CREATE: &str = "mutation($a: Rupiah!, $g: PaymentGateway!) { createDeposit(amount: $a, gateway: $g) { id status } }";
const ADJUST: &str = "mutation($u: ID!, $a: Rupiah!, $r: String!) { adminAdjustBalance(input: {userId: $u, amount: $a, reason: $r}) { id kind amount balanceAfter note actor { email } user { id } } }";

async fn deposit_statuses(app: &TestApp) -> Vec<DepositStatus> {
    let mut conn = app.conn().await;
    schema::deposits::table
        .select(schema::deposits::status)
        .order(schema::deposits::id.asc())
        .load(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_deposit_validates_amount_and_gateway() {
    let fake = fake_gateways::FakeGateways::start().await;
    let url = fake.url.clone();
    let app = TestApp::spawn_with(|config| {
        config.payments = test_payments_config(&url);
        config.payments.xendit_secret_key = None;
    })
    .await;
    let (_, token) = app.customer("ani@example.com").await;
    for amount in [9_999, 0, -5, 100_000_001] {
        let answer = app
            .gql(
                Some(&token),
                CREATE,
                json!({ "a": amount, "g": "MIDTRANS" }),
            )
            .await;
        assert_eq!(error_code(&answer), "VALIDATION", "{amount}");
        assert_eq!(error_field(&answer), "amount");
    }
    // Xendit has no key here: refused clearly, naming the field.
    let answer = app
        .gql(Some(&token), CREATE, json!({ "a": 10_000, "g": "XENDIT" }))
        .await;
    assert_invalid(&answer, "gateway");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not configured")
    );
    // Anonymous callers cannot deposit.
    let answer = app
        .gql(None, CREATE, json!({ "a": 10_000, "g": "MIDTRANS" }))
        .await;
    assert_eq!(error_code(&answer), "UNAUTHENTICATED");
    assert!(deposit_statuses(&app).await.is_empty());
    assert_eq!(
        std::sync::atomic::AtomicUsize::load(
            &fake.state.calls,
            std::sync::atomic::Ordering::SeqCst
        ),
        0
    );

    // Limits are bounds, inclusive.
    let min = app.create_deposit(&token, 10_000, "MIDTRANS").await;
    assert_eq!(min["status"], "PENDING");
    let max = app.create_deposit(&token, 100_000_000, "MIDTRANS").await;
    assert_eq!(max["amount"], 100_000_000);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_failure_is_gateway_unavailable_and_leaves_no_pending_deposit() {
    let (app, fake) = TestApp::spawn_with_gateways().await;
    let (_, token) = app.customer("bayu@example.com").await;

    fake.fail(true);
    for (gateway, other) in [("MIDTRANS", "XENDIT"), ("XENDIT", "MIDTRANS")] {
        let answer = app
            .gql(Some(&token), CREATE, json!({ "a": 10_000, "g": gateway }))
            .await;
        assert_eq!(error_code(&answer), "GATEWAY_UNAVAILABLE");
        let error = &answer["errors"][0];
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(gateway) && message.contains(other),
            "{message}"
        );
        assert!(message.contains("503"), "{message}");
        assert_eq!(error["extensions"]["gateway"], gateway);
        assert_eq!(error["extensions"]["alternatives"], json!([other]));
        assert!(answer["data"].is_null() || answer["data"]["createDeposit"].is_null());
        // No secret in the answer.
        let text = answer.to_string();
        assert!(!text.contains(MIDTRANS_SERVER_KEY) && !text.contains(XENDIT_SECRET_KEY));
    }
    assert_eq!(
        deposit_statuses(&app).await,
        vec![DepositStatus::Failed, DepositStatus::Failed]
    );
    fake.fail(false);
    let ok = app.create_deposit(&token, 10_000, "XENDIT").await;
    assert_eq!(ok["status"], "PENDING");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_gateway_and_only_one_configured() {
    // The default test config points both gateways at a closed port.
    let app = TestApp::spawn_with(|config| config.payments.xendit_secret_key = None).await;
    let (_, token) = app.customer("citra@example.com").await;
    let answer = app
        .gql(
            Some(&token),
            CREATE,
            json!({ "a": 10_000, "g": "MIDTRANS" }),
        )
        .await;
    assert_eq!(error_code(&answer), "GATEWAY_UNAVAILABLE");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );
    assert_eq!(answer["errors"][0]["extensions"]["alternatives"], json!([]));
    assert_eq!(deposit_statuses(&app).await, vec![DepositStatus::Failed]);
    // The failed deposit is visible to its owner, with the reason.
    let data = app
        .read(
            &token,
            "{ myDeposits(status: FAILED) { totalCount edges { node { status failureReason } } } }",
        )
        .await;
    assert_eq!(data["myDeposits"]["totalCount"], 1);
    assert!(
        data["myDeposits"]["edges"][0]["node"]["failureReason"]
            .as_str()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deposit_is_visible_to_its_owner_and_admins_only() {
    let (app, _fake) = TestApp::spawn_with_gateways().await;
    let (_, owner) = app.customer("dian@example.com").await;
    let (_, other) = app.customer("eka@example.com").await;
    let admin = app.admin().await;
    let deposit = app.create_deposit(&owner, 10_000, "MIDTRANS").await;
    let query = "query($id: ID!) { deposit(id: $id) { id amount status } }";
    let vars = json!({ "id": deposit["id"] });
    assert_eq!(
        app.ok(Some(&owner), query, vars.clone()).await["deposit"]["amount"],
        10_000
    );
    assert!(app.ok(Some(&other), query, vars.clone()).await["deposit"].is_null());
    assert_eq!(
        app.ok(Some(&admin), query, vars.clone()).await["deposit"]["status"],
        "PENDING"
    );
    assert_eq!(
        error_code(&app.gql(None, query, vars).await),
        "UNAUTHENTICATED"
    );
    // Customers cannot reach admin fields.
    let answer = app
        .gql(Some(&owner), "{ adminDeposits { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
    for (filter, count) in [
        ("gateway: MIDTRANS, status: PENDING", 1),
        ("gateway: XENDIT", 0),
    ] {
        let query = format!("{{ adminDeposits({filter}) {{ totalCount }} }}");
        let data = app.ok(Some(&admin), &query, json!({})).await;
        assert_eq!(data["adminDeposits"]["totalCount"], count, "{filter}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_adjusts_balance_with_reason_and_ledger_records_actor() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (user_id, token) = app.customer("fitri@example.com").await;
    let uid = user_id.to_string();

    let data = app
        .ok(
            Some(&admin),
            ADJUST,
            json!({ "u": uid, "a": 30_000, "r": "bonus" }),
        )
        .await;
    let entry = &data["adminAdjustBalance"];
    assert_eq!(entry["kind"], "ADJUSTMENT");
    assert_eq!(entry["amount"], 30_000);
    assert_eq!(entry["balanceAfter"], 30_000);
    assert_eq!(entry["note"], "bonus");
    assert_eq!(entry["actor"]["email"], "admin@example.com");
    let data = app
        .ok(
            Some(&admin),
            ADJUST,
            json!({ "u": uid, "a": -10_000, "r": "correction" }),
        )
        .await;
    assert_eq!(data["adminAdjustBalance"]["balanceAfter"], 20_000);

    let answer = app
        .gql(
            Some(&admin),
            ADJUST,
            json!({ "u": uid, "a": -20_001, "r": "too much" }),
        )
        .await;
    assert_eq!(error_code(&answer), "INSUFFICIENT_BALANCE");
    let answer = app
        .gql(
            Some(&admin),
            ADJUST,
            json!({ "u": uid, "a": 0, "r": "nothing" }),
        )
        .await;
    assert_invalid(&answer, "amount");
    let answer = app
        .gql(
            Some(&admin),
            ADJUST,
            json!({ "u": uid, "a": 5, "r": "   " }),
        )
        .await;
    assert_invalid(&answer, "reason");
    let answer = app
        .gql(
            Some(&admin),
            ADJUST,
            json!({ "u": "987654", "a": 5, "r": "ghost" }),
        )
        .await;
    assert_eq!(error_code(&answer), "NOT_FOUND");
    let answer = app
        .gql(
            Some(&token),
            ADJUST,
            json!({ "u": uid, "a": 1_000_000, "r": "me" }),
        )
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
    assert_eq!(app.balance(user_id).await, 20_000);

    let data = app
        .ok(
            Some(&admin),
            "query($u: ID!) { adminUserLedger(userId: $u, first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { amount note actor { email } } } } }",
            json!({ "u": uid }),
        )
        .await;
    let ledger = &data["adminUserLedger"];
    assert_eq!(ledger["totalCount"], 2);
    assert_eq!(ledger["pageInfo"]["hasNextPage"], true);
    assert_eq!(ledger["edges"][0]["node"]["amount"], -10_000);
    let data = app
        .ok(
            Some(&admin),
            "query($u: ID!, $c: String) { adminUserLedger(userId: $u, first: 5, after: $c) { pageInfo { hasNextPage } edges { node { amount } } } }",
            json!({ "u": uid, "c": ledger["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        data["adminUserLedger"]["edges"][0]["node"]["amount"],
        30_000
    );
    assert_eq!(data["adminUserLedger"]["pageInfo"]["hasNextPage"], false);
    let answer = app
        .gql(
            Some(&token),
            "query($u: ID!) { adminUserLedger(userId: $u) { totalCount } }",
            json!({ "u": uid }),
        )
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn my_transactions_filters_by_kind_and_date_and_pages_by_keyset() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (user_id, token) = app.customer("gilang@example.com").await;
    let (other_id, _) = app.customer("hana@example.com").await;
    for (amount, reason) in [(50_000, "a"), (-1_000, "b"), (2_000, "c")] {
        app.ok(
            Some(&admin),
            ADJUST,
            json!({ "u": user_id.to_string(), "a": amount, "r": reason }),
        )
        .await;
    }
    app.ok(
        Some(&admin),
        ADJUST,
        json!({ "u": other_id.to_string(), "a": 7, "r": "other" }),
    )
    .await;
    {
        let mut conn = app.conn().await;
        wallet::debit(
            &mut conn,
            user_id,
            500,
            LedgerKind::OrderCharge,
            &LedgerRef {
                note: "order".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let q = "query($k: LedgerKind, $f: DateTime, $t: DateTime, $n: Int, $c: String) { myTransactions(kind: $k, from: $f, to: $t, first: $n, after: $c) { totalCount pageInfo { hasNextPage endCursor } edges { node { amount kind note } } } }";
    let all = app.ok(Some(&token), q, json!({})).await;
    let notes: Vec<&str> = all["myTransactions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["note"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        vec!["order", "c", "b", "a"],
        "newest first, own entries only"
    );
    let charges = app
        .ok(Some(&token), q, json!({ "k": "ORDER_CHARGE" }))
        .await;
    assert_eq!(charges["myTransactions"]["totalCount"], 1);
    assert_eq!(
        charges["myTransactions"]["edges"][0]["node"]["amount"],
        -500
    );
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let none = app.ok(Some(&token), q, json!({ "f": future })).await;
    assert_eq!(none["myTransactions"]["totalCount"], 0);
    let window = app
        .ok(Some(&token), q, json!({ "f": past, "t": future }))
        .await;
    assert_eq!(window["myTransactions"]["totalCount"], 4);
    let answer = app
        .gql(Some(&token), q, json!({ "f": future, "t": past }))
        .await;
    assert_invalid(&answer, "from");

    // Keyset pages cover everything once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = app
            .ok(Some(&token), q, json!({ "n": 3, "c": cursor }))
            .await;
        for edge in page["myTransactions"]["edges"].as_array().unwrap() {
            seen.push(edge["node"]["note"].as_str().unwrap().to_string());
        }
        if page["myTransactions"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        cursor = page["myTransactions"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
    }
    assert_eq!(seen, vec!["order", "c", "b", "a"]);
    let answer = app.gql(Some(&token), q, json!({ "c": "bogus" })).await;
    assert_eq!(error_code(&answer), "VALIDATION");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_debits_never_go_below_zero() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (user_id, _) = app.customer("indra@example.com").await;
    const X: i64 = 1_000;
    app.ok(
        Some(&admin),
        ADJUST,
        json!({ "u": user_id.to_string(), "a": 20 * X, "r": "float" }),
    )
    .await;

    // 50 concurrent admin debits of X against a balance covering 20.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let http = app.http.clone();
        let url = format!("{}/graphql", app.base_url);
        let admin = admin.clone();
        let body = json!({ "query": ADJUST, "variables": { "u": user_id.to_string(), "a": -X, "r": format!("debit {i}") } });
        tasks.push(tokio::spawn(async move {
            let answer: serde_json::Value =
                json_answer(http.post(url).bearer_auth(admin).json(&body)).await;
            answer["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_string)
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            None => ok += 1,
            Some(code) => assert_eq!(code, "INSUFFICIENT_BALANCE"),
        }
    }
    assert_eq!(ok, 20);
    assert_eq!(app.balance(user_id).await, 0);
    app.assert_books_balanced().await;

    // The same straight through wallet::debit, 50 at once.
    {
        let mut conn = app.conn().await;
        let refill = wallet::Credit {
            user_id,
            amount: 20 * X,
            kind: LedgerKind::Adjustment,
            reference: LedgerRef {
                note: "refill".into(),
                ..Default::default()
            },
        };
        wallet::credit(&mut conn, refill).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let pool = app.state.pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            wallet::debit(
                &mut conn,
                user_id,
                X,
                LedgerKind::OrderCharge,
                &LedgerRef::default(),
            )
            .await
            .is_ok()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await.unwrap() as i32;
    }
    assert_eq!(ok, 20);
    assert_eq!(app.balance(user_id).await, 0);
    let negative: i64 = {
        let mut conn = app.conn().await;
        schema::ledger_entries::table
            .filter(schema::ledger_entries::balance_after.lt(0))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(negative, 0);
    app.assert_books_balanced().await;
}
