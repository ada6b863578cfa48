//! Backup and restore end to end: `scripts/backup.sh` dumps a database filled
//! through the API, `scripts/restore.sh` restores it into a fresh database (running
//! the real `booster migrate` and `booster audit`), and the restored balances,
//! ledger and orders are exactly the original's. Needs `pg_dump`, `pg_restore` and
//! `psql` (installed by `scripts/ensure-postgres.sh`).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use booster::db::enums::Fulfillment;
use common::*;
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls};

const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";
const PLACE: &str =
    "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status charge } }";
const CANCEL: &str =
    "mutation($id: ID!) { requestOrderCancel(orderId: $id) { order { status refunded } } }";
const ADJUST: &str = "mutation($u: ID!, $a: Rupiah!, $r: String!) { adminAdjustBalance(input: {userId: $u, amount: $a, reason: $r}) { amount balanceAfter } }";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// Runs a script of the repository with `env`; panics with its output if it cannot start.
async fn run(path: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(path);
    command
        .args(args)
        .env("BOOSTER_BIN", env!("CARGO_BIN_EXE_booster"))
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("BACKUP_COPY_COMMAND");
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// What must survive a backup and restore, read straight from the tables.
#[derive(Debug, PartialEq)]
struct Books {
    /// (id, email, balance) of every user.
    balances: Vec<(i64, String, i64)>,
    /// (user id, number of entries, sum of amounts).
    ledger_per_user: Vec<(i64, i64, i64)>,
    /// Every ledger row, every column, as JSON text.
    ledger_rows: Vec<String>,
    /// Every order row, every column, as JSON text.
    orders: Vec<String>,
}

async fn books(client: &Client) -> Books {
    let balances = client
        .query("SELECT id, email, balance FROM users ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let ledger_per_user = client
        .query(
            "SELECT user_id, count(*), sum(amount)::bigint FROM ledger_entries GROUP BY user_id ORDER BY user_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let rows = |table: &'static str| async move {
        client
            .query(
                &format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY id"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    Books {
        balances,
        ledger_per_user,
        ledger_rows: rows("ledger_entries").await,
        orders: rows("orders").await,
    }
}

/// A database that is dropped when the test ends, whatever happens.
struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        common::test_db::drop_database(&self.0);
    }
}

/// A temporary directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("booster-backup-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn order_input(service: i64, quantity: i64, key: &str) -> Value {
    json!({ "input": {
        "serviceId": service.to_string(),
        "link": "https://x.com/booster/status/1",
        "quantity": quantity,
        "idempotencyKey": key,
    } })
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_then_restore_into_a_fresh_database_keeps_the_books_exactly() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // 15,000 rupiah per 1000: 100 cost 1,500, 250 cost 3,750, 1,000 cost 15,000.
    let service = service(&app, Fulfillment::Provider, 15_000, 10, 10_000).await;
    let (alice, alice_key) = app.funded_customer("alice@example.com", 100_000).await;
    let (bob, bob_key) = app.funded_customer("bob@example.com", 40_000).await;
    let (_carol, _) = app.customer("carol@example.com").await;

    let mut placed = Vec::new();
    for (key, quantity, idempotency) in [
        (&alice_key, 100, "a-1"),
        (&alice_key, 1000, "a-2"),
        (&alice_key, 250, "a-3"),
        (&bob_key, 1000, "b-1"),
        (&bob_key, 100, "b-2"),
    ] {
        let order = app
            .ok(
                Some(key),
                PLACE,
                order_input(service, quantity, idempotency),
            )
            .await["placeOrder"]
            .clone();
        assert_eq!(order["status"], "PENDING");
        placed.push(order);
    }
    // Alice cancels her 1,000 (15,000 back); the admin takes 2,500 from Bob.
    let canceled = app
        .ok(Some(&alice_key), CANCEL, json!({ "id": placed[1]["id"] }))
        .await;
    assert_eq!(
        canceled["requestOrderCancel"]["order"],
        json!({ "status": "CANCELED", "refunded": 15_000 })
    );
    let adjusted = app
        .ok(
            Some(&admin),
            ADJUST,
            json!({ "u": bob.to_string(), "a": -2_500, "r": "chargeback" }),
        )
        .await;
    assert_eq!(
        adjusted["adminAdjustBalance"]["balanceAfter"],
        40_000 - 15_000 - 1_500 - 2_500
    );
    assert_eq!(app.balance(alice).await, 100_000 - 1_500 - 3_750);
    app.assert_books_balanced().await;

    let original_client = connect(&app.db.url).await;
    let original = books(&original_client).await;
    assert_eq!(original.orders.len(), 5);
    // Alice: funding, 3 charges, 1 refund; Bob: funding, 2 charges, 1 adjustment.
    assert!(
        original
            .ledger_per_user
            .contains(&(alice, 5, 100_000 - 1_500 - 3_750))
    );
    assert!(
        original
            .ledger_per_user
            .contains(&(bob, 4, 40_000 - 16_500 - 2_500))
    );

    // Back up, into a directory holding three older dumps of the same database and
    // one of another: with BACKUP_KEEP=2 only the newest old one stays beside the
    // new dump, and the other database's dump is not touched.
    let dir = TempDir::new();
    let old = |name: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, b"old").unwrap();
        path
    };
    let oldest = old(&format!("{}-20240101T000000Z.dump", app.db.name));
    let older = old(&format!("{}-20250101T000000Z.dump", app.db.name));
    let newest_old = old(&format!("{}-20260101T000000Z.dump", app.db.name));
    let other = old("another_database-20200101T000000Z.dump");
    let backup = run(
        &script("backup.sh"),
        &[],
        &[
            ("DATABASE_URL", app.db.url.as_str()),
            ("BACKUP_DIR", dir.0.to_str().unwrap()),
            ("BACKUP_KEEP", "2"),
        ],
    )
    .await;
    assert!(
        backup.status.success(),
        "backup.sh failed: {}",
        describe(&backup)
    );
    let dump = PathBuf::from(text(&backup.stdout).trim());
    assert_eq!(
        dump.parent(),
        Some(dir.0.as_path()),
        "{}",
        describe(&backup)
    );
    let name = dump.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&format!("{}-", app.db.name)) && name.ends_with("Z.dump"),
        "{name}"
    );
    let contents = std::fs::read(&dump).unwrap();
    assert_eq!(&contents[..5], b"PGDMP", "a custom-format dump");
    assert!(
        !oldest.exists() && !older.exists(),
        "retention removed the oldest"
    );
    assert!(newest_old.exists() && other.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The restore refuses a database that already has tables.
    let refused = run(
        &script("restore.sh"),
        &[dump.to_str().unwrap(), &app.db.url],
        &[],
    )
    .await;
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert!(
        text(&refused.stderr).contains("refusing"),
        "{}",
        describe(&refused)
    );

    // Restore into a database that does not exist yet.
    let restored_name = format!("booster_restore_{}", uuid::Uuid::new_v4().simple());
    let _drop_restored = DropDatabase(restored_name.clone());
    let restored_url = format!("{SERVER_URL}/{restored_name}");
    let restore = run(
        &script("restore.sh"),
        &[dump.to_str().unwrap(), &restored_url],
        &[],
    )
    .await;
    assert!(
        restore.status.success(),
        "restore.sh failed: {}",
        describe(&restore)
    );
    let report = text(&restore.stdout);
    assert!(report.contains("users: 4, balances total"), "{report}");
    assert!(
        report.contains("orders: 5 (CANCELED 1, PENDING 4)"),
        "{report}"
    );
    assert!(report.contains("audit ok"), "{report}");

    let restored_client = connect(&restored_url).await;
    let restored = books(&restored_client).await;
    assert_eq!(restored.balances, original.balances);
    assert_eq!(restored.ledger_per_user, original.ledger_per_user);
    assert_eq!(restored.ledger_rows, original.ledger_rows);
    assert_eq!(restored.orders, original.orders);

    // Provider keys come back encrypted, readable with the same BOOSTER_SECRET_KEY.
    let sealed: Vec<u8> = restored_client
        .query_one(
            "SELECT api_key_encrypted FROM providers ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(app.state.secrets.decrypt(&sealed).unwrap(), "k");

    // The append-only ledger trigger came back too.
    let update = restored_client
        .batch_execute("UPDATE ledger_entries SET amount = amount + 1")
        .await;
    assert!(update.is_err(), "the restored ledger refuses updates");

    let audit = tokio::process::Command::new(env!("CARGO_BIN_EXE_booster"))
        .arg("audit")
        .env("DATABASE_URL", &restored_url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        audit.status.success(),
        "booster audit: {}",
        describe(&audit)
    );
    drop(restored_client);
}

/// The newest migration's folder (diesel's layout: `<date>-<n>_<name>`).
fn newest_migration() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("down.sql").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("a migration")
}

