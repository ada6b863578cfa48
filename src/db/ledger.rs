//! `ledger_entries`: the append-only record of every balance change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::LedgerKind,
    pagination::{KeysetPage, Paginated, paginate_owned},
    schema::ledger_entries,
};

/// An entry as stored: what was written, with its id and time. It reads as
/// what was written (`Deref`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::pg::Pg))]
pub struct LedgerEntryRow {
    pub id: i64,
    #[diesel(embed)]
    pub entry: NewLedgerEntry,
    pub created_at: DateTime<Utc>,
}

impl std::ops::Deref for LedgerEntryRow {
    type Target = NewLedgerEntry;

    fn deref(&self) -> &NewLedgerEntry {
        &self.entry
    }
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::pg::Pg))]
pub struct NewLedgerEntry {
    pub user_id: i64,
    /// Signed: a credit is positive, a debit negative.
    pub amount: i64,
    pub balance_after: i64,
    pub kind: LedgerKind,
    pub order_id: Option<i64>,
    pub mass_order_id: Option<i64>,
    pub deposit_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub note: String,
}

/// Which ledger entries a list shows; `from` inclusive, `to` exclusive.
#[derive(Debug, Default, Clone)]
pub struct LedgerFilter {
    pub kind: Option<LedgerKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl LedgerFilter {
    /// No filter beyond the owner: a page the page pool may read.
    pub fn is_empty(&self) -> bool {
        let LedgerFilter { kind, from, to } = self;
        kind.is_none() && from.is_none() && to.is_none()
    }
}

/// One ledger kind's totals: how many entries, and the rupiah credited (sum of
/// positive amounts) and debited (minus the sum of negative ones).
#[derive(Debug, QueryableByName)]
pub struct KindTotals {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub entries: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub credited: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub debited: i64,
}

impl LedgerEntryRow {
    /// Entries and money moved per kind, over the whole ledger.
    pub async fn totals_by_kind(conn: &mut AsyncPgConnection) -> QueryResult<Vec<KindTotals>> {
        diesel::sql_query(
            "SELECT kind, count(*) AS entries, \
             COALESCE(sum(amount) FILTER (WHERE amount > 0), 0)::bigint AS credited, \
             COALESCE(-sum(amount) FILTER (WHERE amount < 0), 0)::bigint AS debited \
             FROM ledger_entries GROUP BY kind",
        )
        .load(conn)
        .await
    }

    /// A user's ledger entries matching `filter`, newest first.
    pub async fn list_for_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        filter: &LedgerFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<LedgerEntryRow>> {
        let build = || {
            let mut q = ledger_entries::table
                .select(LedgerEntryRow::as_select())
                .into_boxed();
            if let Some(kind) = filter.kind {
                q = q.filter(ledger_entries::kind.eq(kind));
            }
            if let Some(from) = filter.from {
                q = q.filter(ledger_entries::created_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(ledger_entries::created_at.lt(to));
            }
            q
        };
        let owner = ledger_entries::user_id;
        paginate_owned(conn, owner, user_id, build, ledger_entries::id, page).await
    }
}
