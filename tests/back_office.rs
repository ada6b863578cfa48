//! The back office: the admin audit log, manual refunds, resolving deposits, user
//! details, the dashboard, reports and exports.

mod common;

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
