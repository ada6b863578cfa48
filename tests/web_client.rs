//! The reference web client (examples/web) walked in headless Chromium against
//! the real server, with the provider and the payment gateways as stand-ins: the
//! catalogue filtered anonymously, sign-in, an order followed live until the
//! provider completes it, a partial order whose refund appears in the balance
//! without a reload, a deposit, and a ticket the bot answers. The browser side is
//! `tests/web/journey.mjs`; this side moves the server when it says so.

mod common;

use booster::{
    db::{enums::Fulfillment, orders::OrderRow, schema::users},
    jobs::{dispatch, status_sync},
};
use common::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use std::{path::Path, process::Stdio};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const PASSWORD: &str = "Tumbuh-Pesat-Akun-2026!";
const QUANTITY: i64 = 1000;

async fn balance(app: &TestApp, user_id: i64) -> i64 {
    users::table
        .find(user_id)
        .select(users::balance)
        .first(&mut *app.conn().await)
        .await
        .unwrap()
}

/// Sends the order to the fake provider and brings its answer back.
async fn provider_reports(
    app: &TestApp,
    fake: &fake_provider::FakeProvider,
    order: &str,
    status: &str,
    remains: i64,
) {
    dispatch::run(&app.state).await.unwrap();
    let row = OrderRow::find(&mut *app.conn().await, order.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    fake.set_status(&row.provider_order_id.unwrap(), status, 10, remains);
    status_sync::run(&app.state).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_walks_the_reference_client_in_a_browser() {
    let (app, gateways) = TestApp::spawn_with_gateways().await;
    let (fake, _, service) = fake_provider_service(&app, "jap").await;
    service_with(&app, Fulfillment::Manual, 20_000, 1, 10, |s| {
        s.name = "Instagram likes".into()
    })
    .await;

    // A customer signed up with a password and a verified address, funded.
    let email = "sari@example.com";
    let signed_up = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) }",
            json!({ "e": email, "p": PASSWORD }),
        )
        .await;
    assert_eq!(signed_up["signUp"], true);
    let user_id: i64 = diesel::update(users::table.filter(users::email.eq(email)))
        .set(users::email_verified_at.eq(diesel::dsl::now))
        .returning(users::id)
        .get_result(&mut *app.conn().await)
        .await
        .unwrap();
    fund(&app, user_id, 100_000).await;

    let plan = json!({
        "base": app.base_url,
        "email": email,
        "password": PASSWORD,
        "serviceId": service.to_string(),
        "serviceName": "Twitter followers",
        "searchFor": "Twitter",
        "quantity": QUANTITY,
        "links": ["https://x.com/sari/status/1", "https://x.com/sari/status/2"],
        "deposit": 50_000,
    });
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    assert!(
        web.join("node_modules").exists(),
        "run scripts/web-test-deps.sh first (scripts/test.sh does)"
    );
    let mut node = tokio::process::Command::new("node")
        .arg(web.join("journey.mjs"))
        .arg(plan.to_string())
        .current_dir(&web)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (scripts/web-test-deps.sh installs it)");
    let mut to_browser = node.stdin.take().unwrap();
    let mut from_browser = BufReader::new(node.stdout.take().unwrap()).lines();

    let mut steps = Vec::new();
    let mut placed = Vec::new();
    let journey = async {
        while let Some(line) = from_browser.next_line().await.unwrap() {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["STEP", "placed", order, shown] => {
                    placed.push(order.to_string());
                    assert_eq!(shown.parse::<i64>().unwrap(), balance(&app, user_id).await);
                    let (status, remains, reply) = match placed.len() {
                        1 => ("Completed", 0, "completed\n"),
                        _ => ("Partial", 400, "partial\n"),
                    };
                    provider_reports(&app, &fake, order, status, remains).await;
                    to_browser.write_all(reply.as_bytes()).await.unwrap();
                }
                ["STEP", "done"] => {
                    steps.push(line);
                    break;
                }
                _ => {}
            }
            steps.push(line);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), journey)
        .await
        .unwrap_or_else(|_| panic!("the journey stalled after {steps:#?}"));
    let output = node.wait_with_output().await.unwrap();
    assert!(
        output.status.success() && steps.last().map(String::as_str) == Some("STEP done"),
        "the journey failed after {steps:#?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    println!("{steps:#?}");
    let step = |name: &str| -> Vec<String> {
        let found = steps
            .iter()
            .find(|s| s.starts_with(&format!("STEP {name} ")))
            .unwrap_or_else(|| panic!("no {name} in {steps:#?}"));
        found.split(' ').skip(2).map(str::to_string).collect()
    };
    // Both services listed, one left by the filter.
    assert_eq!(step("filtered"), vec!["2", "1"]);
    assert_eq!(step("signed-in"), vec!["100000"]);
    // 10,000 per 1,000: two orders charged, 400 of the second's 1,000 not delivered
    // and refunded (4,000), shown in the browser as the database has it.
    let refunded = step("refunded");
    assert_eq!(refunded, vec![placed[1].clone(), "84000".to_string()]);
    assert_eq!(balance(&app, user_id).await, 84_000);
    let deposit = step("deposit");
    assert!(deposit[1].starts_with(&gateways.url), "{deposit:?}");
    let bot = step("bot").join(" ");
    assert!(bot.contains(&format!("#{}", placed[1])), "{bot}");
}
