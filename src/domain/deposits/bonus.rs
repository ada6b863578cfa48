//! Deposit bonuses: the best active bonus rule (for the deposit's method or for
//! all) plus a voucher entered at creation, paid as one BONUS ledger entry in
//! the credit's transaction. The arithmetic is pure ([`rule_bonus`],
//! [`voucher_bonus`]); [`check_voucher`] answers the customer at creation and
//! [`take_voucher`] takes a use (guarded: the limit holds under concurrency;
//! once per user: the redemption's key) when the money arrives.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::{
    db::{
        deposit_methods::BonusRuleRow,
        enums::VoucherKind,
        vouchers::{NewRedemption, VoucherRow},
    },
    error::{AppError, AppResult},
};

/// The bonus of the best rule that applies to a credit of `amount`. Pure.
pub fn rule_bonus(rules: &[BonusRuleRow], amount: i64, first_deposit: bool) -> i64 {
    rules
        .iter()
        .filter(|rule| rule.active && amount >= rule.min_amount)
        .filter(|rule| first_deposit || !rule.first_deposit_only)
        .map(|rule| basis_points(amount, rule.bonus_bps.into()))
        .max()
        .unwrap_or(0)
}

/// What `voucher` adds to a credit of `amount` (0 below its minimum). Pure.
pub fn voucher_bonus(voucher: &VoucherRow, amount: i64) -> i64 {
    if amount < voucher.min_deposit {
        return 0;
    }
    let bonus = match voucher.kind {
        VoucherKind::Fixed => voucher.value,
        VoucherKind::Percent => basis_points(amount, voucher.value),
    };
    voucher.max_bonus.map_or(bonus, |cap| bonus.min(cap))
}

/// `amount * bps / 10000`, rounded down, without overflow.
pub fn basis_points(amount: i64, bps: i64) -> i64 {
    (i128::from(amount) * i128::from(bps) / 10_000) as i64
}

/// Whether `voucher` may be used now by a customer (active, in its window, uses
/// left); the reason when not. Pure.
pub fn voucher_refusal(voucher: &VoucherRow, now: DateTime<Utc>) -> Option<&'static str> {
    if !voucher.active {
        return Some("this voucher is not active");
    }
    if voucher.starts_at.is_some_and(|at| now < at) {
        return Some("this voucher is not valid yet");
    }
    if voucher.ends_at.is_some_and(|at| now >= at) {
        return Some("this voucher has expired");
    }
    if voucher.max_uses.is_some_and(|max| voucher.uses >= max) {
        return Some("this voucher has been used up");
    }
    None
}

/// The voucher a customer entered at `createDeposit`, checked now so they hear
/// at once about a wrong code (the use itself is taken when the money arrives).
pub async fn check_voucher(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    code: &str,
    credit: i64,
) -> AppResult<VoucherRow> {
    let code = code.trim().to_uppercase();
    let voucher = VoucherRow::find_by_code(conn, &code)
        .await?
        .ok_or_else(|| AppError::validation("voucherCode", "no such voucher"))?;
    if let Some(reason) = voucher_refusal(&voucher, Utc::now()) {
        return Err(AppError::validation("voucherCode", reason));
    }
    if NewRedemption::exists(conn, voucher.id, user_id).await? {
        return Err(AppError::validation(
            "voucherCode",
            "you have used this voucher already",
        ));
    }
    if credit < voucher.min_deposit {
        return Err(AppError::validation(
            "voucherCode",
            format!(
                "this voucher needs a deposit of at least {} rupiah",
                voucher.min_deposit
            ),
        ));
    }
    Ok(voucher)
}

