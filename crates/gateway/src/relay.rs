//! The SSE relay: forwards each model-service event to the client as soon as it arrives.
//!
//! The upstream body is parsed with `eventsource-stream` and re-framed exactly as the
//! contract says (§6): `data: <payload>\n\n`. Nothing is buffered beyond what is already
//! available (several ready events go out in one write). When the client disconnects, axum
//! drops this stream, which drops the upstream response and so closes the connection to the
//! model service, which then stops generating.
//!
//! Failures never produce an empty 200: an unreachable model service, an upstream error, a
//! stall longer than the idle timeout or an upstream that closes early all end the stream
//! with a single-line `data: [ERROR] <message>` event.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use common::schemas::GenerateRequest;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::Method;

use crate::conversation::{Conversation, StreamMeta};
use crate::state::AppState;

/// Most events written in one chunk when several are ready at once.
const MAX_EVENTS_PER_WRITE: usize = 64;

pub async fn stream_generation(
    state: AppState,
    request: GenerateRequest,
    conversation: Option<Conversation>,
) -> Response {
    let started = Instant::now();
    let idle_timeout = state.config.http.stream_idle_timeout();
    let mut recorder = conversation.map(|c| c.recorder(state.clone(), started));

    let upstream = state
        .model
        .send(
            state
                .model
                .streaming_request(Method::POST, "/inference/stream")
                .header(common::schemas::STREAM_META_HEADER, "1")
                .json(&request),
        )
        .await;

    let body = async_stream::stream! {
        let response = match upstream {
            Ok(response) => response,
            Err(e) => {
                let message = e.public_message();
                if let Some(mut r) = recorder.take() { r.fail(&message); r.store().await; }
                yield Ok::<Bytes, Infallible>(common::sse::error_event(&message));
                return;
            }
        };
        let mut events = response.bytes_stream().eventsource().ready_chunks(MAX_EVENTS_PER_WRITE);
        loop {
            let batch = match tokio::time::timeout(idle_timeout, events.next()).await {
                Ok(Some(batch)) => batch,
                Ok(None) => {
                    let message = "The model service ended the stream unexpectedly";
                    if let Some(mut r) = recorder.take() { r.fail(message); r.store().await; }
                    yield Ok(common::sse::error_event(message));
                    return;
                }
                Err(_) => {
                    let message = "The model service stopped responding";
                    if let Some(mut r) = recorder.take() { r.fail(message); r.store().await; }
                    yield Ok(common::sse::error_event(message));
                    return;
                }
            };
            let mut out = BytesMut::new();
            let mut finished = false;
            let mut tokens = 0u64;
            for event in batch {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::warn!(error = %e, "upstream stream broke");
                        let message = "The connection to the model service was lost";
                        if let Some(r) = recorder.as_mut() { r.fail(message); }
                        put_event(&mut out, &format!("[ERROR] {message}"));
                        finished = true;
                        break;
                    }
                };
                if event.event == "meta" {
                    if let Some(r) = recorder.as_mut() {
                        if let Ok(meta) = serde_json::from_str::<StreamMeta>(&event.data) {
                            r.meta(meta);
                        }
                    }
                    continue;
                }
                // Token payloads are JSON (no raw line breaks); only a sentinel could carry one.
                let data = if event.data.contains(['\r', '\n']) {
                    common::sse::one_line(&event.data)
                } else {
                    event.data
                };
                if data == "[DONE]" {
                    if let Some(r) = recorder.as_mut() { r.done(); }
                    put_event(&mut out, &data);
                    finished = true;
                    break;
                }
                if let Some(message) = data.strip_prefix("[ERROR]") {
                    if let Some(r) = recorder.as_mut() { r.fail(message.trim()); }
                    put_event(&mut out, &data);
                    finished = true;
                    break;
                }
                if let Some(r) = recorder.as_mut() { r.token(&data); }
                tokens += 1;
                put_event(&mut out, &data);
            }
            if tokens > 0 {
                common::metrics::window::record_tokens(tokens);
            }
            if finished {
                // Saved before the final event goes out: `[DONE]` means stored.
                if let Some(r) = recorder.take() { r.store().await; }
            }
            if !out.is_empty() {
                yield Ok(out.freeze());
            }
            if finished {
                return;
            }
        }
    };

    common::sse::response(Body::from_stream(body))
}

fn put_event(out: &mut BytesMut, data: &str) {
    out.reserve(data.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(data.as_bytes());
    out.put_slice(b"\n\n");
}
