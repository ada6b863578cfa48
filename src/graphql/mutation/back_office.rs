//! The back office's money actions and notes (admins): a manual refund, resolving a
//! flagged deposit, a private note on a user. Each writes its audit entry in the
//! same transaction as the change.

use async_graphql::{Context, ID, InputObject, Object};

use crate::{
    domain::{
        accounts,
        audit::Subject,
        deposits,
        orders::{self, ManualRefund},
    },
    graphql::{
        admin_write, conn,
        error::GraphqlResult,
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
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Refunds)")]
    async fn admin_refund_order(
        &self,
        ctx: &Context<'_>,
        input: AdminRefundOrderInput,
    ) -> GraphqlResult<Order> {
        let order_id = parse_id("orderId", &input.order_id)?;
        let refund = input
            .amount
            .map_or(ManualRefund::Full, |a| ManualRefund::Amount(a.0));
        let reason = input.reason;
        let write = admin_write(ctx, "order.refund")?.because(&reason);
        let order = write
            .change(
                &mut *conn(ctx).await?,
                Subject::Order,
                order_id,
                async |conn| {
                    orders::admin_refund(conn, write.admin_id, order_id, refund, &reason).await
                },
            )
            .await?;
        Ok(Order(order))
    }

    /// Resolves a flagged deposit: CREDIT puts its amount on the balance (once),
    /// REJECT clears the flag without moving money.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn admin_resolve_deposit(
        &self,
        ctx: &Context<'_>,
        input: AdminResolveDepositInput,
    ) -> GraphqlResult<Deposit> {
        let deposit_id = parse_id("depositId", &input.deposit_id)?;
        let (resolution, reason) = (input.resolution.into(), input.reason);
        let write = admin_write(ctx, "deposit.resolve")?.because(&reason);
        let deposit = write
            .change(
                &mut *conn(ctx).await?,
                Subject::Deposit,
                deposit_id,
                async |conn| {
                    let admin = write.admin_id;
                    deposits::resolve_flagged(conn, admin, deposit_id, resolution, &reason).await
                },
            )
            .await?;
        Ok(Deposit(deposit))
    }

    /// Sets an admin's private note on a user (empty clears it); the user never sees it.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_set_user_note(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        note: String,
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let user = admin_write(ctx, "user.set_note")?
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| accounts::set_admin_note(conn, user_id, &note).await,
            )
            .await?;
        Ok(User(user))
    }
}
