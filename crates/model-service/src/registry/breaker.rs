//! A circuit breaker per provider: after `threshold` failures in a row (of the classes that
//! say the provider itself is in trouble: overloaded, timeout, network, rate limited) it
//! opens for `cooldown`, during which routing skips the provider (or, with nothing else to
//! try, answers 503 at once with `Retry-After`). After the cool-down requests go through
//! again: the first success closes it, the first failure opens it for another cool-down.
//! Caller faults (bad request, context too long, policy), unknown models and bad keys do not
//! count: another request may well succeed.
//!
//! Its state is the gauge `model_provider_circuit_open{provider}` (1 while cooling down),
//! the counter `model_provider_circuit_opened_total{provider}`, and the readiness detail.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::providers::ErrorKind;

#[derive(Debug)]
pub struct Breaker {
    provider: String,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    /// After a cool-down: one more failure reopens at once.
    probing: bool,
}

/// What the breaker says about sending a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Cooling down for this much longer.
    CoolingDown(Duration),
}

/// The breaker's state for readiness and the admin page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    pub consecutive_failures: u32,
    /// Time left in the cool-down, if cooling down.
    pub cooling_down: Option<Duration>,
}

impl Breaker {
    pub fn new(provider: &str, threshold: u32, cooldown: Duration) -> Self {
        metrics::gauge!("model_provider_circuit_open", "provider" => provider.to_owned()).set(0.0);
        Self {
            provider: provider.to_owned(),
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn admit(&self) -> Admission {
        let mut s = self.lock();
        match s.open_until {
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    Admission::CoolingDown(until - now)
                } else {
                    s.open_until = None;
                    s.probing = true;
                    self.gauge(false);
                    tracing::info!(provider = %self.provider, "provider cool-down over; trying it again");
                    Admission::Allowed
                }
            }
            None => Admission::Allowed,
        }
    }

    pub fn record_success(&self) {
        let mut s = self.lock();
        if s.probing || s.consecutive_failures > 0 {
            s.consecutive_failures = 0;
            s.probing = false;
        }
    }

    /// Counts a failure of class `kind` (ignored unless it says the provider is in trouble).
    pub fn record_failure(&self, kind: ErrorKind) {
        if !counts(kind) {
            return;
        }
        let mut s = self.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if s.open_until.is_none() && (s.probing || s.consecutive_failures >= self.threshold) {
            s.open_until = Some(Instant::now() + self.cooldown);
            s.probing = false;
            self.gauge(true);
            metrics::counter!("model_provider_circuit_opened_total", "provider" => self.provider.clone())
                .increment(1);
            tracing::warn!(
                provider = %self.provider,
                failures = s.consecutive_failures,
                cooldown_secs = self.cooldown.as_secs_f64(),
                "provider keeps failing; cooling down"
            );
        }
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let s = self.lock();
        BreakerSnapshot {
            consecutive_failures: s.consecutive_failures,
            cooling_down: s
                .open_until
                .map(|until| until.saturating_duration_since(Instant::now()))
                .filter(|d| !d.is_zero()),
        }
    }

    fn gauge(&self, open: bool) {
        metrics::gauge!("model_provider_circuit_open", "provider" => self.provider.clone())
            .set(if open { 1.0 } else { 0.0 });
    }
}

fn counts(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Overloaded | ErrorKind::Timeout | ErrorKind::Network | ErrorKind::RateLimited
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_recovers_after_the_cooldown() {
        let b = Breaker::new("p", 2, Duration::from_millis(50));
        b.record_failure(ErrorKind::InvalidRequest);
        b.record_failure(ErrorKind::Overloaded);
        assert_eq!(b.admit(), Admission::Allowed);
        b.record_failure(ErrorKind::Timeout);
        assert!(matches!(b.admit(), Admission::CoolingDown(_)));
        assert!(b.snapshot().cooling_down.is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit(), Admission::Allowed);
        // One failure after the cool-down reopens at once.
        b.record_failure(ErrorKind::Network);
        assert!(matches!(b.admit(), Admission::CoolingDown(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit(), Admission::Allowed);
        b.record_success();
        b.record_failure(ErrorKind::Overloaded);
        assert_eq!(
            b.admit(),
            Admission::Allowed,
            "closed again: threshold applies"
        );
        assert_eq!(b.snapshot().consecutive_failures, 1);
    }
}
