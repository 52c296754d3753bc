//! Request extractors that answer bad input with the contract's 422 envelope.
//!
//! axum's own `Json`/`Query` reject with plain-text bodies; these parse the same way but turn
//! every failure (wrong content type, empty body, malformed JSON, wrong types, failed
//! constraints) into [`AppError::Validation`] naming the field, as FastAPI does.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::AppError;
use crate::validation::{FieldError, Validate};

/// A JSON body that has been parsed and validated.
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_content_type = is_json_content_type(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let value: T = parse_json_body(&bytes, json_content_type)?;
        let errors = value.validate();
        if errors.is_empty() {
            Ok(Self(value))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// Query parameters that have been parsed and validated.
#[derive(Debug, Clone)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded_parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            AppError::validation(data_error("query", e.path(), &e.inner().to_string()))
        })?;
        let errors = value.validate();
        if errors.is_empty() {
            Ok(Self(value))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

fn form_urlencoded_parse(input: &[u8]) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(input)
}

fn body_rejection(rejection: BytesRejection) -> AppError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::BadRequest {
            code: "BAD_REQUEST",
            message: "Could not read the request body".to_owned(),
        }
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    // Compared without a lowercase copy per request.
    let mime = value.split(';').next().unwrap_or_default().trim();
    let ends_with_json = mime.len() >= 5
        && mime.is_char_boundary(mime.len() - 5)
        && mime[mime.len() - 5..].eq_ignore_ascii_case("+json");
    mime.eq_ignore_ascii_case("application/json") || ends_with_json
}

/// Parses a JSON request body into `T`, mapping every failure to one field error.
pub fn parse_json_body<T: DeserializeOwned>(
    bytes: &[u8],
    json_content_type: bool,
) -> Result<T, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::validation(FieldError::new(
            "missing",
            &["body"],
            "Field required",
        )));
    }
    if !json_content_type {
        return Err(AppError::validation(FieldError::new(
            "model_attributes_type",
            &["body"],
            "Input should be a JSON object sent with Content-Type: application/json",
        )));
    }
    // serde would accept a JSON array for a struct (by position); the contract wants objects.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(AppError::validation(FieldError::new(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
        )));
    }
    // Most bodies are valid: parse them plainly. The path tracking of serde_path_to_error is
    // needed only to describe a failure, so a body that fails is parsed again with it (the same
    // parser, so the same verdict and error).
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.inner();
        if inner.is_data() {
            AppError::validation(data_error(
                "body",
                e.path(),
                &strip_position(&inner.to_string()),
            ))
        } else {
            AppError::validation(
                FieldError::at(
                    "json_invalid",
                    vec![
                        json!("body"),
                        json!(byte_offset(bytes, inner.line(), inner.column())),
                    ],
                    "JSON decode error",
                )
                .with_ctx(json!({ "error": strip_position(&inner.to_string()) })),
            )
        }
    })?;
    deserializer.end().map_err(|e| {
        AppError::validation(
            FieldError::new("json_invalid", &["body"], "JSON decode error")
                .with_ctx(json!({ "error": strip_position(&e.to_string()) })),
        )
    })?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the location is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut current_line = 1;
    for (i, b) in bytes.iter().enumerate() {
        if current_line == line {
            return (i + column.saturating_sub(1)).min(bytes.len());
        }
        if *b == b'\n' {
            current_line += 1;
        }
    }
    bytes.len()
}

/// Turns a serde data error ("missing field `x`", "invalid type: …, expected …") at `path`
/// into a FastAPI-style field error.
fn data_error(source: &str, path: &serde_path_to_error::Path, message: &str) -> FieldError {
    let mut loc: Vec<Value> = vec![json!(source)];
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => loc.push(json!(index)),
            serde_path_to_error::Segment::Map { key } => loc.push(json!(key)),
            serde_path_to_error::Segment::Enum { variant } => loc.push(json!(variant)),
            serde_path_to_error::Segment::Unknown => {}
        }
    }

    if let Some(field) = between(message, "missing field `", "`") {
        loc.push(json!(field));
        return FieldError::at("missing", loc, "Field required");
    }
    if message.starts_with("unknown variant") {
        return FieldError::at("enum", loc, capitalize(message));
    }
    let expected = message.split(", expected ").nth(1).unwrap_or_default();
    let (kind, msg) = if message.contains("invalid type: floating point") && is_integer(expected) {
        (
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
        )
    } else if loc.len() == 1 && (expected.starts_with("struct") || expected.contains("map")) {
        (
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )
    } else if expected.contains("string") || expected.contains("UUID") {
        ("string_type", "Input should be a valid string")
    } else if is_integer(expected) {
        ("int_parsing", "Input should be a valid integer")
    } else if expected.starts_with("f32")
        || expected.starts_with("f64")
        || expected.contains("float")
    {
        ("float_parsing", "Input should be a valid number")
    } else if expected.contains("sequence") {
        ("list_type", "Input should be a valid list")
    } else if expected.contains("map") || expected.starts_with("struct") {
        ("dict_type", "Input should be a valid dictionary")
    } else if expected.contains("boolean") {
        ("bool_type", "Input should be a valid boolean")
    } else {
        ("value_error", message)
    };
    FieldError::at(kind, loc, msg).with_ctx(json!({ "error": message }))
}

fn is_integer(expected: &str) -> bool {
    [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "integer",
    ]
    .iter()
    .any(|t| expected.starts_with(t))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        count: Option<i64>,
        items: Option<Vec<String>>,
    }

    fn err(body: &str) -> FieldError {
        match parse_json_body::<Probe>(body.as_bytes(), true) {
            Err(AppError::Validation(mut v)) => v.remove(0),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn empty_body_is_missing() {
        let e = err("");
        assert_eq!(
            (e.kind.as_str(), e.loc.clone()),
            ("missing", vec![json!("body")])
        );
    }

    #[test]
    fn malformed_json_is_json_invalid_with_offset() {
        let e = err("{\"name\": ");
        assert_eq!(e.kind, "json_invalid");
        assert_eq!(e.loc[0], json!("body"));
    }

    #[test]
    fn missing_field_names_the_field() {
        let e = err("{}");
        assert_eq!(e.kind, "missing");
        assert_eq!(e.loc, vec![json!("body"), json!("name")]);
    }

    #[test]
    fn wrong_types_are_named() {
        assert_eq!(err(r#"{"name": 5}"#).kind, "string_type");
        assert_eq!(err(r#"{"name": "a", "count": "x"}"#).kind, "int_parsing");
        assert_eq!(err(r#"{"name": "a", "count": 1.5}"#).kind, "int_from_float");
        let e = err(r#"{"name": "a", "items": ["x", 3]}"#);
        assert_eq!(e.loc, vec![json!("body"), json!("items"), json!(1)]);
        assert_eq!(e.kind, "string_type");
    }

    #[test]
    fn non_object_bodies_are_rejected() {
        assert_eq!(err("[1,2]").kind, "model_attributes_type");
        assert_eq!(err("null").kind, "model_attributes_type");
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        assert_eq!(err(r#"{"name":"a"} x"#).kind, "json_invalid");
    }

    #[test]
    fn wrong_content_type_is_422() {
        let r = parse_json_body::<Probe>(br#"{"name":"a"}"#, false);
        assert!(matches!(r, Err(AppError::Validation(_))));
    }
}
