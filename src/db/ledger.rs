//! `ledger_entries`: the append-only record of every balance change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{enums::LedgerKind, schema::ledger_entries};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::pg::Pg))]
pub struct LedgerEntryRow {
    pub id: i64,
    pub user_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub kind: LedgerKind,
    pub order_id: Option<i64>,
    pub mass_order_id: Option<i64>,
    pub deposit_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ledger_entries)]
pub struct NewLedgerEntry<'a> {
    pub user_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub kind: LedgerKind,
    pub order_id: Option<i64>,
    pub mass_order_id: Option<i64>,
    pub deposit_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub note: &'a str,
}
