//! Wallet mutations: a customer's deposit, an admin's balance adjustment.

use async_graphql::{Context, Object};

use crate::{
    db::enums::PaymentGateway,
    domain::{audit::Subject, deposits, wallet},
    error::AppError,
    graphql::{
        admin_write, conn, current_user,
        error::{GraphqlError, GraphqlResult},
        guards::RoleGuard,
        parse_id,
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
    /// Starts a deposit: returns it PENDING with the gateway's payment page. When the
    /// gateway cannot be reached the error is GATEWAY_UNAVAILABLE with
    /// `extensions.gateway` and `extensions.alternatives` (other configured gateways).
    #[graphql(guard = "RoleGuard::User")]
    async fn create_deposit(
        &self,
        ctx: &Context<'_>,
        amount: Rupiah,
        gateway: PaymentGateway,
    ) -> GraphqlResult<Deposit> {
        let user = current_user(ctx)?;
        let app = state(ctx);
        let config = &app.config.payments;
        crate::domain::accounts::check_may_spend(&user.user, &app.config.accounts)?;
        deposits::validate_amount(config, amount.0)?;
        let client = payments::client(&app.http, config, gateway)?;
        match deposits::create(&app.pool, client.as_ref(), config, &user.user, amount.0).await {
            Ok(deposit) => Ok(Deposit(deposit)),
            Err(error @ AppError::GatewayUnavailable(_)) => {
                let alternatives: Vec<async_graphql::Value> = payments::configured(config)
                    .into_iter()
                    .filter(|g| *g != gateway)
                    .map(|g| async_graphql::Value::Enum(async_graphql::Name::new(g.as_str())))
                    .collect();
                Err(GraphqlError::from(error)
                    .with_extension("gateway", gateway.as_str())
                    .with_extension("alternatives", alternatives))
            }
            Err(error) => Err(error.into()),
        }
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
