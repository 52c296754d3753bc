//! Prometheus metrics: one process-wide recorder, rendered at `GET /metrics`, and the layer
//! that counts every request ([`RequestLabels`]). Labels are low-cardinality by design: route
//! templates, never ids. (The dashboard's live window is gateway state, not kept here.)

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, PoisonError, RwLock};
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
    method: &'static str,
    /// Shares the route template with the request's extension (a reference count).
    route: Option<MatchedPath>,
}

impl RequestLabels {
    pub(crate) fn of(req: &Request) -> Self {
        Self {
            method: method_label(req.method()),
            route: req.extensions().get::<MatchedPath>().cloned(),
        }
    }

    pub(crate) fn record(self, status: StatusCode, elapsed: Duration) {
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        RequestSeries::record(self.method, route, status, elapsed);
    }
}

/// The two series of one (route template, method, status), looked up once instead of per
/// request: `metrics::counter!`/`histogram!` with labels build the key (a vector of labels),
/// hash it and search the recorder's registry each time, ~2,300 instructions per request for
/// the same few series (docs/benchmarks.md, "Performance II"). The series, their names and
/// labels are unchanged; a handle records into the very series the macro would find.
struct RequestSeries {
    method: &'static str,
    status: StatusCode,
    duration: metrics::Histogram,
    requests: metrics::Counter,
}

/// By route template (or `unmatched`), then the few (method, status) pairs seen on it. As
/// many entries as the recorder has series, no more.
type SeriesByRoute = HashMap<Box<str>, Vec<RequestSeries>>;

static SERIES: LazyLock<RwLock<SeriesByRoute>> = LazyLock::new(RwLock::default);

impl RequestSeries {
    fn record(method: &'static str, route: &str, status: StatusCode, elapsed: Duration) {
        // Handles are only kept once our recorder is the process's (it stays so): a handle
        // made before would record nowhere for good.
        if !matches!(HANDLE.get(), Some(Some(_))) {
            Self::new(method, route, status).observe(elapsed);
            return;
        }
        let known = SERIES.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = known
            .get(route)
            .and_then(|on| Self::find(on, method, status))
        {
            series.observe(elapsed);
            return;
        }
        drop(known);
        // The series' first request (or a second one that lost the race for the write lock).
        let mut known = SERIES.write().unwrap_or_else(PoisonError::into_inner);
        let on_route = known.entry(route.into()).or_default();
        if let Some(series) = Self::find(on_route, method, status) {
            series.observe(elapsed);
            return;
        }
        let series = Self::new(method, route, status);
        series.observe(elapsed);
        on_route.push(series);
    }

    fn find<'a>(on_route: &'a [Self], method: &str, status: StatusCode) -> Option<&'a Self> {
        on_route
            .iter()
            .find(|s| s.status == status && s.method == method)
    }

    fn new(method: &'static str, route: &str, status: StatusCode) -> Self {
        let route = match route {
            "unmatched" => SharedString::const_str("unmatched"),
            route => SharedString::from(route.to_owned()),
        };
        let method_label = Label::new(
            SharedString::const_str("method"),
            SharedString::const_str(method),
        );
        let route = Label::new(SharedString::const_str("route"), route);
        let duration = metrics::histogram!(
            "http_request_duration_seconds",
            vec![method_label.clone(), route.clone()]
        );
        let status_label = Label::new(SharedString::const_str("status"), status_label(status));
        let requests = metrics::counter!(
            "http_requests_total",
            vec![method_label, route, status_label]
        );
        Self {
            method,
            status,
            duration,
            requests,
        }
    }

    fn observe(&self, elapsed: Duration) {
        self.duration.record(elapsed.as_secs_f64());
        self.requests.increment(1);
    }
}

/// Labels without a copy when they are one of the usual values (`&'static str`).
/// The standard methods by name; any other (HTTP allows methods of any name) is `OTHER`, so a
/// client inventing methods cannot add series (and kept handles) without end.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "OTHER",
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The value of the series whose exposition line starts with `series` (name and labels).
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    /// Kept handles record into the series the macros would find: counts per (route, method,
    /// status), durations per (route, method), `unmatched` and unusual methods included.
    #[test]
    fn request_series_count_as_the_labelled_macros_do() {
        let handle = install().unwrap();
        let ms = Duration::from_millis(1);
        let route = "/metrics-test/{id}";
        for status in [StatusCode::OK, StatusCode::OK, StatusCode::NOT_FOUND] {
            RequestSeries::record("GET", route, status, ms);
        }
        // Invented methods share one label: their series cannot grow without end.
        for name in ["PURGE", "X-1", "X-2"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            RequestSeries::record(
                method_label(&method),
                "unmatched",
                StatusCode::IM_A_TEAPOT,
                ms,
            );
        }
        let text = handle.render();
        let requests = |method: &str, route: &str, status: &str| {
            let series = format!(
                r#"http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#
            );
            value(&text, &series)
        };
        assert_eq!(requests("GET", route, "200"), Some(2.0), "{text}");
        assert_eq!(requests("GET", route, "404"), Some(1.0), "{text}");
        assert_eq!(requests("OTHER", "unmatched", "418"), Some(3.0), "{text}");
        assert_eq!(requests("PURGE", "unmatched", "418"), None, "{text}");
        let durations =
            format!(r#"http_request_duration_seconds_count{{method="GET",route="{route}"}}"#);
        assert_eq!(value(&text, &durations), Some(3.0), "{text}");
    }
}
