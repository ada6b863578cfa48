//! The back office: the admin audit log, manual refunds, resolving deposits, user
//! details, the dashboard, reports and exports.

mod common;

use booster::db::enums::Fulfillment;
use common::*;
use serde_json::{Value, json};

const AUDIT_LOG: &str = r#"query($action: String, $subjectType: String, $subjectId: ID) {
    adminAuditLog(first: 50, action: $action, subjectType: $subjectType, subjectId: $subjectId) {
        totalCount
        edges { node { action subjectType subjectId before after reason admin { email } } }
    }
}"#;

async fn audit_entries(app: &TestApp, admin: &str, filter: Value) -> Vec<Value> {
    let data = app.ok(Some(admin), AUDIT_LOG, filter).await;
    data["adminAuditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn admin_mutations_leave_who_what_and_before_after_in_the_audit_log() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, customer) = app.customer("buyer@example.com").await;

    let created = app
        .ok(
            Some(&admin),
            r#"mutation { adminCreateCategory(input: { name: "Twitter" }) { id } }"#,
            json!({}),
        )
        .await;
    let category_id = created["adminCreateCategory"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        Some(&admin),
        r#"mutation($id: ID!) { adminUpdateCategory(id: $id, input: { name: "Twitter Followers" }) { id } }"#,
        json!({ "id": category_id }),
    )
    .await;
    app.ok(
        Some(&admin),
        r#"mutation($id: ID!) { adminBanUser(userId: $id, reason: "chargeback fraud") { id } }"#,
        json!({ "id": customer_id.to_string() }),
    )
    .await;
    app.ok(
        Some(&admin),
        r#"mutation($id: ID!) { adminAdjustBalance(input: { userId: $id, amount: 5000, reason: "goodwill" }) { id } }"#,
        json!({ "id": customer_id.to_string() }),
    )
    .await;
    let provider = app
        .ok(
            Some(&admin),
            r#"mutation { adminCreateProvider(input: { name: "JAP", kind: API_V2,
                baseUrl: "http://127.0.0.1:9/api/v2", apiKey: "very-secret-provider-key",
                currency: USD, exchangeRate: "16000" }) { id } }"#,
            json!({}),
        )
        .await;

    let category = audit_entries(
        &app,
        &admin,
        json!({ "subjectType": "category", "subjectId": category_id }),
    )
    .await;
    assert_eq!(category.len(), 2, "{category:#?}");
    assert_eq!(category[0]["action"], "category.update");
    assert_eq!(category[0]["before"]["name"], "Twitter");
    assert_eq!(category[0]["after"]["name"], "Twitter Followers");
    assert_eq!(category[0]["admin"]["email"], "admin@example.com");
    assert_eq!(category[1]["action"], "category.create");
    assert!(category[1]["before"].is_null());

    let user = audit_entries(&app, &admin, json!({ "action": "user." })).await;
    let actions: Vec<&str> = user.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user.adjust_balance", "user.ban"]);
    assert_eq!(user[0]["reason"], "goodwill");
    assert_eq!(user[0]["before"]["balance"], 0);
    assert_eq!(user[0]["after"]["balance"], 5000);
    assert_eq!(user[1]["reason"], "chargeback fraud");
    assert!(user[1]["before"]["banned_at"].is_null());
    assert!(user[1]["after"]["banned_at"].is_string());

    // A provider's key never reaches the log, encrypted or not.
    let provider_id = provider["adminCreateProvider"]["id"].as_str().unwrap();
    let entries = audit_entries(
        &app,
        &admin,
        json!({ "subjectType": "provider", "subjectId": provider_id }),
    )
    .await;
    assert_eq!(entries.len(), 1);
    let text = entries[0].to_string();
    assert!(!text.contains("very-secret-provider-key"));
    assert!(entries[0]["after"].get("api_key_encrypted").is_none());
    assert_eq!(entries[0]["after"]["name"], "JAP");

    // The log is append-only, and customers cannot read it.
    let mut conn = app.conn().await;
    let tampered = diesel_async::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM admin_audit_log"),
        &mut *conn,
    )
    .await;
    assert!(tampered.is_err());
    let answer = app.gql(Some(&customer), AUDIT_LOG, json!({})).await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
}

#[tokio::test]
async fn a_refused_admin_change_leaves_no_audit_entry() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, _) = app.customer("buyer@example.com").await;
    let answer = app
        .gql(
            Some(&admin),
            r#"mutation($id: ID!) { adminAdjustBalance(input: { userId: $id, amount: -5000, reason: "oops" }) { id } }"#,
            json!({ "id": customer_id.to_string() }),
        )
        .await;
    assert_eq!(error_code(&answer), "INSUFFICIENT_BALANCE");
    let entries = audit_entries(&app, &admin, json!({})).await;
    assert!(entries.is_empty(), "{entries:#?}");
}

// ---------------------------------------------------------------------------
// Money actions

const REFUND: &str = r#"mutation($input: AdminRefundOrderInput!) {
    adminRefundOrder(input: $input) { id status refunded }
}"#;

/// An admin's manual refund of `order` (the rest of its charge without `amount`).
async fn refund(
    app: &TestApp,
    admin: &str,
    order: &str,
    amount: Option<i64>,
    reason: &str,
) -> Value {
    let mut input = json!({ "orderId": order, "reason": reason });
    if let Some(amount) = amount {
        input["amount"] = json!(amount);
    }
    app.gql(Some(admin), REFUND, json!({ "input": input }))
        .await
}

