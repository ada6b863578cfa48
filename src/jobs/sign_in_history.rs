//! Sign-in history: every `SIGN_IN_HISTORY_CLEANUP_SECONDS`, attempts older than
//! `SIGN_IN_HISTORY_DAYS` are deleted (one statement; the index on `created_at`
//! keeps it a range scan).

use crate::{app::AppState, domain::accounts::sign_in, error::AppResult};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SignInHistoryRun {
    pub deleted: usize,
}

super::job!(
    SignInHistory,
    "sign-in history",
    accounts.history_cleanup_interval
);

pub async fn run(state: &AppState) -> AppResult<SignInHistoryRun> {
    let mut conn = state.pool.get().await?;
    let deleted = sign_in::forget_old(&mut conn, &state.config.accounts).await?;
    Ok(SignInHistoryRun { deleted })
}
