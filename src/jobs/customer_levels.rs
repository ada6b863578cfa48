//! Customer levels catch up with spending: every `LEVELS_RECOMPUTE_SECONDS`, the
//! users charged or refunded since two intervals ago (so a missed run loses
//! nothing) get the best level they reached, in one set-based statement. A
//! deposit raises a level at once (`domain::deposits::credit`); orders are left
//! to this job so the order path stays one statement.

use chrono::Utc;

use crate::{app::AppState, db::customer_levels::LevelRow, domain::levels, error::AppResult};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LevelsRun {
    pub checked: usize,
    pub changed: usize,
}

super::job!(CustomerLevels, "customer levels", payments.levels_interval);

pub async fn run(state: &AppState) -> AppResult<LevelsRun> {
    let window = chrono::Duration::from_std(state.config.payments.levels_interval * 2)
        .unwrap_or_else(|_| chrono::Duration::hours(1));
    let mut conn = state.pool.get().await?;
    let users = LevelRow::spenders_since(&mut conn, Utc::now() - window).await?;
    if users.is_empty() {
        return Ok(LevelsRun::default());
    }
    let changed = levels::recompute(&mut conn, &users).await?;
    Ok(LevelsRun {
        checked: users.len(),
        changed,
    })
}
