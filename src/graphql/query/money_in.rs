//! Money-in queries: the deposit methods customers may use, the customer
//! levels, and the staff's views of methods, bonus rules, vouchers and bank
//! mutations.

use async_graphql::{Context, Object};

use crate::{
    db::{
        bank_mutations::{BankMutationRow, MutationFilter},
        customer_levels::LevelRow,
        deposit_methods::{BonusRuleRow, DepositMethodRow},
        enums::BankMutationStatus,
        vouchers::VoucherRow,
    },
    graphql::{
        conn,
        error::GraphqlResult,
        guards::RoleGuard,
        pagination::{Page, keyset_args, keyset_connection, list_complexity},
        types::{
            levels::CustomerLevel,
            money_in::{BankMutation, BonusRule, Voucher},
            wallet::DepositMethod,
        },
    },
};

#[derive(Default)]
pub struct MoneyInQuery;

#[Object]
impl MoneyInQuery {
    /// The active ways to pay in, in display order.
    #[graphql(guard = "RoleGuard::User")]
    async fn deposit_methods(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<DepositMethod>> {
        let rows = DepositMethodRow::list(&mut *conn(ctx).await?, false).await?;
        Ok(rows.into_iter().map(DepositMethod).collect())
    }

    /// The customer levels and what reaches each (see `me { level levelProgress }`).
    #[graphql(guard = "RoleGuard::User")]
    async fn customer_levels(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<CustomerLevel>> {
        let rows = LevelRow::list(&mut *conn(ctx).await?).await?;
        Ok(rows.into_iter().map(CustomerLevel).collect())
    }

    /// Every deposit method, inactive ones too.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_deposit_methods(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<DepositMethod>> {
        let rows = DepositMethodRow::list(&mut *conn(ctx).await?, true).await?;
        Ok(rows.into_iter().map(DepositMethod).collect())
    }

    /// Every deposit bonus rule.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_bonus_rules(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<BonusRule>> {
        let rows = BonusRuleRow::list(&mut *conn(ctx).await?).await?;
        Ok(rows.into_iter().map(BonusRule).collect())
    }

    /// Every voucher, newest first.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_vouchers(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Voucher>> {
        let rows = VoucherRow::list(&mut *conn(ctx).await?).await?;
        Ok(rows.into_iter().map(Voucher).collect())
    }

    /// Credits to the owner's accounts, newest first; `needsReview` keeps those
    /// waiting for an admin (unmatched, ambiguous, expired match).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_bank_mutations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<BankMutationStatus>,
        #[graphql(default)] needs_review: bool,
    ) -> GraphqlResult<Page<BankMutation>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let filter = MutationFilter {
            status,
            needs_review,
        };
        let rows = BankMutationRow::list(&mut *conn(ctx).await?, &filter, page).await?;
        Ok(keyset_connection(rows, |m| m.id, BankMutation))
    }
}