/// A customer's order of an own MANUAL service (no provider involved), placed
/// through the API; returns (customer id, their key, order id).
async fn placed_order(app: &TestApp, email: &str, charge_units: i64) -> (i64, String, String) {
    let (customer_id, key) = app.funded_customer(email, 1_000_000).await;
    let service = service(app, Fulfillment::Manual, 10_000, 1, 100_000).await;
    let input = order_input(service, "https://x.com/a/status/1", charge_units);
    let id = app.place(&key, input).await;
    (customer_id, key, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_refund_raced_ten_times_refunds_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // 1,000 units at 10,000 per 1000: a 10,000 rupiah charge.
    let (customer_id, _, order_id) = placed_order(&app, "buyer@example.com", 1000).await;
    let before = app.balance(customer_id).await;

    let attempts = (0..10).map(|_| refund(&app, &admin, &order_id, None, "customer complaint"));
    let answers = futures_util::future::join_all(attempts).await;
    let refunded: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("errors").is_none())
        .collect();
    assert_eq!(refunded.len(), 1, "{answers:#?}");
    assert_eq!(refunded[0]["data"]["adminRefundOrder"]["refunded"], 10_000);
    for answer in answers.iter().filter(|a| a.get("errors").is_some()) {
        assert_eq!(error_code(answer), "CONFLICT", "{answer:#}");
    }
    assert_eq!(app.balance(customer_id).await, before + 10_000);
    app.assert_books_balanced().await;
    let log = audit_entries(&app, &admin, json!({ "action": "order.refund" })).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["before"]["refunded"], 0);
    assert_eq!(log[0]["after"]["refunded"], 10_000);
}

#[tokio::test]
async fn a_partial_manual_refund_counts_towards_a_later_cancellation() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, _, order_id) = placed_order(&app, "buyer@example.com", 1000).await;
    let start = app.balance(customer_id).await;

    let part = refund(&app, &admin, &order_id, Some(3000), "late start").await;
    assert_eq!(
        part["data"]["adminRefundOrder"]["refunded"], 3000,
        "{part:#}"
    );
    for (amount, field) in [(0, "amount"), (-5, "amount")] {
        let answer = refund(&app, &admin, &order_id, Some(amount), "x").await;
        assert_invalid(&answer, field);
    }
    let blank = refund(&app, &admin, &order_id, None, "  ").await;
    assert_eq!(error_field(&blank), "reason");
    // Once per order: a second manual refund is refused even within the charge.
    let again = refund(&app, &admin, &order_id, Some(1000), "again").await;
    assert_eq!(error_code(&again), "CONFLICT");

    // Canceling it now refunds what is left (7,000), not the whole charge again.
    let canceled = app
        .ok(
            Some(&admin),
            r#"mutation($id: ID!) { adminUpdateOrderStatus(input: { orderId: $id, status: CANCELED, note: "provider gave up" }) { status refunded } }"#,
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(canceled["adminUpdateOrderStatus"]["refunded"], 10_000);
    assert_eq!(app.balance(customer_id).await, start + 10_000);
    let full = refund(&app, &admin, &order_id, None, "nothing left").await;
    assert_eq!(error_code(&full), "CONFLICT");
    app.assert_books_balanced().await;
}

#[tokio::test]
async fn a_refund_above_what_is_left_is_refused_naming_amount() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (_, _, order_id) = placed_order(&app, "buyer@example.com", 1000).await;
    let answer = refund(&app, &admin, &order_id, Some(10_001), "too much").await;
    assert_invalid(&answer, "amount");
    let missing = refund(&app, &admin, "999999", None, "nope").await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
}

/// A deposit row as a gateway's report would have left it: flagged for an admin.
async fn flagged_deposit(app: &TestApp, user_id: i64, amount: i64, status: &str) -> i64 {
    let mut conn = app.conn().await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Id = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "INSERT INTO deposits (user_id, amount, gateway, status, merchant_ref, expires_at, paid_at, flagged, flag_reason) \
             VALUES ($1, $2, 'MIDTRANS', $3, 'dep-' || gen_random_uuid(), now() + interval '1 day', \
                     CASE WHEN $3 = 'PAID' THEN now() END, true, \
                     'amount mismatch: expected 50000, midtrans reported \"49000\" paid') RETURNING id",
        )
        .bind::<diesel::sql_types::BigInt, _>(user_id)
        .bind::<diesel::sql_types::BigInt, _>(amount)
        .bind::<diesel::sql_types::Text, _>(status),
        &mut *conn,
    )
    .await
    .unwrap();
    row.id
}

const RESOLVE: &str = r#"mutation($input: AdminResolveDepositInput!) {
    adminResolveDeposit(input: $input) { id status flagged resolution resolutionNote resolvedBy { email } }
}"#;

