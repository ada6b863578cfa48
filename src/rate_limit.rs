//! Request rate limiting: a token bucket per signed-in user, and one per client IP
//! address for anonymous requests and refused tokens. Buckets live in this
//! process's memory: with several processes each enforces its own share, which is
//! the point of a limiter that must never block on the database.

use std::{hash::Hash, net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Buckets keyed by `K`; a limit of 0 disables it.
#[derive(Clone)]
pub struct KeyedLimiter<K: Hash + Eq + Clone>(Option<Arc<DefaultKeyedRateLimiter<K>>>);

/// Per signed-in user.
pub type UserRateLimiter = KeyedLimiter<i64>;
/// Per client IP address.
pub type IpRateLimiter = KeyedLimiter<IpAddr>;

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub fn per_minute(limit: u32) -> Self {
        KeyedLimiter(
            NonZeroU32::new(limit).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
        )
    }

    pub fn per_hour(limit: u32) -> Self {
        KeyedLimiter(
            NonZeroU32::new(limit).map(|n| Arc::new(RateLimiter::keyed(Quota::per_hour(n)))),
        )
    }

    /// `Err(seconds)` to wait when `key` is over the limit.
    pub fn check(&self, key: K) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&key).map_err(|not_until| {
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
