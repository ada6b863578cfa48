//! Telegram and WhatsApp: a customer links a chat with a one-time code, asks for
//! the live status of their order, learns nothing of someone else's, files a
//! refill, and gets their notifications there; unsigned webhooks are refused.
//! Against stand-ins of the Bot API and the Cloud API on 127.0.0.1.

mod common;

use booster::{
    db::{enums::Fulfillment, schema::order_requests},
    jobs::chat_outbox,
};
use common::{fake_chats::*, *};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const TG_SECRET: &str = "tg-webhook-secret";
const WA_APP_SECRET: &str = "wa-app-secret";

async fn chat_app(fake: &FakeChats) -> TestApp {
    let (tg, wa) = (fake.telegram_url.clone(), fake.whatsapp_url.clone());
    TestApp::spawn_with(move |c| {
        c.channels.telegram.bot_token = Some(TELEGRAM_TOKEN.into());
        c.channels.telegram.webhook_secret = Some(TG_SECRET.into());
        c.channels.telegram.api_url = tg;
        c.channels.whatsapp.token = Some(WHATSAPP_TOKEN.into());
        c.channels.whatsapp.phone_number_id = WHATSAPP_PHONE_ID.into();
        c.channels.whatsapp.app_secret = Some(WA_APP_SECRET.into());
        c.channels.whatsapp.verify_token = Some("wa-verify".into());
        c.channels.whatsapp.api_url = wa;
    })
    .await
}

/// Posts a Telegram update from chat `chat` saying `text`, with `secret`.
async fn telegram(app: &TestApp, secret: Option<&str>, chat: i64, text: &str) -> u16 {
    let update = json!({"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": false, "first_name": "A"}, "text": text}});
    let mut request = app
        .http
        .post(format!("{}/webhooks/telegram", app.base_url))
        .json(&update);
    if let Some(secret) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The text the bot sent to `chat` last, after the outbox ran.
