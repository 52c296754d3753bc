//! `POST /retrieve` (internal; the gateway forwards `POST /api/v1/retrieve`, and grounded chat
//! will call it the same way): ranked passages of the caller's files for a query.

use axum::extract::State;
use axum::Json;
use common::extract::ValidJson;
use common::schemas::{RetrieveRequest, RetrieveResponse};
use common::AppResult;

use super::jobs::CallerHeader;
use crate::knowledge::retrieve;
use crate::AppState;

#[tracing::instrument(skip_all, fields(top_k = req.top_k()))]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: CallerHeader,
    ValidJson(req): ValidJson<RetrieveRequest>,
) -> AppResult<Json<RetrieveResponse>> {
    let started = std::time::Instant::now();
    let answer = retrieve::retrieve(&state, caller.owner(), &req).await?;
    metrics::histogram!("worker_retrieve_duration_seconds").record(started.elapsed().as_secs_f64());
    Ok(Json(answer))
}
