//! The dashboard's live figures (`GET /api/v1/metrics/summary`): a short rolling window of the
//! API traffic, streamed tokens, times to first token, and the retrievals and passages of
//! grounded answers (Knowledge II) this gateway served. Prometheus
//! (`GET /metrics`) remains the source for anything durable; this is gateway state, held in
//! [`crate::AppState`].
//!
//! Recording is on the path of every API request, so it takes no lock: each second of the
//! window is a slot of atomic counters, and the first request of a new second claims the slot
//! (one compare-and-swap) and clears it; a request that meets a slot being cleared waits the
//! few dozen stores that takes (a bounded spin: if the clearing thread is descheduled, the
//! sample is dropped, which a dashboard figure can afford). Reading (a summary and its series)
//! walks every slot once: a few tens of thousands of relaxed loads per poll.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request};

/// Seconds of history kept: the series' five minutes plus the second still filling.
pub const SECONDS: usize = 320;
/// Latency histograms: bucket i holds durations below `BASE_MS * GROWTH^i`.
const BUCKETS: usize = 48;
const BASE_MS: f64 = 0.05;
const GROWTH: f64 = 1.4;
/// The route whose polling is not counted (the dashboard must not measure itself).
const SUMMARY_ROUTE: &str = "/api/v1/metrics/summary";

/// `at` of a slot that never held a second.
const EMPTY: u64 = u64::MAX;
/// `at` of a slot being cleared for a new second.
const CLEARING: u64 = u64::MAX - 1;
/// How long a request waits for another to finish clearing a slot before dropping its sample.
const CLEARING_SPINS: usize = 10_000;

struct Second {
    /// Which second (since `started`) the counters belong to, or [`EMPTY`] / [`CLEARING`].
    at: AtomicU64,
    requests: AtomicU64,
    tokens: AtomicU64,
    latency: [AtomicU32; BUCKETS],
    /// Times to first token of the streams whose first token was relayed in this second.
    ttft: [AtomicU32; BUCKETS],
    /// Latencies of the retrievals (knowledge searches) that ended in this second.
    retrieval: [AtomicU32; BUCKETS],
    /// Grounded answers, and the passages they were given.
    grounded: AtomicU64,
    passages: AtomicU64,
}

impl Second {
    fn new() -> Self {
        Self {
            at: AtomicU64::new(EMPTY),
            requests: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
            ttft: std::array::from_fn(|_| AtomicU32::new(0)),
            retrieval: std::array::from_fn(|_| AtomicU32::new(0)),
            grounded: AtomicU64::new(0),
            passages: AtomicU64::new(0),
        }
    }
}

/// Rates and percentiles over some complete seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub requests_per_sec: f64,
    pub tokens_per_sec: f64,
    /// API latency. Upper bounds of the histogram buckets (about 40 % resolution); `None`
    /// without data.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Time to first token of relayed streams, as above.
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Retrieval latency, as above.
    pub retrieval_p50_ms: Option<f64>,
    pub retrieval_p99_ms: Option<f64>,
    /// Passages given per grounded answer (mean); `None` without grounded answers.
    pub passages_per_answer: Option<f64>,
}

/// One interval of a [`MetricsWindow::series`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix time (seconds) at which the interval ended.
    pub end_unix: u64,
    pub summary: Summary,
}

/// Counters summed over some seconds, before they become rates and percentiles.
struct Totals {
    requests: u64,
    tokens: u64,
    latency: [u64; BUCKETS],
    ttft: [u64; BUCKETS],
    retrieval: [u64; BUCKETS],
    grounded: u64,
    passages: u64,
}

impl Totals {
    fn new() -> Self {
        Self {
            requests: 0,
            tokens: 0,
            latency: [0; BUCKETS],
            ttft: [0; BUCKETS],
            retrieval: [0; BUCKETS],
            grounded: 0,
            passages: 0,
        }
    }

