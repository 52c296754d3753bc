//! The one error type of every Sable service and its JSON envelope.
//!
//! Every failure a client can observe is rendered as
//! `{"error":{"code","message","request_id"}}` (contract §3). Validation failures also carry a
//! FastAPI-style `detail` list so clients written for either style work (contract §19.2).
//! A 5xx never leaks internals: the cause is logged with the request id, the client gets a
//! generic message.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::request_id;
use crate::validation::FieldError;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422: one or more fields failed validation (or the body was not valid JSON).
    #[error("validation failed: {}", summarize(.0))]
    Validation(Vec<FieldError>),

    /// 400: a well-formed request that asks for something not allowed (bad id, bad path).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },

    /// 404: the thing named does not exist (or is not the caller's).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },

    /// A 4xx that also carries a FastAPI-style string `detail` beside the envelope, e.g. the
    /// chat routes' `{"error":{"code":"NOT_FOUND",…},"detail":"Session not found"}`
    /// (contract §3.1 E3 and §19.3 recommend both keys). `message` is also the `detail`.
    #[error("{message}")]
    Detailed {
        status: StatusCode,
        code: &'static str,
        message: String,
    },

    /// A 4xx whose envelope carries more fields beside `code` and `message` (additive), e.g.
    /// `allowed_models` of a refused model, or `used`/`allowed` of a spent quota.
    #[error("{message}")]
    WithFields {
        status: StatusCode,
        code: &'static str,
        message: String,
        fields: serde_json::Map<String, Value>,
    },

    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,

    /// 409: the request conflicts with the current state (e.g. cancelling a finished job).
    #[error("{0}")]
    Conflict(String),

    /// 413: the body exceeds the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,

    /// 429: too many requests.
    #[error("{0}")]
    RateLimited(String),

    /// 502: the model provider failed (after retries and fallback).
    #[error("{0}")]
    Inference(String),

    /// 503: a downstream service could not be reached or timed out. The message names the
    /// service by role ("model service"), never by internal URL.
    #[error("{0}")]
    ServiceUnavailable(String),

    /// An error envelope received from a downstream Sable service, relayed unchanged (status,
    /// code, `retryable`, `Retry-After`); also how the model service reports a classified
    /// provider failure (see [`AppError::classified`]).
    #[error("{message}")]
    Upstream {
        status: StatusCode,
        code: String,
        message: String,
        detail: Option<Value>,
        /// Whether the same request may succeed later (`None`: the upstream did not say).
        retryable: Option<bool>,
        /// How long the upstream asked callers to wait (sent on as `Retry-After`).
        retry_after: Option<Duration>,
    },

    #[error("database error")]
    Database(#[from] sqlx::Error),

    /// 500 for anything else; the string is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field(), e.msg))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    pub fn validation(error: FieldError) -> Self {
        Self::Validation(vec![error])
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            code: "NOT_FOUND",
            message: message.into(),
        }
    }

    /// A 4xx answered with both the envelope and `"detail": message` (see [`Self::Detailed`]).
    pub fn detailed(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Detailed {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    /// A failure of a known class: its own status and code, whether a retry can help, and how
    /// long to wait first (rendered as `Retry-After`). The model service reports provider
    /// failures this way; `message` must be client-safe.
    pub fn classified(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Self {
        Self::Upstream {
            status,
            code: code.into(),
            message: message.into(),
            detail: None,
            retryable: Some(retryable),
            retry_after,
        }
    }

    /// Whether repeating the same request later may succeed, when that is known: the
    /// envelope's additive `retryable` field. `None` leaves the field out.
    pub fn retryable(&self) -> Option<bool> {
        match self {
            Self::Upstream { retryable, .. } => *retryable,
            Self::ServiceUnavailable(_) | Self::RateLimited(_) => Some(true),
            Self::Database(e) if is_db_unavailable(e) => Some(true),
            _ => None,
        }
    }

    /// How long the caller should wait before retrying (the `Retry-After` header).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Upstream { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Detailed { status, .. } | Self::WithFields { status, .. } => *status,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Inference(_) => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { status, .. } => *status,
            Self::Database(e) if is_db_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(e) => {
                Violation::of(e).map_or(StatusCode::INTERNAL_SERVER_ERROR, |v| v.status())
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::BadRequest { code, .. }
            | Self::NotFound { code, .. }
            | Self::Detailed { code, .. }
            | Self::WithFields { code, .. } => code,
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict(_) => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Inference(_) => "INFERENCE_ERROR",
            Self::ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Upstream { code, .. } => code,
            Self::Database(e) if is_db_unavailable(e) => "DATABASE_UNAVAILABLE",
            Self::Database(e) => Violation::of(e).map_or("INTERNAL_ERROR", |v| v.code()),
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The message a client sees. Internal failures get a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            Self::Validation(errors) => format!("Invalid request: {}", summarize(errors)),
            Self::MethodNotAllowed => "Method Not Allowed".to_owned(),
            Self::PayloadTooLarge => "Request body too large".to_owned(),
            Self::Database(e) if is_db_unavailable(e) => {
                "The database is busy or unavailable; try again shortly".to_owned()
            }
            Self::Database(e) => Violation::of(e)
                .map_or("Internal server error", |v| v.message())
                .to_owned(),
            Self::Internal(_) => "Internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    /// The JSON body, with the current request id filled in when there is one.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "error": {
                "code": self.code(),
                "message": self.public_message(),
                "request_id": request_id::current(),
            }
        });
        if let Some(retryable) = self.retryable() {
            body["error"]["retryable"] = json!(retryable);
        }
        match self {
            Self::Validation(errors) => body["detail"] = json!(errors),
            Self::Detailed { message, .. } => body["detail"] = json!(message),
            Self::WithFields { fields, .. } => {
                for (k, v) in fields {
                    // The envelope's own fields are never replaced.
                    if body["error"].get(k).is_none() {
                        body["error"][k] = v.clone();
                    }
                }
            }
            Self::Upstream {
                detail: Some(detail),
                ..
            } => body["detail"] = detail.clone(),
            _ => {}
        }
        body
    }
}

