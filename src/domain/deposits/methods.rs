//! What admins set up for money in: deposit methods (the owner's bank accounts,
//! e-wallets and static QRIS, and the gateways), bonus rules and vouchers. Each
//! form is checked and normalised here (a malformed static QRIS is refused when
//! saved, never when a customer pays); the resolvers audit the write.

use diesel_async::AsyncPgConnection;

use crate::{
    db::{
        deposit_methods::{BonusRuleForm, BonusRuleRow, DepositMethodForm, DepositMethodRow},
        enums::{DepositMethodKind, VoucherKind},
        vouchers::{VoucherForm, VoucherRow},
    },
    domain::text::{check_line, check_text},
    error::{AppError, AppResult, is_unique_violation},
    payments::qris,
};

/// Longest instructions per language.
pub const MAX_INSTRUCTIONS_CHARS: usize = 4000;

/// Checks and normalises a method: names bounded, the account number reduced to
/// its digits (spaces and dashes as printed on cards are dropped), the static QRIS
/// validated, amounts and rate in range.
pub fn check_method(input: DepositMethodForm) -> AppResult<DepositMethodForm> {
    let name = check_line("name", &input.name, 100, true)?;
    let bank_code = check_line("bankCode", &input.bank_code, 20, false)?.to_uppercase();
    let account_holder = check_line("accountHolder", &input.account_holder, 100, false)?;
    let account_number = account_digits(&input.account_number)?;
    let manual_account = matches!(
        input.kind,
        DepositMethodKind::BankTransfer | DepositMethodKind::Ewallet
    );
    if manual_account && account_number.is_empty() {
        return Err(AppError::validation(
            "accountNumber",
            "a bank or e-wallet method needs the account number customers pay into",
        ));
    }
    let qris_payload = match (input.kind, input.qris_payload.as_deref()) {
        (DepositMethodKind::QrisStatic, Some(payload)) => {
            let payload = payload.trim();
            qris::validate_static(payload)
                .map_err(|e| AppError::validation("qrisPayload", e.to_string()))?;
            Some(payload.to_string())
        }
        (DepositMethodKind::QrisStatic, None) => {
            return Err(AppError::validation(
                "qrisPayload",
                "a QRIS method needs the static QRIS payload (the text inside the QR code)",
            ));
        }
        _ => None,
    };
    if input.min_amount <= 0 || input.max_amount < input.min_amount {
        return Err(AppError::validation(
            "minAmount",
            "the smallest amount must be positive and at most the largest",
        ));
    }
    if !(1..=10_000).contains(&input.credit_rate_bps) {
        return Err(AppError::validation(
            "creditRateBps",
            "the credit rate is 1 to 10000 basis points (10000 credits what was paid)",
        ));
    }
    Ok(DepositMethodForm {
        name,
        bank_code,
        account_holder,
        account_number,
        qris_payload,
        instructions_id: check_text(
            "instructionsId",
            &input.instructions_id,
            MAX_INSTRUCTIONS_CHARS,
            false,
        )?,
        instructions_en: check_text(
            "instructionsEn",
            &input.instructions_en,
            MAX_INSTRUCTIONS_CHARS,
            false,
        )?,
        ..input
    })
}

/// An account number as digits: spaces, dots and dashes are dropped; anything
/// else is refused. At most 32 digits.
pub fn account_digits(text: &str) -> AppResult<String> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    if digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::validation(
            "accountNumber",
            "an account number is at most 32 digits",
        ));
    }
    Ok(digits)
}

pub async fn create_method(
    conn: &mut AsyncPgConnection,
    input: DepositMethodForm,
) -> AppResult<DepositMethodRow> {
    let form = check_method(input)?;
    Ok(DepositMethodRow::insert(conn, &form).await?)
}

pub async fn update_method(
    conn: &mut AsyncPgConnection,
    id: i64,
    input: DepositMethodForm,
) -> AppResult<DepositMethodRow> {
    let form = check_method(input)?;
    DepositMethodRow::find(conn, id)
        .await?
        .ok_or(AppError::NotFound("deposit method"))?;
    Ok(DepositMethodRow::update(conn, id, &form).await?)
}

/// A bonus rule: 1 to 10000 basis points, a non-negative threshold, an existing
/// method when one is named.
pub async fn save_bonus_rule(
    conn: &mut AsyncPgConnection,
    id: Option<i64>,
    form: BonusRuleForm,
) -> AppResult<BonusRuleRow> {
    if !(1..=10_000).contains(&form.bonus_bps) {
        return Err(AppError::validation(
            "bonusBps",
            "a bonus is 1 to 10000 basis points",
        ));
    }
    if form.min_amount < 0 {
        return Err(AppError::validation("minAmount", "must not be negative"));
    }
    if let Some(method_id) = form.method_id {
        DepositMethodRow::find(conn, method_id)
            .await?
            .ok_or_else(|| AppError::validation("methodId", "no such deposit method"))?;
    }
    Ok(match id {
        Some(id) => {
            BonusRuleRow::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("bonus rule"))?;
            BonusRuleRow::update(conn, id, &form).await?
        }
        None => BonusRuleRow::insert(conn, &form).await?,
    })
}

