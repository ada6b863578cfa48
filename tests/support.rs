//! The support desk against the real server and PostgreSQL: the reply bot answers
//! from live order data and files refill and cancel requests, customers reach
//! only their own orders and tickets, internal notes never reach a customer
//! (queries, subscriptions, mail), the contact form's per-address limit and
//! honeypot, the FAQ, and notifications by mail through a real SMTP conversation
//! honouring each user's settings.

mod common;

use std::time::Duration;

use booster::{
    config::Secret,
    db::{
        enums::{Fulfillment, MailStatus},
        mail_outbox::MailRow,
        schema::{admin_audit_log, mail_outbox, order_requests, users},
    },
    domain::deposits,
    jobs::mail_outbox as outbox_job,
    payments::{GatewayReport, PaymentStatus},
};
use common::{
    TestApp, assert_invalid, count_of, error_code, order_input, service, service_with,
    smtp_sink::SmtpSink,
    sockets::{self, next_json, ws_connect},
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const SET_STATUS: &str = "mutation($input: AdminUpdateOrderStatusInput!) { adminUpdateOrderStatus(input: $input) { status } }";
const OPEN: &str = "mutation($input: OpenTicketInput!) { openTicket(input: $input) { botAnswered ticket { id status topic orderIds messages { author body internal } } } }";
const TICKET: &str =
    "query($id: ID!) { ticket(id: $id) { id status messages { author body internal } } }";

/// Where most desk tests start: a server (adjusted by `adjust`), its admin's
/// token and a MANUAL service of 10,000 per 1,000 (10 to 10,000 units).
async fn desk(adjust: impl FnOnce(&mut booster::config::Config)) -> (TestApp, String, i64) {
    let app = TestApp::spawn_with(adjust).await;
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    (app, admin, service)
}

/// Places an order for 100 of `service` at `link`; returns its id.
async fn place(app: &TestApp, key: &str, service: i64, link: &str) -> String {
    app.place(key, order_input(service, link, 100)).await
}

async fn set_status(
    app: &TestApp,
    admin: &str,
    order: &str,
    status: &str,
    start: Option<i64>,
    remains: Option<i64>,
) {
    app.ok(
        Some(admin),
        SET_STATUS,
        json!({ "input": { "orderId": order, "status": status, "startCount": start, "remains": remains } }),
    )
    .await;
}

async fn set_language(app: &TestApp, user_id: i64, language: &str) {
    diesel::update(users::table.find(user_id))
        .set(users::language.eq(language))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
}

async fn open_ticket(
    app: &TestApp,
    key: &str,
    topic: &str,
    subject: &str,
    message: &str,
    orders: &[&str],
) -> Value {
    app.gql(
        Some(key),
        OPEN,
        json!({ "input": { "subject": subject, "topic": topic, "message": message, "orderIds": orders } }),
    )
    .await
}

/// The ticket of an `openTicket` answer the bot must have answered, and the
/// bot's first reply.
fn bot_answered(answer: &Value) -> (Value, String) {
    let opened = &answer["data"]["openTicket"];
    assert_eq!(opened["botAnswered"], true, "{answer:#}");
    let reply = bot_messages(&opened["ticket"])
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no bot message in {answer:#}"));
    (opened["ticket"].clone(), reply)
}

/// Opens a ticket that must succeed; returns its id.
async fn open_ticket_id(
    app: &TestApp,
    key: &str,
    topic: &str,
    subject: &str,
    message: &str,
    orders: &[&str],
) -> String {
    let answer = open_ticket(app, key, topic, subject, message, orders).await;
    opened_id(&answer)
}

/// The id of the ticket in an `openTicket` answer.
fn opened_id(answer: &Value) -> String {
    answer["data"]["openTicket"]["ticket"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket in {answer:#}"))
        .to_string()
}

/// A staff reply (or, with `internal`, a note) on a ticket; returns the data.
async fn admin_reply(
    app: &TestApp,
    admin: &str,
    ticket: &str,
    body: &str,
    internal: bool,
) -> Value {
    app.ok(
        Some(admin),
        "mutation($id: ID!, $b: String!, $i: Boolean!) { adminReplyToTicket(ticketId: $id, body: $b, internal: $i) { status } }",
        json!({ "id": ticket, "b": body, "i": internal }),
    )
    .await
}

/// The audited actions on subjects of `subject_type`, oldest first.
async fn audit_actions(app: &TestApp, subject_type: &str) -> Vec<String> {
    admin_audit_log::table
        .filter(admin_audit_log::subject_type.eq(subject_type))
        .order(admin_audit_log::id.asc())
        .select(admin_audit_log::action)
        .load(&mut *app.conn().await)
        .await
        .unwrap()
}

fn bot_messages(ticket: &Value) -> Vec<String> {
    ticket["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "BOT")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

async fn mails_of(app: &TestApp, user_id: i64) -> Vec<MailRow> {
    MailRow::of_user(&mut *app.conn().await, user_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_bot_answers_where_is_my_order_from_its_live_status() {
    let (app, admin, service) = desk(|_| {}).await;
    let (user, key) = app.funded_customer("ana@example.com", 100_000).await;
    set_language(&app, user, "en").await;
    let order = place(&app, &key, service, "https://x.com/ana/status/1").await;
    set_status(&app, &admin, &order, "IN_PROGRESS", Some(120), Some(40)).await;

    let question = format!("Hi, where is my order #{order}?");
    let (ticket, reply) =
        bot_answered(&open_ticket(&app, &key, "ORDER", "Order late", &question, &[]).await);
    assert_eq!(ticket["status"], "ANSWERED");
    assert_eq!(bot_messages(&ticket).len(), 1);
    assert!(reply.contains(&format!("Order #{order}")), "{reply}");
    assert!(reply.contains("in progress"), "{reply}");
    assert!(reply.contains("Start count: 120"), "{reply}");
    assert!(reply.contains("Remains: 40"), "{reply}");

    // The same question in Indonesian, about a completed order, by its link.
    let (other, other_key) = app.funded_customer("budi@example.com", 100_000).await;
    let done = place(&app, &other_key, service, "https://x.com/budi/status/9").await;
    set_status(&app, &admin, &done, "COMPLETED", None, None).await;
    let question = "Pesanan untuk https://x.com/budi/status/9 sudah masuk?";
    let (_, reply) =
        bot_answered(&open_ticket(&app, &other_key, "ORDER", "Pesanan", question, &[]).await);
    assert!(
        reply.contains(&format!("Pesanan #{done}")) && reply.contains("selesai"),
        "{reply}"
    );

    // The bot's reply is also an in-app notification and a mail in the user's language.
    let mails = mails_of(&app, other).await;
    let ticket_mail = mails
        .iter()
        .find(|m| m.kind == "ticket_reply")
        .expect("a ticket_reply mail");
    assert!(
        ticket_mail.subject.starts_with("Balasan tiket #"),
        "{}",
        ticket_mail.subject
    );
    let notes = app.read(&other_key, "{ myNotifications { kind } }").await;
    assert!(
        notes["myNotifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "TICKET_REPLY")
    );
}

#[tokio::test]
async fn a_refill_ticket_files_the_refillable_order_and_explains_the_other() {
    let (app, admin, refillable) = desk(|_| {}).await;
    let no_refill = service_with(&app, Fulfillment::Manual, 10_000, 10, 10_000, |s| {
        s.refill = false
    })
    .await;
    let (user, key) = app.funded_customer("refill@example.com", 100_000).await;
    set_language(&app, user, "en").await;
    let first = place(&app, &key, refillable, "https://x.com/a/status/1").await;
    let second = place(&app, &key, no_refill, "https://x.com/a/status/2").await;
    let running = place(&app, &key, refillable, "https://x.com/a/status/3").await;
    for order in [&first, &second] {
        set_status(&app, &admin, order, "COMPLETED", None, None).await;
    }
    set_status(&app, &admin, &running, "IN_PROGRESS", Some(5), Some(50)).await;

    let question = format!("Please refill {first}, {second} and {running}");
    let (ticket, reply) = bot_answered(
        &open_ticket(
            &app,
            &key,
            "REFILL",
            "Followers dropped",
            &question,
            &[&first],
        )
        .await,
    );
    assert_eq!(ticket["status"], "ANSWERED");
    assert_eq!(ticket["orderIds"], json!([first]));
    assert!(
        reply.contains(&format!("Order #{first}: the refill request was accepted")),
        "{reply}"
    );
    assert!(
        reply.contains(&format!(
            "Order #{second}: no refill was filed because its service has no refill"
        )),
        "{reply}"
    );
    assert!(
        reply.contains(&format!(
            "Order #{running}: no refill was filed because only completed orders can be refilled"
        )),
        "{reply}"
    );

    let requests: Vec<(i64, String)> = order_requests::table
        .select((order_requests::order_id, order_requests::kind))
        .load(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(
        requests,
        vec![(first.parse().unwrap(), "REFILL".to_string())]
    );

    // Asking again: the open request is explained, nothing is filed twice.
    let ticket = ticket["id"].as_str().unwrap();
    let again = app
        .ok(
            Some(&key),
            "mutation($id: ID!, $b: String!) { replyToTicket(ticketId: $id, body: $b) { botAnswered ticket { messages { author body } } } }",
            json!({ "id": ticket, "b": format!("refill #{first} please") }),
        )
        .await;
    let bots = bot_messages(&again["replyToTicket"]["ticket"]);
    assert!(
        bots.last()
            .unwrap()
            .contains("a refill was already requested"),
        "{bots:?}"
    );
    let count = count_of(&app, order_requests::table.count()).await;
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_cancel_ticket_cancels_a_pending_order_and_refunds_it() {
    let (app, _, service) = desk(|_| {}).await;
    let (user, key) = app.funded_customer("cancel@example.com", 100_000).await;
    set_language(&app, user, "en").await;
    let order = place(&app, &key, service, "https://x.com/c/status/1").await;
    assert_eq!(app.balance(user).await, 99_000);
    let question = format!("cancel order {order}");
    let (_, reply) =
        bot_answered(&open_ticket(&app, &key, "CANCEL", "Cancel", &question, &[]).await);
    assert!(
        reply.contains("canceled, and Rp 1.000 was returned"),
        "{reply}"
    );
    assert_eq!(app.balance(user).await, 100_000);
    app.assert_books_balanced().await;
}

#[tokio::test]
async fn customers_reach_only_their_own_orders_and_tickets() {
    let (app, _, service) = desk(|_| {}).await;
    let (_, owner) = app.funded_customer("owner@example.com", 100_000).await;
    let (_, stranger) = app.funded_customer("stranger@example.com", 100_000).await;
    let order = place(&app, &owner, service, "https://x.com/o/status/1").await;
    let ticket_id = open_ticket_id(
        &app,
        &owner,
        "ORDER",
        "Mine",
        &format!("where is #{order}"),
        &[&order],
    )
    .await;

    // Attaching someone else's order: NOT_FOUND, and nothing is written.
    let refused = open_ticket(
        &app,
        &stranger,
        "ORDER",
        "Theirs",
        "about this order",
        &[&order],
    )
    .await;
    assert_eq!(error_code(&refused), "NOT_FOUND");
    // Naming it in the text: the bot says nothing about it.
    let probing = open_ticket(
        &app,
        &stranger,
        "ORDER",
        "Probe",
        &format!("status of #{order}?"),
        &[],
    )
    .await;
    let probing = &probing["data"]["openTicket"];
    assert_eq!(probing["botAnswered"], false);
    assert_eq!(probing["ticket"]["status"], "OPEN");
    assert!(bot_messages(&probing["ticket"]).is_empty());

    // Reading, replying to or closing someone else's ticket: NOT_FOUND.
    for operation in [
        TICKET,
        "mutation($id: ID!) { replyToTicket(ticketId: $id, body: \"hi\") { botAnswered } }",
        "mutation($id: ID!) { closeTicket(ticketId: $id) { status } }",
    ] {
        let refused = app
            .gql(Some(&stranger), operation, json!({ "id": ticket_id }))
            .await;
        assert_eq!(error_code(&refused), "NOT_FOUND", "{operation}");
    }
    let listed = app
        .read(
            &stranger,
            "{ myTickets { totalCount edges { node { subject } } } }",
        )
        .await;
    assert_eq!(listed["myTickets"]["totalCount"], 1);
    assert_eq!(listed["myTickets"]["edges"][0]["node"]["subject"], "Probe");
    // Admin fields stay admin-only.
    let admin_only = app
        .gql(Some(&stranger), "{ adminTicketCounts { open } }", json!({}))
        .await;
    assert_eq!(error_code(&admin_only), "FORBIDDEN");
    let field = app
        .gql(
            Some(&owner),
            "query($id: ID!) { ticket(id: $id) { assigneeId } }",
            json!({ "id": ticket_id }),
        )
        .await;
    assert_eq!(error_code(&field), "FORBIDDEN");
}

const UPDATES: &str =
    "{ ticket { id status messages { author body internal } } message { author body internal } }";

#[tokio::test(flavor = "multi_thread")]
async fn internal_notes_never_reach_the_customer() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, customer) = app.customer("notes@example.com").await;

    let mut customer_socket = ws_connect(&app.base_url, sockets::TRANSPORT_WS, &customer).await;
    customer_socket
        .send(Message::text(json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("subscription {{ myTicketUpdates {UPDATES} }}") } }).to_string()))
        .await
        .unwrap();
    let mut admin_socket = ws_connect(&app.base_url, sockets::TRANSPORT_WS, &admin).await;
    admin_socket
        .send(Message::text(json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("subscription {{ adminTicketUpdates {UPDATES} }}") } }).to_string()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let opened = open_ticket(
        &app,
        &customer,
        "OTHER",
        "Question",
        "Something odd happened with my account yesterday",
        &[],
    )
    .await;
    let ticket = opened_id(&opened);
    assert_eq!(opened["data"]["openTicket"]["ticket"]["status"], "OPEN");
    let note = admin_reply(
        &app,
        &admin,
        &ticket,
        "SECRET-NOTE: provider P3 refunds slowly",
        true,
    )
    .await;
    assert_eq!(
        note["adminReplyToTicket"]["status"], "OPEN",
        "a note changes no status"
    );
    let answered = admin_reply(&app, &admin, &ticket, "We fixed it.", false).await;
    assert_eq!(answered["adminReplyToTicket"]["status"], "ANSWERED");

    // The customer's stream: their own message, then the staff reply; never the note.
    let mut seen = Vec::new();
    loop {
        let event = next_json(&mut customer_socket).await;
        assert_eq!(event["type"], "next", "{event}");
        let text = event.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        let update = &event["payload"]["data"]["myTicketUpdates"];
        seen.push(
            update["message"]["author"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        if update["message"]["author"] == "STAFF" {
            assert_eq!(update["message"]["body"], "We fixed it.");
            break;
        }
    }
    assert_eq!(seen, vec!["CUSTOMER", "STAFF"]);
    // Staff see everything, the note included.
    let mut staff_saw_note = false;
    for _ in 0..3 {
        let event = next_json(&mut admin_socket).await;
        if event["payload"]["data"]["adminTicketUpdates"]["message"]["internal"] == true {
            staff_saw_note = true;
        }
    }
    assert!(staff_saw_note);

    // Queries: the customer's views leave the note out, the admin's show it.
    let read = app
        .ok(Some(&customer), TICKET, json!({ "id": ticket }))
        .await;
    assert!(!read.to_string().contains("SECRET"));
    assert_eq!(read["ticket"]["messages"].as_array().unwrap().len(), 2);
    let listed = app
        .read(
            &customer,
            "{ myTickets { edges { node { messages { body internal } } } } }",
        )
        .await;
    assert!(!listed.to_string().contains("SECRET"));
    let staff = app
        .ok(
            Some(&admin),
            "query($id: ID!) { adminTicket(id: $id) { messages { body internal } } }",
            json!({ "id": ticket }),
        )
        .await;
    assert!(staff.to_string().contains("SECRET-NOTE"));
    // Nor by mail or notification.
    assert!(
        mails_of(&app, customer_id)
            .await
            .iter()
            .all(|m| !m.text_body.contains("SECRET"))
    );
    let notes = app.read(&customer, "{ myNotifications { message } }").await;
    assert!(!notes.to_string().contains("SECRET"));

    // Withdrawing the admin role, even from outside the API, ends the staff
    // stream: the database announces it and the socket closes with 4403 (or, had
    // the notice not arrived yet, the next event is refused).
    diesel::update(users::table.filter(users::email.eq("admin@example.com")))
        .set(users::role.eq("CUSTOMER"))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    app.ok(
        Some(&customer),
        "mutation($id: ID!) { replyToTicket(ticketId: $id, body: \"thanks\") { botAnswered } }",
        json!({ "id": ticket }),
    )
    .await;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), admin_socket.next())
            .await
            .expect("the staff stream neither ended nor answered");
        match message {
            Some(Ok(Message::Text(text))) => {
                let ended: Value = serde_json::from_str(&text).unwrap();
                if ended["type"] == "ping" {
                    continue;
                }
                assert_ne!(
                    ended["type"], "next",
                    "no ticket event after the role was withdrawn: {ended}"
                );
                break;
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4403);
                break;
            }
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => break,
        }
    }
}

async fn contact(app: &TestApp, from: &str, input: Value) -> Value {
    let response = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("x-forwarded-for", from)
        .json(&json!({
            "query": "mutation($input: ContactMessageInput!) { submitContactMessage(input: $input) }",
            "variables": { "input": input },
        }))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

fn contact_input(subject: &str) -> Value {
    json!({ "name": "Visitor", "email": "visitor@example.com", "subject": subject, "message": "Do you sell TikTok views?" })
}

#[tokio::test]
async fn the_contact_form_is_limited_per_address_and_drops_robots() {
    let app = TestApp::spawn_with(|config| {
        config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        config.support.contact_limit_per_hour = 3;
    })
    .await;
    let admin = app.admin().await;
    for i in 0..3 {
        let answer = contact(&app, "203.0.113.7", contact_input(&format!("Hello {i}"))).await;
        assert_eq!(answer["data"]["submitContactMessage"], true, "{answer}");
    }
    let over = contact(&app, "203.0.113.7", contact_input("Hello 4")).await;
    assert_eq!(error_code(&over), "RATE_LIMITED");
    let elsewhere = contact(&app, "203.0.113.8", contact_input("From elsewhere")).await;
    assert_eq!(
        elsewhere["data"]["submitContactMessage"], true,
        "{elsewhere}"
    );

    // A robot fills the hidden field: it sees success, nothing is stored.
    let mut robot = contact_input("Buy cheap pills");
    robot["website"] = json!("http://spam.example");
    let robot = contact(&app, "203.0.113.9", robot).await;
    assert_eq!(robot["data"]["submitContactMessage"], true);
    let bad = contact(
        &app,
        "203.0.113.9",
        json!({ "name": "V", "email": "not-an-address", "subject": "s", "message": "m" }),
    )
    .await;
    assert_invalid(&bad, "email");
    let long = contact(&app, "203.0.113.9", json!({ "name": "V", "email": "v@example.com", "subject": "s", "message": "m".repeat(5001) })).await;
    assert_invalid(&long, "message");

    let listed = app
        .read(
            &admin,
            "{ adminContactMessages { totalCount edges { node { id subject ipAddress } } } }",
        )
        .await;
    assert_eq!(listed["adminContactMessages"]["totalCount"], 4);
    assert!(!listed.to_string().contains("pills"));

    // An admin answers by mail, once; the answer is audited.
    let id = listed["adminContactMessages"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = "mutation($id: ID!) { adminAnswerContactMessage(id: $id, answer: \"Yes, we do.\") { answeredAt } }";
    app.ok(Some(&admin), answer, json!({ "id": id })).await;
    let again = app.gql(Some(&admin), answer, json!({ "id": id })).await;
    assert_eq!(error_code(&again), "CONFLICT");
    let queued: Vec<(String, String)> = mail_outbox::table
        .filter(mail_outbox::kind.eq("contact_answer"))
        .select((mail_outbox::to_address, mail_outbox::text_body))
        .load(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, "visitor@example.com");
    assert!(queued[0].1.contains("Yes, we do."));
    let audited = count_of(
        &app,
        admin_audit_log::table
            .filter(admin_audit_log::action.eq("contact_message.answer"))
            .count(),
    )
    .await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_faq_is_kept_by_admins_searched_by_anyone_and_quoted_by_the_bot() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (user, key) = app.customer("faq@example.com").await;
    set_language(&app, user, "en").await;
    let create = "mutation($input: FaqEntryInput!) { adminCreateFaqEntry(input: $input) { id published sortOrder } }";
    let refill = app
        .ok(Some(&admin), create, json!({ "input": { "question": "How long does a refill take?", "answer": "Refills start within 24 hours.", "category": "orders", "language": "en", "published": true } }))
        .await["adminCreateFaqEntry"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = app
        .ok(Some(&admin), create, json!({ "input": { "question": "Which payment methods are accepted?", "answer": "QRIS, virtual accounts and e-wallets.", "language": "en" } }))
        .await["adminCreateFaqEntry"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let empty = app
        .gql(
            Some(&admin),
            create,
            json!({ "input": { "question": " ", "answer": "x" } }),
        )
        .await;
    assert_invalid(&empty, "question");
    let forbidden = app
        .gql(
            Some(&key),
            create,
            json!({ "input": { "question": "q", "answer": "a" } }),
        )
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");

    // Anyone (signed in or not) sees published entries only, and can search them.
    let public = app.ok(None, "{ faqEntries { question } }", json!({})).await;
    assert_eq!(public["faqEntries"].as_array().unwrap().len(), 1);
    let found = app
        .ok(
            None,
            "{ faqEntries(search: \"refill hours\") { question } }",
            json!({}),
        )
        .await;
    assert_eq!(
        found["faqEntries"][0]["question"],
        "How long does a refill take?"
    );
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminPublishFaqEntry(id: $id, published: true) { published } }",
        json!({ "id": draft }),
    )
    .await;
    let reordered = app
        .ok(
            Some(&admin),
            "mutation($ids: [ID!]!) { adminReorderFaqEntries(ids: $ids) { id sortOrder } }",
            json!({ "ids": [draft] }),
        )
        .await;
    assert_eq!(reordered["adminReorderFaqEntries"][0]["id"], draft);
    assert_eq!(reordered["adminReorderFaqEntries"][1]["id"], refill);
    let public = app.ok(None, "{ faqEntries { question } }", json!({})).await;
    assert_eq!(
        public["faqEntries"][0]["question"],
        "Which payment methods are accepted?"
    );

    // The bot quotes the entry that answers the question well enough...
    let asked = open_ticket(
        &app,
        &key,
        "OTHER",
        "Refill",
        "How long does a refill usually take?",
        &[],
    )
    .await;
    let asked = &asked["data"]["openTicket"];
    assert_eq!(asked["botAnswered"], true);
    assert!(bot_messages(&asked["ticket"])[0].contains("Refills start within 24 hours."));
    // ...and leaves the rest to staff.
    let other = open_ticket(
        &app,
        &key,
        "API",
        "API key",
        "My API key stopped working after I rotated it",
        &[],
    )
    .await;
    assert_eq!(other["data"]["openTicket"]["botAnswered"], false);
    assert_eq!(other["data"]["openTicket"]["ticket"]["status"], "OPEN");

    assert_eq!(
        audit_actions(&app, "faq_entry").await,
        vec![
            "faq_entry.create",
            "faq_entry.create",
            "faq_entry.publish",
            "faq_entry.reorder"
        ]
    );
}

#[tokio::test]
async fn staff_triage_tickets_with_filters_counts_and_assignment() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (admin_id, _) = {
        let mut conn = app.conn().await;
        let id: i64 = users::table
            .filter(users::email.eq("admin@example.com"))
            .select(users::id)
            .first(&mut conn)
            .await
            .unwrap();
        (id, ())
    };
    let (_, key) = app.customer("triage@example.com").await;
    let first = open_ticket_id(
        &app,
        &key,
        "PAYMENT",
        "Paid twice",
        "I paid twice for deposit",
        &[],
    )
    .await;
    let second = open_ticket_id(
        &app,
        &key,
        "API",
        "Docs",
        "Where are the API docs for mass orders",
        &[],
    )
    .await;
    admin_reply(&app, &admin, &second, "See /docs", false).await;

    let counts = app
        .read(
            &admin,
            "{ adminTicketCounts { open answered waitingForStaff } }",
        )
        .await;
    assert_eq!(
        counts["adminTicketCounts"],
        json!({ "open": 1, "answered": 1, "waitingForStaff": 1 })
    );
    let listed = app
        .read(
            &admin,
            "{ adminTickets { totalCount edges { node { id status } } } }",
        )
        .await;
    assert_eq!(
        listed["adminTickets"]["edges"][0]["node"]["id"], first,
        "waiting tickets first"
    );
    let searched = app
        .read(
            &admin,
            "{ adminTickets(search: \"paid TWICE\") { totalCount } }",
        )
        .await;
    assert_eq!(searched["adminTickets"]["totalCount"], 1);
    let by_topic = app
        .read(&admin, "{ adminTickets(topic: API) { totalCount } }")
        .await;
    assert_eq!(by_topic["adminTickets"]["totalCount"], 1);

    const ASSIGN: &str = "mutation($id: ID!, $a: ID) { adminAssignTicket(ticketId: $id, assigneeId: $a) { assigneeId } }";
    let assigned = app
        .ok(
            Some(&admin),
            ASSIGN,
            json!({ "id": first, "a": admin_id.to_string() }),
        )
        .await;
    assert_eq!(
        assigned["adminAssignTicket"]["assigneeId"],
        admin_id.to_string()
    );
    let (customer_id, _) = app.customer("not-staff@example.com").await;
    let refused = app
        .gql(
            Some(&admin),
            ASSIGN,
            json!({ "id": first, "a": customer_id.to_string() }),
        )
        .await;
    assert_invalid(&refused, "assigneeId");
    for change in [
        "mutation($id: ID!) { adminSetTicketPriority(ticketId: $id, priority: HIGH) { priority } }",
        "mutation($id: ID!) { adminSetTicketStatus(ticketId: $id, status: CLOSED) { status } }",
    ] {
        app.ok(Some(&admin), change, json!({ "id": first })).await;
    }
    let mine = app
        .read(&key, "{ myTickets(status: CLOSED) { totalCount } }")
        .await;
    assert_eq!(mine["myTickets"]["totalCount"], 1);
    let reopened = app
        .ok(
            Some(&key),
            "mutation($id: ID!) { reopenTicket(ticketId: $id) { status } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(reopened["reopenTicket"]["status"], "CUSTOMER_REPLY");
    assert_eq!(
        audit_actions(&app, "ticket").await,
        vec![
            "ticket.reply",
            "ticket.assign",
            "ticket.priority",
            "ticket.status"
        ]
    );
    let long = app
        .gql(
            Some(&key),
            OPEN,
            json!({ "input": { "subject": "s".repeat(201), "topic": "OTHER", "message": "m" } }),
        )
        .await;
    assert_invalid(&long, "subject");
}

#[tokio::test]
async fn notification_settings_decide_which_mail_is_sent_and_it_is_sent_once() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let (app, _gateways) = {
        let fake = common::fake_gateways::FakeGateways::start().await;
        let gateways_url = fake.url.clone();
        let app = TestApp::spawn_with(|config| {
            config.payments = common::test_payments_config(&gateways_url);
            config.mail.smtp_url = Some(Secret(url));
        })
        .await;
        (app, fake)
    };
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    let (quiet, quiet_key) = app.funded_customer("quiet@example.com", 100_000).await;
    let (loud, loud_key) = app.funded_customer("loud@example.com", 100_000).await;
    app.read(&quiet_key, "mutation { updateSettings(input: { notifyOrderUpdates: false, notifyTickets: false }) { id } }").await;

    // An order ends for each: both see it in the app, only `loud` gets mail.
    for key in [&quiet_key, &loud_key] {
        let order = place(&app, key, service, "https://x.com/n/status/1").await;
        set_status(&app, &admin, &order, "CANCELED", None, None).await;
    }
    for key in [&quiet_key, &loud_key] {
        let notes = app.read(key, "{ myNotifications { kind message } }").await;
        assert_eq!(
            notes["myNotifications"][0]["kind"], "ORDER_CANCELED",
            "{notes}"
        );
    }
    // A staff reply: mail for `loud` only.
    for key in [&quiet_key, &loud_key] {
        let id = open_ticket_id(
            &app,
            key,
            "OTHER",
            "Hi",
            "Something about my account settings page",
            &[],
        )
        .await;
        admin_reply(&app, &admin, &id, "Done.", false).await;
    }
    // A deposit credited: both keep notifyDeposits, so both get mail; a repeated
    // report credits nothing and queues nothing.
    for key in [&quiet_key, &loud_key] {
        let deposit = app.create_deposit(key, 50_000, "XENDIT").await;
        let id: i64 = deposit["id"].as_str().unwrap().parse().unwrap();
        let report = GatewayReport {
            status: PaymentStatus::Paid,
            raw_status: "PAID".into(),
            amount: Some(50_000),
            raw_amount: "50000".into(),
            gateway_ref: None,
            payload: json!({ "status": "PAID" }),
        };
        for _ in 0..2 {
            deposits::apply_report(
                &mut *app.conn().await,
                id,
                booster::db::enums::DepositEventSource::Reconcile,
                &report,
            )
            .await
            .unwrap();
        }
    }

    let kinds = |mails: Vec<MailRow>| {
        let mut kinds: Vec<String> = mails.into_iter().map(|m| m.kind).collect();
        kinds.sort();
        kinds
    };
    assert_eq!(kinds(mails_of(&app, quiet).await), vec!["deposit_credited"]);
    assert_eq!(
        kinds(mails_of(&app, loud).await),
        vec!["deposit_credited", "order_ended", "ticket_reply"]
    );
    let loud_mails = mails_of(&app, loud).await;
    let ended = loud_mails.iter().find(|m| m.kind == "order_ended").unwrap();
    assert!(
        ended.subject.contains("dibatalkan"),
        "Indonesian by default: {}",
        ended.subject
    );
    assert!(
        ended.text_body.contains("Rp 1.000 dikembalikan"),
        "{}",
        ended.text_body
    );

    // Admin alerts (tickets waiting for staff) reach the admin by mail too.
    let admin_mails = count_of(
        &app,
        mail_outbox::table
            .filter(mail_outbox::to_address.eq("admin@example.com"))
            .count(),
    )
    .await;
    assert_eq!(
        admin_mails, 1,
        "both TICKET_WAITING alerts in one digest (issue 21)"
    );
    // The digest interval ends.
    diesel::update(mail_outbox::table.filter(mail_outbox::kind.eq("admin_digest")))
        .set(mail_outbox::next_attempt_at.eq(diesel::dsl::now))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();

    // Draining twice sends each mail exactly once.
    let first = outbox_job::run(&app.state).await.unwrap();
    let second = outbox_job::run(&app.state).await.unwrap();
    assert_eq!(first.sent, 5, "{first:?}");
    assert_eq!(second.sent, 0);
    let received = sink.wait_for(5, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 5);
    let to_loud = received
        .iter()
        .filter(|m| m.to == vec!["loud@example.com".to_string()])
        .count();
    assert_eq!(to_loud, 3);
    let pending = count_of(
        &app,
        mail_outbox::table
            .filter(mail_outbox::status.ne(MailStatus::Sent))
            .count(),
    )
    .await;
    assert_eq!(pending, 0);
}

/// The ticket shapes customers send most, and whether the bot answers each alone
/// (nothing left for staff). The share is reported in the closing note.
#[tokio::test]
async fn the_bot_answers_most_common_ticket_shapes_alone() {
    let (app, admin, refillable) = desk(|c| c.support.tickets_per_user_per_hour = 0).await;
    let no_refill = service_with(&app, Fulfillment::Manual, 10_000, 10, 10_000, |s| {
        s.refill = false
    })
    .await;
    let (user, key) = app.funded_customer("shapes@example.com", 1_000_000).await;
    set_language(&app, user, "en").await;
    let (_, other) = app.funded_customer("other@example.com", 100_000).await;
    app.read(&admin, "mutation { adminCreateFaqEntry(input: { question: \"How do I top up my balance?\", answer: \"Use Deposit: QRIS or virtual account.\", language: \"en\", published: true }) { id } }").await;
    let running = place(&app, &key, refillable, "https://x.com/s/status/1").await;
    set_status(&app, &admin, &running, "IN_PROGRESS", Some(10), Some(60)).await;
    let completed = place(&app, &key, refillable, "https://x.com/s/status/2").await;
    set_status(&app, &admin, &completed, "COMPLETED", None, None).await;
    let completed_no_refill = place(&app, &key, no_refill, "https://x.com/s/status/3").await;
    set_status(&app, &admin, &completed_no_refill, "COMPLETED", None, None).await;
    let pending = place(&app, &key, refillable, "https://x.com/s/status/4").await;
    let in_review = place(&app, &key, refillable, "https://x.com/s/status/5").await;
    set_status(&app, &admin, &in_review, "NEEDS_REVIEW", None, None).await;
    let theirs = place(&app, &other, refillable, "https://x.com/t/status/1").await;

    let shapes: Vec<(&str, String, String, bool)> = vec![
        (
            "where is my order (#id)",
            "ORDER".into(),
            format!("where is my order #{running}?"),
            true,
        ),
        (
            "status by link",
            "ORDER".into(),
            "is https://x.com/s/status/2 done?".into(),
            true,
        ),
        (
            "several orders",
            "ORDER".into(),
            format!("orders {running}, {completed}"),
            true,
        ),
        (
            "refill, refillable",
            "REFILL".into(),
            format!("refill #{completed}"),
            true,
        ),
        (
            "refill, service without refill",
            "REFILL".into(),
            format!("refill #{completed_no_refill}"),
            true,
        ),
        (
            "refill, not completed yet",
            "REFILL".into(),
            format!("refill order {running}"),
            true,
        ),
        (
            "cancel a pending order",
            "CANCEL".into(),
            format!("cancel #{pending}"),
            true,
        ),
        (
            "cancel, no order named",
            "CANCEL".into(),
            "please cancel my order".into(),
            false,
        ),
        (
            "order under review",
            "ORDER".into(),
            format!("what about #{in_review}"),
            false,
        ),
        (
            "someone else's order",
            "ORDER".into(),
            format!("status of #{theirs}"),
            false,
        ),
        (
            "FAQ question",
            "PAYMENT".into(),
            "how can I top up my balance".into(),
            true,
        ),
        (
            "free-form problem",
            "OTHER".into(),
            "my account page shows an error".into(),
            false,
        ),
    ];
    let mut answered = 0;
    for (shape, topic, message, expected) in &shapes {
        let answer = open_ticket(&app, &key, topic, shape, message, &[]).await;
        let got = answer["data"]["openTicket"]["botAnswered"]
            .as_bool()
            .unwrap_or_else(|| panic!("{answer:#}"));
        assert_eq!(got, *expected, "{shape}: {answer:#}");
        answered += usize::from(got);
    }
    println!(
        "the bot answered {answered} of {} ticket shapes alone ({}%)",
        shapes.len(),
        answered * 100 / shapes.len()
    );
    assert_eq!(answered, 8);
}

#[tokio::test]
async fn ticket_lists_cost_the_same_statements_at_any_page_size() {
    let (app, admin, service) = desk(|c| c.support.tickets_per_user_per_hour = 0).await;
    let (_, key) = app.funded_customer("many@example.com", 1_000_000).await;
    let order = place(&app, &key, service, "https://x.com/m/status/1").await;
    for i in 0..12 {
        let id = open_ticket_id(
            &app,
            &key,
            "OTHER",
            &format!("Ticket {i}"),
            "A question for staff about my account",
            &[&order],
        )
        .await;
        admin_reply(&app, &admin, &id, "note", true).await;
    }
    let mut counts = Vec::new();
    for (token, field) in [(&key, "myTickets"), (&admin, "adminTickets")] {
        for first in [1, 10] {
            let query = format!(
                "query($first: Int) {{ {field}(first: $first) {{ edges {{ node {{ id orderIds messages {{ body internal }} }} }} }} }}"
            );
            // Once to warm the pool (a new connection runs its own setup statements).
            app.ok(Some(token), &query, json!({ "first": first })).await;
            let (statements, data) = app
                .statements_of(app.ok(Some(token), &query, json!({ "first": first })))
                .await;
            let edges = data[field]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), first as usize);
            // The customer's message and the bot's answer about the order, plus the
            // internal note for staff only.
            let notes = usize::from(field == "adminTickets");
            for edge in edges {
                assert_eq!(edge["node"]["orderIds"], json!([order]));
                let messages = edge["node"]["messages"].as_array().unwrap();
                assert_eq!(messages.len(), 2 + notes, "{messages:?}");
                let internal = messages.iter().filter(|m| m["internal"] == true).count();
                assert_eq!(internal, notes);
            }
            println!(
                "{field}(first: {first}) with threads and orders: {statements} SQL statements"
            );
            counts.push(statements);
        }
    }
    assert_eq!(counts[0], counts[1], "myTickets: {counts:?}");
    assert_eq!(counts[2], counts[3], "adminTickets: {counts:?}");
}
