//! Files: the public side of the knowledge service (the worker service owns the files, their
//! blobs and chunks; ARCHITECTURE.md, "Knowledge"). Every call names the caller to the worker
//! (`routes::forward`), so another user's file is 404 `FILE_NOT_FOUND` like a missing one.
//!
//! Uploads are streamed through: each multipart `file` field is piped to the worker as it
//! arrives (never held whole in memory), counted against `FILE_MAX_BYTES` on the way (413),
//! its type checked from its name and declared type before a byte is sent (415).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use common::error::ErrorEnvelope;
use common::extract::ValidQuery;
use common::schemas::{
    clean_file_name, file_not_found, kind_of, parse_id, supported_types_sentence, FileList,
    FileOut, FileStatus, FileUploadList, PageQuery, FILE_MAX_BYTES_HEADER, FILE_NAME_HEADER,
    FILE_QUOTA_HEADER, USER_ID_HEADER,
};
use common::{AppError, AppResult};
use futures::StreamExt;
use reqwest::Method;
use utoipa::OpenApi;

use super::forward::{forward, page};
use crate::auth::CurrentUser;
use crate::state::AppState;

/// Upload limits and quota (`FILE_MAX_BYTES`, `QUOTA_FILE_BYTES`, `FILES_PER_UPLOAD`).
#[derive(Debug, Clone, clap::Args)]
pub struct FileArgs {
    /// Largest file accepted, in bytes (413 above): 25 MB holds a long PDF report while
    /// keeping one upload's extraction to seconds.
    #[arg(long, env = "FILE_MAX_BYTES", default_value_t = 25_000_000)]
    pub file_max_bytes: u64,
    /// Bytes of files each user may store (429 `QUOTA_EXCEEDED` above): 500 MB.
    #[arg(long, env = "QUOTA_FILE_BYTES", default_value_t = 500_000_000)]
    pub quota_file_bytes: u64,
    /// Most files in one upload request.
    #[arg(long, env = "FILES_PER_UPLOAD", default_value_t = 10)]
    pub files_per_upload: usize,
}

/// How long one upload may take to stream through to the store.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

pub fn router(args: &FileArgs) -> Router<AppState> {
    // The whole multipart body: every file at its limit plus the form's own bytes.
    let body_limit = usize::try_from(args.file_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(args.files_per_upload.max(1))
        .saturating_add(1024 * 1024);
    Router::new()
        .route(
            "/api/v1/files",
            post(upload)
                .layer(DefaultBodyLimit::max(body_limit))
                .get(list_files),
        )
        .route("/api/v1/files/{file_id}", get(get_file).delete(delete_file))
        .route("/api/v1/files/{file_id}/content", get(file_content))
}

#[derive(OpenApi)]
#[openapi(
    paths(upload, list_files, get_file, file_content, delete_file),
    components(schemas(FileOut, FileList, FileUploadList, FileStatus))
)]
pub struct ApiDoc;

/// The multipart form of an upload (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// One or more files (repeat the field).
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

fn too_large(max: u64) -> AppError {
    AppError::Detailed {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "FILE_TOO_LARGE",
        message: format!("The file is larger than the {} MB limit", max / 1_000_000),
    }
}

fn bad_form(message: impl Into<String>) -> AppError {
    AppError::Detailed {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "INVALID_UPLOAD",
        message: message.into(),
    }
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, max: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(max)
    } else {
        AppError::BadRequest {
            code: "BAD_REQUEST",
            message: format!(
                "The upload is not a valid multipart form: {}",
                e.body_text()
            ),
        }
    }
}

/// Uploads one or more files (multipart form field `file`, repeatable). Each is stored, then
/// ingested in the background (its `status` goes `pending` → `processing` → `ready` or
/// `failed`). One file answers its record; several answer `{files: […]}`. Bytes the caller
/// already stores answer the existing file (200, `duplicate: true`).
#[utoipa::path(post, path = "/api/v1/files", tag = "files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; ingestion queued", body = FileOut),
        (status = 200, description = "The same bytes were already stored: that file", body = FileOut),
        (status = 400, description = "Not a valid multipart form", body = ErrorEnvelope),
        (status = 413, description = "A file is larger than FILE_MAX_BYTES: `FILE_TOO_LARGE`", body = ErrorEnvelope),
        (status = 415, description = "Not a supported type (PDF, DOCX, HTML, Markdown, CSV, text): `UNSUPPORTED_FILE_TYPE`", body = ErrorEnvelope),
        (status = 422, description = "No `file` field, too many files, or an empty file", body = ErrorEnvelope),
        (status = 429, description = "The storage quota would be exceeded: `QUOTA_EXCEEDED`", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    mut form: Multipart,
) -> AppResult<Response> {
    let args = &state.config.files;
    let mut stored: Vec<FileOut> = Vec::new();
    let mut created = false;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, args.file_max_bytes))?
    {
        if field.name() != Some("file") {
            continue;
        }
        if stored.len() >= args.files_per_upload {
            return Err(bad_form(format!(
                "At most {} files per upload",
                args.files_per_upload
            )));
        }
        let (file, status) = forward_upload(&state, &user, field).await?;
        created |= status == StatusCode::CREATED;
        stored.push(file);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    match stored.len() {
        0 => Err(bad_form("The form has no `file` field")),
        1 => Ok((status, Json(stored.remove(0))).into_response()),
        _ => Ok((status, Json(FileUploadList { files: stored })).into_response()),
    }
}

