//! `X-Request-ID`: taken from the client when it is sane, generated otherwise, returned on
//! every response, forwarded downstream, and attached to every log line of the request.
//!
//! The id lives in a task-local for the duration of the handler so that error envelopes and
//! outgoing HTTP calls can read it without threading it through every function.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Stamped by [`crate::telemetry::trace`]; named here with the id header that clients read
/// together with it (CORS exposes both).
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
    // Written into a stack buffer (not through `Display`'s formatter): the same text.
    let mut buf = uuid::Uuid::encode_buffer();
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut buf)
        .to_owned()
}

/// The request's id: the client's `X-Request-ID` when it is sane ([`accept`]), else a new
/// one. It is put back on the request (so inner layers and proxies see the same id); the
/// returned header value is for the response ([`stamp`]). Part of
/// [`crate::server::common_layers`], which also makes the id [`current`] (via [`scope`]) for
/// everything the request runs.
pub(crate) fn take(req: &mut Request) -> (String, Option<HeaderValue>) {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| accept(v))
        .map_or_else(generate, str::to_owned);
    let value = HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        req.headers_mut().insert(HEADER, value.clone());
    }
    (id, value)
}

/// Stamps the id taken by [`take`] as the response's `X-Request-ID`.
pub(crate) fn stamp(response: &mut Response, value: Option<HeaderValue>) {
    if let Some(value) = value {
        response.headers_mut().insert(HEADER, value);
    }
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
