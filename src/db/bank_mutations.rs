//! `bank_mutations`: credit mutations of the owner's accounts, pushed by a
//! mutation service or read from an uploaded statement, stored once per source
//! and external id; and `deposit_proofs`, the customer's proof of a transfer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{BankMutationSource, BankMutationStatus},
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::{bank_mutations, deposit_proofs},
};

/// A mutation as stored: what came in, with what became of it. It reads as what
/// came in (`Deref`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = bank_mutations, check_for_backend(diesel::pg::Pg))]
pub struct BankMutationRow {
    pub id: i64,
    #[diesel(embed)]
    pub mutation: NewBankMutation,
    pub deposit_id: Option<i64>,
    pub resolved_by: Option<i64>,
    pub resolution_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::ops::Deref for BankMutationRow {
    type Target = NewBankMutation;

    fn deref(&self) -> &NewBankMutation {
        &self.mutation
    }
}

super::reads_by_id!(BankMutationRow, bank_mutations);

/// A credit mutation as it came in (texts bounded by the source's reader).
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = bank_mutations, check_for_backend(diesel::pg::Pg))]
pub struct NewBankMutation {
    pub source: BankMutationSource,
    /// The service's own id (a statement line's fingerprint): stored once.
    pub external_id: String,
    pub bank: String,
    /// Digits only.
    pub account_number: String,
    pub amount: i64,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
    pub status: BankMutationStatus,
    /// The service's own words, as received.
    pub payload: serde_json::Value,
}

impl NewBankMutation {
    /// Stores the mutation unless its source sent it before; `None`: a repeat.
    pub async fn insert_once(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<Option<BankMutationRow>> {
        diesel::insert_into(bank_mutations::table)
            .values(self)
            .on_conflict((bank_mutations::source, bank_mutations::external_id))
            .do_nothing()
            .returning(BankMutationRow::as_returning())
            .get_result(conn)
            .await
            .optional()
    }
}

/// What became of a mutation: its status, the deposit it credited, who decided.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = bank_mutations)]
pub struct MutationOutcome<'a> {
    pub status: BankMutationStatus,
    pub deposit_id: Option<i64>,
    pub resolved_by: Option<i64>,
    pub resolution_note: Option<&'a str>,
}

/// Which mutations an admin lists.
#[derive(Debug, Clone, Default)]
pub struct MutationFilter {
    pub status: Option<BankMutationStatus>,
    /// Only those waiting for an admin (UNMATCHED, AMBIGUOUS, EXPIRED_MATCH).
    pub needs_review: bool,
}

impl BankMutationRow {
    pub async fn set_outcome(
        conn: &mut AsyncPgConnection,
        id: i64,
        outcome: &MutationOutcome<'_>,
    ) -> QueryResult<Self> {
        diesel::update(bank_mutations::table.find(id))
            .set(outcome)
            .returning(BankMutationRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Newest first, by keyset.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &MutationFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<Self>> {
        let build = || {
            let mut query = bank_mutations::table
                .select(BankMutationRow::as_select())
                .into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(bank_mutations::status.eq(status));
            }
            if filter.needs_review {
                query = query.filter(bank_mutations::status.eq_any([
                    BankMutationStatus::Unmatched,
                    BankMutationStatus::Ambiguous,
                    BankMutationStatus::ExpiredMatch,
                ]));
            }
            query
        };
        paginate_keyset(conn, build, bank_mutations::id, page).await
    }

    /// The oldest mutation still waiting for an admin, if any: `/readyz` reports
    /// one older than its setting.
    pub async fn oldest_waiting(
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<Option<DateTime<Utc>>> {
        bank_mutations::table
            .filter(bank_mutations::status.eq_any([
                BankMutationStatus::Unmatched,
                BankMutationStatus::Ambiguous,
                BankMutationStatus::ExpiredMatch,
            ]))
            .select(diesel::dsl::min(bank_mutations::created_at))
            .get_result(conn)
            .await
    }
}

/// A customer's proof of transfer.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = deposit_proofs, check_for_backend(diesel::pg::Pg))]
pub struct DepositProofRow {
    pub deposit_id: i64,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl DepositProofRow {
    /// Stores or replaces the deposit's proof.
    pub async fn upsert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(deposit_proofs::table)
            .values(self)
            .on_conflict(deposit_proofs::deposit_id)
            .do_update()
            .set((
                deposit_proofs::content_type.eq(&self.content_type),
                deposit_proofs::bytes.eq(&self.bytes),
                deposit_proofs::created_at.eq(self.created_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn find(conn: &mut AsyncPgConnection, deposit_id: i64) -> QueryResult<Option<Self>> {
        deposit_proofs::table
            .find(deposit_id)
            .select(DepositProofRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Which of `deposit_ids` have a proof.
    pub async fn present(
        conn: &mut AsyncPgConnection,
        deposit_ids: &[i64],
    ) -> QueryResult<Vec<i64>> {
        deposit_proofs::table
            .filter(deposit_proofs::deposit_id.eq_any(deposit_ids))
            .select(deposit_proofs::deposit_id)
            .load(conn)
            .await
    }
}