/// Checks a voucher: the code upper-cased (3 to 32 of `A-Z 0-9 _ -`), a
/// percentage at most 10000 basis points, a window that ends after it starts.
pub fn check_voucher_form(input: VoucherForm) -> AppResult<VoucherForm> {
    let code = input.code.trim().to_uppercase();
    let code_ok = (3..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !code_ok {
        return Err(AppError::validation(
            "code",
            "a voucher code is 3 to 32 letters, digits, '_' or '-'",
        ));
    }
    if input.value <= 0 || (input.kind == VoucherKind::Percent && input.value > 10_000) {
        return Err(AppError::validation(
            "value",
            "a fixed voucher is a positive number of rupiah; a percentage 1 to 10000 basis points",
        ));
    }
    if input.max_bonus.is_some_and(|cap| cap <= 0) {
        return Err(AppError::validation("maxBonus", "must be positive"));
    }
    if input.min_deposit < 0 {
        return Err(AppError::validation("minDeposit", "must not be negative"));
    }
    if input.max_uses.is_some_and(|uses| uses <= 0) {
        return Err(AppError::validation("maxUses", "must be positive"));
    }
    if let (Some(start), Some(end)) = (input.starts_at, input.ends_at)
        && end <= start
    {
        return Err(AppError::validation("endsAt", "must be after startsAt"));
    }
    Ok(VoucherForm { code, ..input })
}

pub async fn save_voucher(
    conn: &mut AsyncPgConnection,
    id: Option<i64>,
    input: VoucherForm,
) -> AppResult<VoucherRow> {
    let form = check_voucher_form(input)?;
    let saved = match id {
        Some(id) => {
            VoucherRow::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("voucher"))?;
            VoucherRow::update(conn, id, &form).await
        }
        None => VoucherRow::insert(conn, &form).await,
    };
    saved.map_err(|e| {
        if is_unique_violation(&e, "vouchers_code_key") {
            AppError::validation("code", "another voucher has this code")
        } else {
            e.into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank() -> DepositMethodForm {
        DepositMethodForm {
            kind: DepositMethodKind::BankTransfer,
            name: "BCA".into(),
            bank_code: "bca".into(),
            account_holder: "PT Booster".into(),
            account_number: "123-456 7890".into(),
            qris_payload: None,
            instructions_id: "Transfer tepat sesuai nominal.".into(),
            instructions_en: "Transfer the exact amount.".into(),
            min_amount: 10_000,
            max_amount: 10_000_000,
            credit_rate_bps: 10_000,
            active: true,
            sort_order: 0,
        }
    }

    #[test]
    fn a_bank_method_is_normalised() {
        let form = check_method(bank()).unwrap();
        assert_eq!(form.account_number, "1234567890");
        assert_eq!(form.bank_code, "BCA");
    }

    #[test]
    fn bad_methods_name_their_field() {
        let field = |input: DepositMethodForm| match check_method(input) {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected VALIDATION, got {other:?}"),
        };
        assert_eq!(
            field(DepositMethodForm {
                account_number: "".into(),
                ..bank()
            }),
            "accountNumber"
        );
        assert_eq!(
            field(DepositMethodForm {
                account_number: "12a4".into(),
                ..bank()
            }),
            "accountNumber"
        );
        assert_eq!(
            field(DepositMethodForm {
                credit_rate_bps: 0,
                ..bank()
            }),
            "creditRateBps"
        );
        assert_eq!(
            field(DepositMethodForm {
                min_amount: 5,
                max_amount: 4,
                ..bank()
            }),
            "minAmount"
        );
        let qris = |payload: Option<&str>| DepositMethodForm {
            kind: DepositMethodKind::QrisStatic,
            account_number: "".into(),
            qris_payload: payload.map(str::to_string),
            ..bank()
        };
        assert_eq!(field(qris(None)), "qrisPayload");
        assert_eq!(field(qris(Some("000201010211not-a-qris"))), "qrisPayload");
    }

    #[test]
    fn voucher_codes_and_values_are_checked() {
        let input = VoucherForm {
            code: " hemat-10 ".into(),
            kind: VoucherKind::Percent,
            value: 1_000,
            max_bonus: Some(20_000),
            min_deposit: 50_000,
            starts_at: None,
            ends_at: None,
            max_uses: Some(10),
            active: true,
        };
        assert_eq!(check_voucher_form(input.clone()).unwrap().code, "HEMAT-10");
        assert!(
            check_voucher_form(VoucherForm {
                code: "a b".into(),
                ..input.clone()
            })
            .is_err()
        );
        assert!(
            check_voucher_form(VoucherForm {
                value: 10_001,
                ..input.clone()
            })
            .is_err()
        );
        assert!(
            check_voucher_form(VoucherForm {
                max_uses: Some(0),
                ..input
            })
            .is_err()
        );
    }
}