    fn add(&mut self, s: &Second) {
        self.requests += s.requests.load(Ordering::Relaxed);
        self.tokens += s.tokens.load(Ordering::Relaxed);
        for (total, n) in self.latency.iter_mut().zip(&s.latency) {
            *total += u64::from(n.load(Ordering::Relaxed));
        }
        for (total, n) in self.ttft.iter_mut().zip(&s.ttft) {
            *total += u64::from(n.load(Ordering::Relaxed));
        }
        for (total, n) in self.retrieval.iter_mut().zip(&s.retrieval) {
            *total += u64::from(n.load(Ordering::Relaxed));
        }
        self.grounded += s.grounded.load(Ordering::Relaxed);
        self.passages += s.passages.load(Ordering::Relaxed);
    }

    fn summary(&self, seconds: usize) -> Summary {
        let seconds = seconds.max(1) as f64;
        Summary {
            requests_per_sec: self.requests as f64 / seconds,
            tokens_per_sec: self.tokens as f64 / seconds,
            p50_ms: percentile(&self.latency, 50.0),
            p99_ms: percentile(&self.latency, 99.0),
            ttft_p50_ms: percentile(&self.ttft, 50.0),
            ttft_p99_ms: percentile(&self.ttft, 99.0),
            retrieval_p50_ms: percentile(&self.retrieval, 50.0),
            retrieval_p99_ms: percentile(&self.retrieval, 99.0),
            passages_per_answer: (self.grounded > 0)
                .then(|| ((self.passages as f64 / self.grounded as f64) * 100.0).round() / 100.0),
        }
    }
}

/// The upper bound (ms, two decimals) of the bucket holding the `p`th percentile.
fn percentile(histogram: &[u64; BUCKETS], p: f64) -> Option<f64> {
    let counted: u64 = histogram.iter().sum();
    if counted == 0 {
        return None;
    }
    let target = ((p / 100.0) * counted as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    histogram.iter().enumerate().find_map(|(i, n)| {
        seen += n;
        (seen >= target).then(|| (upper_bound_ms(i) * 100.0).round() / 100.0)
    })
}

/// A lock-free rolling window of per-second counters.
pub struct MetricsWindow {
    started: Instant,
    /// Unix time of `started`, to date the series' intervals.
    started_unix: u64,
    seconds: Box<[Second]>,
}

impl Default for MetricsWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MetricsWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsWindow")
            .field("seconds", &SECONDS)
            .finish_non_exhaustive()
    }
}

impl MetricsWindow {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            seconds: (0..SECONDS).map(|_| Second::new()).collect(),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Counts one API request that took `elapsed`.
    pub fn record_request(&self, elapsed: Duration) {
        self.record_request_at(self.now(), elapsed);
    }

    /// Counts `n` streamed tokens relayed to a client.
    pub fn record_tokens(&self, n: u64) {
        self.record_tokens_at(self.now(), n);
    }

    /// Records one relayed stream's time to first token (the observation that also goes to
    /// the `gateway_time_to_first_token_seconds` histogram).
    pub fn record_ttft(&self, ttft: Duration) {
        self.record_ttft_at(self.now(), ttft);
    }

