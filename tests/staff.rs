//! Staff roles from outside: a SUPPORT agent answers tickets but every money,
//! provider and export field refuses them, over HTTP and over a WebSocket; a
//! permission taken away while their socket is open applies to its next
//! operation; the last owner stays one; the audit log names the actor's role.

mod common;

use std::time::Duration;

use booster::db::enums::Role;
use common::{
    TestApp, error_code,
    sockets::{self, next_json, wait_until_live, ws_connect},
};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const ROLES: &str = "{ adminStaffRoles { id name permissions } }";
const SET_ROLE: &str = "mutation($u: ID!, $r: Role!, $s: ID) { adminSetUserRole(userId: $u, role: $r, staffRoleId: $s) { role staffRoleId } }";

/// The id of the built-in staff role `name`.
async fn role_id(app: &TestApp, owner: &str, name: &str) -> Value {
    let roles = app.read(owner, ROLES).await;
    roles["adminStaffRoles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} role in {roles}"))["id"]
        .clone()
}

/// A staff member with the built-in role `name`; answers their id and API key.
async fn staff(app: &TestApp, owner: &str, email: &str, name: &str) -> (i64, String) {
    let (id, key) = app.customer(email).await;
    let role = role_id(app, owner, name).await;
    let set = app
        .ok(
            Some(owner),
            SET_ROLE,
            json!({ "u": id.to_string(), "r": "STAFF", "s": role }),
        )
        .await;
    assert_eq!(set["adminSetUserRole"]["role"], "STAFF");
    (id, key)
}

