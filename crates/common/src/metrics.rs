//! Prometheus metrics: one process-wide recorder, rendered at `GET /metrics`, and the layer
//! that counts every request ([`RequestLabels`]). Labels are low-cardinality by design: route
//! templates, never ids. (The dashboard's live window is gateway state, not kept here.)

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use metrics::{Label, SharedString};
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
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .as_ref()
}

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The recorder keeps every histogram sample until something folds them into the buckets:
/// a scrape does, and so must this loop, or a service nobody scrapes (`make run` without
/// Prometheus) grows by a few bytes per observation for as long as it runs. A plain thread,
/// because `install` may run before (or outside) a Tokio runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started: histogram samples accumulate until scraped");
    }
}

/// `GET /metrics` handler: Prometheus text exposition format.
pub async fn render() -> impl IntoResponse {
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The labels of one request for `http_requests_total` (by method, route template and
/// status) and `http_request_duration_seconds` (by method and route template), taken before
/// it runs ([`RequestLabels::record`] when it has). Unmatched paths share the route label
/// `unmatched`. Part of [`crate::server::common_layers`].
pub(crate) struct RequestLabels {
    method: SharedString,
    route: SharedString,
}

impl RequestLabels {
    pub(crate) fn of(req: &Request) -> Self {
        let route = req.extensions().get::<MatchedPath>().map_or(
            SharedString::const_str("unmatched"),
            |p| {
                // Shared: the two metrics' labels clone it by reference count.
                SharedString::from(std::sync::Arc::<str>::from(p.as_str()))
            },
        );
        Self {
            method: method_label(req.method()),
            route,
        }
    }

    pub(crate) fn record(self, status: StatusCode, elapsed: Duration) {
        record_request(self.method, self.route, status, elapsed);
    }
}

/// Labels without a copy when they are one of the usual values (`&'static str`).
fn method_label(method: &Method) -> SharedString {
    SharedString::const_str(match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        other => return SharedString::from(other.to_owned()),
    })
}

fn status_label(status: StatusCode) -> SharedString {
    SharedString::const_str(match status.as_u16() {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return SharedString::from(other.to_string()),
    })
}

fn record_request(
    method: SharedString,
    route: SharedString,
    status: StatusCode,
    elapsed: Duration,
) {
    let method = Label::new(SharedString::const_str("method"), method);
    let route = Label::new(SharedString::const_str("route"), route);
    metrics::histogram!(
        "http_request_duration_seconds",
        vec![method.clone(), route.clone()]
    )
    .record(elapsed.as_secs_f64());
    let status = Label::new(SharedString::const_str("status"), status_label(status));
    metrics::counter!("http_requests_total", vec![method, route, status]).increment(1);
}
