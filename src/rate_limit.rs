//! Per-user request rate limiting (a token bucket per signed-in user, in this
//! process's memory: with several processes each enforces its own share, which is
//! the point of a limiter that must never block on the database).

use std::{num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct UserRateLimiter(Option<Arc<DefaultKeyedRateLimiter<i64>>>);

impl UserRateLimiter {
    pub fn per_minute(limit: u32) -> Self {
        UserRateLimiter(
            NonZeroU32::new(limit).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
        )
    }

    /// `Err(seconds)` to wait when the user is over the limit.
    pub fn check(&self, user_id: i64) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&user_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs().max(1)
        })
    }

    /// Forgets idle users' buckets; called now and then so memory stays bounded.
    pub fn retain_recent(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
        }
    }
}