/// Streams one form field to the worker while counting it; answers the stored file.
async fn forward_upload(
    state: &AppState,
    user: &CurrentUser,
    mut field: axum::extract::multipart::Field<'_>,
) -> AppResult<(FileOut, StatusCode)> {
    let args = &state.config.files;
    let max = args.file_max_bytes;
    let raw_name = field.file_name().unwrap_or("").to_owned();
    let declared = field.content_type().map(str::to_owned);
    let name = clean_file_name(&raw_name);
    if kind_of(&name, declared.as_deref()).is_none() {
        return Err(AppError::Detailed {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UNSUPPORTED_FILE_TYPE",
            message: supported_types_sentence(),
        });
    }
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let request = state
        .worker
        .request_within(Method::POST, "/files", UPLOAD_TIMEOUT)
        .header(USER_ID_HEADER, user.id.to_string())
        .header(FILE_NAME_HEADER, encoded)
        .header(
            header::CONTENT_TYPE.as_str(),
            declared.unwrap_or_else(|| "application/octet-stream".to_owned()),
        )
        .header(FILE_MAX_BYTES_HEADER, max)
        .header(FILE_QUOTA_HEADER, args.quota_file_bytes)
        .body(body);
    let pump = async move {
        let mut size: u64 = 0;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > max {
                        // An error, not an end: the worker must not keep a truncated file.
                        let _ = tx.send(Err(std::io::Error::other("too large"))).await;
                        return Err(too_large(max));
                    }
                    if tx.send(Ok(chunk)).await.is_err() {
                        // The worker answered early (an error it will tell).
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other("upload broken"))).await;
                    return Err(multipart_error(&e, max));
                }
            }
        }
    };
    let (sent, pumped) = tokio::join!(state.worker.send(request), pump);
    pumped?;
    let response = sent?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::OK);
    let file: FileOut = response
        .json()
        .await
        .map_err(|e| AppError::internal(format!("worker service sent an unexpected body: {e}")))?;
    Ok((file, status))
}

/// Lists the caller's files, newest first, with the bytes they store. Pass `next_before`
/// as `before` for the next page.
#[utoipa::path(get, path = "/api/v1/files", tag = "files",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of files", body = FileList),
        (status = 422, description = "Invalid `limit` or `before`", body = ErrorEnvelope),
    ))]
pub async fn list_files(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> AppResult<Json<FileList>> {
    let list = page(&state, &user, "/files", query.limit(), query.before_id()).await?;
    Ok(Json(list))
}

/// A file: name, size, type, SHA-256, status (`pending|processing|ready|failed`, with `stage`
/// while processing and `error` in words when failed), pages, passages, times.
#[utoipa::path(get, path = "/api/v1/files/{file_id}", tag = "files",
    params(("file_id" = String, Path, description = "The file id")),
    responses(
        (status = 200, description = "The file", body = FileOut),
        (status = 404, description = "No such file of the caller's: `FILE_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn get_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(file_id): Path<String>,
) -> AppResult<Json<FileOut>> {
    let id = parse_id(&file_id, file_not_found)?;
    let path = format!("/files/{id}");
    Ok(Json(
        forward(&state, &user, Method::GET, &path).answer().await?,
    ))
}

/// The original bytes, as an attachment (`Content-Disposition: attachment`, `nosniff`), with
/// the type the file was stored as.
#[utoipa::path(get, path = "/api/v1/files/{file_id}/content", tag = "files",
    params(("file_id" = String, Path, description = "The file id")),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 404, description = "No such file of the caller's: `FILE_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn file_content(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(file_id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&file_id, file_not_found)?;
    let upstream = state
        .worker
        .send(
            state
                .worker
                .streaming_request(Method::GET, &format!("/files/{id}/content"))
                .header(USER_ID_HEADER, user.id.to_string()),
        )
        .await?;
    let kept: Vec<(header::HeaderName, HeaderValue)> = [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_DISPOSITION,
    ]
    .into_iter()
    .filter_map(|name| {
        let value = upstream.headers().get(name.as_str())?;
        let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
        Some((name, value))
    })
    .collect();
    let mut response = Response::new(Body::from_stream(
        upstream
            .bytes_stream()
            .map(|r| r.map_err(std::io::Error::other)),
    ));
    // Only the headers that describe the bytes travel on.
    let headers = response.headers_mut();
    for (name, value) in kept {
        headers.insert(name, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// Deletes the file: its blob, its passages and its place in collections. An ingestion still
/// running is cancelled and leaves nothing behind. Answers that cited it keep their sources
/// (the snippet is stored with the answer), now marked `deleted: true` in `meta.sources`.
#[utoipa::path(delete, path = "/api/v1/files/{file_id}", tag = "files",
    params(("file_id" = String, Path, description = "The file id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such file of the caller's: `FILE_NOT_FOUND`", body = ErrorEnvelope),
    ))]
pub async fn delete_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(file_id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&file_id, file_not_found)?;
    let path = format!("/files/{id}");
    forward(&state, &user, Method::DELETE, &path).done().await?;
    // The file is gone either way: a failed mark is logged, and a client that opens the
    // source still finds 404 here.
    if let Err(e) = crate::chat::repo::mark_sources_deleted(&state.db, user.id, id).await {
        tracing::warn!(error = %e, file_id = %id, "could not mark the deleted file's sources");
    }
    Ok(StatusCode::NO_CONTENT)
}
