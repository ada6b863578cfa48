//! The reads behind the CSV exports: one batch of rows at a time, oldest first,
//! after a keyset cursor and up to a fixed last id (taken when the export starts,
//! so rows written meanwhile do not stretch it). Each row struct is also the CSV
//! record: its field order is the column order, and every text cell is quoted and
//! written so that a spreadsheet never runs it as a formula, in any common
//! locale's separator ([`csv_quoted`]).

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Bool, Nullable, Numeric, Text, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Serialize, Serializer};

/// Where a spreadsheet may start a new cell: the separators of the common locales
/// (`,` in English, `;` in Indonesian and most of Europe, tab, `|`) and line
/// breaks. A file written with `,` is split on `;` by an Indonesian Excel.
const CELL_BREAKS: [char; 6] = [',', ';', '\t', '|', '\n', '\r'];
/// What makes a cell a formula.
const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

/// Text made safe for a spreadsheet (OWASP's advice for CSV injection): an
/// apostrophe goes before a formula character (`=`, `+`, `-`, `@`) that would
/// start a cell, at the start of the text and after any separator a common
/// locale splits on (spaces and quotes between them count as the cell's start),
/// and before a leading tab or CR. Write it in a quoted field ([`csv_quoted`]).
pub fn csv_safe_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_safe_text(&mut out, value);
    out
}

fn push_safe_text(out: &mut String, value: &str) {
    if value.starts_with(['\t', '\r']) {
        out.push('\'');
    }
    let mut cell_start = true;
    for c in value.chars() {
        if cell_start && FORMULA_STARTS.contains(&c) {
            out.push('\'');
        }
        out.push(c);
        cell_start = CELL_BREAKS.contains(&c) || (cell_start && matches!(c, ' ' | '"' | '\''));
    }
}

/// A text cell as it is written: made safe ([`csv_safe_text`]) and quoted, a
/// quote inside doubled (RFC 4180).
pub fn csv_quoted(value: &str) -> String {
    let mut safe = String::with_capacity(value.len() + 4);
    safe.push('"');
    if value.contains('"') {
        push_safe_text(&mut safe, &value.replace('"', "\"\""));
    } else {
        push_safe_text(&mut safe, value);
    }
    safe.push('"');
    safe
}

// The records are written with `QuoteStyle::Never`: the writer quotes nothing
// itself (its `NonNumeric` style parsed every cell as a number to decide, a
// tenth of an export's time), so every text field goes through `csv_text` or
// `csv_opt_text`, which quote it; numbers, booleans and timestamps stay bare.
fn csv_text<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&csv_quoted(value))
}

fn csv_opt_text<S: Serializer>(value: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    csv_text(value.as_deref().unwrap_or_default(), serializer)
}

/// Filters shared by the exports; each applies only where its table has the column.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub user_id: Option<i64>,
    /// Order or deposit status, ledger kind.
    pub status: Option<String>,
}

/// The exports there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Orders,
    Ledger,
    Deposits,
    Catalog,
}

impl Export {
    pub fn parse(name: &str) -> Option<Export> {
        match name {
            "orders.csv" | "orders" => Some(Export::Orders),
            "ledger.csv" | "ledger" => Some(Export::Ledger),
            "deposits.csv" | "deposits" => Some(Export::Deposits),
            "catalog.csv" | "catalog" => Some(Export::Catalog),
            _ => None,
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Export::Orders => "orders.csv",
            Export::Ledger => "ledger.csv",
            Export::Deposits => "deposits.csv",
            Export::Catalog => "catalog.csv",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Export::Orders => "orders",
            Export::Ledger => "ledger_entries",
            Export::Deposits => "deposits",
            Export::Catalog => "services",
        }
    }
}

/// The last id an export covers: the newest row when it starts.
pub async fn last_id(conn: &mut AsyncPgConnection, export: Export) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let max: Max = diesel::sql_query(format!(
        "SELECT COALESCE(max(id), 0) AS id FROM {}",
        export.table()
    ))
    .get_result(conn)
    .await?;
    Ok(max.id)
}

#[derive(Debug, QueryableByName, Serialize)]
pub struct OrderRecord {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub user_email: String,
    #[diesel(sql_type = BigInt)]
    pub service_id: i64,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub service_name: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub status: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub link: String,
    #[diesel(sql_type = BigInt)]
    pub quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub price_per_1000: i64,
    #[diesel(sql_type = BigInt)]
    pub charge: i64,
    #[diesel(sql_type = BigInt)]
    pub refunded: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub start_count: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub remains: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub provider_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(serialize_with = "csv_opt_text")]
    pub provider_order_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub provider_cost: Option<i64>,
}

#[derive(Debug, QueryableByName, Serialize)]
pub struct LedgerRecord {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub user_email: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = BigInt)]
    pub balance_after: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub order_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub mass_order_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub deposit_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub actor_id: Option<i64>,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub note: String,
}

#[derive(Debug, QueryableByName, Serialize)]
pub struct DepositRecord {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub user_email: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub gateway: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub merchant_ref: String,
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(serialize_with = "csv_opt_text")]
    pub gateway_ref: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub paid_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    pub flagged: bool,
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(serialize_with = "csv_opt_text")]
    pub flag_reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(serialize_with = "csv_opt_text")]
    pub resolution: Option<String>,
}