/// Resolves a flagged deposit (CREDIT or REJECT) as `token`; returns the answer.
async fn resolve(
    app: &TestApp,
    token: &str,
    deposit: i64,
    resolution: &str,
    reason: &str,
) -> Value {
    let input =
        json!({ "depositId": deposit.to_string(), "resolution": resolution, "reason": reason });
    app.gql(Some(token), RESOLVE, json!({ "input": input }))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn crediting_a_flagged_deposit_raced_ten_times_credits_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, _) = app.customer("payer@example.com").await;
    let deposit = flagged_deposit(&app, customer_id, 50_000, "PENDING").await;

    let attempts = (0..10).map(|_| {
        resolve(
            &app,
            &admin,
            deposit,
            "CREDIT",
            "bank statement shows 50,000",
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let credited: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("errors").is_none())
        .collect();
    assert_eq!(credited.len(), 1, "{answers:#?}");
    let resolved = &credited[0]["data"]["adminResolveDeposit"];
    assert_eq!(resolved["status"], "PAID");
    assert_eq!(resolved["flagged"], false);
    assert_eq!(resolved["resolution"], "CREDITED");
    assert_eq!(resolved["resolvedBy"]["email"], "admin@example.com");
    for answer in answers.iter().filter(|a| a.get("errors").is_some()) {
        assert_eq!(error_code(answer), "CONFLICT");
    }
    assert_eq!(app.balance(customer_id).await, 50_000);
    app.assert_books_balanced().await;
}

#[tokio::test]
async fn rejecting_a_flagged_deposit_moves_no_money_and_a_credited_one_cannot_be_credited_twice() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, customer) = app.customer("payer@example.com").await;
    let pending = flagged_deposit(&app, customer_id, 50_000, "PENDING").await;
    let rejected = resolve(&app, &admin, pending, "REJECT", "never arrived").await;
    assert_eq!(
        rejected["data"]["adminResolveDeposit"]["status"], "FAILED",
        "{rejected:#}"
    );
    assert_eq!(
        rejected["data"]["adminResolveDeposit"]["resolution"],
        "REJECTED"
    );
    assert_eq!(app.balance(customer_id).await, 0);

    // Paid and credited, then reported reversed: only a rejection is possible.
    let paid = flagged_deposit(&app, customer_id, 20_000, "PAID").await;
    {
        use booster::{db::enums::LedgerKind, domain::wallet};
        let reference = wallet::LedgerRef {
            deposit_id: Some(paid),
            note: "paid".into(),
            ..Default::default()
        };
        let deposit = wallet::Credit {
            user_id: customer_id,
            amount: 20_000,
            kind: LedgerKind::Deposit,
            reference,
        };
        wallet::credit(&mut *app.conn().await, deposit)
            .await
            .unwrap();
    }
    let twice = resolve(&app, &admin, paid, "CREDIT", "x").await;
    assert_eq!(error_code(&twice), "CONFLICT");
    assert_eq!(app.balance(customer_id).await, 20_000);

    let customer_try = resolve(&app, &customer, paid, "CREDIT", "me").await;
    assert_eq!(error_code(&customer_try), "FORBIDDEN");
    app.assert_books_balanced().await;
}

#[tokio::test]
async fn admins_see_a_users_figures_keys_and_note_and_find_them_by_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, customer, _) = placed_order(&app, "buyer@example.com", 2000).await;
    app.ok(
        Some(&admin),
        r#"mutation($id: ID!) { adminSetUserNote(userId: $id, note: "VIP agency, answer fast") { id } }"#,
        json!({ "id": customer_id.to_string() }),
    )
    .await;
    let found = app
        .ok(
            Some(&admin),
            r#"query($search: String) { adminUsers(search: $search) { edges { node {
                email adminNote lifetimeDeposits spend orderCount lastSeenAt apiKeys { prefix lastUsedAt active }
            } } } }"#,
            json!({ "search": format!("#{customer_id}") }),
        )
        .await;
    let user = &found["adminUsers"]["edges"][0]["node"];
    assert_eq!(user["email"], "buyer@example.com");
    assert_eq!(user["adminNote"], "VIP agency, answer fast");
    assert_eq!(user["spend"], 20_000);
    assert_eq!(user["orderCount"], 1);
    assert_eq!(
        user["lifetimeDeposits"], 0,
        "funded by an adjustment, not a deposit"
    );
    assert!(user["lastSeenAt"].is_string(), "the key was used to order");
    assert_eq!(user["apiKeys"][0]["active"], true);

    // None of it is reachable by the customer, not even about themselves.
    for field in [
        "adminNote",
        "spend",
        "orderCount",
        "lastSeenAt",
        "lifetimeDeposits",
    ] {
        let answer = app
            .gql(
                Some(&customer),
                &format!("{{ me {{ {field} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&answer), "FORBIDDEN", "{field}");
    }
    let note = app
        .gql(
            Some(&customer),
            r#"mutation($id: ID!) { adminSetUserNote(userId: $id, note: "hi") { id } }"#,
            json!({ "id": customer_id.to_string() }),
        )
        .await;
    assert_eq!(error_code(&note), "FORBIDDEN");
}

// ---------------------------------------------------------------------------
// Dashboard and reports

/// One hand-built order: what the figures must be computed from.
struct Fixture {
    user: i64,
    service: i64,
    provider: Option<i64>,
    quantity: i64,
    charge: i64,
    status: &'static str,
    remains: Option<i64>,
    refunded: i64,
    provider_cost: Option<i64>,
    /// RFC 3339 with an offset.
    placed_at: &'static str,
}

impl Fixture {
    /// Computed here, independently of the server's SQL.
    fn revenue(&self) -> i64 {
        self.charge - self.refunded
    }
    fn delivered_cost(&self) -> i64 {
        let cost = self.provider_cost.unwrap_or(0);
        match self.status {
            "CANCELED" | "FAILED" => 0,
            "PARTIAL" => cost * (self.quantity - self.remains.unwrap()) / self.quantity,
            _ => cost,
        }
    }
}

async fn insert(app: &TestApp, f: &Fixture) {
    let mut conn = app.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, \
               remains, refunded, provider_id, provider_service_id, provider_cost, created_at) \
             VALUES ($1, $2, 'https://x.com/a/status/1', $3, 0, $4, $5, $6, $7, $8, \
               CASE WHEN $8 IS NULL THEN NULL ELSE '1' END, $9, $10::timestamptz)",
        )
        .bind::<diesel::sql_types::BigInt, _>(f.user)
        .bind::<diesel::sql_types::BigInt, _>(f.service)
        .bind::<diesel::sql_types::BigInt, _>(f.quantity)
        .bind::<diesel::sql_types::BigInt, _>(f.charge)
        .bind::<diesel::sql_types::Text, _>(f.status)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(f.remains)
        .bind::<diesel::sql_types::BigInt, _>(f.refunded)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(f.provider)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(f.provider_cost)
        .bind::<diesel::sql_types::Text, _>(f.placed_at),
        &mut *conn,
    )
    .await
    .unwrap();
}

