//! Money in without a gateway, as GraphQL shows it: bonus rules, vouchers and
//! bank mutations (for staff only); deposit methods are in `wallet`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        bank_mutations::BankMutationRow,
        deposit_methods::{BonusRuleRow, DepositMethodForm},
        enums::{BankMutationSource, BankMutationStatus, DepositMethodKind, VoucherKind},
        vouchers::{VoucherForm, VoucherRow},
    },
    graphql::{
        error::GraphqlResult,
        load,
        loaders::{DepositId, UserId},
        scalars::Rupiah,
        types::{account::User, wallet::Deposit},
    },
};

/// A deposit bonus: `bonusBps` of the credited amount from `minAmount` on.
pub struct BonusRule(pub BonusRuleRow);

#[Object]
impl BonusRule {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    /// The method it applies to; null for every method.
    async fn method_id(&self) -> Option<ID> {
        self.0.method_id.map(ID::from)
    }

    async fn bonus_bps(&self) -> i32 {
        self.0.bonus_bps
    }

    async fn min_amount(&self) -> Rupiah {
        Rupiah(self.0.min_amount)
    }

    async fn first_deposit_only(&self) -> bool {
        self.0.first_deposit_only
    }

    async fn active(&self) -> bool {
        self.0.active
    }
}

/// A voucher code.
pub struct Voucher(pub VoucherRow);

#[Object]
impl Voucher {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn kind(&self) -> VoucherKind {
        self.0.kind
    }

    /// FIXED: rupiah; PERCENT: basis points of the credited amount.
    async fn value(&self) -> i64 {
        self.0.value
    }

    async fn max_bonus(&self) -> Option<Rupiah> {
        self.0.max_bonus.map(Rupiah)
    }

    async fn min_deposit(&self) -> Rupiah {
        Rupiah(self.0.min_deposit)
    }

    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at
    }

    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }

    async fn max_uses(&self) -> Option<i32> {
        self.0.max_uses
    }

    async fn uses(&self) -> i32 {
        self.0.uses
    }

    async fn active(&self) -> bool {
        self.0.active
    }
}

/// A credit to one of the owner's accounts, and what became of it.
pub struct BankMutation(pub BankMutationRow);

#[Object]
impl BankMutation {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn source(&self) -> BankMutationSource {
        self.0.source
    }

    /// The service's own id (Moota's mutation id; a statement line's fingerprint).
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }

    async fn bank(&self) -> &str {
        &self.0.bank
    }

    async fn account_number(&self) -> &str {
        &self.0.account_number
    }

    async fn amount(&self) -> Rupiah {
        Rupiah(self.0.amount)
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    async fn status(&self) -> BankMutationStatus {
        self.0.status
    }

    /// The deposit it paid.
    async fn deposit(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Deposit>> {
        match self.0.deposit_id {
            Some(id) => Ok(Some(Deposit(load(ctx, DepositId(id), "deposit").await?))),
            None => Ok(None),
        }
    }

    /// The admin who attached or dismissed it.
    async fn resolved_by(&self, ctx: &Context<'_>) -> GraphqlResult<Option<User>> {
        match self.0.resolved_by {
            Some(id) => Ok(Some(User(load(ctx, UserId(id), "user").await?))),
            None => Ok(None),
        }
    }

    async fn resolution_note(&self) -> Option<&str> {
        self.0.resolution_note.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A deposit method as an admin writes it.
#[derive(Debug, InputObject)]
pub struct DepositMethodInput {
    pub kind: DepositMethodKind,
    pub name: String,
    #[graphql(default)]
    pub bank_code: String,
    #[graphql(default)]
    pub account_holder: String,
    /// Digits; spaces, dots and dashes are dropped.
    #[graphql(default)]
    pub account_number: String,
    /// QRIS_STATIC: the text inside the owner's static QR code.
    pub qris_payload: Option<String>,
    #[graphql(default)]
    pub instructions_id: String,
    #[graphql(default)]
    pub instructions_en: String,
    pub min_amount: Rupiah,
    pub max_amount: Rupiah,
    #[graphql(default = 10000)]
    pub credit_rate_bps: i32,
    #[graphql(default = true)]
    pub active: bool,
    #[graphql(default)]
    pub sort_order: i32,
}

impl From<DepositMethodInput> for DepositMethodForm {
    fn from(input: DepositMethodInput) -> Self {
        Self {
            kind: input.kind,
            name: input.name,
            bank_code: input.bank_code,
            account_holder: input.account_holder,
            account_number: input.account_number,
            qris_payload: input.qris_payload,
            instructions_id: input.instructions_id,
            instructions_en: input.instructions_en,
            min_amount: input.min_amount.0,
            max_amount: input.max_amount.0,
            credit_rate_bps: input.credit_rate_bps,
            active: input.active,
            sort_order: input.sort_order,
        }
    }
}

/// A voucher as an admin writes it.
#[derive(Debug, InputObject)]
pub struct VoucherInput {
    pub code: String,
    pub kind: VoucherKind,
    /// FIXED: rupiah; PERCENT: basis points (1000 = 10%).
    pub value: i64,
    pub max_bonus: Option<Rupiah>,
    #[graphql(default)]
    pub min_deposit: Rupiah,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    #[graphql(default = true)]
    pub active: bool,
}

impl From<VoucherInput> for VoucherForm {
    fn from(input: VoucherInput) -> Self {
        Self {
            code: input.code,
            kind: input.kind,
            value: input.value,
            max_bonus: input.max_bonus.map(|r| r.0),
            min_deposit: input.min_deposit.0,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            max_uses: input.max_uses,
            active: input.active,
        }
    }
}

/// What a statement upload did (or, on a dry run, would do).
#[derive(Debug, SimpleObject)]
pub struct StatementImport {
    /// Nothing was written: the figures say what applying would do.
    pub dry_run: bool,
    /// Credit lines read (debit lines are skipped).
    pub credits: i32,
    /// Lines imported before (by this upload or an earlier one): nothing changed.
    pub repeats: i32,
    /// Lines that paid a deposit.
    pub matched: i32,
    /// Lines waiting for an admin (unmatched, ambiguous, expired match).
    pub review: i32,
    /// The deposits paid, by id.
    pub deposit_ids: Vec<ID>,
}

impl From<crate::domain::deposits::statement::StatementReport> for StatementImport {
    fn from(report: crate::domain::deposits::statement::StatementReport) -> Self {
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        StatementImport {
            dry_run: report.dry_run,
            credits: count(report.credits),
            repeats: count(report.repeats),
            matched: count(report.matched),
            review: count(report.review),
            deposit_ids: report.deposit_ids.into_iter().map(ID::from).collect(),
        }
    }
}
