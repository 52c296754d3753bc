//! The SSE wire format shared by the model service (which frames tokens) and the gateway
//! (which relays them), contract §6: `data: <payload>\n\n` per event, no other fields.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;

pub const CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

/// A 200 response with the contract's SSE head: event-stream content type, `no-cache`, and
/// `X-Accel-Buffering: no` so nginx does not buffer.
pub fn response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `message` with every control character (CR, LF, tab…) replaced by a space, runs of spaces
/// collapsed, trimmed: an `[ERROR]` message can never break the framing (§17.2).
pub fn one_line(message: &str) -> String {
    let replaced: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `data: [ERROR] <message>` event.
pub fn error_event(message: &str) -> Bytes {
    Bytes::from(format!("data: [ERROR] {}\n\n", one_line(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_events_stay_on_one_line() {
        assert_eq!(
            &error_event("line one\r\nline two\n\nthree")[..],
            b"data: [ERROR] line one line two three\n\n"
        );
    }
}