async fn provider_of(app: &TestApp, service: i64) -> Option<i64> {
    use booster::db::schema::services;
    use diesel::prelude::*;
    diesel_async::RunQueryDsl::get_result(
        services::table.find(service).select(services::provider_id),
        &mut *app.conn().await,
    )
    .await
    .unwrap()
}

const MONEY: &str = "money { orders revenue providerCost grossProfit marginBps averageOrderValue }";

fn money_of(fixtures: &[&Fixture]) -> Value {
    let revenue: i64 = fixtures.iter().map(|f| f.revenue()).sum();
    let cost: i64 = fixtures.iter().map(|f| f.delivered_cost()).sum();
    let orders = fixtures.len() as i64;
    json!({
        "orders": orders,
        "revenue": revenue,
        "providerCost": cost,
        "grossProfit": revenue - cost,
        "marginBps": if revenue > 0 { Some((revenue - cost) * 10_000 / revenue) } else { None },
        "averageOrderValue": if orders > 0 { Some(revenue / orders) } else { None },
    })
}

#[tokio::test]
async fn dashboard_and_reports_match_totals_computed_by_hand_in_the_admins_time_zone() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (alice, _) = app.customer("alice@example.com").await;
    let (bob, _) = app.customer("bob@example.com").await;
    let followers = service(&app, Fulfillment::Provider, 15_840, 10, 100_000).await;
    let likes = service(&app, Fulfillment::Provider, 20_000, 10, 100_000).await;
    let accounts = service(&app, Fulfillment::Stock, 50_000_000, 1, 10).await;
    let (p1, p2) = (
        provider_of(&app, followers).await,
        provider_of(&app, likes).await,
    );

    // Bob's completed likes, placed at a time given below.
    let outside = Fixture {
        user: bob,
        service: likes,
        provider: p2,
        quantity: 100,
        charge: 2_000,
        status: "COMPLETED",
        remains: Some(0),
        refunded: 0,
        provider_cost: Some(1_600),
        placed_at: "",
    };
    let fixtures = [
        // 23:30 in Jakarta on the 25th (16:30 UTC): the 25th.
        Fixture {
            user: alice,
            service: followers,
            provider: p1,
            quantity: 1000,
            charge: 15_840,
            status: "COMPLETED",
            remains: Some(0),
            refunded: 0,
            provider_cost: Some(14_400),
            placed_at: "2026-11-25T23:30:00+07:00",
        },
        // 00:30 in Jakarta on the 26th is still the 25th in UTC: the 26th here.
        Fixture {
            user: alice,
            service: followers,
            provider: p1,
            quantity: 2000,
            charge: 31_680,
            status: "PARTIAL",
            remains: Some(500),
            refunded: 7_920,
            provider_cost: Some(28_800),
            placed_at: "2026-11-26T00:30:00+07:00",
        },
        Fixture {
            user: bob,
            service: likes,
            provider: p2,
            quantity: 500,
            charge: 10_000,
            status: "CANCELED",
            remains: Some(500),
            refunded: 10_000,
            provider_cost: Some(8_000),
            placed_at: "2026-11-26T10:00:00+07:00",
        },
        // An own product with a manual partial refund.
        Fixture {
            user: bob,
            service: accounts,
            provider: None,
            quantity: 1,
            charge: 50_000,
            status: "COMPLETED",
            remains: Some(0),
            refunded: 5_000,
            provider_cost: None,
            placed_at: "2026-11-26T12:00:00+07:00",
        },
        Fixture {
            user: alice,
            service: likes,
            provider: p2,
            quantity: 100,
            charge: 2_000,
            status: "IN_PROGRESS",
            remains: None,
            refunded: 0,
            provider_cost: Some(1_600),
            placed_at: "2026-11-26T23:59:00+07:00",
        },
        // Outside the period on both sides.
        Fixture {
            placed_at: "2026-11-24T23:59:00+07:00",
            ..outside
        },
        Fixture {
            placed_at: "2026-11-27T00:00:00+07:00",
            ..outside
        },
    ];
    for f in &fixtures {
        insert(&app, f).await;
    }
    // A question the reply bot cannot answer waits for staff.
    let (_, asker) = app.customer("asker@example.com").await;
    app.ok(
        Some(&asker),
        r#"mutation { openTicket(input: { subject: "Partnership", topic: OTHER, message: "Can we talk about a reseller deal?" }) { ticket { id } } }"#,
        json!({}),
    )
    .await;
    let in_period: Vec<&Fixture> = fixtures[..5].iter().collect();
    let in_period_where = |keep: &dyn Fn(&Fixture) -> bool| -> Vec<&Fixture> {
        in_period.iter().copied().filter(|f| keep(f)).collect()
    };

    let dashboard = app
        .ok(
            Some(&admin),
            &format!(
                r#"{{ adminDashboard(from: "2026-11-25", to: "2026-11-26", timezone: "Asia/Jakarta") {{
                    from to timezone {MONEY} ordersByStatus {{ status orders revenue }}
                    activeBuyers attention {{ ordersNeedingReview flaggedDeposits servicesOutOfStock openTickets }}
                }} }}"#
            ),
            json!({}),
        )
        .await;
    let d = &dashboard["adminDashboard"];
    assert_eq!(d["money"], money_of(&in_period), "{d:#}");
    assert_eq!(d["activeBuyers"], 2);
    assert_eq!(
        d["attention"]["servicesOutOfStock"], 1,
        "the stock service has no items"
    );
    assert_eq!(d["attention"]["openTickets"], 1);
    let completed = &d["ordersByStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "COMPLETED")
        .unwrap()["orders"];
    assert_eq!(*completed, 2);

    // Per day in Jakarta: the 00:30 order is on the 26th ...
    let report = |timezone: &'static str, group: &'static str| {
        let query = format!(
            r#"{{ adminReport(from: "2026-11-25", to: "2026-11-26", timezone: "{timezone}", groupBy: {group}) {{ key label {MONEY} }} }}"#
        );
        let app = &app;
        let admin = admin.clone();
        async move { app.ok(Some(&admin), &query, json!({})).await["adminReport"].clone() }
    };
    let days = report("Asia/Jakarta", "DAY").await;
    assert_eq!(days[0]["key"], "2026-11-25");
    assert_eq!(days[0]["money"], money_of(&[&fixtures[0]]));
    assert_eq!(days[1]["key"], "2026-11-26");
    assert_eq!(days[1]["money"], money_of(&in_period[1..]));
    assert_eq!(days.as_array().unwrap().len(), 2);
    // ... and in UTC it is on the 25th (and the 23:59 order of the 24th in Jakarta
    // is the 24th in UTC too, outside; the 23:59 of the 26th is still the 26th).
    let utc_days = report("UTC", "DAY").await;
    assert_eq!(utc_days[0]["money"]["orders"], 2, "{utc_days:#}");
    // A week starts on Monday and a month on its first day, before the period:
    // one bucket each, holding the whole period.
    for (group, key) in [("WEEK", "2026-11-23"), ("MONTH", "2026-11-01")] {
        let buckets = report("Asia/Jakarta", group).await;
        assert_eq!(buckets.as_array().unwrap().len(), 1, "{buckets:#}");
        assert_eq!(buckets[0]["key"], key);
        assert_eq!(buckets[0]["money"], money_of(&in_period), "{group}");
    }

    // Per provider: own products are one row with an empty key.
    let providers = report("Asia/Jakarta", "PROVIDER").await;
    let row = |rows: &Value, key: String| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key.as_str())
            .unwrap_or_else(|| panic!("no {key} in {rows:#}"))
            .clone()
    };
    let p1_orders = in_period_where(&|f| f.provider == p1);
    let p2_orders = in_period_where(&|f| f.provider == p2);
    let own = in_period_where(&|f| f.provider.is_none());
    assert_eq!(
        row(&providers, p1.unwrap().to_string())["money"],
        money_of(&p1_orders)
    );
    assert_eq!(
        row(&providers, p2.unwrap().to_string())["money"],
        money_of(&p2_orders)
    );
    let own_row = row(&providers, String::new());
    assert_eq!(own_row["money"], money_of(&own));
    assert_eq!(own_row["label"], "own products");

    // Per user, top 1 by revenue.
    let users = app
        .ok(
            Some(&admin),
            &format!(
                r#"{{ adminReport(from: "2026-11-25", to: "2026-11-26", groupBy: USER, top: 1) {{ key label {MONEY} }} }}"#
            ),
            json!({}),
        )
        .await;
    let alice_orders = in_period_where(&|f| f.user == alice);
    let bob_orders = in_period_where(&|f| f.user == bob);
    let top = if money_of(&alice_orders)["revenue"].as_i64()
        > money_of(&bob_orders)["revenue"].as_i64()
    {
        ("alice@example.com", money_of(&alice_orders))
    } else {
        ("bob@example.com", money_of(&bob_orders))
    };
    assert_eq!(users["adminReport"].as_array().unwrap().len(), 1);
    assert_eq!(users["adminReport"][0]["label"], top.0);
    assert_eq!(users["adminReport"][0]["money"], top.1);

    // Per month: one bucket holding the whole period.
    let months = report("Asia/Jakarta", "MONTH").await;
    assert_eq!(months.as_array().unwrap().len(), 1);
    assert_eq!(months[0]["key"], "2026-11-01");
    assert_eq!(months[0]["money"], money_of(&in_period));
}

