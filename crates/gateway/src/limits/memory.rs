//! Buckets in this process: one `governor` keyed GCRA limiter per class.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::{Class, Decision, Rate};

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct MemoryBuckets {
    limiters: Vec<(Class, Rate, Limiter)>,
    clock: DefaultClock,
}

impl MemoryBuckets {
    pub fn new(rates: &[(Class, Rate)]) -> Self {
        let limiters = rates
            .iter()
            .map(|&(class, rate)| {
                let quota =
                    Quota::per_minute(nonzero(rate.per_minute)).allow_burst(nonzero(rate.burst));
                (
                    class,
                    rate,
                    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
                )
            })
            .collect();
        Self {
            limiters,
            clock: DefaultClock::default(),
        }
    }

    /// Takes `cost` cells from `key`'s bucket of `class` (cost is at most the burst).
    pub fn check(&self, class: Class, key: &str, cost: u32) -> Option<Decision> {
        let (_, rate, limiter) = self.limiters.iter().find(|(c, _, _)| *c == class)?;
        let key = key.to_owned();
        let outcome = limiter.check_key_n(&key, nonzero(cost.min(rate.burst)));
        Some(match outcome {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision::allowed(*rate, remaining, rate.interval() * (rate.burst - remaining))
            }
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision::refused(*rate, wait)
            }
            // Cost above the burst cannot happen: it is capped above.
            Err(_) => Decision::refused(*rate, rate.interval() * rate.burst),
        })
    }

    /// Forgets buckets that are full again, so memory follows active callers only.
    pub fn shrink(&self) {
        for (_, _, limiter) in &self.limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}
