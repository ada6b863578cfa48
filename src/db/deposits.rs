//! `deposits` and `deposit_events`: money paid in through a gateway, and every
//! distinct report the gateways made about it; the reads of both tables and the
//! reconciliation claim (rows locked with `FOR UPDATE SKIP LOCKED` and leased in
//! one short committed transaction, as `mail_outbox` claims mail).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{DepositEventSource, DepositStatus, PaymentGateway},
    pagination::{KeysetPage, Paginated, paginate_keyset, paginate_owned},
    schema::{deposit_events, deposits},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = deposits, check_for_backend(diesel::pg::Pg))]
pub struct DepositRow {
    pub id: i64,
    pub user_id: i64,
    pub amount: i64,
    pub gateway: PaymentGateway,
    pub status: DepositStatus,
    pub merchant_ref: String,
    pub gateway_ref: Option<String>,
    pub payment_url: Option<String>,
    pub snap_token: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub flagged: bool,
    pub flag_reason: Option<String>,
    pub gateway_status: Option<String>,
    pub failure_reason: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// CREDITED or REJECTED once an admin resolved the flag.
    pub resolution: Option<String>,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    /// The method a deposit was made with (always set for MANUAL ones).
    pub method_id: Option<i64>,
    /// What the customer pays: the amount asked for plus `unique_code`. For a
    /// gateway deposit the same as `amount`.
    pub payable_amount: i64,
    /// Rupiah added so that no two open deposits of a method share a payable amount.
    pub unique_code: i32,
    /// The dynamic QRIS for exactly `payable_amount` (QRIS_STATIC methods).
    pub qris_payload: Option<String>,
    /// The customer's note for the admin checking a transfer.
    pub customer_note: Option<String>,
    /// The voucher entered at creation; its bonus is paid with the credit.
    pub voucher_id: Option<i64>,
    /// What the BONUS ledger entry paid on top of `amount` (0 until credited).
    pub bonus_amount: i64,
}

super::reads_by_id!(DepositRow, deposits);

