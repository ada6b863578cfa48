//! `deposit_methods` and `deposit_bonus_rules`: how customers may pay in (the
//! owner's bank accounts, e-wallets, static QRIS, the gateways) and the bonuses
//! paid on deposits, with their reads and writes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::DepositMethodKind,
    schema::{deposit_bonus_rules, deposit_methods},
};

/// A method as stored: what an admin wrote, with its id and times. It reads as
/// its form (`Deref`), so `method.kind` is the form's.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = deposit_methods, check_for_backend(diesel::pg::Pg))]
pub struct DepositMethodRow {
    pub id: i64,
    #[diesel(embed)]
    pub details: DepositMethodForm,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::ops::Deref for DepositMethodRow {
    type Target = DepositMethodForm;

    fn deref(&self) -> &DepositMethodForm {
        &self.details
    }
}

super::reads_by_id!(DepositMethodRow, deposit_methods);

/// A method as written: every column an admin sets.
#[derive(Debug, Clone, Insertable, AsChangeset, Queryable, Selectable)]
#[diesel(table_name = deposit_methods, treat_none_as_null = true, check_for_backend(diesel::pg::Pg))]
pub struct DepositMethodForm {
    pub kind: DepositMethodKind,
    pub name: String,
    pub bank_code: String,
    pub account_holder: String,
    /// Digits only.
    pub account_number: String,
    pub qris_payload: Option<String>,
    pub instructions_id: String,
    pub instructions_en: String,
    pub min_amount: i64,
    pub max_amount: i64,
    pub credit_rate_bps: i32,
    pub active: bool,
    pub sort_order: i32,
}

impl DepositMethodRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        form: &DepositMethodForm,
    ) -> QueryResult<DepositMethodRow> {
        diesel::insert_into(deposit_methods::table)
            .values(form)
            .returning(DepositMethodRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        form: &DepositMethodForm,
    ) -> QueryResult<DepositMethodRow> {
        diesel::update(deposit_methods::table.find(id))
            .set(form)
            .returning(DepositMethodRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Methods in display order; inactive ones too when asked.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        include_inactive: bool,
    ) -> QueryResult<Vec<DepositMethodRow>> {
        let mut query = deposit_methods::table.into_boxed();
        if !include_inactive {
            query = query.filter(deposit_methods::active.eq(true));
        }
        query
            .order((deposit_methods::sort_order, deposit_methods::id))
            .select(DepositMethodRow::as_select())
            .load(conn)
            .await
    }

    /// The manual methods paid into `account_number` (digits only).
    pub async fn ids_for_account(
        conn: &mut AsyncPgConnection,
        account_number: &str,
    ) -> QueryResult<Vec<i64>> {
        deposit_methods::table
            .filter(deposit_methods::account_number.eq(account_number))
            .filter(deposit_methods::kind.eq_any([
                DepositMethodKind::BankTransfer,
                DepositMethodKind::Ewallet,
                DepositMethodKind::QrisStatic,
            ]))
            .select(deposit_methods::id)
            .load(conn)
            .await
    }
}

/// A bonus rule as stored; it reads as its terms (`Deref`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = deposit_bonus_rules, check_for_backend(diesel::pg::Pg))]
pub struct BonusRuleRow {
    pub id: i64,
    #[diesel(embed)]
    pub terms: BonusRuleForm,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::ops::Deref for BonusRuleRow {
    type Target = BonusRuleForm;

    fn deref(&self) -> &BonusRuleForm {
        &self.terms
    }
}

super::reads_by_id!(BonusRuleRow, deposit_bonus_rules);

#[derive(Debug, Clone, Insertable, AsChangeset, Queryable, Selectable)]
#[diesel(table_name = deposit_bonus_rules, treat_none_as_null = true, check_for_backend(diesel::pg::Pg))]
pub struct BonusRuleForm {
    /// `None`: every method.
    pub method_id: Option<i64>,
    pub bonus_bps: i32,
    pub min_amount: i64,
    pub first_deposit_only: bool,
    pub active: bool,
}

impl BonusRuleRow {
    pub async fn insert(conn: &mut AsyncPgConnection, form: &BonusRuleForm) -> QueryResult<Self> {
        diesel::insert_into(deposit_bonus_rules::table)
            .values(form)
            .returning(BonusRuleRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        form: &BonusRuleForm,
    ) -> QueryResult<Self> {
        diesel::update(deposit_bonus_rules::table.find(id))
            .set(form)
            .returning(BonusRuleRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Self>> {
        deposit_bonus_rules::table
            .order(deposit_bonus_rules::id)
            .select(BonusRuleRow::as_select())
            .load(conn)
            .await
    }

    /// The active rules that may apply to a deposit of `method_id` (`None`: a
    /// deposit without a method, i.e. an older gateway deposit).
    pub async fn active_for(
        conn: &mut AsyncPgConnection,
        method_id: Option<i64>,
    ) -> QueryResult<Vec<Self>> {
        let mut query = deposit_bonus_rules::table
            .filter(deposit_bonus_rules::active.eq(true))
            .into_boxed();
        query = match method_id {
            Some(id) => query.filter(
                deposit_bonus_rules::method_id
                    .is_null()
                    .or(deposit_bonus_rules::method_id.eq(id)),
            ),
            None => query.filter(deposit_bonus_rules::method_id.is_null()),
        };
        query.select(BonusRuleRow::as_select()).load(conn).await
    }
}