    /// Records one retrieval's latency (also the `gateway_retrieval_duration_seconds` histogram).
    pub fn record_retrieval(&self, elapsed: Duration) {
        let bucket = bucket_of(elapsed.as_secs_f64() * 1000.0);
        if let Some(slot) = self.slot(self.now()) {
            slot.retrieval[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one grounded answer given `passages` passages (also
    /// `gateway_grounding_passages_total`).
    pub fn record_grounding(&self, passages: u64) {
        self.record_grounding_at(self.now(), passages);
    }

    fn record_grounding_at(&self, now: u64, passages: u64) {
        if let Some(slot) = self.slot(now) {
            slot.grounded.fetch_add(1, Ordering::Relaxed);
            slot.passages.fetch_add(passages, Ordering::Relaxed);
        }
    }

    /// Rates and percentiles over the last `span` complete seconds (the current one is still
    /// filling and is left out).
    pub fn summary(&self, span: usize) -> Summary {
        self.summary_at(self.now(), span)
    }

    /// The last `count` complete intervals of `interval` seconds, oldest first. Intervals are
    /// aligned to multiples of `interval` since start, so a point keeps its figures from one
    /// poll to the next; intervals before the gateway started are left out.
    pub fn series(&self, interval: usize, count: usize) -> Vec<Point> {
        self.series_at(self.now(), interval, count)
    }

    fn record_request_at(&self, now: u64, elapsed: Duration) {
        let bucket = bucket_of(elapsed.as_secs_f64() * 1000.0);
        if let Some(slot) = self.slot(now) {
            slot.requests.fetch_add(1, Ordering::Relaxed);
            slot.latency[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record_tokens_at(&self, now: u64, n: u64) {
        if let Some(slot) = self.slot(now) {
            slot.tokens.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn record_ttft_at(&self, now: u64, ttft: Duration) {
        let bucket = bucket_of(ttft.as_secs_f64() * 1000.0);
        if let Some(slot) = self.slot(now) {
            slot.ttft[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The slot of second `now`, cleared first if it still holds an older second; `None` while
    /// another thread is clearing it.
    fn slot(&self, now: u64) -> Option<&Second> {
        let index = usize::try_from(now % SECONDS as u64).unwrap_or(0);
        let slot = &self.seconds[index];
        let at = slot.at.load(Ordering::Acquire);
        if at == now {
            return Some(slot);
        }
        if at == CLEARING {
            return Self::when_cleared(slot, now);
        }
        if at != EMPTY && at > now {
            return None;
        }
        if slot
            .at
            .compare_exchange(at, CLEARING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Another request claimed it first.
            return Self::when_cleared(slot, now);
        }
        slot.requests.store(0, Ordering::Relaxed);
        slot.tokens.store(0, Ordering::Relaxed);
        slot.grounded.store(0, Ordering::Relaxed);
        slot.passages.store(0, Ordering::Relaxed);
        for bucket in slot.latency.iter().chain(&slot.ttft).chain(&slot.retrieval) {
            bucket.store(0, Ordering::Relaxed);
        }
        slot.at.store(now, Ordering::Release);
        Some(slot)
    }

    /// Waits (briefly, without blocking) for another thread to finish clearing `slot` for
    /// second `now`; clearing is a few dozen stores, so this almost never gives up.
    fn when_cleared(slot: &Second, now: u64) -> Option<&Second> {
        for _ in 0..CLEARING_SPINS {
            match slot.at.load(Ordering::Acquire) {
                CLEARING => std::hint::spin_loop(),
                at => return (at == now).then_some(slot),
            }
        }
        None
    }

    /// Seconds `[from, to)` summed; `to` is at most `now` (the second still filling is never
    /// included by the callers).
    fn totals(&self, from: u64, to: u64) -> Totals {
        let mut totals = Totals::new();
        for s in self.seconds.iter() {
            let at = s.at.load(Ordering::Acquire);
            if (from..to).contains(&at) {
                totals.add(s);
            }
        }
        totals
    }

    fn summary_at(&self, now: u64, span: usize) -> Summary {
        let span = span.clamp(1, SECONDS - 1);
        self.totals(now.saturating_sub(span as u64), now)
            .summary(span)
    }

    fn series_at(&self, now: u64, interval: usize, count: usize) -> Vec<Point> {
        let step = interval.max(1) as u64;
        let last_end = now / step * step;
        // Never further back than the slots reach (the current second holds one of them), nor
        // before the start.
        let count = (count as u64)
            .min((SECONDS as u64 - 1) / step)
            .min(last_end / step);
        let first_start = last_end - count * step;
        // One pass over the slots, each added to its interval.
        let mut totals: Vec<Totals> = (0..count).map(|_| Totals::new()).collect();
        for s in self.seconds.iter() {
            let at = s.at.load(Ordering::Acquire);
            if (first_start..last_end).contains(&at) {
                if let Some(t) = usize::try_from((at - first_start) / step)
                    .ok()
                    .and_then(|i| totals.get_mut(i))
                {
                    t.add(s);
                }
            }
        }
        totals
            .iter()
            .zip(1u64..)
            .map(|(t, k)| Point {
                end_unix: self.started_unix + first_start + k * step,
                summary: t.summary(interval),
            })
            .collect()
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

/// Whether a request is counted in the window (by [`crate::layers`]): every request to an
/// `/api/` route except the summary's own polling. Static files, health checks and unmatched
/// paths are not counted.
pub fn counts(req: &Request) -> bool {
    req.extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str().starts_with("/api/") && p.as_str() != SUMMARY_ROUTE)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    impl MetricsWindow {
        fn total_requests(&self) -> u64 {
            self.seconds
                .iter()
                .map(|s| s.requests.load(Ordering::Relaxed))
                .sum()
        }
    }

    #[tokio::test]
    async fn api_routes_count_but_not_the_summary_health_or_unmatched_paths() {
        use axum::body::Body;
        use axum::routing::get;
        use tower::ServiceExt;

        let window = Arc::new(MetricsWindow::new());
        // As `crate::layers` applies it: after routing, so the route template is known.
        let counting = {
            let window = window.clone();
            move |req: Request, next: axum::middleware::Next| {
                let window = window.clone();
                async move {
                    let counted = counts(&req);
                    let response = next.run(req).await;
                    if counted {
                        window.record_request(Duration::ZERO);
                    }
                    response
                }
            }
        };
        let app = axum::Router::new()
            .route("/api/v1/things/{id}", get(|| async { "thing" }))
            .route(SUMMARY_ROUTE, get(|| async { "summary" }))
            .route("/health", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(counting));
        for path in [
            "/api/v1/things/1",
            "/api/v1/things/2",
            SUMMARY_ROUTE,
            "/health",
            "/api/v1/nope",
        ] {
            let request = Request::builder().uri(path).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        assert_eq!(window.total_requests(), 2);
    }

    #[test]
    fn buckets_are_monotonic() {
        assert_eq!(bucket_of(0.0), 0);
        assert!(bucket_of(1.0) < bucket_of(10.0));
        assert!(upper_bound_ms(bucket_of(7.0)) >= 7.0);
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
    }

    #[test]
    fn summary_counts_complete_seconds_within_the_span() {
        let w = MetricsWindow::new();
        for _ in 0..10 {
            w.record_request_at(5, Duration::from_millis(2));
        }
        w.record_request_at(6, Duration::from_millis(100));
        w.record_tokens_at(6, 40);
        w.record_request_at(7, Duration::from_millis(1)); // still filling at now = 7

        let s = w.summary_at(7, 2);
        assert_eq!(s.requests_per_sec, 11.0 / 2.0);
        assert_eq!(s.tokens_per_sec, 20.0);
        let p50 = s.p50_ms.unwrap();
        assert!((2.0..3.0).contains(&p50), "p50 {p50}");
        assert!(s.p99_ms.unwrap() >= 100.0);

        // Only second 6 is within a span of 1.
        assert_eq!(w.summary_at(7, 1).requests_per_sec, 1.0);
        assert_eq!(w.summary_at(7, 1).tokens_per_sec, 40.0);
    }

    #[test]
    fn a_slot_is_cleared_when_its_second_comes_round_again() {
        let w = MetricsWindow::new();
        w.record_request_at(3, Duration::from_millis(1));
        w.record_request_at(3 + SECONDS as u64, Duration::from_millis(1));
        let s = w.summary_at(4 + SECONDS as u64, 1);
        assert_eq!(s.requests_per_sec, 1.0);
        // The old second is gone, not added to the new one.
        assert_eq!(w.summary_at(4, 1).requests_per_sec, 0.0);
    }

    #[test]
    fn ttft_percentiles_are_separate_from_request_latency() {
        let w = MetricsWindow::new();
        for _ in 0..99 {
            w.record_ttft_at(5, Duration::from_millis(60));
        }
        w.record_ttft_at(5, Duration::from_millis(900));
        w.record_request_at(5, Duration::from_millis(1));

        let s = w.summary_at(6, 1);
        let p50 = s.ttft_p50_ms.unwrap();
        assert!((60.0..90.0).contains(&p50), "ttft p50 {p50}");
        let p99 = s.ttft_p99_ms.unwrap();
        assert!(
            (60.0..90.0).contains(&p99),
            "ttft p99 {p99}: 99 of 100 were 60 ms"
        );
        assert!(
            s.p50_ms.unwrap() < 2.0,
            "request latency is its own histogram"
        );
        // The slow one is the maximum: above the 99th of 100, below nothing.
        assert!(percentile(&w.totals(5, 6).ttft, 100.0).unwrap() >= 900.0);
        // A window without streams has no TTFT, even with requests.
        w.record_request_at(7, Duration::from_millis(1));
        assert_eq!(w.summary_at(8, 1).ttft_p50_ms, None);
    }

    #[test]
    fn the_series_has_aligned_complete_intervals_oldest_first() {
        let w = MetricsWindow::new();
        // Interval [10, 15): 10 requests, 50 tokens, one stream.
        for _ in 0..10 {
            w.record_request_at(12, Duration::from_millis(3));
        }
        w.record_tokens_at(14, 50);
        w.record_ttft_at(14, Duration::from_millis(100));
        // Interval [15, 20) is empty; second 21 is in the interval still filling at now = 23.
        w.record_request_at(21, Duration::from_millis(3));

        let series = w.series_at(23, 5, 3);
        assert_eq!(series.len(), 3);
        let ends: Vec<u64> = series.iter().map(|p| p.end_unix - w.started_unix).collect();
        assert_eq!(ends, [10, 15, 20]);
        assert_eq!(series[0].summary, w.totals(5, 10).summary(5));
        let busy = series[1].summary;
        assert_eq!(busy.requests_per_sec, 2.0);
        assert_eq!(busy.tokens_per_sec, 10.0);
        assert!(busy.ttft_p50_ms.unwrap() >= 100.0);
        let idle = series[2].summary;
        assert_eq!(idle, Summary::default());
        // Polled a second later, the points are the same (aligned, not sliding).
        assert_eq!(w.series_at(24, 5, 3), series);
    }

    #[test]
    fn the_series_starts_at_the_start_and_stops_where_the_slots_end() {
        let w = MetricsWindow::new();
        assert!(w.series_at(4, 5, 60).is_empty(), "no complete interval yet");
        assert_eq!(w.series_at(12, 5, 60).len(), 2);
        assert_eq!(w.series_at(10_000, 5, 1000).len(), (SECONDS - 1) / 5);
        assert_eq!(w.series_at(10_000, 5, 60).len(), 60);
    }

    #[test]
    fn grounded_answers_give_passages_per_answer() {
        let w = MetricsWindow::new();
        w.record_grounding_at(3, 4);
        w.record_grounding_at(3, 1);
        w.record_grounding_at(4, 0);
        let s = w.summary_at(5, 2);
        assert_eq!(s.passages_per_answer, Some(1.67));
        assert_eq!(s.retrieval_p50_ms, None, "no retrieval recorded");
        assert_eq!(w.summary_at(9, 2).passages_per_answer, None);
    }

    #[test]
    fn no_traffic_means_no_percentiles() {
        let s = MetricsWindow::new().summary_at(10, 5);
        assert_eq!(s, Summary::default());
    }

    #[test]
    fn concurrent_recording_loses_nothing_within_a_second() {
        let w = Arc::new(MetricsWindow::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        w.record_request_at(1, Duration::from_millis(1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.summary_at(2, 1).requests_per_sec, 4000.0);
    }
}
