//! `vouchers` and `voucher_redemptions`: codes that add a bonus to a deposit. A
//! use is taken by one guarded UPDATE (the limit holds under concurrency) and a
//! redemption is once per user (the primary key).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::VoucherKind,
    schema::{voucher_redemptions, vouchers},
};

/// A voucher as stored: its terms, how often it was used, its id and times. It
/// reads as its terms (`Deref`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = vouchers, check_for_backend(diesel::pg::Pg))]
pub struct VoucherRow {
    pub id: i64,
    #[diesel(embed)]
    pub terms: VoucherForm,
    pub uses: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::ops::Deref for VoucherRow {
    type Target = VoucherForm;

    fn deref(&self) -> &VoucherForm {
        &self.terms
    }
}

super::reads_by_id!(VoucherRow, vouchers);

/// A voucher's terms: every column an admin sets.
#[derive(Debug, Clone, Insertable, AsChangeset, Queryable, Selectable)]
#[diesel(table_name = vouchers, treat_none_as_null = true, check_for_backend(diesel::pg::Pg))]
pub struct VoucherForm {
    pub code: String,
    pub kind: VoucherKind,
    /// FIXED: rupiah; PERCENT: basis points of the credited amount.
    pub value: i64,
    pub max_bonus: Option<i64>,
    pub min_deposit: i64,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    pub active: bool,
}

impl VoucherRow {
    pub async fn insert(conn: &mut AsyncPgConnection, form: &VoucherForm) -> QueryResult<Self> {
        diesel::insert_into(vouchers::table)
            .values(form)
            .returning(VoucherRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        form: &VoucherForm,
    ) -> QueryResult<Self> {
        diesel::update(vouchers::table.find(id))
            .set(form)
            .returning(VoucherRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find_by_code(
        conn: &mut AsyncPgConnection,
        code: &str,
    ) -> QueryResult<Option<Self>> {
        vouchers::table
            .filter(vouchers::code.eq(code))
            .select(VoucherRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Self>> {
        vouchers::table
            .order(vouchers::id.desc())
            .select(VoucherRow::as_select())
            .load(conn)
            .await
    }

    /// Takes one use if the voucher is active, within its window at `now` and
    /// under its limit: one guarded statement, so concurrent takers never exceed
    /// `max_uses`. False: nothing was taken.
    pub async fn take_use(
        conn: &mut AsyncPgConnection,
        id: i64,
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let taken = diesel::update(vouchers::table.find(id))
            .filter(vouchers::active.eq(true))
            .filter(
                vouchers::starts_at
                    .is_null()
                    .or(vouchers::starts_at.le(now)),
            )
            .filter(vouchers::ends_at.is_null().or(vouchers::ends_at.gt(now)))
            .filter(
                vouchers::max_uses
                    .is_null()
                    .or(vouchers::uses.lt(vouchers::max_uses.assume_not_null())),
            )
            .set(vouchers::uses.eq(vouchers::uses + 1))
            .execute(conn)
            .await?;
        Ok(taken == 1)
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = voucher_redemptions)]
pub struct NewRedemption {
    pub voucher_id: i64,
    pub user_id: i64,
    pub deposit_id: i64,
    pub bonus: i64,
}

impl NewRedemption {
    /// Records the use; false when this user had used the voucher already.
    pub async fn insert_once(&self, conn: &mut AsyncPgConnection) -> QueryResult<bool> {
        let inserted = diesel::insert_into(voucher_redemptions::table)
            .values(self)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(inserted == 1)
    }

    /// Whether `user_id` has used the voucher.
    pub async fn exists(
        conn: &mut AsyncPgConnection,
        voucher_id: i64,
        user_id: i64,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            voucher_redemptions::table
                .filter(voucher_redemptions::voucher_id.eq(voucher_id))
                .filter(voucher_redemptions::user_id.eq(user_id)),
        ))
        .get_result(conn)
        .await
    }
}
