//! Starting a deposit, as a customer asks for it: by method (`methodId`: a bank,
//! e-wallet or QRIS method opens a manual deposit; a gateway method goes to its
//! gateway) or, as before methods existed, by `gateway`. A voucher code is
//! checked here, so a wrong one is refused before anything is created.

use super::{GatewayExtras, bonus::check_voucher, create, manual};
use crate::{
    config::PaymentsConfig,
    db::{
        PgPool, deposit_methods::DepositMethodRow, deposits::DepositRow, enums::PaymentGateway,
        users::UserRow,
    },
    error::{AppError, AppResult},
    payments,
};

/// What the customer asked for.
#[derive(Debug, Clone, Default)]
pub struct DepositRequest<'a> {
    pub amount: i64,
    pub gateway: Option<PaymentGateway>,
    pub method_id: Option<i64>,
    pub voucher_code: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// Opens the deposit the customer asked for. Exactly one of `gateway` and
/// `methodId` is given.
pub async fn start(
    pool: &PgPool,
    http: &reqwest::Client,
    config: &PaymentsConfig,
    user: &UserRow,
    request: DepositRequest<'_>,
) -> AppResult<DepositRow> {
    let method = match (request.method_id, request.gateway) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(AppError::validation(
                "methodId",
                "choose a deposit method (methodId) or a gateway, not both",
            ));
        }
        (Some(id), None) => Some(
            DepositMethodRow::find(&mut *pool.get().await?, id)
                .await?
                .filter(|method| method.active)
                .ok_or_else(|| AppError::validation("methodId", "no such deposit method"))?,
        ),
        (None, Some(_)) => None,
    };
    let gateway = match &method {
        Some(method) => method.kind.gateway(),
        None => request.gateway.unwrap_or(PaymentGateway::Manual),
    };
    if let Some(method) = method
        .as_ref()
        .filter(|_| gateway == PaymentGateway::Manual)
    {
        let mut conn = pool.get().await?;
        let manual = manual::ManualRequest {
            amount: request.amount,
            voucher_code: request.voucher_code,
            note: request.note,
        };
        return manual::create_manual(&mut conn, config, user, method, manual).await;
    }
    if let Some(method) = &method {
        manual::check_method_amount(method, request.amount)?;
    }
    super::validate_amount(config, request.amount)?;
    let client = payments::client(http, config, gateway)?;
    let voucher_id = match request.voucher_code.filter(|c| !c.trim().is_empty()) {
        Some(code) => {
            let mut conn = pool.get().await?;
            Some(
                check_voucher(&mut conn, user.id, code, request.amount)
                    .await?
                    .id,
            )
        }
        None => None,
    };
    let extras = GatewayExtras {
        method_id: method.map(|m| m.id),
        voucher_id,
    };
    create(pool, client.as_ref(), config, user, request.amount, extras).await
}