/// A statement the database refused because of what the request asked for, not because the
/// database failed: the one place constraint violations become answers (every service and
/// every route: `AppError::Database` renders through it, and code that must decide on a
/// violation itself, such as a retry loop, asks [`Violation::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Text Postgres cannot store (a NUL character, 22021; an invalid byte sequence, 22P05).
    UnstorableText,
    /// A unique constraint (23505): the thing already exists. 409.
    Unique,
    /// A foreign key (23503) on a `user_id` column: the signed-in user no longer exists (the
    /// account was deleted while a token for it was still valid). 401: sign in again.
    UserGone,
    /// Any other foreign key (23503): the request refers to something that is gone. 409.
    ForeignKey,
    /// A check or not-null constraint (23514, 23502): a value the schema does not allow. 422.
    Check,
}

impl Violation {
    pub fn of(e: &sqlx::Error) -> Option<Self> {
        let sqlx::Error::Database(db) = e else {
            return None;
        };
        Some(match &*db.code()? {
            "22021" | "22P05" => Self::UnstorableText,
            "23505" => Self::Unique,
            "23503" if db.constraint().is_some_and(|c| c.ends_with("user_id_fkey")) => {
                Self::UserGone
            }
            "23503" => Self::ForeignKey,
            "23514" | "23502" => Self::Check,
            _ => return None,
        })
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnstorableText | Self::Check => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unique | Self::ForeignKey => StatusCode::CONFLICT,
            Self::UserGone => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::UnstorableText | Self::Check => "VALIDATION_ERROR",
            Self::Unique | Self::ForeignKey => "CONFLICT",
            Self::UserGone => "UNAUTHORIZED",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::UnstorableText => "Text must not contain NUL (\\u0000) characters",
            Self::Check => "A value is outside what can be stored",
            Self::Unique => "It already exists",
            Self::ForeignKey => "It refers to something that no longer exists",
            Self::UserGone => "This account no longer exists; sign in again",
        }
    }
}

/// True for every way the database can be unreachable or refusing work for now (not a bug in
/// the query): no free connection in time, a closed pool, a broken or refused connection, a
/// server shutting down or starting up, too many connections, a statement timeout. These
/// answer 503 `DATABASE_UNAVAILABLE` and are worth retrying.
fn is_db_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
            // 53300: too many connections; 57014: statement timeout (statement_timeout).
            code.starts_with("08")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "57014")
        }),
        _ => false,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The full cause chain goes to the log line (which carries the request id).
            tracing::error!(error = ?self, code = self.code(), status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), status = status.as_u16(), "request rejected");
        }
        let mut response = (status, Json(self.body())).into_response();
        if let Some(after) = self.retry_after() {
            // Whole seconds, rounded up: a client never retries before the upstream asked.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Rewrites an error that a framework extractor answered in plain text (e.g. a path segment
/// with invalid percent-encoding) into the envelope, so no client ever sees a plain-text error.
/// Our own errors are JSON already and pass through untouched.
pub async fn envelope_plain_text_errors(response: Response) -> Response {
    let status = response.status();
    let is_plain_text = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_plain_text {
        return response;
    }
    const MAX_MESSAGE_BYTES: usize = 4096;
    let text = axum::body::to_bytes(response.into_body(), MAX_MESSAGE_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST => "BAD_REQUEST",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => "VALIDATION_ERROR",
        s if s.is_server_error() => "INTERNAL_ERROR",
        _ => "BAD_REQUEST",
    };
    let message = if status.is_server_error() || text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    let body = json!({
        "error": { "code": code, "message": message, "request_id": request_id::current() }
    });
    (status, Json(body)).into_response()
}

/// The error envelope as documented in the OpenAPI description.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
    /// FastAPI-style detail: a list of failing fields on validation errors (422), or the
    /// message as a string on some 4xx (e.g. `"Session not found"`, contract §3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<ErrorDetail>,
}

