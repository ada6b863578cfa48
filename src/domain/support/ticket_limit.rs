//! How many tickets one customer may open: `TICKETS_PER_USER_PER_HOUR`, counted in
//! the database (so every process shares it). Each ticket the bot cannot answer
//! alerts every admin, so this bounds what one customer can make the staff read.

use chrono::Utc;
use diesel_async::AsyncPgConnection;

use crate::{
    db::tickets::opened_since,
    error::{AppError, AppResult},
};

/// RATE_LIMITED when `user_id` opened `per_hour` tickets in the last hour; 0
/// disables the limit.
pub async fn check(conn: &mut AsyncPgConnection, user_id: i64, per_hour: u32) -> AppResult<()> {
    if per_hour == 0 {
        return Ok(());
    }
    let since = Utc::now() - chrono::Duration::hours(1);
    if opened_since(conn, user_id, since).await? >= i64::from(per_hour) {
        return Err(AppError::RateLimited);
    }
    Ok(())
}
