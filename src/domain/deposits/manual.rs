//! Deposits without a gateway: a transfer to the owner's bank account or
//! e-wallet, or a scan of the owner's static QRIS. The customer is told exactly
//! what to pay: the amount plus a unique code (1 to 999 rupiah), chosen so that
//! no two open deposits of the method share a payable amount, which is how a
//! bank mutation finds its deposit. Codes are allocated under a per-method
//! advisory lock; the partial unique index `deposits_open_payable_once` is the
//! backstop. The code is credited too (or kept, by `MANUAL_DEPOSIT_CREDIT_UNIQUE_CODE`).

use chrono::Utc;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::Rng;

use super::bonus::{basis_points, check_voucher};
use crate::{
    config::PaymentsConfig,
    db::{
        deposit_methods::DepositMethodRow,
        deposits::{DepositRow, NewDeposit},
        enums::{DepositMethodKind, DepositStatus, PaymentGateway},
        users::UserRow,
    },
    domain::text::check_text,
    error::{AppError, AppResult},
    payments::qris,
};

/// The largest unique code: at most 999 rupiah is added to a transfer.
pub const MAX_UNIQUE_CODE: i32 = 999;
/// The longest note a customer may leave for the admin checking the transfer.
pub const MAX_NOTE_CHARS: usize = 500;
/// The advisory-lock class of code allocation (the object is the method id).
const ALLOCATION_LOCK: i32 = 0x6465_706f;

/// What a customer asks for: pay `amount` with `method`.
#[derive(Debug, Clone, Default)]
pub struct ManualRequest<'a> {
    pub amount: i64,
    pub voucher_code: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// Opens a manual deposit: PENDING until a matching mutation, a statement or an
/// admin credits it, or until it expires (its payable amount is then free again).
pub async fn create_manual(
    conn: &mut AsyncPgConnection,
    config: &PaymentsConfig,
    user: &UserRow,
    method: &DepositMethodRow,
    request: ManualRequest<'_>,
) -> AppResult<DepositRow> {
    check_method_amount(method, request.amount)?;
    let note = request
        .note
        .map(|note| check_text("note", note, MAX_NOTE_CHARS, false))
        .transpose()?
        .filter(|note| !note.is_empty());
    let expires_at = Utc::now()
        + chrono::Duration::from_std(config.deposit_expiry).map_err(AppError::internal)?;
    conn.transaction(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind::<Integer, _>(ALLOCATION_LOCK)
            .bind::<Integer, _>(method.id as i32)
            .execute(conn)
            .await?;
        DepositRow::expire_overdue_manual(conn, method.id, Utc::now()).await?;
        let taken = DepositRow::open_payables_between(
            conn,
            method.id,
            request.amount + 1,
            request.amount + i64::from(MAX_UNIQUE_CODE),
        )
        .await?;
        let code = pick_code(request.amount, &taken, &mut rand::rng()).ok_or_else(|| {
            AppError::validation(
                "amount",
                "too many open deposits of this amount right now; choose a slightly different amount",
            )
        })?;
        let payable = request.amount + i64::from(code);
        let credited = credited_amount(config, method, request.amount, payable);
        if credited <= 0 {
            return Err(AppError::validation("amount", "this amount credits nothing"));
        }
        let voucher = match request.voucher_code.filter(|c| !c.trim().is_empty()) {
            Some(code) => Some(check_voucher(conn, user.id, code, credited).await?),
            None => None,
        };
        let qris_payload = match (method.kind, &method.qris_payload) {
            (DepositMethodKind::QrisStatic, Some(static_payload)) => Some(
                qris::dynamic_for_amount(static_payload, payable).map_err(AppError::internal)?,
            ),
            _ => None,
        };
        let id: i64 = diesel::select(diesel::dsl::sql::<BigInt>("nextval('deposits_id_seq')"))
            .get_result(conn)
            .await?;
        let merchant_ref = format!("TRF-{id}-{:06x}", rand::rng().random::<u32>() & 0xff_ffff);
        let deposit = NewDeposit {
            id,
            user_id: user.id,
            amount: credited,
            gateway: PaymentGateway::Manual,
            status: DepositStatus::Pending,
            merchant_ref: &merchant_ref,
            expires_at,
            method_id: Some(method.id),
            payable_amount: payable,
            unique_code: code,
            qris_payload: qris_payload.as_deref(),
            customer_note: note.as_deref(),
            voucher_id: voucher.map(|v| v.id),
        };
        Ok(DepositRow::insert(conn, &deposit).await?)
    })
    .await
}

/// The method is open and takes this amount.
pub fn check_method_amount(method: &DepositMethodRow, amount: i64) -> AppResult<()> {
    if !method.active {
        return Err(AppError::validation(
            "methodId",
            "this payment method is not available",
        ));
    }
    if amount < method.min_amount || amount > method.max_amount {
        return Err(AppError::validation(
            "amount",
            format!(
                "{} takes deposits from {} to {} rupiah",
                method.name, method.min_amount, method.max_amount
            ),
        ));
    }
    Ok(())
}

/// A random code in `1..=999` whose payable amount no open deposit holds. Pure
/// but for the random numbers.
pub fn pick_code(amount: i64, taken: &[i64], rng: &mut impl Rng) -> Option<i32> {
    let free: Vec<i32> = (1..=MAX_UNIQUE_CODE)
        .filter(|code| !taken.contains(&(amount + i64::from(*code))))
        .collect();
    if free.is_empty() {
        return None;
    }
    Some(free[rng.random_range(0..free.len())])
}

/// What a payment of `payable` credits: the method's rate applied to the amount
/// paid (the code included, unless the panel keeps it), rounded down.
pub fn credited_amount(
    config: &PaymentsConfig,
    method: &DepositMethodRow,
    asked: i64,
    payable: i64,
) -> i64 {
    let base = if config.credit_unique_code {
        payable
    } else {
        asked
    };
    basis_points(base, method.credit_rate_bps.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_avoid_every_open_payable_amount() {
        let mut rng = rand::rng();
        let taken: Vec<i64> = (100_001..=100_998).collect();
        for _ in 0..50 {
            assert_eq!(pick_code(100_000, &taken, &mut rng), Some(999));
        }
        let all: Vec<i64> = (100_001..=100_999).collect();
        assert_eq!(pick_code(100_000, &all, &mut rng), None);
        let code = pick_code(50_000, &[], &mut rng).unwrap();
        assert!((1..=999).contains(&code));
    }
}
