//! Money in without a gateway, driven from outside: deposit methods, manual
//! deposits with unique amounts, QRIS, Moota pushes (signed, forged, repeated,
//! concurrent), statement uploads, an admin's confirmations, proofs of transfer,
//! bonuses and vouchers. The books balance after each.

mod common;

use std::collections::HashSet;

use booster::db::schema;
use common::{fake_moota, *};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const ACCOUNT: &str = "1234567890";
const CREATE_METHOD: &str = "mutation($i: DepositMethodInput!) { adminCreateDepositMethod(input: $i) { id kind accountNumber } }";
const DEPOSIT: &str = "mutation($a: Rupiah!, $m: ID!, $v: String) { createDeposit(amount: $a, methodId: $m, voucherCode: $v) { id status amount payableAmount uniqueCode qrisPayload gateway expiresAt } }";
const RESOLVE: &str = "mutation($d: ID!, $r: DepositResolution!) { adminResolveDeposit(input: {depositId: $d, resolution: $r, reason: \"checked the bank\"}) { id status resolution } }";

/// The server with the Moota webhook configured.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|config| {
        config.payments.moota_secret = Some(booster::config::Secret(fake_moota::SECRET.into()));
    })
    .await
}

fn bank_method(name: &str, account: &str) -> Value {
    json!({
        "kind": "BANK_TRANSFER", "name": name, "bankCode": "bca", "accountHolder": "PT Booster",
        "accountNumber": account, "instructionsId": "Transfer tepat sesuai nominal.",
        "instructionsEn": "Transfer the exact amount.", "minAmount": 10000, "maxAmount": 50000000,
    })
}

