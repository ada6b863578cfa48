//! Wallet queries: a customer's deposits and transactions, one deposit, and the
//! admin views of deposits and of a user's ledger.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        deposits::{DepositFilter, DepositRow},
        enums::{DepositStatus, LedgerKind, PaymentGateway},
        ledger::{LedgerEntryRow, LedgerFilter},
    },
    error::AppError,
    graphql::{
        check_date, conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        page_conn,
        pagination::{Page, keyset_args, keyset_connection, list_complexity},
        parse_id, parse_opt_id,
        types::wallet::{Deposit, LedgerEntry},
    },
};

#[derive(Default)]
pub struct WalletQuery;

async fn deposit_page(
    ctx: &Context<'_>,
    filter: DepositFilter,
    first: Option<i32>,
    after: Option<String>,
) -> GraphqlResult<Page<Deposit>> {
    let page = keyset_args(ctx, first, after.as_deref())?;
    let mut conn = page_conn(ctx, filter.owner_only()).await?;
    let rows = DepositRow::list(&mut conn, &filter, page).await?;
    Ok(keyset_connection(rows, |d| d.id, Deposit))
}

async fn ledger_page(
    ctx: &Context<'_>,
    user_id: i64,
    filter: LedgerFilter,
    first: Option<i32>,
    after: Option<String>,
) -> GraphqlResult<Page<LedgerEntry>> {
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return Err(AppError::validation("from", "from must not be after to").into());
    }
    let page = keyset_args(ctx, first, after.as_deref())?;
    let mut conn = page_conn(ctx, filter.is_empty()).await?;
    let rows = LedgerEntryRow::list_for_user(&mut conn, user_id, &filter, page).await?;
    Ok(keyset_connection(rows, |e| e.id, LedgerEntry))
}

#[Object]
impl WalletQuery {
    /// The caller's deposits, newest first.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_deposits(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<DepositStatus>,
    ) -> GraphqlResult<Page<Deposit>> {
        let user = current_user(ctx)?;
        let filter = DepositFilter {
            user_id: Some(user.id()),
            status,
            ..Default::default()
        };
        deposit_page(ctx, filter, first, after).await
    }

    /// The caller's balance changes, newest first; `from` inclusive, `to` exclusive.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        kind: Option<LedgerKind>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> GraphqlResult<Page<LedgerEntry>> {
        let user = current_user(ctx)?;
        ledger_page(
            ctx,
            user.id(),
            LedgerFilter {
                kind,
                from: check_date("from", from)?,
                to: check_date("to", to)?,
            },
            first,
            after,
        )
        .await
    }

    /// One deposit, for its owner or an admin; null otherwise.
    #[graphql(guard = "RoleGuard::User")]
    async fn deposit(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Option<Deposit>> {
        let user = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let found = crate::domain::deposits::find_visible(&mut *conn(ctx).await?, user, id).await?;
        Ok(found.map(Deposit))
    }

    /// All deposits, newest first.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn admin_deposits(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<DepositStatus>,
        gateway: Option<PaymentGateway>,
        user_id: Option<ID>,
        flagged: Option<bool>,
        #[graphql(desc = "Only deposits made with this method (e.g. one bank account).")]
        method_id: Option<ID>,
    ) -> GraphqlResult<Page<Deposit>> {
        let filter = DepositFilter {
            user_id: parse_opt_id("userId", user_id.as_ref())?,
            method_id: parse_opt_id("methodId", method_id.as_ref())?,
            status,
            gateway,
            flagged,
        };
        deposit_page(ctx, filter, first, after).await
    }

    /// A user's ledger, newest first.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Balances)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_user_ledger(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        first: Option<i32>,
        after: Option<String>,
        kind: Option<LedgerKind>,
    ) -> GraphqlResult<Page<LedgerEntry>> {
        let user_id = parse_id("userId", &user_id)?;
        {
            let mut conn = conn(ctx).await?;
            crate::db::users::UserRow::find(&mut conn, user_id)
                .await?
                .ok_or(AppError::NotFound("user"))?;
        }
        let filter = LedgerFilter {
            kind,
            ..Default::default()
        };
        ledger_page(ctx, user_id, filter, first, after).await
    }
}