#[derive(Debug, QueryableByName, Serialize)]
pub struct CatalogRecord {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub category: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub name: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub description: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub platform: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub service_type: String,
    #[diesel(sql_type = Text)]
    #[serde(serialize_with = "csv_text")]
    pub fulfillment: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub provider_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(serialize_with = "csv_opt_text")]
    pub provider_service_id: Option<String>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub provider_rate: Option<bigdecimal::BigDecimal>,
    #[diesel(sql_type = BigInt)]
    pub price_per_1000: i64,
    #[diesel(sql_type = BigInt)]
    pub min_quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub max_quantity: i64,
    #[diesel(sql_type = Bool)]
    pub refill: bool,
    #[diesel(sql_type = Bool)]
    pub cancel: bool,
    #[diesel(sql_type = Bool)]
    pub active: bool,
}

/// The statement of one batch of a filtered export: `select_from` (a SELECT list
/// and FROM clause whose main table is aliased `alias`) with the id window
/// ($1, $2], the limit $3, and the filter's period ($4, $5), user ($6) and status
/// ($7, compared with `alias.status_column`).
fn filtered_sql(select_from: &str, alias: &str, status_column: &str) -> String {
    format!(
        "{select_from} WHERE {alias}.id > $1 AND {alias}.id <= $2 \
           AND ($4::timestamptz IS NULL OR {alias}.created_at >= $4) \
           AND ($5::timestamptz IS NULL OR {alias}.created_at < $5) \
           AND ($6::bigint IS NULL OR {alias}.user_id = $6) \
           AND ($7::text IS NULL OR {alias}.{status_column} = $7) \
         ORDER BY {alias}.id LIMIT $3"
    )
}

/// Runs a [`filtered_sql`] statement with its binds.
async fn filtered_batch<R>(
    conn: &mut AsyncPgConnection,
    sql: String,
    after: i64,
    last: i64,
    limit: i64,
    filter: &ExportFilter,
) -> QueryResult<Vec<R>>
where
    R: QueryableByName<diesel::pg::Pg> + Send + 'static,
{
    diesel::sql_query(sql)
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(last)
        .bind::<BigInt, _>(limit)
        .bind::<Nullable<Timestamptz>, _>(filter.from)
        .bind::<Nullable<Timestamptz>, _>(filter.to)
        .bind::<Nullable<BigInt>, _>(filter.user_id)
        .bind::<Nullable<Text>, _>(filter.status.clone())
        .load(conn)
        .await
}

pub async fn orders(
    conn: &mut AsyncPgConnection,
    after: i64,
    last: i64,
    limit: i64,
    filter: &ExportFilter,
) -> QueryResult<Vec<OrderRecord>> {
    let sql = filtered_sql(
        "SELECT o.id, o.created_at, o.user_id, u.email AS user_email, o.service_id, \
           s.name AS service_name, o.status, o.link, o.quantity, o.price_per_1000, o.charge, \
           o.refunded, o.start_count, o.remains, o.provider_id, o.provider_order_id, o.provider_cost \
         FROM orders o JOIN users u ON u.id = o.user_id JOIN services s ON s.id = o.service_id",
        "o",
        "status",
    );
    filtered_batch(conn, sql, after, last, limit, filter).await
}

pub async fn ledger(
    conn: &mut AsyncPgConnection,
    after: i64,
    last: i64,
    limit: i64,
    filter: &ExportFilter,
) -> QueryResult<Vec<LedgerRecord>> {
    let sql = filtered_sql(
        "SELECT l.id, l.created_at, l.user_id, u.email AS user_email, l.kind, l.amount, \
           l.balance_after, l.order_id, l.mass_order_id, l.deposit_id, l.actor_id, l.note \
         FROM ledger_entries l JOIN users u ON u.id = l.user_id",
        "l",
        "kind",
    );
    filtered_batch(conn, sql, after, last, limit, filter).await
}

pub async fn deposits(
    conn: &mut AsyncPgConnection,
    after: i64,
    last: i64,
    limit: i64,
    filter: &ExportFilter,
) -> QueryResult<Vec<DepositRecord>> {
    let sql = filtered_sql(
        "SELECT d.id, d.created_at, d.user_id, u.email AS user_email, d.gateway, d.status, \
           d.amount, d.merchant_ref, d.gateway_ref, d.paid_at, d.flagged, d.flag_reason, d.resolution \
         FROM deposits d JOIN users u ON u.id = d.user_id",
        "d",
        "status",
    );
    filtered_batch(conn, sql, after, last, limit, filter).await
}

/// Every service; the catalogue has no period, user or status.
pub async fn catalog(
    conn: &mut AsyncPgConnection,
    after: i64,
    last: i64,
    limit: i64,
) -> QueryResult<Vec<CatalogRecord>> {
    diesel::sql_query(
        "SELECT s.id, c.name AS category, s.name, s.description, s.platform, s.service_type, \
           s.fulfillment, s.provider_id, s.provider_service_id, s.provider_rate, s.price_per_1000, \
           s.min_quantity, s.max_quantity, s.refill, s.cancel, s.active \
         FROM services s JOIN service_categories c ON c.id = s.category_id \
         WHERE s.id > $1 AND s.id <= $2 ORDER BY s.id LIMIT $3",
    )
    .bind::<BigInt, _>(after)
    .bind::<BigInt, _>(last)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
