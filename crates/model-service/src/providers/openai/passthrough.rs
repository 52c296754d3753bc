//! The OpenAI-compatible provider's side of `/v1/chat/completions`: the client's request body
//! is sent as it is (only `model`, and for streams `stream_options.include_usage`, are set by
//! Sable), and the answer comes back as the provider wrote it. The same HTTP client, URL,
//! headers, timeouts and error classes as the native path.

use bytes::Bytes;
use common::schemas::openai::ChunkView;
use common::sse::SseReader;
use futures::StreamExt;
use serde_json::Value;

use common::http_client::Body;
use hyper::Response;

use super::{body_error, OpenAiProvider};
use crate::providers::{ChunkStream, ErrorKind, ProviderError};

impl OpenAiProvider {
    async fn post_json(&self, body: &Value) -> Result<Response<Body>, ProviderError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("invalid provider request: {e}"),
            )
        })?;
        self.post_chat(bytes).await
    }

    /// A whole `chat.completion`, its bytes as the provider sent them (checked to be a JSON
    /// object without an `error`).
    pub(super) async fn forward_chat(&self, body: &Value) -> Result<Bytes, ProviderError> {
        let response = self.post_json(body).await?;
        let answer = response.into_body().bytes().await.map_err(|e| {
            tracing::warn!(error = %e, "provider response broke");
            if e.is_timeout() {
                ProviderError::new(ErrorKind::Timeout, "provider timed out")
            } else {
                ProviderError::new(ErrorKind::Network, "provider response was interrupted")
            }
        })?;
        match serde_json::from_slice::<ChunkView>(&answer) {
            Ok(ChunkView {
                error: Some(error), ..
            }) if !error.is_null() => Err(body_error(&error)),
            Ok(_) => Ok(answer),
            Err(e) => {
                tracing::warn!(error = %e, "provider response did not parse");
                Err(ProviderError::new(
                    ErrorKind::Network,
                    "provider sent a response that could not be parsed",
                ))
            }
        }
    }

    /// The chunks of a streamed answer, each as the provider sent it.
    pub(super) async fn forward_chat_stream(
        &self,
        body: &Value,
    ) -> Result<ChunkStream, ProviderError> {
        let response = self.post_json(body).await?;
        Ok(chunk_stream(response))
    }
}

/// The `data:` payloads of an OpenAI-compatible SSE body, ending at `[DONE]` or the body's end;
/// an error object inside the stream ends it with its class.
fn chunk_stream(response: Response<Body>) -> ChunkStream {
    async_stream::stream! {
        let mut body = response.into_body();
        let mut events = SseReader::default();
        let mut eof = false;
        while !eof {
            match body.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(e) = events.push_bytes(chunk) {
                        tracing::warn!(error = %e, "provider stream refused");
                        yield Err(ProviderError::new(ErrorKind::Network, "provider sent an event that is too large"));
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "provider stream failed");
                    yield Err(ProviderError::new(ErrorKind::Network, "provider stream was interrupted"));
                    return;
                }
                Ok(None) => eof = true,
            }
            while let Some(event) = events.next_event(eof) {
                if event.event == b"keepalive" || event.data.is_empty() {
                    continue;
                }
                if event.data == b"[DONE]" {
                    return;
                }
                match serde_json::from_slice::<ChunkView>(event.data) {
                    Ok(ChunkView { error: Some(error), .. }) if !error.is_null() => {
                        yield Err(body_error(&error));
                        return;
                    }
                    Ok(_) => yield Ok(Bytes::copy_from_slice(event.data)),
                    Err(e) => {
                        tracing::warn!(error = %e, "provider stream chunk did not parse");
                        yield Err(ProviderError::new(
                            ErrorKind::Network,
                            "provider sent a response that could not be parsed",
                        ));
                        return;
                    }
                }
            }
        }
    }
    .boxed()
}
