//! Request rate limiting: a token bucket per signed-in user, and one per client
//! address for anonymous requests and refused tokens. An IPv6 client is keyed on
//! its /64 (one subscriber's prefix holds billions of addresses), an IPv4-mapped
//! IPv6 address on its IPv4 address. Buckets live in this process's memory: with
//! several processes each enforces its own share, which is the point of a limiter
//! that must never block on the database.

use std::{
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// What a limiter keys on; an address becomes its bucket's key ([`address_key`]).
pub trait LimitKey: Hash + Eq + Clone {
    fn bucket(self) -> Self {
        self
    }
}

impl LimitKey for i64 {}

impl LimitKey for IpAddr {
    fn bucket(self) -> Self {
        address_key(self)
    }
}

/// The key a per-address limit counts `ip` under: IPv4 as is, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Buckets keyed by `K`; a limit of 0 disables it.
#[derive(Clone)]
pub struct KeyedLimiter<K: LimitKey> {
    buckets: Option<Arc<DefaultKeyedRateLimiter<K>>>,
    /// Keys refused lately, until when: [`KeyedLimiter::is_blocked`] reads it without
    /// taking a token.
    refused: Arc<Mutex<HashMap<K, Instant>>>,
}

/// Per signed-in user.
pub type UserRateLimiter = KeyedLimiter<i64>;
/// Per client address (an IPv6 /64).
pub type IpRateLimiter = KeyedLimiter<IpAddr>;

impl<K: LimitKey> KeyedLimiter<K> {
    fn with(quota: impl FnOnce(NonZeroU32) -> Quota, limit: u32) -> Self {
        KeyedLimiter {
            buckets: NonZeroU32::new(limit).map(|n| Arc::new(RateLimiter::keyed(quota(n)))),
            refused: Default::default(),
        }
    }

    pub fn per_minute(limit: u32) -> Self {
        Self::with(Quota::per_minute, limit)
    }

    pub fn per_hour(limit: u32) -> Self {
        Self::with(Quota::per_hour, limit)
    }

    /// Takes a token: `Err(seconds)` to wait when `key` is over the limit.
    pub fn check(&self, key: K) -> Result<(), u64> {
        let Some(limiter) = &self.buckets else {
            return Ok(());
        };
        let key = key.bucket();
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
            refused.insert(key, Instant::now() + wait);
            wait.as_secs().max(1)
        })
    }

    /// `Some(seconds)` while `key` was refused and its wait has not passed; takes
    /// no token, so a caller may ask before deciding to do costly work.
    pub fn is_blocked(&self, key: K) -> Option<u64> {
        self.buckets.as_ref()?;
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        let until = *refused.get(&key.bucket())?;
        let left = until.saturating_duration_since(Instant::now());
        (left > Duration::ZERO).then(|| left.as_secs().max(1))
    }

    /// Forgets idle users' buckets; called now and then so memory stays bounded.
    pub fn retain_recent(&self) {
        if let Some(limiter) = &self.buckets {
            limiter.retain_recent();
        }
        let now = Instant::now();
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_their_64_and_a_refusal_is_remembered() {
        let limiter = IpRateLimiter::per_minute(2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(b).is_ok());
        assert_eq!(limiter.is_blocked(a), None);
        assert!(limiter.check(b).is_err(), "one /64, one bucket");
        assert!(limiter.is_blocked(a).is_some(), "the refusal is remembered");
        assert!(limiter.check(other).is_ok(), "another /64 has its own");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            address_key("192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