/// A day or week holds its own orders when the zone's offset changes inside the
/// period (the buckets are uneven, so the server cannot bin by a fixed length),
/// and when it does not (Jakarta: binned by a fixed length); and a dashboard reads
/// only the parts asked for.
#[tokio::test]
async fn buckets_hold_their_own_orders_across_a_daylight_saving_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (alice, _) = app.customer("alice@example.com").await;
    let followers = service(&app, Fulfillment::Provider, 15_840, 10, 100_000).await;
    let provider = provider_of(&app, followers).await;
    let order = |charge: i64, placed_at: &'static str| Fixture {
        user: alice,
        service: followers,
        provider,
        quantity: 1000,
        charge,
        status: "COMPLETED",
        remains: Some(0),
        refunded: 0,
        provider_cost: Some(charge / 2),
        placed_at,
    };
    // Berlin leaves summer time at 03:00 on Sunday 25 October 2026: that day is
    // 25 hours long, so the 26th starts at 23:00 UTC, not 22:00.
    let fixtures = [
        order(1_000, "2026-10-24T23:30:00+02:00"),
        order(2_000, "2026-10-25T00:30:00+02:00"),
        // 22:30 UTC: a fixed 24 hours from the 24th's start would put it on the 26th.
        order(4_000, "2026-10-25T23:30:00+01:00"),
        order(8_000, "2026-10-26T00:30:00+01:00"),
        // Jakarta, without daylight saving: 16:59 and 17:00 UTC.
        order(16_000, "2026-11-10T23:59:00+07:00"),
        order(32_000, "2026-11-11T00:00:00+07:00"),
    ];
    for f in &fixtures {
        insert(&app, f).await;
    }
    let report = |from: &'static str, to: &'static str, timezone: &'static str, group: &str| {
        let query = format!(
            r#"{{ adminReport(from: "{from}", to: "{to}", timezone: "{timezone}", groupBy: {group}) {{ key {MONEY} }} }}"#
        );
        let app = &app;
        let admin = admin.clone();
        async move { app.ok(Some(&admin), &query, json!({})).await["adminReport"].clone() }
    };
    let keyed = |rows: &Value| -> Vec<(String, Value)> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| (r["key"].as_str().unwrap().to_string(), r["money"].clone()))
            .collect()
    };
    let days = report("2026-10-24", "2026-10-26", "Europe/Berlin", "DAY").await;
    assert_eq!(
        keyed(&days),
        vec![
            ("2026-10-24".into(), money_of(&[&fixtures[0]])),
            ("2026-10-25".into(), money_of(&[&fixtures[1], &fixtures[2]])),
            ("2026-10-26".into(), money_of(&[&fixtures[3]])),
        ],
        "{days:#}"
    );
    // The week of Monday the 19th ends on the 25th at 23:00 UTC.
    let weeks = report("2026-10-19", "2026-10-26", "Europe/Berlin", "WEEK").await;
    assert_eq!(
        keyed(&weeks),
        vec![
            (
                "2026-10-19".into(),
                money_of(&fixtures[..3].iter().collect::<Vec<_>>())
            ),
            ("2026-10-26".into(), money_of(&[&fixtures[3]])),
        ],
        "{weeks:#}"
    );
    let days = report("2026-11-10", "2026-11-12", "Asia/Jakarta", "DAY").await;
    let nothing: [&Fixture; 0] = [];
    assert_eq!(
        keyed(&days),
        vec![
            ("2026-11-10".into(), money_of(&[&fixtures[4]])),
            ("2026-11-11".into(), money_of(&[&fixtures[5]])),
            ("2026-11-12".into(), money_of(&nothing)),
        ],
        "{days:#}"
    );

    // The dashboard reads its parts when asked: the period's money is one scan
    // (shared with the buyers), the whole dashboard four aggregates.
    let dashboard = |selection: &str| {
        format!(
            r#"{{ adminDashboard(from: "2026-11-10", to: "2026-11-11", timezone: "Asia/Jakarta") {{ {selection} }} }}"#
        )
    };
    let (statements, answer) = app
        .statements_of(app.ok(
            Some(&admin),
            &dashboard("money { orders revenue } activeBuyers"),
            json!({}),
        ))
        .await;
    assert_eq!(answer["adminDashboard"]["money"]["revenue"], 48_000);
    assert_eq!(answer["adminDashboard"]["activeBuyers"], 1);
    assert_eq!(statements, 1);
    let (statements, answer) = app
        .statements_of(app.ok(
            Some(&admin),
            &dashboard(
                "money { orders } ordersByStatus { status } activeBuyers newUsers deposits { count } attention { openTickets }",
            ),
            json!({}),
        ))
        .await;
    assert_eq!(answer["adminDashboard"]["money"]["orders"], 2);
    assert_eq!(statements, 4);
}

