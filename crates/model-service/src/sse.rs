//! SSE framing of a generation stream, exactly as contract §6 defines it:
//!
//! ```text
//! data: <token as a JSON string literal>\n\n     (per token)
//! data: [DONE]\n\n                                (normal end)
//! data: [ERROR] <message on one line>\n\n         (failure; no [DONE] follows)
//! ```
//!
//! No `event:`/`id:`/`retry:` fields and no heartbeats. Control characters in error messages
//! (newlines above all) become spaces so a message can never break the framing (§17.2).

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::generation::StreamEvent;

pub use common::sse::CONTENT_TYPE;

/// Most events written in one chunk when several are ready at once.
const MAX_EVENTS_PER_WRITE: usize = 64;

/// The bytes of one event.
pub fn frame(event: &StreamEvent) -> Bytes {
    match event {
        StreamEvent::Token(token) => {
            let json = serde_json::to_string(token).unwrap_or_else(|_| "\"\"".to_owned());
            Bytes::from(format!("data: {json}\n\n"))
        }
        StreamEvent::Meta {
            model,
            usage,
            finish_reason,
        } => {
            let json = serde_json::json!({ "model": model, "usage": usage, "finish_reason": finish_reason });
            Bytes::from(format!("event: meta\ndata: {json}\n\n"))
        }
        StreamEvent::Done => Bytes::from_static(b"data: [DONE]\n\n"),
        StreamEvent::Error(message) => common::sse::error_event(message),
    }
}

/// A 200 streaming response with the contract's headers; `with_meta` keeps the internal
/// metadata event.
pub fn response(events: BoxStream<'static, StreamEvent>, with_meta: bool) -> Response {
    let events = events
        .filter(move |e| std::future::ready(with_meta || !matches!(e, StreamEvent::Meta { .. })));
    // Events that are already produced go out in one write; a lone event is never held back.
    let body = Body::from_stream(events.ready_chunks(MAX_EVENTS_PER_WRITE).map(|batch| {
        let bytes = match batch.as_slice() {
            [one] => frame(one),
            many => {
                let mut out = bytes::BytesMut::new();
                for event in many {
                    out.extend_from_slice(&frame(event));
                }
                out.freeze()
            }
        };
        Ok::<_, Infallible>(bytes)
    }));
    common::sse::response(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_json_string_literals() {
        assert_eq!(
            frame(&StreamEvent::Token("Hi ".into())),
            "data: \"Hi \"\n\n"
        );
        assert_eq!(
            frame(&StreamEvent::Token("\"there\"\n\tx\\".into())),
            "data: \"\\\"there\\\"\\n\\tx\\\\\"\n\n"
        );
        assert_eq!(frame(&StreamEvent::Token("é ".into())), "data: \"é \"\n\n");
    }

    #[test]
    fn sentinels_are_not_json() {
        assert_eq!(frame(&StreamEvent::Done), "data: [DONE]\n\n");
        assert_eq!(
            frame(&StreamEvent::Error("line one\r\nline two\n\nthree".into())),
            "data: [ERROR] line one line two three\n\n"
        );
    }
}
