//! Prometheus metrics: one process-wide recorder, rendered at `GET /metrics`.
//! Labels are low-cardinality by design: route templates, never ids.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Installs the recorder once per process (tests start several services in one process).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// `GET /metrics` handler: Prometheus text exposition format.
pub async fn render() -> impl IntoResponse {
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    // The dashboard's window counts API traffic, not its own polling or static files.
    if route.starts_with("/api/") && route != "/api/v1/metrics/summary" {
        window::record_request(elapsed);
    }
}

/// A short rolling window of what this process served, for the dashboard's live charts
/// (`GET /api/v1/metrics/summary`). Prometheus remains the source for anything durable.
pub mod window {
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    /// Seconds of history kept.
    pub const SECONDS: usize = 60;
    /// Latency histogram: bucket i holds latencies below `BASE_MS * GROWTH^i`.
    const BUCKETS: usize = 48;
    const BASE_MS: f64 = 0.05;
    const GROWTH: f64 = 1.4;

    #[derive(Clone, Copy)]
    struct Second {
        at: u64,
        requests: u64,
        tokens: u64,
        latency: [u32; BUCKETS],
    }

    impl Second {
        const EMPTY: Second = Second {
            at: u64::MAX,
            requests: 0,
            tokens: 0,
            latency: [0; BUCKETS],
        };
    }

    struct Window {
        started: Instant,
        seconds: [Second; SECONDS],
    }

    fn window() -> &'static Mutex<Window> {
        static WINDOW: OnceLock<Mutex<Window>> = OnceLock::new();
        WINDOW.get_or_init(|| {
            Mutex::new(Window {
                started: Instant::now(),
                seconds: [Second::EMPTY; SECONDS],
            })
        })
    }

    fn with_current<F: FnOnce(&mut Second)>(f: F) {
        if let Ok(mut w) = window().lock() {
            let now = w.started.elapsed().as_secs();
            let slot = &mut w.seconds[(now % SECONDS as u64) as usize];
            if slot.at != now {
                *slot = Second {
                    at: now,
                    ..Second::EMPTY
                };
            }
            f(slot);
        }
    }

    fn bucket_of(ms: f64) -> usize {
        let mut bound = BASE_MS;
        for i in 0..BUCKETS {
            if ms < bound {
                return i;
            }
            bound *= GROWTH;
        }
        BUCKETS - 1
    }

    fn upper_bound_ms(bucket: usize) -> f64 {
        BASE_MS * GROWTH.powi(i32::try_from(bucket).unwrap_or(i32::MAX))
    }

    pub fn record_request(elapsed: Duration) {
        let bucket = bucket_of(elapsed.as_secs_f64() * 1000.0);
        with_current(|s| {
            s.requests += 1;
            s.latency[bucket] += 1;
        });
    }

    pub fn record_tokens(n: u64) {
        with_current(|s| s.tokens += n);
    }

    /// Rates and latency percentiles over the last `span` complete seconds.
    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    pub struct Summary {
        pub requests_per_sec: f64,
        pub tokens_per_sec: f64,
        /// Upper bounds of the histogram buckets (about 40 % resolution); `None` without data.
        pub p50_ms: Option<f64>,
        pub p99_ms: Option<f64>,
    }

    pub fn summary(span: usize) -> Summary {
        let span = span.clamp(1, SECONDS - 1);
        let Ok(w) = window().lock() else {
            return Summary::default();
        };
        let now = w.started.elapsed().as_secs();
        let (mut requests, mut tokens, mut latency) = (0u64, 0u64, [0u64; BUCKETS]);
        for s in &w.seconds {
            // The current second is still filling; count the `span` seconds before it.
            if s.at != u64::MAX && s.at < now && now - s.at <= span as u64 {
                requests += s.requests;
                tokens += s.tokens;
                for (total, n) in latency.iter_mut().zip(s.latency) {
                    *total += u64::from(n);
                }
            }
        }
        let percentile = |p: f64| -> Option<f64> {
            if requests == 0 {
                return None;
            }
            let target = ((p / 100.0) * requests as f64).ceil().max(1.0) as u64;
            let mut seen = 0;
            latency.iter().enumerate().find_map(|(i, n)| {
                seen += n;
                (seen >= target).then(|| (upper_bound_ms(i) * 100.0).round() / 100.0)
            })
        };
        Summary {
            requests_per_sec: requests as f64 / span as f64,
            tokens_per_sec: tokens as f64 / span as f64,
            p50_ms: percentile(50.0),
            p99_ms: percentile(99.0),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn buckets_are_monotonic() {
            assert_eq!(bucket_of(0.0), 0);
            assert!(bucket_of(1.0) < bucket_of(10.0));
            assert!(upper_bound_ms(bucket_of(7.0)) >= 7.0);
            assert_eq!(bucket_of(1e12), BUCKETS - 1);
        }
    }
}
