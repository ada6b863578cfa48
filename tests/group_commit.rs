//! The group commit of one account's orders (`domain::orders::group_commit`)
//! against the real server and PostgreSQL: orders of one account arriving while
//! one of its placements waits are placed in one transaction, refused exactly
//! where one-by-one placement would refuse them, charged once for a repeated
//! idempotency key, and decided by the group's leader when their caller goes away.

mod common;

use std::time::Duration;

use booster::db::{
    enums::Fulfillment,
    schema::{ledger_entries, order_events},
};
use common::{PLACE_ORDER, TestApp, count_of, order_input, service};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Holds the account's row as an order's debit would, until `release`.
struct HeldAccount {
    conn: booster::db::PooledConn,
}

impl HeldAccount {
    async fn hold(app: &TestApp, user_id: i64) -> HeldAccount {
        let mut conn = app.conn().await;
        diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
        diesel::sql_query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind::<diesel::sql_types::BigInt, _>(user_id)
            .execute(&mut conn)
            .await
            .unwrap();
        HeldAccount { conn }
    }

    async fn release(mut self) {
        diesel::sql_query("COMMIT")
            .execute(&mut self.conn)
            .await
            .unwrap();
    }
}

/// Sends `placeOrder` in a task of its own once `waiting` orders of the account
/// are queued (`None`: once its first placement is in flight), so that the
/// arrival order is the order of the calls.
async fn send_after(
    app: &TestApp,
    user_id: i64,
    waiting: Option<usize>,
    key: &str,
    input: Value,
) -> JoinHandle<Value> {
    let placements = app.state.placements.clone();
    for _ in 0..500 {
        if placements.waiting(user_id) == waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(placements.waiting(user_id), waiting);
    let (http, url) = (app.http.clone(), format!("{}/graphql", app.base_url));
    let key = key.to_string();
    tokio::spawn(async move {
        http.post(url)
            .bearer_auth(key)
            .json(&json!({ "query": PLACE_ORDER, "variables": input }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn placed_id(answer: &Value) -> i64 {
    answer["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("not placed: {answer:#}"))
        .parse()
        .unwrap()
}

/// The transaction id that wrote each order: one for orders placed together.
async fn writers(app: &TestApp, ids: &[i64]) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Writer {
        #[diesel(sql_type = diesel::sql_types::Text)]
        xmin: String,
    }
    let mut conn = app.conn().await;
    let mut found = Vec::new();
    for id in ids {
        let writer: Writer =
            diesel::sql_query("SELECT xmin::text AS xmin FROM orders WHERE id = $1")
                .bind::<diesel::sql_types::BigInt, _>(id)
                .get_result(&mut conn)
                .await
                .unwrap();
        found.push(writer.xmin);
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_arriving_together_are_one_transaction_refused_exactly_where_one_by_one_would() {
    let app = TestApp::spawn().await;
    // 10 rupiah a unit.
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    let (user_id, key) = app.funded_customer("reseller@example.com", 11_000).await;

    let held = HeldAccount::hold(&app, user_id).await;
    let link = |i: usize| format!("https://x.com/r/status/{i}");
    // The first order waits on the held row; the rest queue behind it.
    let first = send_after(
        &app,
        user_id,
        None,
        &key,
        order_input(service, &link(0), 100),
    )
    .await;
    let quantities = [300, 500, 400, 200];
    let mut queued = Vec::new();
    for (i, quantity) in quantities.iter().enumerate() {
        let input = order_input(service, &link(i + 1), *quantity);
        queued.push(send_after(&app, user_id, Some(i), &key, input).await);
    }
    // The third queued caller goes away before its group runs: the caller who
    // leads the group still decides its order (refused: it meets 2,000), and
    // nothing is left open.
    let gone = queued.remove(2);
    for _ in 0..500 {
        if app.state.placements.waiting(user_id) == Some(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gone.abort();
    held.release().await;

    let first = placed_id(&first.await.unwrap());
    let mut answers = Vec::new();
    for handle in queued {
        answers.push(handle.await.unwrap());
    }
    // 11,000 - 1,000 leaves 10,000: 3,000 and 5,000 fit, 4,000 (the caller who
    // left) meets 2,000 and is refused, 2,000 still fits.
    let (a, b, last) = (
        placed_id(&answers[0]),
        placed_id(&answers[1]),
        placed_id(&answers[2]),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.balance(user_id).await, 0);

    // The three queued orders that fit are one transaction; the first is its own.
    let written = writers(&app, &[first, a, b, last]).await;
    assert_eq!(written[1], written[2]);
    assert_eq!(written[2], written[3]);
    assert_ne!(written[0], written[1]);

    // Each order has its one charge, the balances running down in arrival order.
    let mut conn = app.conn().await;
    let ledger: Vec<(Option<i64>, i64, i64)> = ledger_entries::table
        .filter(ledger_entries::user_id.eq(user_id))
        .filter(ledger_entries::order_id.is_not_null())
        .order(ledger_entries::id)
        .select((
            ledger_entries::order_id,
            ledger_entries::amount,
            ledger_entries::balance_after,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        ledger,
        vec![
            (Some(first), -1_000, 10_000),
            (Some(a), -3_000, 7_000),
            (Some(b), -5_000, 2_000),
            (Some(last), -2_000, 0),
        ]
    );
    let events = count_of(
        &app,
        order_events::table
            .filter(order_events::order_id.eq_any([first, a, b, last]))
            .count(),
    )
    .await;
    assert_eq!(events, 4);
    let open: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .get_result::<Count>(&mut conn)
    .await
    .unwrap()
    .n;
    assert_eq!(open, 0);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_idempotency_key_in_one_group_is_one_order_charged_once() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    let (user_id, key) = app.funded_customer("retry@example.com", 100_000).await;
    let with_key = |link: &str, request: &str| {
        let mut input = order_input(service, link, 100);
        input["input"]["idempotencyKey"] = json!(request);
        input
    };

    let held = HeldAccount::hold(&app, user_id).await;
    let first = send_after(
        &app,
        user_id,
        None,
        &key,
        with_key("https://x.com/i/1", "a"),
    )
    .await;
    let mut retried = Vec::new();
    for (waiting, link, request) in [
        (0, "https://x.com/i/2", "b"),
        (1, "https://x.com/i/2", "b"),
        (2, "https://x.com/i/3", "c"),
    ] {
        let input = with_key(link, request);
        retried.push(send_after(&app, user_id, Some(waiting), &key, input).await);
    }
    held.release().await;

    placed_id(&first.await.unwrap());
    let mut ids = Vec::new();
    for handle in retried {
        ids.push(placed_id(&handle.await.unwrap()));
    }
    assert_eq!(ids[0], ids[1], "the retry answers the first order");
    assert_ne!(ids[1], ids[2]);
    assert_eq!(app.balance(user_id).await, 100_000 - 3 * 1_000);
    let charges = count_of(
        &app,
        ledger_entries::table
            .filter(ledger_entries::user_id.eq(user_id))
            .filter(ledger_entries::order_id.is_not_null())
            .count(),
    )
    .await;
    assert_eq!(charges, 3);
}
