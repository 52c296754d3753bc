//! Retry policy: how many attempts a model gets and how long to wait between them.
//!
//! Exponential backoff with "equal jitter": the n-th retry waits between half and all of
//! `base × 2^(n-1)`, capped at [`MAX_BACKOFF`]. A provider's `Retry-After` (or OpenAI's
//! `retry-after-ms`) replaces the computed delay, capped at [`MAX_RETRY_AFTER`] so one
//! misbehaving provider cannot park a request for minutes.

use std::time::Duration;

use rand::Rng;

/// Largest computed backoff between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Largest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per model, the first one included (at least 1).
    pub max_attempts: u32,
    pub base_delay: Duration,
}

impl RetryPolicy {
    pub fn new(max_attempts: u32, base_delay: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base_delay,
        }
    }

    /// Whether another attempt may follow attempt number `attempt` (1-based) that failed.
    pub fn should_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The un-jittered backoff after failed attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_delay.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// The delay before the next attempt, with jitter drawn from `rng`.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        if let Some(retry_after) = retry_after {
            return retry_after.min(MAX_RETRY_AFTER);
        }
        let full = self.backoff(attempt);
        let half = full / 2;
        let jitter_ms = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.gen_range(0..=jitter_ms))
    }
}

/// Parses a `Retry-After` value given in seconds (the HTTP-date form is not supported and
/// yields `None`, so the computed backoff applies).
pub fn parse_retry_after_secs(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Parses OpenAI's `retry-after-ms` header.
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    parse_retry_after_secs(value).map(|d| d / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(3, Duration::from_millis(200))
    }

    #[test]
    fn attempts_include_the_first_try() {
        let p = policy();
        assert!(p.should_retry(1));
        assert!(p.should_retry(2));
        assert!(!p.should_retry(3));
        assert!(
            !RetryPolicy::new(0, Duration::ZERO).should_retry(1),
            "0 means one attempt"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(30), MAX_BACKOFF);
        assert_eq!(p.backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn jitter_stays_between_half_and_full_backoff() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..6 {
            for _ in 0..200 {
                let d = p.delay(attempt, None, &mut rng);
                let full = p.backoff(attempt);
                assert!(
                    d >= full / 2 && d <= full,
                    "{d:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn jitter_actually_varies() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: std::collections::HashSet<_> =
            (0..50).map(|_| p.delay(2, None, &mut rng)).collect();
        assert!(delays.len() > 5);
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2)), &mut rng),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600)), &mut rng),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_headers_parse() {
        assert_eq!(parse_retry_after_secs("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after_secs(" 0.5 "),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after_secs("Wed, 21 Oct 2015 07:28:00 GMT"),
            None
        );
        assert_eq!(parse_retry_after_secs("-1"), None);
        assert_eq!(
            parse_retry_after_ms("250"),
            Some(Duration::from_millis(250))
        );
    }
}
