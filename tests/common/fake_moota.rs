//! A stand-in for Moota (moota.co), the bank-mutation push service, written from
//! its documentation (see `booster::payments::mutations`): it POSTs a JSON array
//! of mutations to the webhook, signed in the `Signature` header with the hex
//! HMAC-SHA256 of the raw body under the webhook's secret, as MootaBot does. It
//! can also forge pushes and deliver one push several times at once.

use serde_json::{Value, json};

use super::TestApp;

pub const SECRET: &str = "moota-webhook-secret-test";
pub const PATH: &str = "/webhooks/bank-mutations/moota";

/// One credit mutation to `account` as Moota reports it (amount as a decimal
/// string, bank-local time).
pub fn credit(mutation_id: &str, account: &str, amount: i64) -> Value {
    json!({
        "mutation_id": mutation_id,
        "bank_id": "VLagzqBj42D",
        "account_number": account,
        "date": chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Jakarta)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        "description": format!("TRSF E-BANKING CR {mutation_id}"),
        "amount": format!("{amount}.00"),
        "type": "CR",
        "note": "",
        "balance": "0.00",
        "token": mutation_id,
        "taggings": [],
        "bank": { "bank_type": "bca", "label": "BCA", "account_number": account },
    })
}

/// A debit mutation (money out): never a deposit.
pub fn debit(mutation_id: &str, account: &str, amount: i64) -> Value {
    let mut mutation = credit(mutation_id, account, amount);
    mutation["type"] = json!("DB");
    mutation
}

/// Pushes `mutations` signed with `secret`; the answer's status and body.
pub async fn push_signed(app: &TestApp, secret: &str, mutations: &[Value]) -> (u16, Value) {
    let body = serde_json::to_string(&mutations).unwrap();
    let signature = booster::payments::mutations::sign_moota(secret, body.as_bytes());
    app.post_json(
        PATH,
        &[("Signature", &signature), ("User-Agent", "MootaBot/1.5")],
        &body,
    )
    .await
}

/// Pushes `mutations` as Moota does.
pub async fn push(app: &TestApp, mutations: &[Value]) -> (u16, Value) {
    push_signed(app, SECRET, mutations).await
}

/// The same push delivered `times` times at once (Moota retries; networks repeat).
pub async fn push_concurrently(app: &TestApp, mutations: &[Value], times: usize) -> Vec<u16> {
    let pushes = (0..times).map(|_| push(app, mutations));
    futures_util::future::join_all(pushes)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect()
}
