//! Collections ("knowledge bases"), internal; the gateway forwards `/api/v1/collections`:
//! `POST /collections`, `GET /collections`, `GET|PATCH|DELETE /collections/{id}`,
//! `PUT|DELETE /collections/{id}/files/{file_id}`. Another user's collection or file is 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use common::extract::{ValidJson, ValidQuery};
use common::schemas::{
    collection_not_found, file_not_found, parse_id, CollectionCreate, CollectionList,
    CollectionOut, CollectionUpdate, PageQuery,
};
use common::AppResult;

use super::jobs::CallerHeader;
use crate::knowledge::file_repo::{self, Membership};
use crate::AppState;

pub async fn create(
    State(state): State<AppState>,
    caller: CallerHeader,
    ValidJson(body): ValidJson<CollectionCreate>,
) -> AppResult<(StatusCode, Json<CollectionOut>)> {
    let created = file_repo::create_collection(
        &state.db,
        caller.owner(),
        body.name.trim(),
        body.description.as_deref().unwrap_or(""),
        &body.file_ids,
    )
    .await?
    .ok_or_else(file_not_found)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: CallerHeader,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> AppResult<Json<CollectionList>> {
    let (collections, next_before) =
        file_repo::list_collections(&state.db, caller.owner(), query.limit(), query.before_id())
            .await?;
    Ok(Json(CollectionList {
        collections,
        next_before,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<Json<CollectionOut>> {
    let id = parse_id(&raw_id, collection_not_found)?;
    file_repo::find_collection(&state.db, caller.owner(), id)
        .await?
        .map(Json)
        .ok_or_else(collection_not_found)
}

pub async fn update(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
    ValidJson(body): ValidJson<CollectionUpdate>,
) -> AppResult<Json<CollectionOut>> {
    let id = parse_id(&raw_id, collection_not_found)?;
    file_repo::update_collection(
        &state.db,
        caller.owner(),
        id,
        body.name.as_deref().map(str::trim),
        body.description.as_deref(),
    )
    .await?
    .map(Json)
    .ok_or_else(collection_not_found)
}

/// Deletes the collection; its files stay.
pub async fn delete(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&raw_id, collection_not_found)?;
    if file_repo::delete_collection(&state.db, caller.owner(), id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(collection_not_found())
    }
}

async fn set_member(
    state: &AppState,
    caller: CallerHeader,
    raw_collection: &str,
    raw_file: &str,
    member: bool,
) -> AppResult<Json<CollectionOut>> {
    let collection = parse_id(raw_collection, collection_not_found)?;
    let file = parse_id(raw_file, file_not_found)?;
    let owner = caller.owner();
    match file_repo::set_member(&state.db, owner, collection, file, member).await? {
        Membership::NoCollection => Err(collection_not_found()),
        Membership::NoFile => Err(file_not_found()),
        Membership::Done => file_repo::find_collection(&state.db, owner, collection)
            .await?
            .map(Json)
            .ok_or_else(collection_not_found),
    }
}

/// Adds a file (idempotent); answers the collection.
pub async fn add_file(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path((collection, file)): Path<(String, String)>,
) -> AppResult<Json<CollectionOut>> {
    set_member(&state, caller, &collection, &file, true).await
}

/// Removes a file from the collection (the file stays); answers the collection.
pub async fn remove_file(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path((collection, file)): Path<(String, String)>,
) -> AppResult<Json<CollectionOut>> {
    set_member(&state, caller, &collection, &file, false).await
}
