//! `POST /retrieve` (internal; the gateway forwards `POST /api/v1/retrieve`, and grounded chat
//! calls it the same way): ranked passages of the caller's files for a query.
//! `POST /knowledge/check`: whether every named file and collection is the caller's (the
//! gateway asks before it stores a chat's knowledge or grounds a request in named files).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use common::extract::ValidJson;
use common::schemas::{KnowledgeSettings, RetrieveRequest, RetrieveResponse, SKIP_MISSING_HEADER};
use common::AppResult;

use super::jobs::CallerHeader;
use crate::knowledge::retrieve;
use crate::AppState;

#[tracing::instrument(skip_all, fields(top_k = req.top_k()))]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: CallerHeader,
    headers: HeaderMap,
    ValidJson(req): ValidJson<RetrieveRequest>,
) -> AppResult<Json<RetrieveResponse>> {
    let started = std::time::Instant::now();
    let skip_missing = headers.contains_key(SKIP_MISSING_HEADER);
    let answer = retrieve::retrieve(&state, caller.owner(), &req, skip_missing).await?;
    metrics::histogram!("worker_retrieve_duration_seconds").record(started.elapsed().as_secs_f64());
    Ok(Json(answer))
}

/// 204 when every named collection and file is the caller's; 404 `COLLECTION_NOT_FOUND` /
/// `FILE_NOT_FOUND` otherwise.
#[tracing::instrument(skip_all)]
pub async fn check(
    State(state): State<AppState>,
    caller: CallerHeader,
    Json(knowledge): Json<KnowledgeSettings>,
) -> AppResult<StatusCode> {
    retrieve::check_owned(
        &state.db,
        caller.owner(),
        &knowledge.collection_ids,
        &knowledge.file_ids,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
