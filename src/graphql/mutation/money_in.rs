//! Money-in mutations: admins set up deposit methods, bonus rules and vouchers,
//! decide bank mutations that matched nothing and upload bank statements; a
//! customer attaches a proof of transfer. Every admin write is audited.

use async_graphql::{Context, Enum, ID, InputObject, Object, Upload};

use crate::{
    db::deposit_methods::BonusRuleForm,
    domain::{
        audit::{Subject, Summary},
        deposits::{
            matching::{self, MutationDecision},
            methods, proof,
            statement::{self, StatementFormat},
        },
    },
    graphql::{
        admin_write, conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        parse_id, parse_opt_id, read_upload,
        scalars::Rupiah,
        state,
        types::{
            money_in::{
                BankMutation, BonusRule, DepositMethodInput, StatementImport, Voucher, VoucherInput,
            },
            wallet::{Deposit, DepositMethod},
        },
    },
};

#[derive(Default)]
pub struct MoneyInMutation;

/// A deposit bonus rule as an admin writes it.
#[derive(Debug, InputObject)]
pub struct BonusRuleInput {
    /// The method it applies to; null for every method.
    pub method_id: Option<ID>,
    /// Basis points of the credited amount (500 = 5%).
    pub bonus_bps: i32,
    #[graphql(default)]
    pub min_amount: Rupiah,
    #[graphql(default)]
    pub first_deposit_only: bool,
    #[graphql(default = true)]
    pub active: bool,
}

impl BonusRuleInput {
    fn form(self) -> GraphqlResult<BonusRuleForm> {
        Ok(BonusRuleForm {
            method_id: parse_opt_id("methodId", self.method_id.as_ref())?,
            bonus_bps: self.bonus_bps,
            min_amount: self.min_amount.0,
            first_deposit_only: self.first_deposit_only,
            active: self.active,
        })
    }
}

/// The layout of an uploaded statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum StatementLayout {
    /// KlikBCA Bisnis CSV export.
    BcaBisnis,
    /// KlikBCA Individual CSV export.
    BcaIndividual,
    /// Your own column mapping, given as `mapping` (JSON).
    Custom,
}

/// Largest statement file read.
const MAX_STATEMENT_BYTES: usize = crate::payments::statements::MAX_FILE_BYTES;