async fn create_method(app: &TestApp, admin: &str, input: Value) -> String {
    let data = app
        .ok(Some(admin), CREATE_METHOD, json!({ "i": input }))
        .await;
    data["adminCreateDepositMethod"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn deposit(app: &TestApp, key: &str, method: &str, amount: i64) -> Value {
    let data = app
        .ok(Some(key), DEPOSIT, json!({ "a": amount, "m": method }))
        .await;
    data["createDeposit"].clone()
}

fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

async fn ledger_count(app: &TestApp, kind: &str) -> i64 {
    count_of(
        app,
        schema::ledger_entries::table
            .filter(schema::ledger_entries::kind.eq(kind.to_string()))
            .count(),
    )
    .await
}

async fn mutation_statuses(app: &TestApp) -> Vec<String> {
    schema::bank_mutations::table
        .select(schema::bank_mutations::status)
        .order(schema::bank_mutations::id)
        .load(&mut app.conn().await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_is_credited_once_from_a_signed_push_and_forgeries_change_nothing() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("BCA", "123-456 7890")).await;
    let (alice, key) = app.customer("alice@example.com").await;
    let listed = app
        .read(
            &key,
            "{ depositMethods { id name accountNumber instructions(language: EN) minAmount } }",
        )
        .await;
    assert_eq!(listed["depositMethods"][0]["accountNumber"], ACCOUNT);
    assert_eq!(
        listed["depositMethods"][0]["instructions"],
        "Transfer the exact amount."
    );

    let opened = deposit(&app, &key, &method, 100_000).await;
    let payable = int(&opened["payableAmount"]);
    let code = int(&opened["uniqueCode"]);
    assert!((1..=999).contains(&code), "{opened}");
    assert_eq!(payable, 100_000 + code);
    // The code is credited too (MANUAL_DEPOSIT_CREDIT_UNIQUE_CODE defaults to true).
    assert_eq!(int(&opened["amount"]), payable);
    assert_eq!(opened["gateway"], "MANUAL");

    let push = [fake_moota::credit("aolk4PekJxM", ACCOUNT, payable)];
    let forged = fake_moota::push_signed(&app, "not-the-secret", &push).await;
    assert_eq!(forged.0, 403, "{forged:?}");
    let body = serde_json::to_string(&push).unwrap();
    let unsigned = app.post_json(fake_moota::PATH, &[], &body).await;
    assert_eq!(unsigned.0, 403);
    assert_eq!(app.balance(alice).await, 0);
    assert!(mutation_statuses(&app).await.is_empty());

    // Moota delivers the same mutation five times at once: one credit.
    let statuses = fake_moota::push_concurrently(&app, &push, 5).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.balance(alice).await, payable);
    assert_eq!(ledger_count(&app, "DEPOSIT").await, 1);
    assert_eq!(mutation_statuses(&app).await, ["MATCHED"]);
    let seen = app
        .ok(
            Some(&key),
            "query($id: ID!) { deposit(id: $id) { status } }",
            json!({ "id": opened["id"] }),
        )
        .await;
    assert_eq!(seen["deposit"]["status"], "PAID");
    // A debit and an unknown service are not deposits.
    let (status, body) =
        fake_moota::push(&app, &[fake_moota::debit("out-1", ACCOUNT, 5_000)]).await;
    assert_eq!((status, body["credits"].clone()), (200, json!(0)));
    let unknown = app
        .post_json("/webhooks/bank-mutations/nobody", &[], "[]")
        .await;
    assert_eq!(unknown.0, 404);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_open_deposits_get_distinct_amounts_and_concurrent_pushes_pay_exactly_theirs() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("BCA", ACCOUNT)).await;
    let mut customers = Vec::new();
    for n in 0..20 {
        customers.push(app.customer(&format!("c{n}@example.com")).await);
    }
    let opens = (0..200).map(|n| {
        let (app, method, key) = (&app, &method, customers[n % 20].1.clone());
        async move { deposit(app, &key, method, 50_000).await }
    });
    let opened: Vec<Value> = futures_util::future::join_all(opens).await;
    let payables: HashSet<i64> = opened.iter().map(|d| int(&d["payableAmount"])).collect();
    assert_eq!(
        payables.len(),
        200,
        "two open deposits share a payable amount"
    );

    // A second method on the same account, with one deposit of a payable amount
    // the first method uses too: a transfer of that amount is ambiguous.
    let twin = create_method(&app, &admin, bank_method("BCA (promo)", ACCOUNT)).await;
    let ambiguous_amount = int(&opened[199]["payableAmount"]);
    diesel::sql_query(
        "INSERT INTO deposits (user_id, amount, gateway, status, merchant_ref, expires_at, method_id, payable_amount, unique_code) \
         SELECT user_id, amount, gateway, status, merchant_ref || '-TWIN', expires_at, $1, payable_amount, unique_code FROM deposits WHERE payable_amount = $2",
    )
    .bind::<diesel::sql_types::BigInt, _>(twin.parse::<i64>().unwrap())
    .bind::<diesel::sql_types::BigInt, _>(ambiguous_amount)
    .execute(&mut app.conn().await)
    .await
    .unwrap();

    // 48 payments of open deposits, one of an amount nobody opened, the ambiguous one.
    let mut pushes: Vec<Value> = opened[..48]
        .iter()
        .enumerate()
        .map(|(n, d)| fake_moota::credit(&format!("m{n}"), ACCOUNT, int(&d["payableAmount"])))
        .collect();
    pushes.push(fake_moota::credit("unknown", ACCOUNT, 77_777));
    pushes.push(fake_moota::credit("twin", ACCOUNT, ambiguous_amount));
    let sent = pushes
        .iter()
        .map(|m| fake_moota::push(&app, std::slice::from_ref(m)));
    let answers = futures_util::future::join_all(sent).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");

    let paid: Vec<(i64, i64, i64)> = schema::deposits::table
        .filter(schema::deposits::status.eq("PAID"))
        .select((
            schema::deposits::id,
            schema::deposits::user_id,
            schema::deposits::amount,
        ))
        .load(&mut app.conn().await)
        .await
        .unwrap();
    let expected: HashSet<i64> = opened[..48]
        .iter()
        .map(|d| d["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(paid.iter().map(|p| p.0).collect::<HashSet<_>>(), expected);
    for (user, _) in &customers {
        let owed: i64 = paid.iter().filter(|p| p.1 == *user).map(|p| p.2).sum();
        assert_eq!(app.balance(*user).await, owed);
    }
    let mut statuses = mutation_statuses(&app).await;
    statuses.sort();
    statuses.dedup();
    assert_eq!(statuses, ["AMBIGUOUS", "MATCHED", "UNMATCHED"]);
    let review = app.read(&admin, "{ adminBankMutations(needsReview: true) { totalCount nodes { status amount } } adminNotifications(first: 10) { kind } }").await;
    assert_eq!(review["adminBankMutations"]["totalCount"], 2, "{review}");
    let kinds: Vec<&str> = review["adminNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "BANK_MUTATION_REVIEW")
            .count(),
        2,
        "{review}"
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_confirms_rejects_and_attaches_once_and_the_customer_hears_of_it() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("BRI", ACCOUNT)).await;
    let (bob, key) = app.customer("bob@example.com").await;
    let first = deposit(&app, &key, &method, 20_000).await;
    let second = deposit(&app, &key, &method, 30_000).await;
    let confirmed = app
        .ok(
            Some(&admin),
            RESOLVE,
            json!({ "d": first["id"], "r": "CREDIT" }),
        )
        .await;
    assert_eq!(confirmed["adminResolveDeposit"]["status"], "PAID");
    let again = app
        .gql(
            Some(&admin),
            RESOLVE,
            json!({ "d": first["id"], "r": "CREDIT" }),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    let rejected = app
        .ok(
            Some(&admin),
            RESOLVE,
            json!({ "d": second["id"], "r": "REJECT" }),
        )
        .await;
    assert_eq!(rejected["adminResolveDeposit"]["status"], "FAILED");
    assert_eq!(app.balance(bob).await, int(&first["amount"]));
    let told = app
        .read(&key, "{ myNotifications(first: 10) { kind } }")
        .await;
    let kinds = told["myNotifications"].to_string();
    assert!(
        kinds.contains("DEPOSIT_CREDITED") && kinds.contains("DEPOSIT_REJECTED"),
        "{kinds}"
    );

    // A transfer nobody can place waits; an admin attaches it to its deposit, once.
    let third = deposit(&app, &key, &method, 40_000).await;
    let (_, answer) = fake_moota::push(&app, &[fake_moota::credit("odd", ACCOUNT, 40_000)]).await;
    assert_eq!(answer["review"], 1, "{answer}");
    let waiting = app
        .read(
            &admin,
            "{ adminBankMutations(needsReview: true) { nodes { id status } } }",
        )
        .await;
    let mutation = waiting["adminBankMutations"]["nodes"][0]["id"].clone();
    const ATTACH: &str = "mutation($m: ID!, $d: ID!) { adminAttachBankMutation(mutationId: $m, depositId: $d, reason: \"customer sent 40000 without the code\") { status deposit { status } } }";
    let attached = app
        .ok(
            Some(&admin),
            ATTACH,
            json!({ "m": mutation, "d": third["id"] }),
        )
        .await;
    assert_eq!(attached["adminAttachBankMutation"]["status"], "ATTACHED");
    assert_eq!(
        attached["adminAttachBankMutation"]["deposit"]["status"],
        "PAID"
    );
    let twice = app
        .gql(
            Some(&admin),
            ATTACH,
            json!({ "m": mutation, "d": third["id"] }),
        )
        .await;
    assert_eq!(error_code(&twice), "CONFLICT");
    assert_eq!(
        app.balance(bob).await,
        int(&first["amount"]) + int(&third["amount"])
    );
    let audit = app
        .read(&admin, "{ adminAuditLog(first: 20) { nodes { action } } }")
        .await;
    let actions = audit["adminAuditLog"]["nodes"].to_string();
    for action in [
        "deposit_method.create",
        "deposit.resolve",
        "bank_mutation.attach",
    ] {
        assert!(actions.contains(action), "{action} missing from {actions}");
    }
    app.assert_books_balanced().await;
}

/// A static QRIS payload with a correct checksum, as a merchant's printed QR holds.
fn static_qris() -> String {
    let fields = [
        ("00", "01"),
        ("01", "11"),
        (
            "26",
            "0014ID.CO.QRIS.WWW0118936009140000000001021500000000000000303UMI",
        ),
        ("51", "0014ID.CO.QRIS.WWW0215ID10200000000010303UMI"),
        ("52", "5812"),
        ("53", "360"),
        ("58", "ID"),
        ("59", "TOKO BOOSTER"),
        ("60", "JAKARTA"),
        ("61", "10110"),
    ];
    let mut payload: String = fields
        .iter()
        .map(|(id, v)| format!("{id}{:02}{v}", v.len()))
        .collect();
    payload.push_str("6304");
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(payload.as_bytes());
    format!("{payload}{crc:04X}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_qris_deposit_answers_a_payload_for_its_exact_amount() {
    let app = spawn().await;
    let admin = app.admin().await;
    let qris = |payload: &str| json!({ "kind": "QRIS_STATIC", "name": "QRIS", "qrisPayload": payload, "minAmount": 10000, "maxAmount": 5000000 });
    let broken = static_qris().replace("TOKO", "TOKU");
    let refused = app
        .gql(Some(&admin), CREATE_METHOD, json!({ "i": qris(&broken) }))
        .await;
    assert_invalid(&refused, "qrisPayload");
    let method = create_method(&app, &admin, qris(&static_qris())).await;
    let (_, key) = app.customer("q@example.com").await;
    let opened = deposit(&app, &key, &method, 25_000).await;
    let payload = opened["qrisPayload"].as_str().unwrap();
    let payable = int(&opened["payableAmount"]);
    // Checked with an independent CRC implementation, and parsed back.
    let (body, crc) = payload.split_at(payload.len() - 4);
    let expected = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(body.as_bytes());
    assert_eq!(crc, format!("{expected:04X}"));
    assert!(payload.starts_with("000201010212"), "{payload}");
    assert_eq!(booster::payments::qris::amount_of(payload), Some(payable));
    assert!(booster::payments::qris::validate_static(payload).is_ok());
    app.assert_books_balanced().await;
}

const BCA_STATEMENT_HEAD: &str = "\"Informasi Rekening - Mutasi Rekening\"\n\"No. rekening : 1234567890\"\n\"Nama : PT BOOSTER\"\n\"Kode Mata Uang : Rp\"\n\"Tanggal Transaksi\",\"Keterangan\",\"Cabang\",\"Jumlah\",\"Saldo\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_statement_upload_dry_runs_then_credits_once() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("BCA", ACCOUNT)).await;
    let (carol, key) = app.customer("carol@example.com").await;
    let a = deposit(&app, &key, &method, 60_000).await;
    let b = deposit(&app, &key, &method, 70_000).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .format("%d/%m/%Y");
    let line = |amount: i64, marker: &str| {
        format!(
            "\"{today}\",\"TRSF E-BANKING {amount}\",\"0000\",\"{},{:03}.00 {marker}\",\"9,999,999.00\"\n",
            amount / 1000,
            amount % 1000
        )
    };
    let csv = format!(
        "{BCA_STATEMENT_HEAD}{}{}{}\"Saldo Akhir : 9,999,999.00\"\n",
        line(int(&a["payableAmount"]), "CR"),
        line(int(&b["payableAmount"]), "CR"),
        line(15_000, "DB"),
    );
    const IMPORT: &str = "mutation($m: ID!, $file: Upload!, $d: Boolean!) { adminImportBankStatement(methodId: $m, file: $file, layout: BCA_BISNIS, dryRun: $d) { dryRun credits repeats matched review } }";
    let run = |dry: bool| {
        app.upload(
            &admin,
            IMPORT,
            json!({ "m": method, "d": dry }),
            ("mutasi.csv", "text/csv", csv.clone().into_bytes()),
        )
    };
    let dry = run(true).await;
    assert_eq!(
        dry["data"]["adminImportBankStatement"],
        json!({ "dryRun": true, "credits": 2, "repeats": 0, "matched": 2, "review": 0 }),
        "{dry}"
    );
    assert_eq!(app.balance(carol).await, 0);
    assert!(mutation_statuses(&app).await.is_empty());
    let applied = run(false).await;
    assert_eq!(
        applied["data"]["adminImportBankStatement"]["matched"], 2,
        "{applied}"
    );
    let again = run(false).await;
    assert_eq!(
        again["data"]["adminImportBankStatement"],
        json!({ "dryRun": false, "credits": 2, "repeats": 2, "matched": 0, "review": 0 })
    );
    assert_eq!(
        app.balance(carol).await,
        int(&a["amount"]) + int(&b["amount"])
    );
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_are_images_within_the_limit_and_only_their_owner_and_staff_see_them() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("BNI", ACCOUNT)).await;
    let (_, key) = app.customer("dina@example.com").await;
    let (_, stranger) = app.customer("eve@example.com").await;
    let opened = deposit(&app, &key, &method, 15_000).await;
    const ATTACH: &str = "mutation($d: ID!, $file: Upload!) { attachDepositProof(depositId: $d, file: $file, note: \"paid from BCA a.n. Dina\") { id note } }";
    let vars = json!({ "d": opened["id"] });
    let not_image = app
        .upload(
            &key,
            ATTACH,
            vars.clone(),
            ("proof.png", "image/png", b"<svg onload=alert(1)>".to_vec()),
        )
        .await;
    assert_invalid(&not_image, "file");
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    huge.resize(2 * 1024 * 1024 + 1, 0);
    let too_large = app
        .upload(&key, ATTACH, vars.clone(), ("proof.png", "image/png", huge))
        .await;
    assert_invalid(&too_large, "file");
    let png = b"\x89PNG\r\n\x1a\nproof-bytes".to_vec();
    let theirs = app
        .upload(
            &stranger,
            ATTACH,
            vars.clone(),
            ("proof.png", "image/png", png.clone()),
        )
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND");
    let stored = app
        .upload(&key, ATTACH, vars, ("proof.png", "image/png", png.clone()))
        .await;
    assert_eq!(
        stored["data"]["attachDepositProof"]["note"], "paid from BCA a.n. Dina",
        "{stored}"
    );

    let path = format!(
        "{}/deposits/{}/proof",
        app.base_url,
        opened["id"].as_str().unwrap()
    );
    let fetch = |token: Option<String>| {
        let mut request = app.http.get(&path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, kind, response.bytes().await.unwrap().to_vec())
        }
    };
    let own = fetch(Some(key.clone())).await;
    assert_eq!(
        (own.0, own.1.as_deref(), own.2.clone()),
        (200, Some("image/png"), png.clone())
    );
    assert_eq!(fetch(Some(admin.clone())).await.2, png);
    assert_eq!(fetch(Some(stranger)).await.0, 404);
    assert_eq!(fetch(None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn bonuses_are_their_own_entries_and_a_voucher_limit_holds_under_concurrency() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("Mandiri", ACCOUNT)).await;
    app.ok(Some(&admin), "mutation($m: ID!) { adminCreateBonusRule(input: { methodId: $m, bonusBps: 500, minAmount: 500000 }) { id } }", json!({ "m": method })).await;
    app.read(&admin, "mutation { adminCreateVoucher(input: { code: \"hemat5k\", kind: FIXED, value: 5000, maxUses: 10 }) { id code } }").await;

    // The bonus rule: 5% from 500,000 on, as a BONUS entry beside the DEPOSIT.
    let (rich, rich_key) = app.customer("rich@example.com").await;
    let big = deposit(&app, &rich_key, &method, 600_000).await;
    app.ok(
        Some(&admin),
        RESOLVE,
        json!({ "d": big["id"], "r": "CREDIT" }),
    )
    .await;
    let credited = int(&big["amount"]);
    assert_eq!(app.balance(rich).await, credited + credited * 500 / 10_000);
    assert_eq!(ledger_count(&app, "BONUS").await, 1);
    // The dashboard counts money received and bonuses apart.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let dashboard = app
        .ok(
            Some(&admin),
            "query($d: NaiveDate!) { adminDashboard(from: $d, to: $d, timezone: \"Asia/Jakarta\") { deposits { amount bonus byGateway { gateway amount bonus } } } }",
            json!({ "d": today.to_string() }),
        )
        .await;
    let figures = &dashboard["adminDashboard"]["deposits"];
    assert_eq!(int(&figures["amount"]), credited, "{figures}");
    assert_eq!(int(&figures["bonus"]), credited * 500 / 10_000);
    assert_eq!(figures["byGateway"][0]["gateway"], "MANUAL");

    // Thirty customers with the ten-use voucher, credited at once: ten bonuses.
    let mut opened = Vec::new();
    for n in 0..30 {
        let (id, key) = app.customer(&format!("v{n}@example.com")).await;
        let data = app
            .ok(
                Some(&key),
                DEPOSIT,
                json!({ "a": 50_000, "m": method, "v": "HEMAT5K" }),
            )
            .await;
        opened.push((id, data["createDeposit"].clone()));
    }
    let resolves = opened.iter().map(|(_, d)| {
        app.ok(
            Some(&admin),
            RESOLVE,
            json!({ "d": d["id"], "r": "CREDIT" }),
        )
    });
    futures_util::future::join_all(resolves).await;
    assert_eq!(ledger_count(&app, "BONUS").await, 11);
    let mut with_bonus = 0;
    for (id, d) in &opened {
        let extra = app.balance(*id).await - int(&d["amount"]);
        assert!(extra == 0 || extra == 5_000, "{extra}");
        with_bonus += i32::from(extra == 5_000);
    }
    assert_eq!(with_bonus, 10);
    let vouchers = app.read(&admin, "{ adminVouchers { code uses } }").await;
    assert_eq!(
        vouchers["adminVouchers"][0],
        json!({ "code": "HEMAT5K", "uses": 10 })
    );
    // A used-up voucher is refused at once, by name.
    let (_, late) = app.customer("late@example.com").await;
    let refused = app
        .gql(
            Some(&late),
            DEPOSIT,
            json!({ "a": 50_000, "m": method, "v": "hemat5k" }),
        )
        .await;
    assert_invalid(&refused, "voucherCode");
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_a_mutation_nobody_matched_past_its_setting() {
    let app = TestApp::spawn_with(|config| {
        config.payments.moota_secret = Some(booster::config::Secret(fake_moota::SECRET.into()));
        config.payments.unmatched_mutation_alert_after = std::time::Duration::ZERO;
    })
    .await;
    let before = app.get_text("/readyz", None).await;
    assert!(!before.contains("bank mutation"), "{before}");
    let (_, answer) = fake_moota::push(&app, &[fake_moota::credit("stray", ACCOUNT, 12_345)]).await;
    assert_eq!(answer["review"], 1, "{answer}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = app.get_text("/readyz", None).await;
    assert!(after.contains("a bank mutation has waited"), "{after}");
}

/// The caller's level name as the credential cache now sees them (the cache is
/// emptied by the database's notice, a moment after the write).
async fn level_of(app: &TestApp, key: &str, expected: &str) -> Value {
    let query = "{ me { level { name } levelProgress { effectiveDiscountBps totalDeposits totalSpent nextLevel { name } nextLevelRemaining setByAdmin } } }";
    for _ in 0..50 {
        let me = app.ok(Some(key), query, json!({})).await["me"].clone();
        if me["level"]["name"] == expected {
            return me;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the level never became {expected}");
}

#[tokio::test(flavor = "multi_thread")]
async fn levels_are_earned_by_money_priced_through_the_best_discount_and_never_lowered_by_hand() {
    use booster::db::enums::Fulfillment;
    let app = TestApp::spawn_with(|config| {
        config.payments.levels_interval = std::time::Duration::from_secs(60);
    })
    .await;
    let admin = app.admin().await;
    const LEVEL: &str =
        "mutation($i: CustomerLevelInput!) { adminCreateCustomerLevel(input: $i) { id name } }";
    let mut ids = Vec::new();
    for (name, bps, basis, threshold) in [
        ("Reseller", 500, "TOTAL_DEPOSITS", 100_000),
        ("Agen", 1_000, "TOTAL_DEPOSITS", 1_000_000),
        ("Juragan", 1_200, "TOTAL_SPENT", 15_000),
    ] {
        let input =
            json!({ "name": name, "discountBps": bps, "basis": basis, "threshold": threshold });
        let made = app.ok(Some(&admin), LEVEL, json!({ "i": input })).await;
        ids.push(made["adminCreateCustomerLevel"]["id"].clone());
    }
    let method = create_method(&app, &admin, bank_method("BCA", ACCOUNT)).await;
    // An own service (cost unknown): discounts stop at OWN_PRODUCT_MAX_DISCOUNT_BPS (50%).
    let own = service(&app, Fulfillment::Manual, 20_000, 10, 100_000).await;
    let (_, key) = app.customer("lina@example.com").await;
    let first = deposit(&app, &key, &method, 150_000).await;
    app.ok(
        Some(&admin),
        RESOLVE,
        json!({ "d": first["id"], "r": "CREDIT" }),
    )
    .await;

    let me = level_of(&app, &key, "Reseller").await;
    let progress = &me["levelProgress"];
    assert_eq!(progress["effectiveDiscountBps"], 500, "{me}");
    assert_eq!(progress["nextLevel"]["name"], "Juragan");
    assert_eq!(int(&progress["nextLevelRemaining"]), 15_000);
    assert_eq!(
        app.charge_of(&key, order_input(own, "https://x.com/a", 1_000))
            .await,
        19_000
    );

    // What orders spent raises the level in the job's next run.
    booster::jobs::customer_levels::run(&app.state)
        .await
        .unwrap();
    let me = level_of(&app, &key, "Juragan").await;
    assert_eq!(me["levelProgress"]["effectiveDiscountBps"], 1_200);
    assert_eq!(
        app.charge_of(&key, order_input(own, "https://x.com/b", 1_000))
            .await,
        17_600
    );

    // A level set by hand is never lowered by money; null gives back the earned one.
    let user_id = app.read(&key, "{ me { id } }").await["me"]["id"].clone();
    const SET: &str =
        "mutation($u: ID!, $l: ID) { adminSetUserLevel(userId: $u, levelId: $l) { id } }";
    app.ok(Some(&admin), SET, json!({ "u": user_id, "l": ids[0] }))
        .await;
    level_of(&app, &key, "Reseller").await;
    let second = deposit(&app, &key, &method, 10_000).await;
    app.ok(
        Some(&admin),
        RESOLVE,
        json!({ "d": second["id"], "r": "CREDIT" }),
    )
    .await;
    booster::jobs::customer_levels::run(&app.state)
        .await
        .unwrap();
    let me = level_of(&app, &key, "Juragan").await;
    assert_eq!(
        me["levelProgress"]["setByAdmin"], false,
        "money raised it, so it is earned again"
    );
    app.ok(Some(&admin), SET, json!({ "u": user_id, "l": ids[1] }))
        .await;
    let me = level_of(&app, &key, "Agen").await;
    assert_eq!(me["levelProgress"]["setByAdmin"], true);
    app.assert_books_balanced().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reconciliation_expires_an_unpaid_transfer_and_a_late_payment_waits_for_an_admin() {
    let app = spawn().await;
    let admin = app.admin().await;
    let method = create_method(&app, &admin, bank_method("BCA", ACCOUNT)).await;
    let (carol, key) = app.customer("late@example.com").await;
    let opened = deposit(&app, &key, &method, 45_000).await;
    let id: i64 = opened["id"].as_str().unwrap().parse().unwrap();
    diesel::update(schema::deposits::table.find(id))
        .set(schema::deposits::expires_at.eq(chrono::Utc::now() - chrono::Duration::minutes(5)))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    // No gateway to ask: the job only lets the time run out.
    let report = booster::jobs::reconcile_deposits::run(&app.state)
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    // The transfer arrives after the window: nothing is credited, an admin decides.
    let push = [fake_moota::credit(
        "late-1",
        ACCOUNT,
        int(&opened["payableAmount"]),
    )];
    let (_, answer) = fake_moota::push(&app, &push).await;
    assert_eq!(answer["review"], 1, "{answer}");
    assert_eq!(mutation_statuses(&app).await, ["EXPIRED_MATCH"]);
    assert_eq!(app.balance(carol).await, 0);
    // The same amount may be opened again once the old deposit expired.
    let again = deposit(&app, &key, &method, 45_000).await;
    assert_eq!(again["status"], "PENDING");
    app.assert_books_balanced().await;
}
