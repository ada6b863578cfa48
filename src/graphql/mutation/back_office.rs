//! The back office's money actions and notes (admins): a manual refund, resolving a
//! flagged deposit, a private note on a user. Each writes its audit entry in the
//! same transaction as the change.

use async_graphql::{Context, ID, InputObject, Object};
use diesel_async::AsyncConnection;

use crate::{
    domain::{
        accounts,
        audit::{Change, Subject},
        deposits,
        orders::{self, ManualRefund},
    },
    error::AppError,
    graphql::{
        conn, current_user,
        error::ApiResult,
        guards::RoleGuard,
        parse_id,
        scalars::Rupiah,
        types::{
            account::User, back_office::DepositResolutionInput, orders::Order, wallet::Deposit,
        },
    },
};

#[derive(Default)]
pub struct BackOfficeMutation;

#[derive(InputObject)]
pub struct AdminRefundOrderInput {
    pub order_id: ID,
    /// Rupiah to give back; null refunds everything not refunded yet.
    pub amount: Option<Rupiah>,
    /// Why (kept in the ledger and the audit log).
    pub reason: String,
}

#[derive(InputObject)]
pub struct AdminResolveDepositInput {
    pub deposit_id: ID,
    pub resolution: DepositResolutionInput,
    pub reason: String,
}

#[Object]
impl BackOfficeMutation {
    /// Gives money back for an order by hand, in full or in part: once per order,
    /// never more than the charge less what was refunded. A later settlement
    /// (cancel, partial) refunds only what is owed beyond it.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_refund_order(
        &self,
        ctx: &Context<'_>,
        input: AdminRefundOrderInput,
    ) -> ApiResult<Order> {
        let admin = current_user(ctx)?.id();
        let order_id = parse_id("orderId", &input.order_id)?;
        let refund = input
            .amount
            .map_or(ManualRefund::Full, |a| ManualRefund::Amount(a.0));
        let reason = input.reason;
        let mut conn = conn(ctx).await?;
        let order = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::Order, order_id).await?;
                let order = orders::admin_refund(conn, admin, order_id, refund, &reason).await?;
                change
                    .finish(conn, admin, "order.refund", Some(&reason))
                    .await?;
                Ok::<_, AppError>(order)
            })
            .await?;
        Ok(Order(order))
    }

    /// Resolves a flagged deposit: CREDIT puts its amount on the balance (once),
    /// REJECT clears the flag without moving money.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_resolve_deposit(
        &self,
        ctx: &Context<'_>,
        input: AdminResolveDepositInput,
    ) -> ApiResult<Deposit> {
        let admin = current_user(ctx)?.id();
        let deposit_id = parse_id("depositId", &input.deposit_id)?;
        let reason = input.reason;
        let mut conn = conn(ctx).await?;
        let deposit = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::Deposit, deposit_id).await?;
                let deposit = deposits::resolve_flagged(
                    conn,
                    admin,
                    deposit_id,
                    input.resolution.into(),
                    &reason,
                )
                .await?;
                change
                    .finish(conn, admin, "deposit.resolve", Some(&reason))
                    .await?;
                Ok::<_, AppError>(deposit)
            })
            .await?;
        Ok(Deposit(deposit))
    }

    /// Sets an admin's private note on a user (empty clears it); the user never sees it.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_set_user_note(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        note: String,
    ) -> ApiResult<User> {
        let admin = current_user(ctx)?.id();
        let user_id = parse_id("userId", &user_id)?;
        let mut conn = conn(ctx).await?;
        let user = conn
            .transaction(async |conn| {
                let change = Change::begin(conn, Subject::User, user_id).await?;
                let user = accounts::set_admin_note(conn, user_id, &note).await?;
                change.finish(conn, admin, "user.set_note", None).await?;
                Ok::<_, AppError>(user)
            })
            .await?;
        Ok(User(user))
    }
}