/// Runs a query over the socket and answers its `next` payload.
async fn over_socket(socket: &mut sockets::Socket, id: &str, query: &str) -> Value {
    let subscribe = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    loop {
        let message = next_json(socket).await;
        if message["id"] == id && message["type"] == "next" {
            return message["payload"].clone();
        }
        if message["id"] == id && message["type"] == "error" {
            return json!({ "errors": message["payload"] });
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_support_agent_answers_tickets_but_cannot_move_money() {
    let app = TestApp::spawn().await;
    let owner = app.admin().await;
    let (_, agent) = staff(&app, &owner, "agent@example.com", "SUPPORT").await;
    let (customer_id, customer) = app.funded_customer("budi@example.com", 50_000).await;

    let opened = app.read(&customer, "mutation { openTicket(input: { subject: \"Help\", topic: OTHER, message: \"Where is my order?\" }) { ticket { id } } }").await;
    let ticket = opened["openTicket"]["ticket"]["id"].clone();
    let reply = app
        .ok(Some(&agent), "mutation($id: ID!) { adminReplyToTicket(ticketId: $id, body: \"On its way\", internal: false) { status } }", json!({ "id": ticket }))
        .await;
    assert!(reply["adminReplyToTicket"]["status"].is_string());

    let customer = customer_id.to_string();
    let refused = [
        (
            "mutation($u: ID!) { adminAdjustBalance(input: { userId: $u, amount: 1000, reason: \"gift\" }) { id } }",
            json!({ "u": customer }),
        ),
        (
            "mutation { adminRefundOrder(input: { orderId: \"1\", reason: \"sorry\" }) { id } }",
            json!({}),
        ),
        ("{ adminProviders { id } }", json!({})),
        ("{ adminDeposits { totalCount } }", json!({})),
        (
            "query($u: ID!) { adminUserLedger(userId: $u) { totalCount } }",
            json!({ "u": customer }),
        ),
        (
            "mutation($u: ID!) { adminSetUserRole(userId: $u, role: OWNER) { role } }",
            json!({ "u": customer }),
        ),
    ];
    for (query, variables) in &refused {
        let answer = app.gql(Some(&agent), query, variables.clone()).await;
        assert_eq!(error_code(&answer), "FORBIDDEN", "{query}: {answer}");
    }
    for export in ["ledger", "deposits", "catalog"] {
        let response = app
            .http
            .get(format!("{}/admin/exports/{export}.csv", app.base_url))
            .bearer_auth(&agent)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{export}");
    }
    // Orders are readable (ORDERS_READ): the agent sees what the customer asks about.
    let orders = app.read(&agent, "{ adminOrders { totalCount } }").await;
    assert_eq!(orders["adminOrders"]["totalCount"], 0);

    // The same over a WebSocket.
    wait_until_live(&app).await;
    let mut socket = ws_connect(&app.base_url, sockets::TRANSPORT_WS, &agent).await;
    let providers = over_socket(&mut socket, "1", "{ adminProviders { id } }").await;
    assert_eq!(
        providers["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{providers}"
    );
    let tickets = over_socket(&mut socket, "2", "{ adminTickets { totalCount } }").await;
    assert_eq!(
        tickets["data"]["adminTickets"]["totalCount"], 1,
        "{tickets}"
    );

    // The audit log names the agent's role at the time.
    let log = app
        .read(
            &owner,
            "{ adminAuditLog(action: \"ticket.reply\") { edges { node { actorRole } } } }",
        )
        .await;
    let roles: Vec<&Value> = log["adminAuditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["actorRole"])
        .collect();
    assert!(roles.iter().all(|r| *r == "STAFF:SUPPORT"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_taken_away_applies_to_the_next_socket_operation() {
    let app = TestApp::spawn().await;
    let owner = app.admin().await;
    let (_, agent) = staff(&app, &owner, "agent@example.com", "SUPPORT").await;
    wait_until_live(&app).await;
    let mut socket = ws_connect(&app.base_url, sockets::TRANSPORT_WS, &agent).await;
    let before = over_socket(&mut socket, "1", "{ adminTickets { totalCount } }").await;
    assert!(before["errors"].is_null(), "{before}");

    let support = role_id(&app, &owner, "SUPPORT").await;
    app.ok(
        Some(&owner),
        "mutation($id: ID!) { adminSaveStaffRole(id: $id, name: \"SUPPORT\", permissions: [ORDERS_READ]) { permissions } }",
        json!({ "id": support }),
    )
    .await;
    // The change reaches this process as a notice; the next operation re-reads.
    let mut after = Value::Null;
    for attempt in 0..50 {
        after = over_socket(
            &mut socket,
            &format!("again-{attempt}"),
            "{ adminTickets { totalCount } }",
        )
        .await;
        if !after["errors"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        after["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{after}"
    );
    // Over HTTP too.
    let http = app
        .gql(Some(&agent), "{ adminTickets { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&http), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_are_kept_and_granted_only_by_owners() {
    let app = TestApp::spawn().await;
    let (owner_id, owner) = app.user("owner@example.com", Role::Owner).await;
    let (second_id, second) = app.user("second@example.com", Role::Owner).await;
    // A staff member who may manage staff still cannot make anyone an owner.
    let custom = app.read(&owner, "mutation { adminSaveStaffRole(name: \"HR\", permissions: [STAFF, USERS]) { id permissions } }").await;
    assert_eq!(
        custom["adminSaveStaffRole"]["permissions"],
        json!(["STAFF", "USERS"])
    );
    let (hr_id, hr) = app.customer("hr@example.com").await;
    app.ok(
        Some(&owner),
        SET_ROLE,
        json!({ "u": hr_id.to_string(), "r": "STAFF", "s": custom["adminSaveStaffRole"]["id"] }),
    )
    .await;
    let (customer_id, _) = app.customer("c@example.com").await;
    let promote = app
        .gql(
            Some(&hr),
            SET_ROLE,
            json!({ "u": customer_id.to_string(), "r": "OWNER", "s": null }),
        )
        .await;
    assert_eq!(error_code(&promote), "FORBIDDEN");
    let ban_owner = app
        .gql(
            Some(&hr),
            "mutation($u: ID!) { adminBanUser(userId: $u, reason: \"x\") { banned } }",
            json!({ "u": owner_id.to_string() }),
        )
        .await;
    assert_eq!(error_code(&ban_owner), "FORBIDDEN");

    // Two owners: one may demote the other; the last one stays.
    app.ok(
        Some(&owner),
        SET_ROLE,
        json!({ "u": second_id.to_string(), "r": "CUSTOMER", "s": null }),
    )
    .await;
    let demoted = app
        .gql(Some(&second), "{ adminUsers { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&demoted), "FORBIDDEN");
    let (third_id, third) = app.user("third@example.com", Role::Owner).await;
    app.ok(
        Some(&third),
        SET_ROLE,
        json!({ "u": owner_id.to_string(), "r": "CUSTOMER", "s": null }),
    )
    .await;
    let last = app
        .gql(
            Some(&owner),
            SET_ROLE,
            json!({ "u": third_id.to_string(), "r": "CUSTOMER", "s": null }),
        )
        .await;
    assert_eq!(error_code(&last), "FORBIDDEN");
    let ban_last = app
        .gql(
            Some(&hr),
            "mutation($u: ID!) { adminBanUser(userId: $u, reason: \"x\") { banned } }",
            json!({ "u": third_id.to_string() }),
        )
        .await;
    assert_eq!(error_code(&ban_last), "FORBIDDEN");
    let staff_needs_role = app
        .gql(
            Some(&third),
            SET_ROLE,
            json!({ "u": customer_id.to_string(), "r": "STAFF", "s": null }),
        )
        .await;
    assert_eq!(error_code(&staff_needs_role), "VALIDATION");
}