/// The schema's shape: every column with its type, every index, trigger and
/// CHECK constraint (a migration may add only one of the last three). Triggers
/// come from `pg_trigger`: `information_schema.triggers` leaves TRUNCATE triggers out.
async fn columns(client: &Client) -> Vec<(String, String, String)> {
    client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = 'public'
             UNION ALL SELECT tablename::text, indexname::text, 'index' FROM pg_indexes
             WHERE schemaname = 'public'
             UNION ALL SELECT c.relname::text, t.tgname::text, 'trigger'
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND NOT t.tgisinternal
             UNION ALL SELECT c.relname::text, k.conname::text, 'check'
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND k.contype = 'c'
             ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn migrations(client: &Client) -> Vec<String> {
    client
        .query(
            "SELECT version FROM __diesel_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_from_an_older_release_gets_the_newer_migrations_on_restore() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.funded_customer("alice@example.com", 75_000).await;
    let client = connect(&app.db.url).await;
    let current_columns = columns(&client).await;
    let current_migrations = migrations(&client).await;

    // Make the database look like the previous release's: undo the newest migration.
    let newest = newest_migration();
    client
        .batch_execute(&std::fs::read_to_string(newest.join("down.sql")).unwrap())
        .await
        .unwrap();
    client
        .execute(
            "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
            &[],
        )
        .await
        .unwrap();
    assert_ne!(
        columns(&client).await,
        current_columns,
        "{newest:?} changed nothing"
    );
    assert_eq!(
        migrations(&client).await.len(),
        current_migrations.len() - 1
    );

    let dir = TempDir::new();
    let backup = run(
        &script("backup.sh"),
        &[&app.db.url, dir.0.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(
        backup.status.success(),
        "backup.sh failed: {}",
        describe(&backup)
    );
    let dump = text(&backup.stdout).trim().to_string();

    let restored_name = format!("booster_restore_{}", uuid::Uuid::new_v4().simple());
    let _drop_restored = DropDatabase(restored_name.clone());
    let restored_url = format!("{SERVER_URL}/{restored_name}");
    let restore = run(&script("restore.sh"), &[&dump, &restored_url], &[]).await;
    assert!(
        restore.status.success(),
        "restore.sh failed: {}",
        describe(&restore)
    );

    let restored = connect(&restored_url).await;
    assert_eq!(migrations(&restored).await, current_migrations);
    assert_eq!(columns(&restored).await, current_columns);
    let balance: i64 = restored
        .query_one("SELECT balance FROM users WHERE id = $1", &[&alice])
        .await
        .unwrap()
        .get(0);
    assert_eq!(balance, 75_000);
}
