//! The SSE body of a generation stream. Framing is `common::sse::Event`'s (contract §6); this
//! module only batches events that are ready together into one write and drops the internal
//! `meta` event unless the gateway asked for it.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::BytesMut;
use common::sse::{Event, MAX_EVENTS_PER_WRITE};
use futures::stream::BoxStream;
use futures::StreamExt;

pub use common::sse::CONTENT_TYPE;

/// A 200 streaming response with the contract's headers; `with_meta` keeps the internal
/// metadata event.
pub fn response(events: BoxStream<'static, Event>, with_meta: bool) -> Response {
    let events =
        events.filter(move |e| std::future::ready(with_meta || !matches!(e, Event::Meta(_))));
    // Events that are already produced go out in one write; a lone event is never held back.
    let body = Body::from_stream(events.ready_chunks(MAX_EVENTS_PER_WRITE).map(|batch| {
        let mut out = BytesMut::new();
        for event in &batch {
            event.encode_into(&mut out);
        }
        Ok::<_, Infallible>(out.freeze())
    }));
    common::sse::response(body)
}