async fn last_reply(app: &TestApp, fake: &FakeChats, chat: i64) -> String {
    chat_outbox::run(&app.state).await.unwrap();
    let chat = chat.to_string();
    fake.telegram
        .all()
        .iter()
        .rev()
        .find(|m| m["chat_id"] == chat.as_str())
        .and_then(|m| m["text"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn wa_signature(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_telegram_chat_follows_and_acts_on_its_own_orders_only() {
    let fake = FakeChats::start().await;
    let app = chat_app(&fake).await;
    let admin = app.admin().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    let (_, key) = app.funded_customer("tg@example.com", 1_000_000).await;
    let (_, other) = app.funded_customer("other@example.com", 1_000_000).await;
    let mine = app
        .place(&key, order_input(service, "https://x.com/tg/status/1", 100))
        .await;
    let theirs = app
        .place(
            &other,
            order_input(service, "https://x.com/zz/status/9", 100),
        )
        .await;

    // Unsigned or wrongly signed updates are refused and change nothing.
    assert_eq!(telegram(&app, None, 4242, "status 1").await, 403);
    assert_eq!(telegram(&app, Some("guess"), 4242, "status 1").await, 403);
    // A chat that is not linked learns how to link, nothing about accounts.
    assert_eq!(
        telegram(&app, Some(TG_SECRET), 4242, &format!("status {theirs}")).await,
        200
    );
    let reply = last_reply(&app, &fake, 4242).await;
    assert!(reply.contains("link"), "{reply}");
    assert!(!reply.contains(&theirs), "{reply}");

    // Linking with a one-time code from the account.
    let code = app
        .ok(
            Some(&key),
            "mutation { chatLinkCode(channel: TELEGRAM) { code link expiresInMinutes } }",
            json!({}),
        )
        .await["chatLinkCode"]
        .clone();
    let code_text = code["code"].as_str().unwrap().to_string();
    assert!(code["link"].as_str().unwrap().contains(&code_text));
    telegram(&app, Some(TG_SECRET), 4242, &format!("/start {code_text}")).await;
    let reply = last_reply(&app, &fake, 4242).await;
    assert!(reply.contains("status 123"), "{reply}");
    // The code works once.
    telegram(&app, Some(TG_SECRET), 5151, &format!("/start {code_text}")).await;
    assert!(last_reply(&app, &fake, 5151).await.contains("not valid"));
    let links = app.read(&key, "{ myChatLinks { channel } }").await;
    assert_eq!(links["myChatLinks"], json!([{ "channel": "TELEGRAM" }]));

    // The live status of their own order.
    telegram(&app, Some(TG_SECRET), 4242, &format!("status {mine}")).await;
    let reply = last_reply(&app, &fake, 4242).await;
    assert!(reply.contains(&format!("#{mine}")), "{reply}");
    // Staff link a Telegram group for their alerts.
    let staff_code = app
        .ok(
            Some(&admin),
            "mutation { chatLinkCode(channel: TELEGRAM) { code } }",
            json!({}),
        )
        .await["chatLinkCode"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let group = -1_001_234_567_890_i64;
    telegram(
        &app,
        Some(TG_SECRET),
        group,
        &format!("/start@booster_bot {staff_code}"),
    )
    .await;
    last_reply(&app, &fake, group).await;

    // Someone else's order: nothing about it; staff get a ticket (and an alert).
    telegram(&app, Some(TG_SECRET), 4242, &format!("status {theirs}")).await;
    let reply = last_reply(&app, &fake, 4242).await;
    assert!(!reply.contains(&format!("#{theirs}")), "{reply}");
    assert!(
        ["tiket #", "ticket #"].iter().any(|w| reply.contains(w)),
        "handed to staff: {reply}"
    );
    let alert = last_reply(&app, &fake, group).await;
    assert!(
        alert.contains("waits for staff"),
        "the staff group's alert: {alert}"
    );
    // The staff reply comes back to the chat.
    let ticket: String = reply
        .rsplit('#')
        .next()
        .unwrap()
        .trim_end_matches(['.', ')'])
        .to_string();
    app.ok(
        Some(&admin),
        "mutation($id: ID!, $b: String!) { adminReplyToTicket(ticketId: $id, body: $b, internal: false) { status } }",
        json!({ "id": ticket, "b": "Only the account that placed an order can see it." }),
    )
    .await;
    let reply = last_reply(&app, &fake, 4242).await;
    assert!(
        reply.contains("Only the account that placed an order can see it."),
        "the staff reply in the chat: {reply}"
    );

    // Completed: the notification reaches the chat, and a refill is filed from it.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminUpdateOrderStatus(input: { orderId: $id, status: COMPLETED }) { status } }",
        json!({ "id": mine }),
    )
    .await;
    let reply = last_reply(&app, &fake, 4242).await;
    assert!(
        reply.contains(&format!("#{mine}")),
        "the order-ended notice: {reply}"
    );
    telegram(&app, Some(TG_SECRET), 4242, &format!("refill {mine}")).await;
    last_reply(&app, &fake, 4242).await;
    let refills: i64 = order_requests::table
        .filter(order_requests::order_id.eq(mine.parse::<i64>().unwrap()))
        .count()
        .get_result(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(refills, 1, "the refill request was filed");
}

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_webhooks_are_verified_and_signed() {
    let fake = FakeChats::start().await;
    let app = chat_app(&fake).await;
    let verify = |token: &'static str| {
        let url = format!(
            "{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
            app.base_url
        );
        let http = app.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(verify("wa-verify").await, (200, "1158201444".to_string()));
    assert_eq!(verify("wrong").await.0, 403);

    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": WHATSAPP_PHONE_ID}, "contacts": [{"wa_id": "6281234567890", "profile": {"name": "A"}}], "messages": [{"from": "6281234567890", "id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "status 1"}}]}}]}]}).to_string();
    let post = |signature: Option<String>| {
        let mut request = app
            .http
            .post(format!("{}/webhooks/whatsapp", app.base_url))
            .header("content-type", "application/json")
            .body(payload.clone());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(None).await, 403);
    assert_eq!(
        post(Some(wa_signature(&payload, "not-the-secret"))).await,
        403
    );
    assert_eq!(post(Some(wa_signature(&payload, WA_APP_SECRET))).await, 200);
    chat_outbox::run(&app.state).await.unwrap();
    let sent = fake.whatsapp.all();
    assert_eq!(sent.len(), 1, "one reply, to the signed message only");
    assert_eq!(sent[0]["to"], "6281234567890");
    assert_eq!(sent[0]["type"], "text");
    assert!(sent[0]["text"]["body"].as_str().unwrap().contains("link"));
    let _: &Value = &sent[0];
}
