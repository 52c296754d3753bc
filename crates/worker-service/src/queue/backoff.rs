//! Retry delays after transient failures: exponential in the attempt number, capped, with
//! jitter so that jobs failed by the same outage do not all come back at the same instant.

use std::time::Duration;

/// The delay before the job's next attempt after attempt `attempt` (1-based) failed:
/// `base × 2^(attempt-1)`, capped at `max`, then a uniformly random point in its upper half.
pub fn delay(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    let jitter = rand::random::<f64>();
    half + half.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(60);
        for attempt in 1..=5 {
            let full = Duration::from_millis(100 * (1 << (attempt - 1)));
            for _ in 0..50 {
                let d = delay(attempt, base, max);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn is_capped() {
        let d = delay(40, Duration::from_secs(1), Duration::from_secs(10));
        assert!(d <= Duration::from_secs(10));
        assert!(d >= Duration::from_secs(5));
    }
}
