//! Logging setup (JSON lines in production, human-readable text locally), and every request's
//! span and one log line ([`request_span`], [`finished`]; run by
//! [`crate::server::common_layers`]).

use std::time::Duration;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use clap::ValueEnum;
use tracing::Span;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable lines (coloured on a terminal).
    Pretty,
}

/// Installs the global subscriber. `filter` uses `RUST_LOG` syntax, e.g. `info,sqlx=warn`.
/// Calling it twice is harmless (the second call is ignored), which keeps tests simple.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            // OpenTelemetry export when OTEL_EXPORTER_OTLP_ENDPOINT is set (crate::tracing_otel).
            .with(crate::tracing_otel::layer())
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(true),
            )
            .try_init(),
        // Colours only on a terminal: `make run > file` gets plain text.
        LogFormat::Pretty => registry
            .with(crate::tracing_otel::layer())
            .with(
                fmt::layer()
                    .compact()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
            .try_init(),
    };
    // Already initialised (tests start several services in one process): keep the first.
    let _ = result;
}

/// For tests: silent unless `TEST_LOG` is set, as in zero-to-production.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init(LogFormat::Pretty, "debug,sqlx=warn,hyper=info,h2=info");
    }
}

/// The `request` span of one request (part of [`crate::server::common_layers`], which runs
/// the request in it): its id, method and path.
pub(crate) fn request_span(id: &str, req: &Request) -> Span {
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        // Filled only when OpenTelemetry is on (crate::tracing_otel::server_span).
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    );
    crate::tracing_otel::server_span(&span, req);
    span
}

/// The end of a request: one `request finished` line in its span with status and latency
/// (`warn` for a 5xx), and the same latency as `X-Process-Time` (e.g. `1.25ms`).
pub(crate) fn finished(span: &Span, elapsed: Duration, response: &mut Response) {
    let status = response.status();
    let ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                latency_ms = ms,
                "request finished"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                latency_ms = ms,
                "request finished"
            );
        }
    });
    if let Some(value) = process_time(elapsed) {
        response
            .headers_mut()
            .insert(crate::request_id::PROCESS_TIME, value);
    }
}

/// `X-Process-Time`: milliseconds with two decimals (`1.25ms`), written into a stack buffer
/// (no `String` per request).
fn process_time(elapsed: Duration) -> Option<HeaderValue> {
    use std::io::Write as _;
    let mut buf = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{:.2}ms", elapsed.as_secs_f64() * 1000.0).ok()?;
    let len = usize::try_from(cursor.position()).ok()?;
    HeaderValue::from_bytes(&buf[..len]).ok()
}
