//! Customer levels (Member, Reseller, Agen...): a discount in basis points
//! earned by total deposits or total spent. A buyer pays the better of their own
//! discount and their level's, through `domain::pricing` with the same floor at
//! provider cost (`UserRow::effective_discount_bps`). Levels are recomputed when
//! money moves: at once when a deposit is credited, and by the `customer_levels`
//! job for what orders spent (the order path stays one statement). A level an
//! admin chose is raised by money, never lowered.

use diesel_async::AsyncPgConnection;

use crate::{
    db::{
        customer_levels::{LevelForm, LevelRow, Totals},
        enums::LevelBasis,
    },
    domain::text::check_line,
    error::{AppError, AppResult, is_unique_violation},
};

/// Checks a level: a name of 1 to 50 characters, a discount of 0 to 10000
/// basis points, a threshold of at least 0.
pub fn check_level(form: LevelForm) -> AppResult<LevelForm> {
    let name = check_line("name", &form.name, 50, true)?;
    if !(0..=10_000).contains(&form.discount_bps) {
        return Err(AppError::validation(
            "discountBps",
            "a discount is 0 to 10000 basis points",
        ));
    }
    if form.threshold < 0 {
        return Err(AppError::validation("threshold", "must not be negative"));
    }
    Ok(LevelForm { name, ..form })
}

/// Creates (`id` None) or rewrites a level; its users' discount follows at once.
pub async fn save(
    conn: &mut AsyncPgConnection,
    id: Option<i64>,
    form: LevelForm,
) -> AppResult<LevelRow> {
    let form = check_level(form)?;
    let saved = match id {
        Some(id) => {
            LevelRow::find(conn, id)
                .await?
                .ok_or(AppError::NotFound("customer level"))?;
            LevelRow::update(conn, id, &form).await
        }
        None => LevelRow::insert(conn, &form).await,
    };
    saved.map_err(|e| {
        if is_unique_violation(&e, "customer_levels_name_key") {
            AppError::validation("name", "another level has this name")
        } else {
            e.into()
        }
    })
}

/// An admin sets a user's level (`None`: the level money earns).
pub async fn set_for_user(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    level_id: Option<i64>,
) -> AppResult<()> {
    let level = match level_id {
        Some(id) => Some(
            LevelRow::find(conn, id)
                .await?
                .ok_or_else(|| AppError::validation("levelId", "no such customer level"))?,
        ),
        None => None,
    };
    if LevelRow::set_for_user(conn, user_id, level.as_ref()).await? == 0 {
        return Err(AppError::NotFound("user"));
    }
    if level.is_none() {
        LevelRow::recompute(conn, &[user_id]).await?;
    }
    Ok(())
}

/// Gives these users the best level they have reached.
pub async fn recompute(conn: &mut AsyncPgConnection, user_ids: &[i64]) -> AppResult<usize> {
    Ok(LevelRow::recompute(conn, user_ids).await?)
}

/// The next level up from `current_discount_bps` and what it still needs. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextLevel {
    pub level: LevelRow,
    /// Rupiah still to deposit or spend (by the level's basis).
    pub remaining: i64,
}

/// The closest level with a larger discount than the user has, by what is left
/// to reach it. Pure.
pub fn next_level(
    levels: &[LevelRow],
    totals: Totals,
    current_discount_bps: i32,
) -> Option<NextLevel> {
    levels
        .iter()
        .filter(|level| level.discount_bps > current_discount_bps)
        .map(|level| {
            let have = match level.basis {
                LevelBasis::TotalDeposits => totals.deposits,
                LevelBasis::TotalSpent => totals.spent,
            };
            NextLevel {
                level: level.clone(),
                remaining: (level.threshold - have).max(0),
            }
        })
        .min_by_key(|next| (next.remaining, -next.level.discount_bps))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn level(id: i64, discount_bps: i32, basis: LevelBasis, threshold: i64) -> LevelRow {
        LevelRow {
            id,
            name: format!("L{id}"),
            discount_bps,
            basis,
            threshold,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_next_level_is_the_closest_better_one() {
        let levels = [
            level(1, 300, LevelBasis::TotalDeposits, 1_000_000),
            level(2, 500, LevelBasis::TotalSpent, 5_000_000),
            level(3, 800, LevelBasis::TotalDeposits, 10_000_000),
        ];
        let totals = Totals {
            deposits: 400_000,
            spent: 4_900_000,
        };
        let next = next_level(&levels, totals, 0).unwrap();
        assert_eq!((next.level.id, next.remaining), (2, 100_000));
        let next = next_level(&levels, totals, 500).unwrap();
        assert_eq!((next.level.id, next.remaining), (3, 9_600_000));
        assert_eq!(next_level(&levels, totals, 800), None);
    }

    #[test]
    fn levels_are_checked() {
        let form = |discount_bps, threshold| LevelForm {
            name: " Reseller ".into(),
            discount_bps,
            basis: LevelBasis::TotalDeposits,
            threshold,
        };
        assert_eq!(check_level(form(500, 0)).unwrap().name, "Reseller");
        assert!(check_level(form(10_001, 0)).is_err());
        assert!(check_level(form(500, -1)).is_err());
    }
}
