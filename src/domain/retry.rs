//! How retried deliveries back off (mail, resellers' callbacks): the first wait
//! doubled per attempt made beyond the first, never more than a cap.

use chrono::Duration;

/// The wait before attempt `attempts + 1`: `first` doubled per attempt made
/// beyond the first, never more than `max`.
pub fn backoff(first: Duration, attempts: i32, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    first.checked_mul(1 << doublings).unwrap_or(max).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let (first, max) = (Duration::seconds(30), Duration::hours(1));
        let waits: Vec<i64> = (1..=9)
            .map(|a| backoff(first, a, max).num_seconds())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(first, 0, max).num_seconds(), 30);
        assert_eq!(backoff(first, i32::MAX, max), max);
    }
}
