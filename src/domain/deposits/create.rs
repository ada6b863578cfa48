//! Creating a deposit at a gateway. The pending row is committed before the
//! gateway is called and completed or marked FAILED after, so no transaction or
//! row lock is held across the call and a payment the gateway made despite a
//! timeout still finds its deposit.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand::Rng;

use super::validate_amount;
use crate::{
    config::PaymentsConfig,
    db::{
        PgPool,
        deposits::{DepositChangeset, DepositRow, NewDeposit},
        enums::{DepositStatus, PaymentGateway},
        users::UserRow,
    },
    error::{AppError, AppResult},
    payments::{self, CreatedPayment, Gateway, GatewayError, PaymentRequest},
};

/// What a gateway deposit may carry besides its amount: the method the customer
/// chose (a gateway method) and a voucher checked at creation.
#[derive(Debug, Clone, Copy, Default)]
pub struct GatewayExtras {
    pub method_id: Option<i64>,
    pub voucher_id: Option<i64>,
}

/// Creates a deposit and its payment page at `gateway`.
///
/// The pending row is inserted and committed *before* the gateway is called, and
/// marked FAILED if the call fails. Holding a transaction open across an HTTP call
/// (up to the gateway timeout) would pin a pooled connection and a row lock; and
/// when a call times out after the gateway did create the payment, a committed row
/// means a later payment notification still finds its deposit (and credits it as a
/// late payment) instead of money arriving for an order we never kept. No deposit is
/// left PENDING without a payment page: it is either completed or FAILED in this
/// same flow.
pub async fn create(
    pool: &PgPool,
    gateway: &dyn Gateway,
    config: &PaymentsConfig,
    user: &UserRow,
    amount: i64,
    extras: GatewayExtras,
) -> AppResult<DepositRow> {
    validate_amount(config, amount)?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(config.deposit_expiry).map_err(AppError::internal)?;
    let deposit = {
        let mut conn = pool.get().await?;
        insert_pending(
            &mut conn,
            gateway.kind(),
            user.id,
            amount,
            expires_at,
            extras,
        )
        .await?
    };
    let request = payment_request(&deposit, user, config, expires_at);
    let result = gateway.create_payment(&request).await;
    let mut conn = pool.get().await?;
    match result {
        Ok(created) => record_payment_page(&mut conn, deposit.id, created).await,
        Err(error) => {
            let detail = error.to_string();
            tracing::warn!(deposit_id = deposit.id, gateway = %gateway.kind(), error = %detail, "creating a payment failed");
            mark_failed(&mut conn, deposit.id, &detail).await?;
            Err(unavailable(config, gateway.kind(), &error, detail))
        }
    }
}

/// The PENDING row, with its merchant reference (`DEP-<id>-<random>`: the id
/// is taken from the sequence first so the reference is known at insert).
async fn insert_pending(
    conn: &mut AsyncPgConnection,
    gateway: PaymentGateway,
    user_id: i64,
    amount: i64,
    expires_at: DateTime<Utc>,
    extras: GatewayExtras,
) -> AppResult<DepositRow> {
    let id: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "nextval('deposits_id_seq')",
    ))
    .get_result(conn)
    .await?;
    let suffix: u32 = rand::rng().random();
    let merchant_ref = format!("DEP-{id}-{suffix:08x}");
    let deposit = NewDeposit {
        id,
        user_id,
        amount,
        gateway,
        status: DepositStatus::Pending,
        merchant_ref: &merchant_ref,
        expires_at,
        method_id: extras.method_id,
        payable_amount: amount,
        unique_code: 0,
        qris_payload: None,
        customer_note: None,
        voucher_id: extras.voucher_id,
    };
    Ok(DepositRow::insert(conn, &deposit).await?)
}

/// What the gateway is asked for: the deposit's amount and reference, and the
/// customer's name (their address when they have none).
fn payment_request(
    deposit: &DepositRow,
    user: &UserRow,
    config: &PaymentsConfig,
    expires_at: DateTime<Utc>,
) -> PaymentRequest {
    PaymentRequest {
        merchant_ref: deposit.merchant_ref.clone(),
        amount: deposit.amount,
        expires_at,
        description: format!("Deposit saldo {}", deposit.merchant_ref),
        customer_email: user.email.clone(),
        customer_name: if user.name.is_empty() {
            user.email.clone()
        } else {
            user.name.clone()
        },
        return_url: config.return_url.clone(),
    }
}

/// The gateway's reference and payment page; an expiry the gateway set is kept
/// only while it lies ahead.
async fn record_payment_page(
    conn: &mut AsyncPgConnection,
    deposit_id: i64,
    created: CreatedPayment,
) -> AppResult<DepositRow> {
    let created = DepositChangeset {
        gateway_ref: created.gateway_ref,
        payment_url: Some(created.payment_url),
        snap_token: created.snap_token,
        expires_at: created.expires_at.filter(|at| *at > Utc::now()),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    Ok(DepositRow::update(conn, deposit_id, &created).await?)
}

async fn mark_failed(conn: &mut AsyncPgConnection, deposit_id: i64, detail: &str) -> AppResult<()> {
    let failed = DepositChangeset {
        status: Some(DepositStatus::Failed),
        failure_reason: Some(detail.to_string()),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    DepositRow::update(conn, deposit_id, &failed).await?;
    Ok(())
}

/// The customer's answer when a gateway could not create the payment: why (an
/// outage's own words; a refusal's detail stays in the log) and the other
/// gateways configured.
fn unavailable(
    config: &PaymentsConfig,
    gateway: PaymentGateway,
    error: &GatewayError,
    detail: String,
) -> AppError {
    let others: Vec<String> = payments::configured(config)
        .into_iter()
        .filter(|g| *g != gateway)
        .map(|g| g.to_string())
        .collect();
    let hint = if others.is_empty() {
        "try again later".to_string()
    } else {
        format!("try again later or pay with {}", others.join(" or "))
    };
    let reason = match error {
        GatewayError::Unavailable(_) => detail,
        _ => format!("{gateway} could not create the payment"),
    };
    AppError::GatewayUnavailable(format!("{gateway} is unavailable ({reason}); {hint}"))
}