/// Takes one use of the voucher for this deposit and records the redemption, or
/// nothing at all (a savepoint): 0 when the voucher is used up, expired or was
/// used by this customer meanwhile.
pub async fn take_voucher(
    conn: &mut AsyncPgConnection,
    voucher_id: i64,
    user_id: i64,
    deposit_id: i64,
    credit: i64,
) -> AppResult<i64> {
    let taken = conn
        .transaction(async |conn| {
            let Some(voucher) = VoucherRow::find(conn, voucher_id).await? else {
                return Err(NotTaken::Skip);
            };
            let bonus = voucher_bonus(&voucher, credit);
            let redemption = NewRedemption {
                voucher_id,
                user_id,
                deposit_id,
                bonus,
            };
            if bonus == 0
                || !redemption.insert_once(conn).await?
                || !VoucherRow::take_use(conn, voucher_id, Utc::now()).await?
            {
                return Err(NotTaken::Skip);
            }
            Ok(bonus)
        })
        .await;
    match taken {
        Ok(bonus) => Ok(bonus),
        Err(NotTaken::Skip) => Ok(0),
        Err(NotTaken::Failed(error)) => Err(error.into()),
    }
}

/// Why the savepoint rolled back: nothing to take, or the database failed.
#[derive(Debug)]
enum NotTaken {
    Skip,
    Failed(diesel::result::Error),
}

impl From<diesel::result::Error> for NotTaken {
    fn from(error: diesel::result::Error) -> Self {
        NotTaken::Failed(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{deposit_methods::BonusRuleForm, vouchers::VoucherForm};

    fn rule(bps: i32, min_amount: i64, first_deposit_only: bool) -> BonusRuleRow {
        BonusRuleRow {
            id: 1,
            terms: BonusRuleForm {
                method_id: None,
                bonus_bps: bps,
                min_amount,
                first_deposit_only,
                active: true,
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn voucher(kind: VoucherKind, value: i64, max_bonus: Option<i64>) -> VoucherRow {
        VoucherRow {
            id: 1,
            terms: VoucherForm {
                code: "HEMAT10".into(),
                kind,
                value,
                max_bonus,
                min_deposit: 50_000,
                starts_at: None,
                ends_at: None,
                max_uses: Some(10),
                active: true,
            },
            uses: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_best_rule_that_applies_pays() {
        let rules = [rule(500, 500_000, false), rule(1_000, 0, true)];
        assert_eq!(rule_bonus(&rules, 400_000, false), 0);
        assert_eq!(rule_bonus(&rules, 500_000, false), 25_000);
        assert_eq!(rule_bonus(&rules, 500_000, true), 50_000);
        assert_eq!(rule_bonus(&rules, 100_001, true), 10_000);
        assert_eq!(rule_bonus(&[], 1_000_000, true), 0);
    }

    #[test]
    fn vouchers_pay_fixed_or_capped_percentages_from_their_minimum() {
        assert_eq!(
            voucher_bonus(&voucher(VoucherKind::Fixed, 5_000, None), 50_000),
            5_000
        );
        assert_eq!(
            voucher_bonus(&voucher(VoucherKind::Fixed, 5_000, None), 49_999),
            0
        );
        let percent = voucher(VoucherKind::Percent, 1_000, Some(20_000));
        assert_eq!(voucher_bonus(&percent, 100_000), 10_000);
        assert_eq!(voucher_bonus(&percent, 1_000_000), 20_000);
        assert_eq!(basis_points(i64::MAX, 10_000), i64::MAX);
    }

    #[test]
    fn a_voucher_out_of_its_window_or_uses_is_refused() {
        let now = Utc::now();
        let mut v = voucher(VoucherKind::Fixed, 5_000, None);
        assert_eq!(voucher_refusal(&v, now), None);
        v.uses = 10;
        assert!(voucher_refusal(&v, now).unwrap().contains("used up"));
        v.uses = 0;
        v.terms.ends_at = Some(now);
        assert!(voucher_refusal(&v, now).unwrap().contains("expired"));
        v.terms.ends_at = None;
        v.terms.starts_at = Some(now + chrono::Duration::hours(1));
        assert!(voucher_refusal(&v, now).unwrap().contains("not valid yet"));
        v.terms.starts_at = None;
        v.terms.active = false;
        assert!(voucher_refusal(&v, now).unwrap().contains("not active"));
    }
}
