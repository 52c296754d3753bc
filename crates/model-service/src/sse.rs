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
    // Events that are already produced go out in one write; a lone event is never held back.
    // The meta event is dropped here, per batch, rather than by a filter per event.
    let body = Body::from_stream(events.ready_chunks(MAX_EVENTS_PER_WRITE).filter_map(
        move |batch| {
            let mut out = BytesMut::with_capacity(common::sse::encoded_len_hint(&batch));
            for event in &batch {
                if with_meta || !matches!(event, Event::Meta(_)) {
                    event.encode_into(&mut out);
                }
            }
            std::future::ready((!out.is_empty()).then(|| Ok::<_, Infallible>(out.freeze())))
        },
    ));
    common::sse::response(body)
}
