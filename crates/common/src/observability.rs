//! Metric helpers shared by the services (the recorder and the request layer live in
//! [`crate::metrics`]):
//!
//! - [`bounded_label`]: a label value taken from input a caller controls (a model name) is kept
//!   for the first few distinct values and becomes `other` after that, so no client can grow
//!   the series count without limit;
//! - [`upstream`]: the time a request spends waiting on another Sable service, summed per
//!   request (the gateway's overhead histogram is total time minus this);
//! - [`pool_gauges`]: database pool gauges, refreshed when `/metrics` is scraped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sqlx::PgPool;

/// Distinct values one label name may take per process before new ones become `other`.
pub const MAX_LABEL_VALUES: usize = 32;

/// The value to use for label `name` (e.g. `model`): `value` itself when it is short, plain and
/// among the first [`MAX_LABEL_VALUES`] distinct values seen for `name`; `other` otherwise.
pub fn bounded_label(name: &'static str, value: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<(&'static str, String)>>> = OnceLock::new();
    let plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@".contains(&b));
    if !plain {
        return "other".to_owned();
    }
    let Ok(mut seen) = SEEN.get_or_init(Default::default).lock() else {
        return "other".to_owned();
    };
    let key = (name, value.to_owned());
    if seen.contains(&key) {
        return key.1;
    }
    if seen.iter().filter(|(n, _)| *n == name).count() >= MAX_LABEL_VALUES {
        return "other".to_owned();
    }
    seen.insert(key);
    value.to_owned()
}

/// Time spent waiting on other Sable services, summed over one request.
pub mod upstream {
    use super::*;

    tokio::task_local! {
        static WAITED: Arc<AtomicU64>;
    }

    /// Runs `fut`, returning its output and the time it spent in [`record`]ed calls (`None`
    /// when it made none).
    pub async fn measure<F: std::future::Future>(fut: F) -> (F::Output, Option<Duration>) {
        let waited = Arc::new(AtomicU64::new(u64::MAX));
        let output = WAITED.scope(waited.clone(), fut).await;
        let nanos = waited.load(Ordering::Relaxed);
        (
            output,
            (nanos != u64::MAX).then(|| Duration::from_nanos(nanos)),
        )
    }

    /// Adds `elapsed` to the request being [`measure`]d on this task, if any.
    pub fn record(elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX - 1);
        let _ = WAITED.try_with(|w| {
            let _ = w.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                let base = if cur == u64::MAX { 0 } else { cur };
                Some(base.saturating_add(nanos).min(u64::MAX - 1))
            });
        });
    }
}

/// Layer state of [`pool_gauges`]: the pool and its `pool` label (`gateway`, `worker`).
pub type PoolGauges = (PgPool, &'static str);

/// Layer (`from_fn_with_state((pool, name), pool_gauges)`): before `GET /metrics` renders,
/// publishes `db_pool_connections{pool, state="idle"|"in_use"}` and
/// `db_pool_max_connections{pool}` — a few atomic reads, fresh at every scrape, with no
/// background task and nothing done on other paths. sqlx does not expose the number of callers
/// waiting for a connection: `in_use` reaching the max is the saturation signal.
pub async fn pool_gauges(
    State((pool, name)): State<PoolGauges>,
    req: Request,
    next: Next,
) -> Response {
    publish_pool_gauges(&pool, name, &req);
    next.run(req).await
}

/// The work of [`pool_gauges`], for services that apply it inside their own layer (the
/// gateway's `layers`): the gauges when `req` is `GET /metrics`, nothing otherwise.
pub fn publish_pool_gauges(pool: &PgPool, name: &'static str, req: &Request) {
    if req.uri().path() != "/metrics" {
        return;
    }
    let size = f64::from(pool.size());
    #[allow(clippy::cast_precision_loss)]
    let idle = pool.num_idle() as f64;
    metrics::gauge!("db_pool_connections", "pool" => name, "state" => "idle").set(idle);
    metrics::gauge!("db_pool_connections", "pool" => name, "state" => "in_use")
        .set((size - idle).max(0.0));
    metrics::gauge!("db_pool_max_connections", "pool" => name)
        .set(f64::from(pool.options().get_max_connections()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_callers_are_bounded_and_plain() {
        assert_eq!(bounded_label("t_model", "llama-3.1-8b"), "llama-3.1-8b");
        assert_eq!(bounded_label("t_model", "has space"), "other");
        assert_eq!(bounded_label("t_model", &"x".repeat(65)), "other");
        for i in 0..MAX_LABEL_VALUES {
            bounded_label("t_model", &format!("m{i}"));
        }
        assert_eq!(bounded_label("t_model", "one-too-many"), "other");
        assert_eq!(bounded_label("t_model", "llama-3.1-8b"), "llama-3.1-8b");
        assert_eq!(bounded_label("t_other", "fresh"), "fresh");
    }

    #[tokio::test]
    async fn upstream_time_is_summed_per_request_and_absent_without_calls() {
        let ((), waited) = upstream::measure(async {
            upstream::record(Duration::from_millis(3));
            upstream::record(Duration::from_millis(4));
        })
        .await;
        assert_eq!(waited, Some(Duration::from_millis(7)));
        let ((), waited) = upstream::measure(async {}).await;
        assert_eq!(waited, None);
        // Outside a measured request it is a no-op.
        upstream::record(Duration::from_millis(1));
    }
}
