//! Storage: the connection pool, embedded migrations, row structs per table and
//! the text-backed enums they use. Nothing here knows a business rule.

pub mod account_tokens;
pub mod admin_audit_log;
pub mod announcements;
pub mod api_keys;
pub mod bank_mutations;
pub mod callbacks;
pub mod catalog_changes;
pub mod categories;
pub mod chats;
pub mod claim;
pub mod contact_messages;
pub mod content_items;
pub mod customer_levels;
pub mod deposit_methods;
pub mod deposits;
pub mod drip_feeds;
pub mod enums;
pub mod exports;
pub mod faq;
pub mod job_runs;
pub mod ledger;
pub mod mail_outbox;
pub mod mass_orders;
pub mod newsletter_subscribers;
pub mod notifications;
pub mod order_events;
pub mod order_placement;
pub mod order_requests;
pub mod orders;
pub mod pagination;
pub mod provider_calls;
pub mod providers;
pub mod reports;
pub mod schema;
pub mod seo_keywords;
pub mod seo_meta;
pub mod seo_subjects;
pub mod service_figures;
pub mod service_updates;
pub mod services;
pub mod sessions;
pub mod settings;
pub mod sign_ins;
pub mod slug_redirects;
pub mod staff_roles;
pub mod stock_items;
pub mod tickets;
pub mod totp_recovery_codes;
pub mod users;
pub mod vouchers;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use anyhow::Context;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::{
    AsyncConnection, AsyncPgConnection,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};

pub type PgPool = Pool<AsyncPgConnection>;
pub type PooledConn = Object<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Counts SQL statements run through the pool (and the event listener's loader). Tests use it to prove that list
/// resolvers batch their lookups; `/metrics`-style reporting can read it too.
#[derive(Clone, Default, Debug)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts the statements of a connection outside the pool too (the event
    /// listener's loader), so a count is every statement the process ran.
    pub fn instrument(&self, conn: &mut AsyncPgConnection) {
        conn.set_instrumentation(CountingInstrumentation(self.clone()));
    }
}

struct CountingInstrumentation(QueryCounter);

impl Instrumentation for CountingInstrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Rows per multi-row `INSERT` of a bulk write (a mass order's orders and their
/// history, stock items, catalogue changes). tokio-postgres keeps a statement's
/// message buffers at their largest for the life of the connection, so the size
/// of one statement is what every pooled connection may keep: at 4,000 orders a
/// statement was a 3 MiB bind message and a 2 MiB answer. At 1,000,
/// `order_bench` ends its mass orders at 43 MiB resident instead of 49 to 50,
/// and the ten round trips of 10,000 orders (three before) cost nothing
/// measurable. It also keeps a statement far below PostgreSQL's 65,535 bind
/// parameters.
pub const ROWS_PER_INSERT: usize = 1_000;

/// How long a pooled session may sit inside a transaction doing nothing.
pub const IDLE_IN_TRANSACTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How a pool's sessions plan the statements they cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanCache {
    /// PostgreSQL's default: a statement whose best plan depends on its values
    /// (a partial index for one status, a rare value) is planned for them at
    /// every execution. The main pool, for everything.
    Auto,
    /// One generic plan per statement, planned once per session; and the session
    /// is read-only. The page pool, for one owner's pages only
    /// (`pagination::paginate_owned`), which are written so that every plan is
    /// the owner's index: planning was a third of PostgreSQL's work on them.
    Generic,
}

/// Builds a pool. Connections are opened lazily, so this does not touch the server.
pub fn build_pool(
    url: &str,
    size: usize,
    plans: PlanCache,
    counter: QueryCounter,
) -> anyhow::Result<PgPool> {
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // No `SELECT 1` probe on every checkout (the default, `Verified`, was two
    // round trips of a typical request): a connection that broke is marked so by
    // the failing query and dropped on return, and a request that meets a dead
    // one fails once instead of every request paying for the check.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            // A second line behind `http::run_to_end`: should a transaction ever be
            // abandoned half-way, PostgreSQL ends the session instead of letting it
            // hold its row locks. Longer than any transaction that legitimately waits
            // (the catalogue sync holds one while the provider answers).
            diesel_async::RunQueryDsl::execute(
                diesel::sql_query(format!(
                    "SET idle_in_transaction_session_timeout = {}",
                    IDLE_IN_TRANSACTION_TIMEOUT.as_millis()
                )),
                &mut conn,
            )
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            if plans == PlanCache::Generic {
                for setting in [
                    "SET plan_cache_mode = force_generic_plan",
                    // Nothing but reads belongs here: a write would be refused.
                    "SET default_transaction_read_only = on",
                ] {
                    diesel_async::RunQueryDsl::execute(diesel::sql_query(setting), &mut conn)
                        .await
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                }
            }
            conn.set_instrumentation(CountingInstrumentation(counter));
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .build()
        .context("building the database pool")
}

