//! Collections ("knowledge bases"): named sets of the caller's files, forwarded to the worker
//! service like the files routes. A file may be in several collections; deleting a collection
//! keeps its files. Another user's collection or file is 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::{ValidJson, ValidQuery};
use common::schemas::{
    collection_not_found, file_not_found, parse_id, CollectionCreate, CollectionList,
    CollectionOut, CollectionUpdate, PageQuery,
};
use common::AppResult;
use reqwest::Method;
use utoipa::OpenApi;

use super::forward::{forward, page};
use crate::auth::CurrentUser;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/collections",
            post(create_collection).get(list_collections),
        )
        .route(
            "/api/v1/collections/{collection_id}",
            get(get_collection)
                .patch(update_collection)
                .delete(delete_collection),
        )
        .route(
            "/api/v1/collections/{collection_id}/files/{file_id}",
            put(add_file).delete(remove_file),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_collection,
        list_collections,
        get_collection,
        update_collection,
        delete_collection,
        add_file,
        remove_file
    ),
    components(schemas(CollectionCreate, CollectionUpdate, CollectionOut, CollectionList))
)]
pub struct ApiDoc;

/// Creates a collection, optionally with files.
#[utoipa::path(post, path = "/api/v1/collections", tag = "collections",
    request_body = CollectionCreate,
    responses(
        (status = 201, description = "Created", body = CollectionOut),
        (status = 404, description = "A named file is not the caller's: `FILE_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "Invalid name (1–200 characters), description or file ids", body = ErrorEnvelope),
    ))]
pub async fn create_collection(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(body): ValidJson<CollectionCreate>,
) -> AppResult<(StatusCode, Json<CollectionOut>)> {
    let created = forward(&state, &user, Method::POST, "/collections")
        .json(&body)
        .answer()
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists the caller's collections, newest first.
#[utoipa::path(get, path = "/api/v1/collections", tag = "collections",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of collections", body = CollectionList),
        (status = 422, description = "Invalid `limit` or `before`", body = ErrorEnvelope),
    ))]
pub async fn list_collections(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> AppResult<Json<CollectionList>> {
    let list = page(
        &state,
        &user,
        "/collections",
        query.limit(),
        query.before_id(),
    )
    .await?;
    Ok(Json(list))
}

/// A collection with its file ids.
#[utoipa::path(get, path = "/api/v1/collections/{collection_id}", tag = "collections",
    params(("collection_id" = String, Path, description = "The collection id")),
    responses(
        (status = 200, description = "The collection", body = CollectionOut),
        (status = 404, description = "`COLLECTION_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn get_collection(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(collection_id): Path<String>,
) -> AppResult<Json<CollectionOut>> {
    let id = parse_id(&collection_id, collection_not_found)?;
    let path = format!("/collections/{id}");
    Ok(Json(
        forward(&state, &user, Method::GET, &path).answer().await?,
    ))
}

/// Renames a collection or changes its description.
#[utoipa::path(patch, path = "/api/v1/collections/{collection_id}", tag = "collections",
    params(("collection_id" = String, Path, description = "The collection id")),
    request_body = CollectionUpdate,
    responses(
        (status = 200, description = "The collection", body = CollectionOut),
        (status = 404, description = "`COLLECTION_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "Invalid name or description", body = ErrorEnvelope),
    ))]
pub async fn update_collection(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(collection_id): Path<String>,
    ValidJson(body): ValidJson<CollectionUpdate>,
) -> AppResult<Json<CollectionOut>> {
    let id = parse_id(&collection_id, collection_not_found)?;
    let path = format!("/collections/{id}");
    let collection = forward(&state, &user, Method::PATCH, &path)
        .json(&body)
        .answer()
        .await?;
    Ok(Json(collection))
}

/// Deletes a collection (its files stay).
#[utoipa::path(delete, path = "/api/v1/collections/{collection_id}", tag = "collections",
    params(("collection_id" = String, Path, description = "The collection id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`COLLECTION_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn delete_collection(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(collection_id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&collection_id, collection_not_found)?;
    let path = format!("/collections/{id}");
    forward(&state, &user, Method::DELETE, &path).done().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn member(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    collection_id: &str,
    file_id: &str,
) -> AppResult<Json<CollectionOut>> {
    let collection = parse_id(collection_id, collection_not_found)?;
    let file = parse_id(file_id, file_not_found)?;
    let path = format!("/collections/{collection}/files/{file}");
    Ok(Json(forward(state, user, method, &path).answer().await?))
}

/// Adds one of the caller's files to the collection (adding it twice changes nothing).
#[utoipa::path(put, path = "/api/v1/collections/{collection_id}/files/{file_id}", tag = "collections",
    params(
        ("collection_id" = String, Path, description = "The collection id"),
        ("file_id" = String, Path, description = "The file id"),
    ),
    responses(
        (status = 200, description = "The collection", body = CollectionOut),
        (status = 404, description = "`COLLECTION_NOT_FOUND` or `FILE_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn add_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((collection_id, file_id)): Path<(String, String)>,
) -> AppResult<Json<CollectionOut>> {
    member(&state, &user, Method::PUT, &collection_id, &file_id).await
}

/// Takes a file out of the collection (the file stays).
#[utoipa::path(delete, path = "/api/v1/collections/{collection_id}/files/{file_id}", tag = "collections",
    params(
        ("collection_id" = String, Path, description = "The collection id"),
        ("file_id" = String, Path, description = "The file id"),
    ),
    responses(
        (status = 200, description = "The collection", body = CollectionOut),
        (status = 404, description = "`COLLECTION_NOT_FOUND` or `FILE_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn remove_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((collection_id, file_id)): Path<(String, String)>,
) -> AppResult<Json<CollectionOut>> {
    member(&state, &user, Method::DELETE, &collection_id, &file_id).await
}
