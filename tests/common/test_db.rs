//! A database per test, copied from a template that is migrated once.
//!
//! The template is named after a fingerprint of the migrations the binary embeds
//! (`build.rs`), so changing a migration makes a new one. It is prepared under an
//! advisory lock (test binaries may run at the same time), migrated under a
//! temporary name and renamed only when complete, so a run killed half-way never
//! leaves a broken template behind. Nobody may connect to it
//! (`ALLOW_CONNECTIONS false`): `CREATE DATABASE ... TEMPLATE` fails while anyone
//! is connected to the template.

use std::time::Duration;

use booster::db;
use tokio::sync::OnceCell;
use tokio_postgres::{Client, NoTls, error::SqlState};

use super::ADMIN_URL;

const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";
const TEMPLATE_PREFIX: &str = "booster_template_";
/// Serialises template preparation between processes (any key other than the
/// migrations' own lock).
const TEMPLATE_LOCK: i64 = 0x0062_6f6f_7374_6574;
/// How often a statement is tried while the template is briefly busy or missing.
const ATTEMPTS: u32 = 100;

/// The template's name, prepared once per process.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database of its own, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let template = TEMPLATE.get_or_init(prepare_template).await;
        let name = format!("booster_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_client().await;
        let create = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            ident(&name),
            ident(template)
        );
        for attempt in 1.. {
            match admin.batch_execute(&create).await {
                Ok(()) => break,
                // A connection to the template is still closing (just after it was
                // migrated): wait for it to go.
                Err(e) if attempt < ATTEMPTS && e.code() == Some(&SqlState::OBJECT_IN_USE) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                // A run with other migrations dropped it as outdated: make it again.
                Err(e)
                    if attempt < ATTEMPTS && e.code() == Some(&SqlState::INVALID_CATALOG_NAME) =>
                {
                    prepare_template().await;
                }
                Err(e) => panic!("create test database {name} from {template}: {e}"),
            }
        }
        TestDb {
            url: format!("{SERVER_URL}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}

/// Drops database `name` from outside any async context (a `Drop`): a short-lived
/// runtime on its own thread removes it, so test runs leave nothing behind.
pub fn drop_database(name: &str) {
    let name = name.to_string();
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            if let Ok((client, connection)) = tokio_postgres::connect(ADMIN_URL, NoTls).await {
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            }
        });
    })
    .join();
}

/// Makes sure the template for the current migrations exists; returns its name.
async fn prepare_template() -> String {
    let name = format!("{TEMPLATE_PREFIX}{}", migrations_hash());
    let admin = admin_client().await;
    // Held by this session: released by the unlock below, or by the server when this
    // process dies.
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await
        .expect("lock the test template");
    let result = prepare_locked(&admin, &name).await;
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await
        .expect("unlock the test template");
    if let Err(e) = result {
        panic!("prepare the test template {name}: {e:#}");
    }
    name
}

async fn prepare_locked(admin: &Client, name: &str) -> anyhow::Result<()> {
    let existing: Vec<String> = admin
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            &[&TEMPLATE_PREFIX],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    // Templates of other migrations, and half-built ones left by a crash (only ever
    // built under this lock, so nobody is building them now).
    for old in existing.iter().filter(|old| *old != name) {
        retry_in_use(
            admin,
            &format!("ALTER DATABASE {} IS_TEMPLATE false", ident(old)),
        )
        .await?;
        retry_in_use(
            admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(old)),
        )
        .await?;
    }
    if existing.iter().any(|existing| existing == name) {
        return Ok(());
    }
    let building = format!("{name}_building");
    admin
        .batch_execute(&format!("CREATE DATABASE {}", ident(&building)))
        .await?;
    db::run_migrations(&format!("{SERVER_URL}/{building}")).await?;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
            ident(&building)
        ))
        .await?;
    // The migrations' connection may take a moment to close.
    retry_in_use(
        admin,
        &format!(
            "ALTER DATABASE {} RENAME TO {}",
            ident(&building),
            ident(name)
        ),
    )
    .await?;
    Ok(())
}

async fn retry_in_use(admin: &Client, statement: &str) -> Result<(), tokio_postgres::Error> {
    for attempt in 1.. {
        match admin.batch_execute(statement).await {
            Err(e) if attempt < ATTEMPTS && e.code() == Some(&SqlState::OBJECT_IN_USE) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
    unreachable!()
}

/// The first 16 hex digits of a SHA-256 over every migration file's path and contents.
fn migrations_hash() -> String {
    // The fingerprint of the migrations this binary embeds (see `build.rs`), not
    // of the files on disk: a template always holds what the binary migrates to.
    env!("BOOSTER_MIGRATIONS_HASH").to_string()
}

async fn admin_client() -> Client {
    let (client, connection) = tokio_postgres::connect(ADMIN_URL, NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    client
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
