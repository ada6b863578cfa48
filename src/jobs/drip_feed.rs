//! Drip-feed run by the panel: every `DRIP_FEED_INTERVAL_SECONDS`, the runs that
//! are due are placed as orders of their own (PENDING: the next dispatch round
//! sends them like any order), and drip-feed orders whose runs have all ended take
//! their final status. The rules are `domain::orders::drip`'s; claims skip rows
//! another worker holds, so any number of workers run it.

use crate::{app::AppState, domain::orders::drip, error::AppResult};

super::job!(DripFeed, "drip-feed", orders.drip_interval);

/// Runs placed and drip-feeds finished per transaction.
const BATCH: i64 = 100;

/// Places every due run, then ends the drip-feeds whose runs all ended.
pub async fn run(state: &AppState) -> AppResult<drip::DripRound> {
    let mut conn = state.pool.get().await?;
    let mut round = drip::DripRound::default();
    loop {
        let placed = drip::place_due_runs(&mut conn, BATCH).await?;
        round.runs_placed += placed;
        if placed < BATCH as usize || state.is_stopping() {
            break;
        }
    }
    loop {
        let finished = drip::finish_ended(&mut conn, BATCH).await?;
        round.finished += finished;
        if finished < BATCH as usize || state.is_stopping() {
            break;
        }
    }
    Ok(round)
}
