//! The files API (internal; the gateway forwards `/api/v1/files` here with the caller in
//! `X-Sable-User-Id`): `POST /files` (the raw bytes, streamed; name in `X-Sable-File-Name`),
//! `GET /files`, `GET /files/{id}`, `GET /files/{id}/content`, `DELETE /files/{id}`.
//!
//! Another user's file is 404 `FILE_NOT_FOUND`, exactly like a missing one.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use common::extract::ValidQuery;
use common::schemas::{
    clean_file_name, content_type_of, file_not_found, kind_of, parse_id, supported_types_sentence,
    FileList, FileOut, PageQuery, FILE_MAX_BYTES_HEADER, FILE_NAME_HEADER, FILE_QUOTA_HEADER,
};
use common::{AppError, AppResult};
use futures::TryStreamExt;

use super::jobs::CallerHeader;
use crate::job_repo;
use crate::knowledge::file_repo::{self, NewFile, Recorded};
use crate::knowledge::store::{BlobStore, Received};
use crate::AppState;

/// A number from a gateway header, else the worker's own default.
fn header_number(headers: &HeaderMap, name: &str, default: u64) -> u64 {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The upload's name: percent-decoded from `X-Sable-File-Name`, cleaned.
fn file_name(headers: &HeaderMap) -> String {
    let raw = headers
        .get(FILE_NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let decoded: String = form_urlencoded::parse(format!("n={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    clean_file_name(&decoded)
}

pub fn too_large(max: u64) -> AppError {
    AppError::Detailed {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "FILE_TOO_LARGE",
        message: format!("The file is larger than the {} limit", human_bytes(max)),
    }
}

pub fn unsupported() -> AppError {
    AppError::Detailed {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "UNSUPPORTED_FILE_TYPE",
        message: supported_types_sentence(),
    }
}

/// `12.5 MB`, `800 KB`, `12 bytes`.
pub fn human_bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    if n >= 1_000_000 {
        format!("{:.1} MB", f / 1_000_000.0)
    } else if n >= 1_000 {
        format!("{:.1} KB", f / 1_000.0)
    } else {
        format!("{n} bytes")
    }
}

#[tracing::instrument(skip_all)]
pub async fn upload(
    State(state): State<AppState>,
    caller: CallerHeader,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let owner = caller.owner();
    let filename = file_name(&headers);
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let kind = kind_of(&filename, declared).ok_or_else(unsupported)?;
    let max = header_number(&headers, FILE_MAX_BYTES_HEADER, state.config.file_max_bytes);
    let quota = header_number(&headers, FILE_QUOTA_HEADER, state.config.quota_file_bytes);
    let received = state
        .store
        .receive(body.into_data_stream(), max)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "upload not stored");
            AppError::ServiceUnavailable("The file store is unavailable".to_owned())
        })?;
    let (staged, size, sha256) = match received {
        Received::TooLarge => return Err(too_large(max)),
        Received::Empty => {
            return Err(AppError::Detailed {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "EMPTY_FILE",
                message: "The file is empty".to_owned(),
            })
        }
        Received::Stored { key, size, sha256 } => (key, size, sha256),
    };
    let key = BlobStore::key_for(owner, &sha256);
    if let Err(e) = state.store.promote(&staged, &key).await {
        tracing::error!(error = %e, "cannot move an upload to its key");
        let _ = state.store.delete(&staged).await;
        return Err(AppError::ServiceUnavailable(
            "The file store is unavailable".to_owned(),
        ));
    }
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let recorded = file_repo::record(
        &state.db,
        &NewFile {
            owner,
            filename: &filename,
            kind,
            content_type: content_type_of(kind),
            size,
            sha256: &sha256,
            blob_key: &key,
            quota_bytes: i64::try_from(quota).unwrap_or(i64::MAX),
            max_attempts: state.config.ingest_max_attempts,
        },
    )
    .await;
    match recorded {
        Ok(Recorded::New(file)) => {
            metrics::counter!("worker_files_uploaded_total").increment(1);
            Ok((StatusCode::CREATED, Json(file)).into_response())
        }
        Ok(Recorded::Duplicate(file)) => Ok((StatusCode::OK, Json(file)).into_response()),
        Ok(Recorded::OverQuota { used }) => {
            let _ = state.store.delete(&key).await;
            Err(AppError::Detailed {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "QUOTA_EXCEEDED",
                message: format!(
                    "File storage quota exceeded: {} used of {} allowed; this file needs {}",
                    human_bytes(u64::try_from(used).unwrap_or(0)),
                    human_bytes(quota),
                    human_bytes(u64::try_from(size).unwrap_or(0)),
                ),
            })
        }
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation) =>
        {
            let _ = state.store.delete(&key).await;
            Err(AppError::BadRequest {
                code: "UNKNOWN_USER",
                message: "X-Sable-User-Id names no user".to_owned(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip(state))]
pub async fn list(
    State(state): State<AppState>,
    caller: CallerHeader,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> AppResult<Json<FileList>> {
    let owner = caller.owner();
    let (files, next_before) =
        file_repo::list(&state.db, owner, query.limit(), query.before_id()).await?;
    let used_bytes = file_repo::used_bytes(&state.db, owner).await?;
    Ok(Json(FileList {
        files,
        next_before,
        used_bytes,
    }))
}

#[tracing::instrument(skip(state))]
pub async fn get(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<Json<FileOut>> {
    let id = parse_id(&raw_id, file_not_found)?;
    file_repo::find(&state.db, caller.owner(), id)
        .await?
        .map(Json)
        .ok_or_else(file_not_found)
}

/// The original bytes, streamed from the store, as an attachment.
#[tracing::instrument(skip(state))]
pub async fn content(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&raw_id, file_not_found)?;
    let (key, filename, content_type, size) = file_repo::blob_of(&state.db, caller.owner(), id)
        .await?
        .ok_or_else(file_not_found)?;
    let stream = state.store.stream(&key).await.map_err(|e| {
        tracing::error!(error = %e, file_id = %id, "stored file unreadable");
        AppError::ServiceUnavailable("The file store is unavailable".to_owned())
    })?;
    let mut response = Body::from_stream(stream.map_err(std::io::Error::other)).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&filename)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(filename.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Deletes the file, its chunks and memberships, cancels its jobs still pending or running
/// (its ingestion, a re-embed waiting or under way: one that finishes anyway finds the file
/// gone and writes nothing), then deletes the blob.
#[tracing::instrument(skip(state))]
pub async fn delete(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&raw_id, file_not_found)?;
    let owner = caller.owner();
    let (key, jobs) = file_repo::delete(&state.db, owner, id)
        .await?
        .ok_or_else(file_not_found)?;
    for job in jobs {
        job_repo::cancel(&state.db, owner, job).await?;
    }
    if let Err(e) = state.store.delete(&key).await {
        // The row is gone, so nothing refers to the blob any more; say so loudly.
        tracing::error!(error = %e, key = %key, "deleted file's blob could not be removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_attachments_with_a_safe_and_an_exact_name() {
        assert_eq!(
            content_disposition("report \"v2\".pdf"),
            "attachment; filename=\"report _v2_.pdf\"; filename*=UTF-8''report%20%22v2%22.pdf"
        );
        assert!(content_disposition("résumé.txt").contains("filename*=UTF-8''r%C3%A9sum%C3%A9.txt"));
    }
}