/// Creates the database named in `url` when it does not exist yet, by connecting to
/// the server's `postgres` maintenance database.
pub async fn ensure_database_exists(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).context("DATABASE_URL is not a valid URL")?;
    let name = parsed.path().trim_start_matches('/').to_string();
    if name.is_empty() || name == "postgres" {
        return Ok(());
    }
    let mut admin_url = parsed.clone();
    admin_url.set_path("/postgres");
    let (client, connection) = tokio_postgres::connect(admin_url.as_str(), tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(&parsed)))?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match client.batch_execute(&statement).await {
            Ok(()) => tracing::info!(database = %name, "created database"),
            // Another process created it at the same moment.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e).context("creating the database"),
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Runs pending migrations under an advisory lock, so several processes starting
/// together migrate once.
pub async fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting to run migrations")?;
    const LOCK_KEY: i64 = 0x0062_6f6f_7374_6572; // "booster"
    diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    // The sync harness runs on a blocking thread, so this works on any runtime flavour.
    let (result, mut conn) = tokio::task::spawn_blocking(move || {
        let mut wrapper: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        let result = wrapper
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
        (result, wrapper.into_inner())
    })
    .await?;
    diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .execute(&mut conn)
        .await?;
    result
}

/// The URL with any password removed, for messages.
pub fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// Diesel refuses an UPDATE with no column to set; for a partial update naming no
/// field that is simply a no-op.
pub fn allow_empty_changeset(result: diesel::QueryResult<usize>) -> diesel::QueryResult<usize> {
    match result {
        Err(error) if is_empty_changeset(&error) => Ok(0),
        other => other,
    }
}

/// Whether diesel refused an UPDATE for having no column to set (only that: any
/// other query-builder error is a real one).
pub fn is_empty_changeset(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::QueryBuilderError(inner)
        if inner.is::<diesel::result::EmptyChangeset>())
}

/// Sets `sort_order` of `table`'s rows to each id's position in `ids`, in one
/// statement. `table` is one of the code's own table names, never user text.
pub async fn set_positions(
    conn: &mut diesel_async::AsyncPgConnection,
    table: &'static str,
    ids: &[i64],
) -> diesel::QueryResult<usize> {
    let positions: Vec<i32> = (0..ids.len() as i32).collect();
    let query = diesel::sql_query(format!(
        "UPDATE {table} SET sort_order = v.pos FROM unnest($1::bigint[], $2::int[]) AS v(id, pos) WHERE {table}.id = v.id"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(positions);
    diesel_async::RunQueryDsl::execute(query, conn).await
}
/// The reads by primary key every row type has, written once: `find`,
/// `find_for_update` (locked until the caller's transaction ends) and `load_many`
/// (the rows with these ids, in no particular order; DataLoaders batch through it).
/// The calls name diesel-async's `RunQueryDsl` in full: the expanding module may
/// also have diesel's own in scope through its prelude.
macro_rules! reads_by_id {
    ($row:ident, $table:ident) => {
        impl $row {
            pub async fn find(
                conn: &mut diesel_async::AsyncPgConnection,
                id: i64,
            ) -> diesel::QueryResult<Option<$row>> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                let query = $table::table.find(id).select($row::as_select());
                diesel_async::RunQueryDsl::first(query, conn)
                    .await
                    .optional()
            }

            pub async fn find_for_update(
                conn: &mut diesel_async::AsyncPgConnection,
                id: i64,
            ) -> diesel::QueryResult<Option<$row>> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                let query = $table::table
                    .find(id)
                    .select($row::as_select())
                    .for_update();
                diesel_async::RunQueryDsl::first(query, conn)
                    .await
                    .optional()
            }

            pub async fn load_many(
                conn: &mut diesel_async::AsyncPgConnection,
                ids: &[i64],
            ) -> diesel::QueryResult<Vec<$row>> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                let query = $table::table
                    .filter($table::id.eq_any(ids))
                    .select($row::as_select());
                diesel_async::RunQueryDsl::load(query, conn).await
            }
        }
    };
}
pub(crate) use reads_by_id;

/// `for_orders`: the rows of a table keyed by `order_id` that belong to any of
/// `order_ids`, in `$order` (one statement for a whole page of orders, the shape
/// the DataLoaders batch with).
macro_rules! reads_by_order {
    ($row:ident, $table:ident, $order:expr) => {
        impl $row {
            pub async fn for_orders(
                conn: &mut diesel_async::AsyncPgConnection,
                order_ids: &[i64],
            ) -> diesel::QueryResult<Vec<$row>> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                let query = $table::table
                    .filter($table::order_id.eq_any(order_ids))
                    .order($order)
                    .select($row::as_select());
                diesel_async::RunQueryDsl::load(query, conn).await
            }
        }
    };
}
pub(crate) use reads_by_order;

/// `insert`: writes one row struct (`Insertable` for its own table) as it is.
macro_rules! inserts_row {
    ($(#[$meta:meta])* $row:ident, $table:ident) => {
        impl $row {
            $(#[$meta])*
            pub async fn insert(
                conn: &mut diesel_async::AsyncPgConnection,
                row: &$row,
            ) -> diesel::QueryResult<()> {
                let statement = diesel::insert_into($table::table).values(row);
                diesel_async::RunQueryDsl::execute(statement, conn).await.map(drop)
            }
        }
    };
}
pub(crate) use inserts_row;

/// Escapes `%`, `_` and `\\` so user text matches literally inside LIKE patterns.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `ILIKE` pattern for "contains this text", or `None` for no (or blank) text.
pub fn contains_pattern(search: Option<&str>) -> Option<String> {
    search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", escape_like(s)))
}

#[cfg(test)]
mod like_tests {
    #[test]
    fn like_escaping() {
        assert_eq!(super::escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(
            super::contains_pattern(Some("  a_b ")).as_deref(),
            Some("%a\\_b%")
        );
        assert_eq!(super::contains_pattern(Some("   ")), None);
    }
}