#[Object]
impl MoneyInMutation {
    /// Adds a way to pay in (a bank account, an e-wallet, a static QRIS or a gateway).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_create_deposit_method(
        &self,
        ctx: &Context<'_>,
        input: DepositMethodInput,
    ) -> GraphqlResult<DepositMethod> {
        let row = admin_write(ctx, "deposit_method.create")?
            .create(
                &mut *conn(ctx).await?,
                Subject::DepositMethod,
                async |conn| methods::create_method(conn, input.into()).await,
            )
            .await?;
        Ok(DepositMethod(row))
    }

    /// Rewrites a deposit method (every field; open deposits keep what they were told).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_update_deposit_method(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: DepositMethodInput,
    ) -> GraphqlResult<DepositMethod> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "deposit_method.update")?
            .change(
                &mut *conn(ctx).await?,
                Subject::DepositMethod,
                id,
                async |conn| methods::update_method(conn, id, input.into()).await,
            )
            .await?;
        Ok(DepositMethod(row))
    }

    /// Adds a deposit bonus rule.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_create_bonus_rule(
        &self,
        ctx: &Context<'_>,
        input: BonusRuleInput,
    ) -> GraphqlResult<BonusRule> {
        let form = input.form()?;
        let row = admin_write(ctx, "bonus_rule.create")?
            .create(&mut *conn(ctx).await?, Subject::BonusRule, async |conn| {
                methods::save_bonus_rule(conn, None, form).await
            })
            .await?;
        Ok(BonusRule(row))
    }

    /// Rewrites a deposit bonus rule.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_update_bonus_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: BonusRuleInput,
    ) -> GraphqlResult<BonusRule> {
        let (id, form) = (parse_id("id", &id)?, input.form()?);
        let row = admin_write(ctx, "bonus_rule.update")?
            .change(
                &mut *conn(ctx).await?,
                Subject::BonusRule,
                id,
                async |conn| methods::save_bonus_rule(conn, Some(id), form).await,
            )
            .await?;
        Ok(BonusRule(row))
    }

    /// Adds a voucher code.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_create_voucher(
        &self,
        ctx: &Context<'_>,
        input: VoucherInput,
    ) -> GraphqlResult<Voucher> {
        let row = admin_write(ctx, "voucher.create")?
            .create(&mut *conn(ctx).await?, Subject::Voucher, async |conn| {
                methods::save_voucher(conn, None, input.into()).await
            })
            .await?;
        Ok(Voucher(row))
    }

    /// Rewrites a voucher (its use count stays).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_update_voucher(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: VoucherInput,
    ) -> GraphqlResult<Voucher> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "voucher.update")?
            .change(&mut *conn(ctx).await?, Subject::Voucher, id, async |conn| {
                methods::save_voucher(conn, Some(id), input.into()).await
            })
            .await?;
        Ok(Voucher(row))
    }

    /// Attaches a bank mutation that matched nothing to the manual deposit it
    /// paid: the deposit is credited (once) and marked paid.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn admin_attach_bank_mutation(
        &self,
        ctx: &Context<'_>,
        mutation_id: ID,
        deposit_id: ID,
        reason: String,
    ) -> GraphqlResult<BankMutation> {
        let id = parse_id("mutationId", &mutation_id)?;
        let decision = MutationDecision::Attach {
            deposit_id: parse_id("depositId", &deposit_id)?,
        };
        decide(ctx, id, decision, "bank_mutation.attach", &reason).await
    }

    /// Records that a bank mutation is not a deposit (a refund, an own transfer).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn admin_dismiss_bank_mutation(
        &self,
        ctx: &Context<'_>,
        mutation_id: ID,
        reason: String,
    ) -> GraphqlResult<BankMutation> {
        let id = parse_id("mutationId", &mutation_id)?;
        decide(
            ctx,
            id,
            MutationDecision::Dismiss,
            "bank_mutation.dismiss",
            &reason,
        )
        .await
    }

    /// Matches an internet-banking statement (CSV) of a method's account against
    /// open deposits, as pushed mutations are. `dryRun` (the default) writes
    /// nothing and answers what applying would do; the same statement applied
    /// twice credits nothing the second time.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn admin_import_bank_statement(
        &self,
        ctx: &Context<'_>,
        method_id: ID,
        file: Upload,
        layout: StatementLayout,
        #[graphql(desc = "CUSTOM: the column mapping as JSON.")] mapping: Option<String>,
        #[graphql(default = true)] dry_run: bool,
    ) -> GraphqlResult<StatementImport> {
        let method_id = parse_id("methodId", &method_id)?;
        let bytes = read_upload(ctx, &file, MAX_STATEMENT_BYTES)?;
        let format = match (layout, mapping) {
            (StatementLayout::BcaBisnis, _) => StatementFormat::BcaBisnis,
            (StatementLayout::BcaIndividual, _) => StatementFormat::BcaIndividual,
            (StatementLayout::Custom, Some(json)) => StatementFormat::Custom(json),
            (StatementLayout::Custom, None) => StatementFormat::Custom(String::new()),
        };
        let report = admin_write(ctx, "deposit.import_statement")?
            .bulk(&mut *conn(ctx).await?, "deposit_method", async |conn| {
                let report = statement::import(conn, method_id, &bytes, format, dry_run).await?;
                let summary = (!dry_run).then(|| Summary::of(method_id, report.summary()));
                Ok((report, summary))
            })
            .await?;
        Ok(report.into())
    }

    /// Attaches a proof of transfer (a PNG, JPEG or WebP image) and a note to the
    /// caller's own unpaid transfer deposit; a new proof replaces the old one.
    #[graphql(guard = "RoleGuard::User")]
    async fn attach_deposit_proof(
        &self,
        ctx: &Context<'_>,
        deposit_id: ID,
        file: Upload,
        note: Option<String>,
    ) -> GraphqlResult<Deposit> {
        let user = current_user(ctx)?;
        let deposit_id = parse_id("depositId", &deposit_id)?;
        let max_bytes = state(ctx).config.payments.proof_max_bytes;
        let bytes = read_upload(ctx, &file, max_bytes)?;
        let mut conn = conn(ctx).await?;
        let deposit = proof::attach(
            &mut conn,
            user,
            deposit_id,
            bytes,
            note.as_deref(),
            max_bytes,
        )
        .await?;
        Ok(Deposit(deposit))
    }
}

/// An admin's decision on a waiting bank mutation, audited.
async fn decide(
    ctx: &Context<'_>,
    id: i64,
    decision: MutationDecision,
    action: &'static str,
    reason: &str,
) -> GraphqlResult<BankMutation> {
    let write = admin_write(ctx, action)?.because(reason);
    let row = write
        .change(
            &mut *conn(ctx).await?,
            Subject::BankMutation,
            id,
            async |conn| {
                matching::decide_by_admin(conn, write.admin_id, id, decision, reason).await
            },
        )
        .await?;
    Ok(BankMutation(row))
}
