//! `POST /inference` (whole answer) and `POST /inference/stream` (SSE, contract §6).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use common::extract::ValidJson;
use common::schemas::{GenerateRequest, GenerateResponse};
use common::AppResult;

use crate::{sse, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inference", post(inference))
        .route("/inference/stream", post(inference_stream))
}

/// 200 with the answer; 422 for invalid input. A provider failure answers with its class
/// (`crate::providers::ErrorKind`): its status (400/404 for the caller's fault, 429 with
/// `Retry-After`, 502/503/504 for upstream faults), `code` and `retryable`.
#[tracing::instrument(skip_all, fields(model = req.requested_model().unwrap_or("default")))]
///
/// Every attempt and the fallback fit inside the caller's `X-Sable-Deadline-Ms` (capped by
/// `MODEL_REQUEST_DEADLINE_SECS`); when no attempt fits any more the answer is 504
/// `PROVIDER_TIMEOUT`.
async fn inference(
    State(state): State<AppState>,
    head: Head,
    ValidJson(req): ValidJson<GenerateRequest>,
) -> AppResult<Json<GenerateResponse>> {
    Ok(Json(
        state.generator.complete_within(&req, head.deadline).await?,
    ))
}

/// 200 and an SSE body; 422 for invalid input (before any stream starts). Failures after the
/// headers are sent arrive as one line `data: [ERROR] <CODE>: <message>`, `<CODE>` being the
/// envelope code of the failure's class (e.g. `CONTEXT_TOO_LONG`, `PROVIDER_TIMEOUT`).
#[tracing::instrument(skip_all, fields(model = req.requested_model().unwrap_or("default")))]
async fn inference_stream(
    State(state): State<AppState>,
    head: Head,
    ValidJson(req): ValidJson<GenerateRequest>,
) -> Response {
    // The caller's deadline bounds the time to the first token (retries and fallback).
    sse::response(
        state.generator.clone().stream_within(req, head.deadline),
        head.with_meta,
    )
}

/// What the handlers read from the request head, taken without copying the headers (axum's
/// `HeaderMap` extractor clones the whole map per request).
struct Head {
    /// The caller's `X-Sable-Deadline-Ms`.
    deadline: Option<Duration>,
    /// `X-Sable-Stream-Meta: 1`: the caller wants the stream's meta event.
    with_meta: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Head {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self {
            deadline: common::http::requested_deadline(&parts.headers),
            with_meta: parts
                .headers
                .get(common::schemas::STREAM_META_HEADER)
                .is_some_and(|v| v == "1"),
        })
    }
}
