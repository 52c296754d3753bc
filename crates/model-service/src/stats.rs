//! Counters of what generation did, readable in-process (for tests) and exported as
//! Prometheus counters.
//!
//! Tests (this crate's and the gateway's cross-service test) hold a clone of
//! [`crate::AppState`] and read `state.stats`: [`GenerationStats::snapshot`] for the
//! current counts, [`GenerationStats::wait_for`] to wait until a condition holds (e.g. a
//! cancelled stream).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Streams opened by `POST /inference/stream`.
    pub streams_started: u64,
    /// Streams that ended with `[DONE]`.
    pub streams_completed: u64,
    /// Streams that ended with `[ERROR]`.
    pub streams_failed: u64,
    /// Streams dropped before their end because the client went away.
    pub streams_cancelled: u64,
    /// Tokens taken from providers (streamed deltas plus whole-completion tokens).
    pub tokens_generated: u64,
    /// Whole completions requested by `POST /inference`.
    pub completions_started: u64,
    /// Whole completions abandoned because the caller went away before the answer (e.g. the
    /// worker cancelled the job); the provider request was dropped with them.
    pub completions_cancelled: u64,
}

#[derive(Debug, Default)]
pub struct GenerationStats {
    streams_started: AtomicU64,
    streams_completed: AtomicU64,
    streams_failed: AtomicU64,
    streams_cancelled: AtomicU64,
    tokens_generated: AtomicU64,
    completions_started: AtomicU64,
    completions_cancelled: AtomicU64,
    changed: Notify,
}

impl GenerationStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            streams_started: self.streams_started.load(Ordering::Acquire),
            streams_completed: self.streams_completed.load(Ordering::Acquire),
            streams_failed: self.streams_failed.load(Ordering::Acquire),
            streams_cancelled: self.streams_cancelled.load(Ordering::Acquire),
            tokens_generated: self.tokens_generated.load(Ordering::Acquire),
            completions_started: self.completions_started.load(Ordering::Acquire),
            completions_cancelled: self.completions_cancelled.load(Ordering::Acquire),
        }
    }

    /// Waits until `condition` holds for a snapshot, or `timeout` passes. Returns the last
    /// snapshot either way: `Ok` when the condition held, `Err` on timeout.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        condition: impl Fn(&StatsSnapshot) -> bool,
    ) -> Result<StatsSnapshot, StatsSnapshot> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            let snapshot = self.snapshot();
            if condition(&snapshot) {
                return Ok(snapshot);
            }
            // Token counts change without a notification (too frequent); re-check often.
            let wake = (tokio::time::Instant::now() + Duration::from_millis(20)).min(deadline);
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                let snapshot = self.snapshot();
                return if condition(&snapshot) {
                    Ok(snapshot)
                } else {
                    Err(snapshot)
                };
            }
        }
    }

    pub(crate) fn stream_started(&self) {
        self.streams_started.fetch_add(1, Ordering::AcqRel);
        metrics::counter!("model_streams_started_total").increment(1);
        self.changed.notify_waiters();
    }

    pub(crate) fn stream_completed(&self) {
        self.streams_completed.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn stream_failed(&self) {
        self.streams_failed.fetch_add(1, Ordering::AcqRel);
        metrics::counter!("model_streams_failed_total").increment(1);
        self.changed.notify_waiters();
    }

    pub(crate) fn stream_cancelled(&self) {
        self.streams_cancelled.fetch_add(1, Ordering::AcqRel);
        metrics::counter!("model_stream_cancelled_total").increment(1);
        self.changed.notify_waiters();
    }

    pub(crate) fn completion_started(&self) {
        self.completions_started.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(crate) fn completion_cancelled(&self) {
        self.completions_cancelled.fetch_add(1, Ordering::AcqRel);
        metrics::counter!("model_completions_cancelled_total").increment(1);
        self.changed.notify_waiters();
    }

    pub(crate) fn tokens(&self, n: u64) {
        self.tokens_generated.fetch_add(n, Ordering::AcqRel);
        metrics::counter!("model_tokens_generated_total").increment(n);
    }

    /// [`tokens`](Self::tokens) for one stream: the Prometheus counter is looked up once (a
    /// hash of its name and a registry read) instead of once per token.
    pub(crate) fn token_counter(self: &Arc<Self>) -> TokenCounter {
        TokenCounter {
            stats: Arc::clone(self),
            metric: metrics::counter!("model_tokens_generated_total"),
        }
    }
}

/// Counts one stream's tokens (see [`GenerationStats::token_counter`]).
pub(crate) struct TokenCounter {
    stats: Arc<GenerationStats>,
    metric: metrics::Counter,
}

impl TokenCounter {
    pub(crate) fn add(&self, n: u64) {
        self.stats.tokens_generated.fetch_add(n, Ordering::AcqRel);
        self.metric.increment(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn wait_for_sees_changes_and_times_out() {
        let stats = Arc::new(GenerationStats::default());
        let s = stats.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            s.stream_cancelled();
        });
        let seen = stats
            .wait_for(Duration::from_secs(5), |s| s.streams_cancelled == 1)
            .await
            .unwrap();
        assert_eq!(seen.streams_cancelled, 1);
        let timed_out = stats
            .wait_for(Duration::from_millis(50), |s| s.streams_cancelled == 2)
            .await;
        assert!(timed_out.is_err());
    }
}