/// `detail`: one entry per failing field, or a message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ErrorDetail {
    Fields(Vec<FieldError>),
    Message(String),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `VALIDATION_ERROR`, `NOT_FOUND`, `SERVICE_UNAVAILABLE`.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// Additive: whether the same request may succeed later (present when known, e.g. on
    /// provider failures, 429 and 503).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// Additive, on 403 `MODEL_NOT_ALLOWED`: the models and aliases the caller may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    /// Additive, on 429 `QUOTA_EXCEEDED`: what was used today (tokens, or USD for the cost
    /// quota).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<f64>,
    /// Additive, on 429 `QUOTA_EXCEEDED`: the day's quota (tokens, or USD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<f64>,
}

/// Parses an error envelope produced by another Sable service, so that the gateway can relay
/// a downstream 404/422 with its code instead of turning it into a 500 (contract §17.2). The
/// envelope's `retryable` is kept; see [`from_upstream_response`] for `Retry-After`.
pub fn from_upstream(status: StatusCode, body: &[u8]) -> AppError {
    from_upstream_response(status, None, body)
}

/// [`from_upstream`] plus the upstream's `Retry-After` header value (seconds), if any.
pub fn from_upstream_response(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &[u8],
) -> AppError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v["error"]["code"].as_str())
        .map(str::to_owned);
    let message = parsed
        .as_ref()
        .and_then(|v| v["error"]["message"].as_str())
        .map(str::to_owned);
    match (code, message) {
        (Some(code), Some(message)) if !status.is_success() => AppError::Upstream {
            status,
            code,
            message,
            retryable: parsed
                .as_ref()
                .and_then(|v| v["error"]["retryable"].as_bool()),
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|secs| Duration::from_secs(secs.min(86_400))),
            detail: parsed.and_then(|mut v| v.get_mut("detail").map(Value::take)),
        },
        _ => AppError::Internal(format!(
            "downstream answered {status} without an error envelope"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_carries_envelope_and_detail() {
        let err = AppError::validation(FieldError::new(
            "string_too_short",
            &["body", "prompt"],
            "String should have at least 1 character",
        ));
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = err.body();
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prompt"));
        assert_eq!(body["detail"][0]["loc"], json!(["body", "prompt"]));
        assert_eq!(body["detail"][0]["type"], "string_too_short");
    }

    #[test]
    fn detailed_error_carries_envelope_and_string_detail() {
        let err = AppError::detailed(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid session id",
        );
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let body = err.body();
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["message"], "Invalid session id");
        assert_eq!(body["detail"], "Invalid session id");
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = AppError::internal("connection to 10.0.0.5:5432 refused, password=hunter2");
        let body = err.body();
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert_eq!(body["error"]["message"], "Internal server error");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn upstream_envelope_is_relayed_with_its_status_and_code() {
        let err = from_upstream(
            StatusCode::NOT_FOUND,
            br#"{"error":{"code":"JOB_NOT_FOUND","message":"Job not found: x","request_id":"r"}}"#,
        );
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert_eq!(err.code(), "JOB_NOT_FOUND");
        assert_eq!(err.public_message(), "Job not found: x");
    }

    #[tokio::test]
    async fn plain_text_framework_errors_become_envelopes() {
        let plain = (
            StatusCode::BAD_REQUEST,
            "Invalid URL: Invalid UTF-8 in `id`",
        )
            .into_response();
        let response = envelope_plain_text_errors(plain).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "BAD_REQUEST");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid UTF-8"));

        let ok = (StatusCode::OK, "fine").into_response();
        assert_eq!(
            envelope_plain_text_errors(ok).await.status(),
            StatusCode::OK
        );
    }

    #[test]
    fn upstream_class_retryable_and_retry_after_survive_the_hop() {
        let err = from_upstream_response(
            StatusCode::TOO_MANY_REQUESTS,
            Some("3"),
            br#"{"error":{"code":"RATE_LIMITED","message":"slow down","request_id":"r","retryable":true}}"#,
        );
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.code(), "RATE_LIMITED");
        assert_eq!(err.retryable(), Some(true));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(err.body()["error"]["retryable"], true);
        let response = err.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");

        let permanent = AppError::classified(
            StatusCode::BAD_REQUEST,
            "CONTEXT_TOO_LONG",
            "too long",
            false,
            None,
        );
        assert_eq!(permanent.body()["error"]["retryable"], false);
        assert!(permanent
            .into_response()
            .headers()
            .get(header::RETRY_AFTER)
            .is_none());
        // Errors that do not know leave the field out.
        assert!(AppError::not_found("x").body()["error"]
            .get("retryable")
            .is_none());
    }

    #[test]
    fn upstream_garbage_becomes_a_generic_500() {
        let err = from_upstream(StatusCode::BAD_GATEWAY, b"<html>oops</html>");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.public_message(), "Internal server error");
    }
}
