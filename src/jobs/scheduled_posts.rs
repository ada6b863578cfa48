//! Scheduled posts: every `SCHEDULED_POSTS_INTERVAL_SECONDS`, pages and posts
//! SCHEDULED for a time that has come are marked PUBLISHED (their publication
//! date is the scheduled time). Visitors see a scheduled item from its time on
//! whether or not this has run; the job makes the stored status match, for admin
//! lists. Claims with `FOR UPDATE SKIP LOCKED`, a bounded batch per statement.

use crate::{app::AppState, domain::content::pages_posts, error::AppResult};

/// Items published per statement.
const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScheduledPostsRun {
    pub published: usize,
}

super::job!(
    ScheduledPosts,
    "scheduled posts",
    content.scheduled_posts_interval
);

pub async fn run(state: &AppState) -> AppResult<ScheduledPostsRun> {
    let mut conn = state.pool.get().await?;
    let mut run = ScheduledPostsRun::default();
    // Bounded: a run never publishes more than 100 batches.
    for _ in 0..100 {
        if state.is_stopping() {
            break;
        }
        let published = pages_posts::publish_due(&mut conn, BATCH).await?;
        run.published += published;
        if published < BATCH as usize {
            break;
        }
    }
    Ok(run)
}
