//! The worker's one backoff helper: exponential in the attempt number, capped, with jitter so
//! that retries caused by the same outage do not all come back at the same instant. Used for
//! job retries after transient failures (`JOB_RETRY_BASE_DELAY_MS`, `JOB_RETRY_MAX_DELAY_MS`)
//! and for retrying a failed progress write.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The un-jittered delay after failed attempt `attempt` (1-based): `base × 2^(attempt-1)`,
    /// capped at `max`.
    pub fn full(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// The delay after failed attempt `attempt`: a uniformly random point in the upper half of
    /// [`full`](Self::full).
    pub fn delay(&self, attempt: u32) -> Duration {
        let full = self.full(attempt);
        let half = full / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(60));
        for attempt in 1..=5 {
            let full = Duration::from_millis(100 * (1 << (attempt - 1)));
            assert_eq!(b.full(attempt), full);
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn is_capped() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let d = b.delay(40);
        assert!(d <= Duration::from_secs(10) && d >= Duration::from_secs(5));
        assert_eq!(b.full(u32::MAX), Duration::from_secs(10));
        assert_eq!(b.full(0), Duration::from_secs(1));
    }
}
