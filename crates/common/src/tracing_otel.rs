//! OpenTelemetry traces: OTLP over HTTP/protobuf, off by default.
//!
//! Switched on by the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), e.g. `http://jaeger:4318`; the SDK reads the other
//! standard variables itself: `OTEL_SERVICE_NAME` (default: the binary's name),
//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on),
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`. `OTEL_SDK_DISABLED=true`
//! or `OTEL_TRACES_EXPORTER=none` keep it off.
//!
//! Every `tracing` span at the log filter's level becomes an OpenTelemetry span (the `request`
//! span of [`crate::telemetry::trace`] is the server span of each request). The W3C
//! `traceparent` header carries the trace from service to service: [`inject`] (called by
//! [`crate::http::ServiceClient`] for every outgoing request) and [`server_span`] (called by
//! the request layer), so a generation or a job is one trace across the services.
//!
//! Spans are exported in batches from the SDK's own thread with a blocking HTTP client, so an
//! unreachable collector never slows a request; [`shutdown`] flushes what is left at exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether the environment asks for trace export.
pub fn requested() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let off = std::env::var("OTEL_SDK_DISABLED")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER")
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("none"));
    !off && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// Whether spans are being exported in this process.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The `tracing` layer that exports spans, when [`requested`] (else `None`). Installs the W3C
/// trace-context propagator. Called once by [`crate::telemetry::init`].
pub fn layer<S>(
) -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    if !requested() || PROVIDER.get().is_some() {
        return None;
    }
    // The exporter's HTTP client is built on rustls; name the provider the tree already uses.
    crate::http::install_crypto_provider();
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
    {
        Ok(exporter) => exporter,
        Err(e) => {
            // The subscriber is not installed yet: say it on stderr, once.
            eprintln!("OpenTelemetry: cannot build the OTLP exporter ({e}); traces are off");
            return None;
        }
    };
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.trim().is_empty()) {
        resource = resource.with_service_name(default_service_name());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("sable");
    if PROVIDER.set(provider).is_err() {
        return None;
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    ENABLED.store(true, Ordering::Relaxed);
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_tracked_inactivity(false)
            .with_threads(false),
    )
}

/// The service name when `OTEL_SERVICE_NAME` is unset: the executable's name (`gateway`,
/// `model-service`, `worker-service`).
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "sable".to_owned())
}

/// Exports the spans still queued and stops the exporter (call once, at exit).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
        let _ = provider.shutdown();
    }
}

/// Exports the spans queued so far (tests).
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}

/// Adds the current span's `traceparent` (and `tracestate`) to `headers` when tracing is on.
pub fn inject(headers: &mut HeaderMap) {
    if !enabled() {
        return;
    }
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut Carrier(headers))
    });
}

/// Makes `span` (the request's, not yet entered) the server span of `req`: named by method and
/// route template (never the raw path), a child of the caller's span named by `traceparent`,
/// and with its ids in the span's `trace_id` and `span_id` fields so that log lines carry them.
/// The span declares those fields and `otel.name`/`otel.kind` empty. A no-op when tracing is off.
pub fn server_span(span: &tracing::Span, req: &axum::extract::Request) {
    if !enabled() {
        return;
    }
    let name = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(
            || req.method().to_string(),
            |p| format!("{} {}", req.method(), p.as_str()),
        );
    span.record("otel.name", name.as_str());
    span.record("otel.kind", "server");
    let headers = req.headers();
    if headers.contains_key("traceparent") {
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&Reader(headers)));
        let _ = span.set_parent(parent);
    }
    let cx = span.context();
    let ids = cx.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}

/// Sets an attribute on `span`'s OpenTelemetry span (no `tracing` field needed), e.g. the model
/// and token counts of a provider call. A no-op when tracing is off.
pub fn set_attribute(
    span: &tracing::Span,
    key: &'static str,
    value: impl Into<opentelemetry::Value>,
) {
    if enabled() {
        span.set_attribute(key, value);
    }
}

/// The trace id of `cx` as W3C hex, when valid (tests).
pub fn trace_id_of(cx: &Context) -> Option<String> {
    let ids = cx.span().span_context().clone();
    ids.is_valid().then(|| ids.trace_id().to_string())
}

struct Carrier<'a>(&'a mut HeaderMap);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

struct Reader<'a>(&'a axum::http::HeaderMap);

impl Extractor for Reader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_an_endpoint_and_when_disabled() {
        // Reads the real environment: the test runner sets no OTEL_* variable.
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
            && std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
        {
            assert!(!requested());
            assert!(!enabled());
            let mut headers = HeaderMap::new();
            inject(&mut headers);
            assert!(headers.is_empty(), "nothing injected while tracing is off");
        }
    }
}