#[tokio::test]
async fn reports_refuse_bad_periods_and_customers() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("c@example.com").await;
    for (args, field) in [
        (r#"from: "2026-11-26", to: "2026-11-25""#, "to"),
        (
            r#"from: "2026-11-26", to: "2026-11-26", timezone: "Mars/Olympus""#,
            "timezone",
        ),
        (r#"from: "2000-01-01", to: "2026-11-26""#, "to"),
    ] {
        let answer = app
            .gql(
                Some(&admin),
                &format!("{{ adminDashboard({args}) {{ newUsers }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(
            (error_code(&answer), error_field(&answer)),
            ("VALIDATION".into(), field.to_string()),
            "{args}"
        );
    }
    let top = app
        .gql(
            Some(&admin),
            r#"{ adminReport(from: "2026-11-26", to: "2026-11-26", groupBy: SERVICE, top: 0) { key } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_field(&top), "top");
    for query in [
        r#"{ adminDashboard(from: "2026-11-26", to: "2026-11-26") { newUsers } }"#,
        r#"{ adminReport(from: "2026-11-26", to: "2026-11-26", groupBy: DAY) { key } }"#,
        r#"{ adminAuditLog { totalCount } }"#,
    ] {
        let answer = app.gql(Some(&customer), query, json!({})).await;
        assert_eq!(error_code(&answer), "FORBIDDEN", "{query}");
        let anonymous = app.gql(None, query, json!({})).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{query}");
    }
}

// ---------------------------------------------------------------------------
// Exports

/// The process's resident memory in KiB (server and client both live in it).
fn resident_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Streams an export, parsing it as it arrives: (records, sum of `column`, peak
/// resident growth in KiB while it streamed, header).
async fn stream_export(
    app: &TestApp,
    token: &str,
    path: &str,
    column: &str,
) -> (i64, i64, i64, Vec<String>) {
    use futures_util::StreamExt;
    let baseline = resident_kib();
    let response = app
        .http
        .get(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let mut body = response.bytes_stream();
    let (mut pending, mut header, mut index) = (Vec::<u8>::new(), Vec::new(), usize::MAX);
    let (mut records, mut sum, mut peak) = (0i64, 0i64, 0i64);
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.unwrap());
        let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        let complete: Vec<u8> = pending.drain(..=end).collect();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&complete[..]);
        for record in reader.records() {
            let record = record.unwrap();
            if header.is_empty() {
                header = record.iter().map(String::from).collect();
                index = header.iter().position(|h| h == column).unwrap();
                continue;
            }
            records += 1;
            sum += record[index].parse::<i64>().unwrap();
        }
        peak = peak.max(resident_kib() - baseline);
    }
    assert!(pending.is_empty(), "the export ends with a complete line");
    (records, sum, peak, header)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_of_100000_orders_streams_in_flat_memory_and_parses_back_to_the_same_totals() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (buyer, _) = app.customer("buyer@example.com").await;
    let followers = service(&app, Fulfillment::Manual, 10_000, 1, 100_000).await;
    let fill = |count: i64| {
        let app = &app;
        async move {
            diesel_async::RunQueryDsl::execute(
                diesel::sql_query(
                    "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, refunded, created_at) \
                     SELECT $1, $2, 'https://x.com/a/status/' || g, 100 + g % 900, 10000, (100 + g % 900) * 10, \
                       'COMPLETED', 0, timestamptz '2026-11-20 12:00+07' + g * interval '1 second' \
                     FROM generate_series(1, $3) g",
                )
                .bind::<diesel::sql_types::BigInt, _>(buyer)
                .bind::<diesel::sql_types::BigInt, _>(followers)
                .bind::<diesel::sql_types::BigInt, _>(count),
                &mut *app.conn().await,
            )
            .await
            .unwrap();
        }
    };
    let expected_sum = |count: i64| (1..=count).map(|g| (100 + g % 900) * 10).sum::<i64>();

    fill(10_000).await;
    let (small, small_sum, small_peak, header) =
        stream_export(&app, &admin, "/admin/exports/orders.csv", "charge").await;
    assert_eq!((small, small_sum), (10_000, expected_sum(10_000)));
    assert_eq!(&header[..3], ["id", "created_at", "user_id"]);

    fill(90_000).await;
    let (large, large_sum, large_peak, _) =
        stream_export(&app, &admin, "/admin/exports/orders.csv", "charge").await;
    assert_eq!(large, 100_000);
    assert_eq!(
        large_sum,
        small_sum
            + (10_001..=100_000)
                .map(|g| (100 + g % 900) * 10)
                .sum::<i64>()
    );
    // Ten times the rows (about 13 MB of CSV) must not take ten times the memory.
    println!(
        "resident growth while streaming: 10,000 orders {small_peak} KiB, 100,000 orders {large_peak} KiB"
    );
    assert!(
        large_peak < small_peak + 16 * 1024,
        "memory grew with the export: {small_peak} KiB for 10,000 rows, {large_peak} KiB for 100,000"
    );

    // A period in the admin's time zone and a status filter narrow it.
    let (day, _, _, _) = stream_export(
        &app,
        &admin,
        "/admin/exports/orders.csv?from=2026-11-20&to=2026-11-20&timezone=Asia%2FJakarta&status=COMPLETED",
        "charge",
    )
    .await;
    // Both fills start at 12:00:01 in Jakarta, one order a second: all 10,000 of
    // the first and 43,199 of the second fall before midnight.
    assert_eq!(day, 10_000 + 43_199);
}

#[tokio::test]
async fn exports_are_for_admins_and_escape_formulas() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, customer) = app.customer("buyer@example.com").await;
    // A ledger note an attacker controls ends up in the accountant's spreadsheet.
    app.ok(
        Some(&admin),
        r#"mutation($id: ID!) { adminAdjustBalance(input: { userId: $id, amount: 700, reason: "=HYPERLINK(\"http://evil\")" }) { id } }"#,
        json!({ "id": customer_id.to_string() }),
    )
    .await;
    let text = app
        .get_text("/admin/exports/ledger.csv", Some(&admin))
        .await;
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(!text.contains(",=HYPERLINK"), "{text}");
    let (rows, sum, _, _) =
        stream_export(&app, &admin, "/admin/exports/ledger.csv", "amount").await;
    assert_eq!((rows, sum), (1, 700));
    let (services, _, _, header) =
        stream_export(&app, &admin, "/admin/exports/catalog.csv", "price_per_1000").await;
    assert_eq!(services, 0);
    assert!(header.is_empty());

    let get = |token: Option<String>, path: &'static str| {
        let request = app.http.get(format!("{}{path}", app.base_url));
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    assert_eq!(get(None, "/admin/exports/orders.csv").await.0, 401);
    assert_eq!(
        get(Some(customer.clone()), "/admin/exports/orders.csv")
            .await
            .0,
        403
    );
    assert_eq!(
        get(Some(admin.clone()), "/admin/exports/secrets.csv")
            .await
            .0,
        404
    );
    let (status, body) = get(
        Some(admin.clone()),
        "/admin/exports/orders.csv?from=yesterday&to=2026-11-20",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (400, Some("VALIDATION"), Some("from"))
    );
    let (status, body) = get(Some(admin.clone()), "/admin/exports/orders.csv?status=PAID").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("status")));
    let (status, body) = get(
        Some(admin.clone()),
        "/admin/exports/deposits.csv?from=2026-11-20",
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("to")));
}

