//! `X-Request-ID`: taken from the client when it is sane, generated otherwise, returned on
//! every response, forwarded downstream, and attached to every log line of the request.
//!
//! The id lives in a task-local for the duration of the handler so that error envelopes and
//! outgoing HTTP calls can read it without threading it through every function.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
pub const PROCESS_TIME: HeaderName = HeaderName::from_static("x-process-time");

/// Longest client-supplied id we accept; longer or odd ones are replaced (contract §17.2:
/// an unvalidated echo is a header/log injection vector).
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id (for background work that continues a
/// request, such as storing a streamed answer).
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// A client id is kept when it is short and made of visible, header-safe characters.
pub fn accept(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= MAX_LEN
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

pub fn generate() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Middleware: assigns the id, logs one line per request, records metrics, and stamps
/// `X-Request-ID` and `X-Process-Time` on the response.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| accept(v))
        .map_or_else(generate, str::to_owned);
    if let Ok(value) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(HEADER, value);
    }
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);

    let mut response = CURRENT
        .scope(
            id.clone(),
            async {
                let response = next.run(req).await;
                crate::error::envelope_plain_text_errors(response).await
            }
            .instrument(span.clone()),
        )
        .await;

    let elapsed = started.elapsed();
    let status = response.status();
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
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
    crate::metrics::record_request(method.as_str(), &route, status.as_u16(), elapsed);

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HEADER, value);
    }
    let process_time = format!("{:.2}ms", elapsed.as_secs_f64() * 1000.0);
    if let Ok(value) = HeaderValue::from_str(&process_time) {
        headers.insert(PROCESS_TIME, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_odd_ones_replaced() {
        assert!(accept("test-123"));
        assert!(accept("3f2a0c1e-aaaa-bbbb-cccc-000000000000"));
        assert!(!accept(""));
        assert!(!accept("bad id with spaces"));
        assert!(!accept("line\nbreak"));
        assert!(!accept(&"x".repeat(129)));
    }

    #[tokio::test]
    async fn current_is_visible_inside_scope_only() {
        assert_eq!(current(), None);
        let seen = scope("abc".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("abc"));
    }
}