impl DepositRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewDeposit<'_>,
    ) -> QueryResult<DepositRow> {
        diesel::insert_into(deposits::table)
            .values(new)
            .returning(DepositRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies a changeset (at least one column) and returns the row as it now is.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &DepositChangeset,
    ) -> QueryResult<DepositRow> {
        diesel::update(deposits::table.find(id))
            .set(changes)
            .returning(DepositRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Records an admin's resolution and returns the row as it now is.
    pub async fn resolve(
        conn: &mut AsyncPgConnection,
        id: i64,
        resolved: &DepositResolved<'_>,
    ) -> QueryResult<DepositRow> {
        diesel::update(deposits::table.find(id))
            .set(resolved)
            .returning(DepositRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find_by_merchant_ref(
        conn: &mut AsyncPgConnection,
        merchant_ref: &str,
    ) -> QueryResult<Option<DepositRow>> {
        deposits::table
            .filter(deposits::merchant_ref.eq(merchant_ref))
            .select(DepositRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The payable amounts in `low..=high` taken by open MANUAL deposits of a
    /// method: the unique codes that are not free.
    pub async fn open_payables_between(
        conn: &mut AsyncPgConnection,
        method_id: i64,
        low: i64,
        high: i64,
    ) -> QueryResult<Vec<i64>> {
        deposits::table
            .filter(deposits::method_id.eq(method_id))
            .filter(deposits::gateway.eq(PaymentGateway::Manual))
            .filter(deposits::status.eq(DepositStatus::Pending))
            .filter(deposits::payable_amount.between(low, high))
            .select(deposits::payable_amount)
            .load(conn)
            .await
    }

    /// Expires a method's open MANUAL deposits whose time is up, so their
    /// payable amounts are free again; the number expired.
    pub async fn expire_overdue_manual(
        conn: &mut AsyncPgConnection,
        method_id: i64,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(
            deposits::table
                .filter(deposits::method_id.eq(method_id))
                .filter(deposits::gateway.eq(PaymentGateway::Manual))
                .filter(deposits::status.eq(DepositStatus::Pending))
                .filter(deposits::flagged.eq(false))
                .filter(deposits::expires_at.le(now)),
        )
        .set((
            deposits::status.eq(DepositStatus::Expired),
            deposits::failure_reason.eq("not paid in time"),
            deposits::updated_at.eq(now),
        ))
        .execute(conn)
        .await
    }

    /// MANUAL deposits of `method_ids` whose payable amount is `amount`, locked:
    /// the open ones (PENDING, not expired at `at`) and the most recent expired
    /// ones, so a late transfer can be told from an unknown one.
    pub async fn manual_candidates(
        conn: &mut AsyncPgConnection,
        method_ids: &[i64],
        amount: i64,
    ) -> QueryResult<Vec<DepositRow>> {
        deposits::table
            .filter(deposits::method_id.eq_any(method_ids))
            .filter(deposits::gateway.eq(PaymentGateway::Manual))
            .filter(deposits::payable_amount.eq(amount))
            .filter(deposits::status.eq_any([DepositStatus::Pending, DepositStatus::Expired]))
            .order(deposits::id.desc())
            .limit(20)
            .select(DepositRow::as_select())
            .for_update()
            .load(conn)
            .await
    }

    /// Whether the user has a paid deposit other than `except`.
    pub async fn has_paid_before(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        except: i64,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            deposits::table
                .filter(deposits::user_id.eq(user_id))
                .filter(deposits::status.eq(DepositStatus::Paid))
                .filter(deposits::id.ne(except)),
        ))
        .get_result(conn)
        .await
    }

    /// Claims up to `limit` deposits for reconciliation until `lease_until`:
    /// PENDING, not flagged, created at or before `older_than` or expired by
    /// `now`, and not leased by another worker (`next_check_at` unset or passed).
    /// Rows are locked with `FOR UPDATE SKIP LOCKED` and leased in one committed
    /// transaction, so several processes share the work and nobody holds a lock
    /// while a gateway is called.
    pub async fn claim_for_reconcile(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        older_than: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<DepositRow>> {
        conn.transaction(async |conn| {
            let ids: Vec<i64> = deposits::table
                .filter(deposits::status.eq(DepositStatus::Pending))
                .filter(deposits::flagged.eq(false))
                .filter(
                    deposits::created_at
                        .le(older_than)
                        .or(deposits::expires_at.le(now)),
                )
                .filter(
                    deposits::next_check_at
                        .is_null()
                        .or(deposits::next_check_at.le(now)),
                )
                .order(deposits::id.asc())
                .limit(limit)
                .select(deposits::id)
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(deposits::table.filter(deposits::id.eq_any(&ids)))
                .set(deposits::next_check_at.eq(lease_until))
                .returning(DepositRow::as_returning())
                .get_results(conn)
                .await
        })
        .await
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = deposits)]
pub struct NewDeposit<'a> {
    pub id: i64,
    pub user_id: i64,
    pub amount: i64,
    pub gateway: PaymentGateway,
    pub status: DepositStatus,
    pub merchant_ref: &'a str,
    pub expires_at: DateTime<Utc>,
    pub method_id: Option<i64>,
    pub payable_amount: i64,
    pub unique_code: i32,
    pub qris_payload: Option<&'a str>,
    pub customer_note: Option<&'a str>,
    pub voucher_id: Option<i64>,
}

/// A partial update; `None` leaves a column alone.
#[derive(Debug, Default, Clone, PartialEq, AsChangeset)]
#[diesel(table_name = deposits)]
pub struct DepositChangeset {
    pub status: Option<DepositStatus>,
    pub gateway_ref: Option<String>,
    pub payment_url: Option<String>,
    pub snap_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub flagged: Option<bool>,
    pub flag_reason: Option<String>,
    pub gateway_status: Option<String>,
    pub failure_reason: Option<String>,
    pub customer_note: Option<String>,
    pub bonus_amount: Option<i64>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// What an admin's resolution writes: every column set, `None` written as NULL.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = deposits, treat_none_as_null = true)]
pub struct DepositResolved<'a> {
    pub status: DepositStatus,
    pub paid_at: Option<DateTime<Utc>>,
    pub flagged: bool,
    pub resolution: &'a str,
    pub resolved_by: i64,
    pub resolved_at: DateTime<Utc>,
    pub resolution_note: &'a str,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = deposit_events, check_for_backend(diesel::pg::Pg))]
pub struct DepositEventRow {
    pub id: i64,
    pub deposit_id: i64,
    pub source: DepositEventSource,
    pub gateway_status: String,
    pub outcome: String,
    pub fingerprint: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl DepositEventRow {
    /// The events of several deposits, each deposit's oldest first.
    pub async fn for_deposits(
        conn: &mut AsyncPgConnection,
        deposit_ids: &[i64],
    ) -> QueryResult<Vec<DepositEventRow>> {
        deposit_events::table
            .filter(deposit_events::deposit_id.eq_any(deposit_ids))
            .order((deposit_events::deposit_id.asc(), deposit_events::id.asc()))
            .select(DepositEventRow::as_select())
            .load(conn)
            .await
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = deposit_events)]
pub struct NewDepositEvent<'a> {
    pub deposit_id: i64,
    pub source: DepositEventSource,
    pub gateway_status: &'a str,
    pub outcome: &'a str,
    pub fingerprint: &'a str,
    pub payload: &'a serde_json::Value,
}

impl NewDepositEvent<'_> {
    /// Records the event once: a report with the same fingerprint for the same
    /// deposit adds nothing (the unique index on both).
    pub async fn insert_once(&self, conn: &mut AsyncPgConnection) -> QueryResult<usize> {
        diesel::insert_into(deposit_events::table)
            .values(self)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
    }
}

/// Which deposits a list shows.
#[derive(Debug, Default, Clone)]
pub struct DepositFilter {
    pub user_id: Option<i64>,
    pub method_id: Option<i64>,
    pub status: Option<DepositStatus>,
    pub gateway: Option<PaymentGateway>,
    pub flagged: Option<bool>,
}

impl DepositFilter {
    /// One owner's deposits, nothing else: a page the page pool may read.
    pub fn owner_only(&self) -> bool {
        let DepositFilter {
            user_id,
            method_id,
            status,
            gateway,
            flagged,
        } = self;
        user_id.is_some()
            && method_id.is_none()
            && status.is_none()
            && gateway.is_none()
            && flagged.is_none()
    }
}

impl DepositRow {
    /// Deposits matching `filter`, newest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &DepositFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<DepositRow>> {
        let build = || {
            // The owner, when there is one, is `paginate_owned`'s.
            let mut q = deposits::table.select(DepositRow::as_select()).into_boxed();
            if let Some(status) = filter.status {
                q = q.filter(deposits::status.eq(status));
            }
            if let Some(method_id) = filter.method_id {
                q = q.filter(deposits::method_id.eq(method_id));
            }
            if let Some(gateway) = filter.gateway {
                q = q.filter(deposits::gateway.eq(gateway));
            }
            if let Some(flagged) = filter.flagged {
                q = q.filter(deposits::flagged.eq(flagged));
            }
            q
        };
        match filter.user_id {
            Some(user) => {
                paginate_owned(conn, deposits::user_id, user, build, deposits::id, page).await
            }
            None => paginate_keyset(conn, build, deposits::id, page).await,
        }
    }
}
