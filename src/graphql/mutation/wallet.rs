//! Wallet mutations: a customer's deposit (by method or gateway), an admin's
//! balance adjustment.

use async_graphql::{Context, ID, Object};

use crate::{
    db::enums::PaymentGateway,
    domain::{audit::Subject, deposits, wallet},
    error::AppError,
    graphql::{
        admin_write, conn, current_user,
        error::{GraphqlError, GraphqlResult},
        guards::RoleGuard,
        parse_id, parse_opt_id,
        scalars::Rupiah,
        state,
        types::wallet::{AdjustBalanceInput, Deposit, LedgerEntry},
    },
    payments,
};

#[derive(Default)]
pub struct WalletMutation;

#[Object]
impl WalletMutation {
    /// Starts a deposit with a method (`methodId`, see `depositMethods`) or a
    /// gateway. A transfer or QRIS method answers what to pay: `payableAmount`
    /// (the amount plus a unique code) and, for QRIS, `qrisPayload`; a gateway
    /// answers its payment page. When a gateway cannot be reached the error is
    /// GATEWAY_UNAVAILABLE with `extensions.gateway` and `extensions.alternatives`.
    #[graphql(guard = "RoleGuard::User")]
    async fn create_deposit(
        &self,
        ctx: &Context<'_>,
        amount: Rupiah,
        gateway: Option<PaymentGateway>,
        method_id: Option<ID>,
        #[graphql(desc = "A voucher code; its bonus is paid when the deposit is credited.")]
        voucher_code: Option<String>,
        #[graphql(desc = "For the admin checking a transfer (at most 500 characters).")]
        note: Option<String>,
    ) -> GraphqlResult<Deposit> {
        let user = current_user(ctx)?;
        let app = state(ctx);
        crate::domain::accounts::check_may_spend(&user.user, &app.config.accounts)?;
        let request = deposits::DepositRequest {
            amount: amount.0,
            gateway,
            method_id: parse_opt_id("methodId", method_id.as_ref())?,
            voucher_code: voucher_code.as_deref(),
            note: note.as_deref(),
        };
        let config = &app.config.payments;
        let opened = deposits::start(&app.pool, &app.http, config, &user.user, request).await;
        let alternatives = payments::configured(config);
        opened
            .map(Deposit)
            .map_err(|error| with_alternatives(error, gateway, &alternatives))
    }

    /// Credits (positive) or debits (negative) a user's balance by hand, with a
    /// required reason; recorded as an ADJUSTMENT made by the calling admin.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Balances)")]
    async fn admin_adjust_balance(
        &self,
        ctx: &Context<'_>,
        input: AdjustBalanceInput,
    ) -> GraphqlResult<LedgerEntry> {
        let user_id = parse_id("userId", &input.user_id)?;
        let (amount, reason) = (input.amount.0, input.reason);
        let write = admin_write(ctx, "user.adjust_balance")?.because(&reason);
        let entry = write
            .change(
                &mut *conn(ctx).await?,
                Subject::User,
                user_id,
                async |conn| wallet::adjust(conn, write.admin_id, user_id, amount, &reason).await,
            )
            .await?;
        Ok(LedgerEntry(entry))
    }
}

/// A gateway that could not be reached names itself and the other `configured`
/// gateways (`extensions.gateway`, `extensions.alternatives`).
fn with_alternatives(
    error: AppError,
    gateway: Option<PaymentGateway>,
    configured: &[PaymentGateway],
) -> GraphqlError {
    let (AppError::GatewayUnavailable(_), Some(gateway)) = (&error, gateway) else {
        return error.into();
    };
    let alternatives: Vec<async_graphql::Value> = configured
        .iter()
        .filter(|g| **g != gateway)
        .map(|g| async_graphql::Value::Enum(async_graphql::Name::new(g.as_str())))
        .collect();
    GraphqlError::from(error)
        .with_extension("gateway", gateway.as_str())
        .with_extension("alternatives", alternatives)
}