const IMPORT_CSV: &str = r#"mutation($csv: String!, $dryRun: Boolean!) {
    adminImportCatalogCsv(csv: $csv, dryRun: $dryRun) {
        applied createdServiceIds updatedServiceIds categoriesCreated errors { line column message }
    }
}"#;

/// Imports a catalogue CSV (or only checks it, on a dry run); returns the report.
async fn import_csv(app: &TestApp, admin: &str, csv: &str, dry_run: bool) -> Value {
    let variables = json!({ "csv": csv, "dryRun": dry_run });
    app.ok(Some(admin), IMPORT_CSV, variables).await["adminImportCatalogCsv"].clone()
}

#[tokio::test]
async fn the_catalogue_export_edited_and_imported_back_updates_own_services_all_or_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let accounts = service(&app, Fulfillment::Stock, 50_000_000, 1, 10).await;
    let imported = service(&app, Fulfillment::Provider, 15_840, 10, 10_000).await;
    let exported = app
        .get_text("/admin/exports/catalog.csv", Some(&admin))
        .await;
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let own = rows
        .iter()
        .find(|r| r[col("id")] == accounts.to_string())
        .unwrap();

    // The own product gets a new price; a new one is added in a new category.
    let mut edited = csv::Writer::from_writer(Vec::new());
    edited.write_record(&header).unwrap();
    let mut changed: Vec<String> = own.iter().map(String::from).collect();
    changed[col("price_per_1000")] = "45000000".into();
    edited.write_record(&changed).unwrap();
    let mut added = changed.clone();
    added[col("id")] = String::new();
    added[col("name")] = "Aged Twitter account (2015)".into();
    added[col("category")] = "Twitter Accounts".into();
    added[col("fulfillment")] = "MANUAL".into();
    edited.write_record(&added).unwrap();
    let good = String::from_utf8(edited.into_inner().unwrap()).unwrap();

    let dry = &import_csv(&app, &admin, &good, true).await;
    assert_eq!(dry["applied"], false);
    assert_eq!(dry["updatedServiceIds"], json!([accounts.to_string()]));
    assert_eq!(dry["createdServiceIds"].as_array().unwrap().len(), 1);
    assert_eq!(dry["errors"], json!([]));
    let price = |id: i64| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.ok(
                Some(&admin),
                "query($id: ID!) { service(id: $id) { pricePer1000 } }",
                json!({ "id": id.to_string() }),
            )
            .await["service"]["pricePer1000"]
                .clone()
        }
    };
    assert_eq!(
        price(accounts).await,
        50_000_000,
        "a dry run writes nothing"
    );

    // One bad line (and an imported service) keeps the whole file from applying.
    let mut bad: Vec<String> = rows
        .iter()
        .find(|r| r[col("id")] == imported.to_string())
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    bad[col("price_per_1000")] = "1".into();
    let mut broken = added.clone();
    broken[col("min_quantity")] = "ten".into();
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in [
        header.iter().map(String::from).collect::<Vec<_>>(),
        changed.clone(),
        bad,
        broken,
    ] {
        writer.write_record(&record).unwrap();
    }
    let mixed = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    let refused = &import_csv(&app, &admin, &mixed, false).await;
    assert_eq!(refused["applied"], false);
    assert_eq!(
        refused["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (
                e["line"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_string()
            ))
            .collect::<Vec<_>>(),
        vec![
            (3, "fulfillment".to_string()),
            (4, "min_quantity".to_string())
        ],
        "{refused:#}"
    );
    assert_eq!(price(accounts).await, 50_000_000);

    let applied = &import_csv(&app, &admin, &good, false).await;
    assert_eq!(applied["applied"], true, "{applied:#}");
    assert_eq!(applied["categoriesCreated"], json!(["Twitter Accounts"]));
    assert_eq!(price(accounts).await, 45_000_000);
    let log = audit_entries(&app, &admin, json!({ "action": "catalog.import_csv" })).await;
    assert_eq!(log.len(), 1);

    let missing = app
        .gql(
            Some(&admin),
            IMPORT_CSV,
            json!({ "csv": "name,price\nx,1\n", "dryRun": true }),
        )
        .await;
    assert_invalid(&missing, "csv");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_cost_is_recorded_when_the_provider_accepts_and_kept_after_a_rate_change() {
    use booster::jobs::dispatch;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (_fake, provider) = registered_fake(&app, "JAP").await;
    // A rate of 7.5 rupiah per 1000 (the provider bills in rupiah).
    let followers = service_with(&app, Fulfillment::Provider, 10_000, 10, 100_000, |s| {
        s.provider_id = Some(provider);
        s.provider_service_id = Some("101".into());
        s.provider_rate = Some("7.5".parse().unwrap());
    })
    .await;
    let (_, key) = app.funded_customer("buyer@example.com", 1_000_000).await;
    let order = |quantity: i64| {
        let (app, key) = (&app, key.clone());
        async move {
            let input = order_input(followers, "https://x.com/a/status/1", quantity);
            app.place(&key, input).await
        }
    };
    let id = order(3000).await;
    let cost = |id: String| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.ok(
                Some(&admin),
                "query($id: ID!) { order(id: $id) { providerCost } }",
                json!({ "id": id }),
            )
            .await["order"]["providerCost"]
                .clone()
        }
    };
    assert_eq!(cost(id.clone()).await, Value::Null, "not accepted yet");
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(
        cost(id.clone()).await,
        23,
        "7.5 x 3000 / 1000 = 22.5, rounded"
    );

    app.ok(
        Some(&admin),
        r#"mutation($id: ID!) { adminUpdateService(id: $id, input: { providerRate: "20" }) { id } }"#,
        json!({ "id": followers.to_string() }),
    )
    .await;
    assert_eq!(cost(id).await, 23, "history is not rewritten");
    let later = order(1000).await;
    dispatch::run(&app.state).await.unwrap();
    assert_eq!(cost(later).await, 20);
}
