//! The SSE wire format shared by the model service (which writes generation events) and the
//! gateway relay (which reads and forwards them), contract §6:
//!
//! ```text
//! data: <token as a JSON string literal>\n\n     (per token)
//! event: meta\ndata: {"model",…}\n\n             (internal: only when the gateway asks)
//! data: [DONE]\n\n                                (normal end)
//! data: [ERROR] <message on one line>\n\n         (failure; no [DONE] follows)
//! ```
//!
//! [`Event`] is the one type for these events: [`Event::encode_into`] writes them and
//! [`Event::decode`] reads them back, so the framing lives here only.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::schemas::Usage;

pub const CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

/// Most events written in one chunk when several are ready at once (by the model service and
/// by the relay alike). A lone event is never held back waiting for others.
pub const MAX_EVENTS_PER_WRITE: usize = 64;

/// The `event:` name of the internal metadata event.
const META_EVENT: &str = "meta";

/// Metadata sent just before `[DONE]`: what answered and how much. Internal to Sable — the
/// gateway asks for it (header [`crate::schemas::STREAM_META_HEADER`]) to store the answer's
/// metadata and never forwards it; public streams keep the contract's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub model: String,
    pub usage: Usage,
    pub finish_reason: Option<String>,
}

/// One event of a generation stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One token of text (framed as a JSON string literal, so newlines and spaces survive).
    Token(String),
    Meta(StreamMeta),
    Done,
    /// The failure message (may span lines; framing flattens it to one line).
    Error(String),
}

impl Event {
    /// Appends this event's bytes to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) {
        match self {
            Self::Token(token) => {
                // Straight into the buffer: no intermediate String per token (the hot path of
                // every stream). Serialising a &str cannot fail.
                out.reserve(token.len() + 10);
                out.put_slice(b"data: ");
                let _ = serde_json::to_writer((&mut *out).writer(), token);
                out.put_slice(b"\n\n");
            }
            Self::Meta(meta) => {
                let json = serde_json::to_string(meta).unwrap_or_else(|_| "{}".to_owned());
                out.put_slice(b"event: ");
                out.put_slice(META_EVENT.as_bytes());
                out.put_slice(b"\n");
                put_data(out, &json);
            }
            Self::Done => put_data(out, "[DONE]"),
            Self::Error(message) => put_data(out, &format!("[ERROR] {}", one_line(message))),
        }
    }

    /// This event's bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_into(&mut out);
        out.freeze()
    }

    /// Reads one parsed SSE event (its `event:` name and `data:`) back into an [`Event`].
    /// A token whose data is not a JSON string is kept as raw text (a lenient reader of other
    /// servers' streams); a meta event that does not parse is `None` (it is optional).
    pub fn decode(event: &str, data: &str) -> Option<Self> {
        if event == META_EVENT {
            return serde_json::from_str(data).ok().map(Self::Meta);
        }
        if data == "[DONE]" {
            return Some(Self::Done);
        }
        if let Some(message) = data.strip_prefix("[ERROR]") {
            return Some(Self::Error(one_line(message)));
        }
        Some(Self::Token(
            serde_json::from_str::<String>(data).unwrap_or_else(|_| data.to_owned()),
        ))
    }

    /// True for the events that end a stream (`[DONE]`, `[ERROR]`).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Error(_))
    }
}

fn put_data(out: &mut BytesMut, data: &str) {
    out.reserve(data.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(data.as_bytes());
    out.put_slice(b"\n\n");
}

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

/// Flattens an `[ERROR]` message so it can never break the framing (§17.2); the one helper
/// lives in [`crate::text`].
pub use crate::text::one_line;

/// One `data: [ERROR] <message>` event.
pub fn error_event(message: &str) -> Bytes {
    Event::Error(message.to_owned()).encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_json_string_literals() {
        assert_eq!(Event::Token("Hi ".into()).encode(), "data: \"Hi \"\n\n");
        assert_eq!(
            Event::Token("\"there\"\n\tx\\".into()).encode(),
            "data: \"\\\"there\\\"\\n\\tx\\\\\"\n\n"
        );
        assert_eq!(Event::Token("é ".into()).encode(), "data: \"é \"\n\n");
    }

    #[test]
    fn sentinels_are_not_json_and_errors_stay_on_one_line() {
        assert_eq!(Event::Done.encode(), "data: [DONE]\n\n");
        assert_eq!(
            &error_event("line one\r\nline two\n\nthree")[..],
            b"data: [ERROR] line one line two three\n\n"
        );
    }

    #[test]
    fn meta_is_a_named_event() {
        let meta = StreamMeta {
            model: "m".into(),
            usage: Usage::new(1, 2),
            finish_reason: Some("stop".into()),
        };
        let bytes = Event::Meta(meta.clone()).encode();
        assert!(bytes.starts_with(b"event: meta\ndata: {"), "{bytes:?}");
        assert!(bytes.ends_with(b"\n\n"));
    }

    #[test]
    fn decode_reads_back_what_encode_writes() {
        let events = [
            Event::Token("a \"b\"\n".into()),
            Event::Meta(StreamMeta {
                model: "m".into(),
                usage: Usage::new(3, 4),
                finish_reason: None,
            }),
            Event::Done,
            Event::Error("it broke".into()),
        ];
        for event in events {
            let bytes = event.encode();
            let text = std::str::from_utf8(&bytes).unwrap();
            let (name, data) = match text.strip_prefix("event: ") {
                Some(rest) => {
                    let (name, rest) = rest.split_once('\n').unwrap();
                    (name, rest)
                }
                None => ("message", text),
            };
            let data = data.strip_prefix("data: ").unwrap().trim_end_matches('\n');
            assert_eq!(Event::decode(name, data), Some(event));
        }
        assert_eq!(
            Event::decode("message", "not json"),
            Some(Event::Token("not json".into()))
        );
        assert_eq!(Event::decode("meta", "{oops"), None);
    }
}
