//! Field validation with FastAPI-compatible error items (contract §3.1, E2).
//!
//! Each failing field becomes one [`FieldError`] with `type`, `loc`, `msg`, and where useful
//! `input` and `ctx`; a request collects all of them before answering 422.

use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Error kind, e.g. `missing`, `string_too_long`, `less_than_equal`, `json_invalid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the error is: `["body", "prompt"]`, `["query", "q"]`, `["body", "prompts", 3]`
    /// (strings and integers).
    #[schema(value_type = Vec<serde_json::Value>)]
    pub loc: Vec<Value>,
    pub msg: String,
    /// The offending input (any JSON value), when it is not a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub input: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<Value>,
}

impl FieldError {
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            loc: loc.iter().map(|s| json!(s)).collect(),
            msg: msg.into(),
            input: None,
            ctx: None,
        }
    }

    pub fn at(kind: &str, loc: Vec<Value>, msg: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input: None,
            ctx: None,
        }
    }

    pub fn with_input(mut self, input: Value) -> Self {
        self.input = Some(input);
        self
    }

    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// The field's dotted name without the leading `body`/`query`/`path`, e.g. `prompts.3`.
    pub fn field(&self) -> String {
        let parts: Vec<String> = self
            .loc
            .iter()
            .skip(usize::from(self.loc.len() > 1))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        parts.join(".")
    }
}

/// Implemented by every request schema; returns every failing field, empty when valid.
pub trait Validate {
    fn validate(&self) -> Vec<FieldError>;
}

/// Collects field errors for one request, with helpers for the common constraints.
/// Lengths are counted in Unicode code points, as the contract requires (§2.1).
#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn finish(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn str_len(&mut self, loc: Vec<Value>, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            self.errors.push(
                FieldError::at(
                    "string_too_short",
                    loc,
                    format!("String should have at least {min} character{}", plural(min)),
                )
                .with_input(json!(truncate_for_echo(value)))
                .with_ctx(json!({ "min_length": min })),
            );
        } else if len > max {
            self.errors.push(
                FieldError::at(
                    "string_too_long",
                    loc,
                    format!("String should have at most {max} character{}", plural(max)),
                )
                .with_input(json!(truncate_for_echo(value)))
                .with_ctx(json!({ "max_length": max })),
            );
        }
    }

    /// `min <= value <= max`, else a `greater_than_equal` / `less_than_equal` error with the
    /// bound in `ctx` (FastAPI's shapes). The one range check: integers and floats alike.
    pub fn range<T>(&mut self, loc: Vec<Value>, value: T, min: T, max: T)
    where
        T: PartialOrd + std::fmt::Display + Serialize,
    {
        let (kind, message, ctx) = if value < min {
            (
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
                json!({ "ge": min }),
            )
        } else if value > max {
            (
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
                json!({ "le": max }),
            )
        } else {
            return;
        };
        self.errors.push(
            FieldError::at(kind, loc, message)
                .with_input(json!(value))
                .with_ctx(ctx),
        );
    }

    /// [`range`](Self::range) for integers.
    pub fn int_range(&mut self, loc: Vec<Value>, value: i64, min: i64, max: i64) {
        self.range(loc, value, min, max);
    }

    /// [`range`](Self::range) for floats, which must also be finite (NaN compares with
    /// nothing).
    pub fn float_range(&mut self, loc: Vec<Value>, value: f64, min: f64, max: f64) {
        if value.is_finite() {
            self.range(loc, value, min, max);
        } else {
            self.errors.push(
                FieldError::at("finite_number", loc, "Input should be a finite number")
                    .with_input(json!(value.to_string())),
            );
        }
    }

    pub fn list_len(&mut self, loc: Vec<Value>, len: usize, min: usize, max: usize) {
        if len < min {
            self.errors.push(
                FieldError::at(
                    "too_short",
                    loc,
                    format!(
                        "List should have at least {min} item{} after validation, not {len}",
                        plural(min)
                    ),
                )
                .with_ctx(json!({ "min_length": min, "actual_length": len })),
            );
        } else if len > max {
            self.errors.push(
                FieldError::at(
                    "too_long",
                    loc,
                    format!(
                        "List should have at most {max} item{} after validation, not {len}",
                        plural(max)
                    ),
                )
                .with_ctx(json!({ "max_length": max, "actual_length": len })),
            );
        }
    }
}

/// `["body", name]`: the location of a top-level body field.
pub fn body(field: &str) -> Vec<Value> {
    vec![json!("body"), json!(field)]
}

/// `["query", name]`: the location of a query parameter.
pub fn query(field: &str) -> Vec<Value> {
    vec![json!("query"), json!(field)]
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Echoing a 1 MB prompt back in an error helps nobody; keep the first 100 code points.
fn truncate_for_echo(value: &str) -> String {
    const MAX_ECHO: usize = 100;
    // The first 100 code points and `…` when cut.
    crate::text::clip(value, MAX_ECHO + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_code_points_not_bytes() {
        let mut c = Checker::new();
        c.str_len(body("prompt"), &"é".repeat(10_000), 1, 10_000);
        c.str_len(body("prompt"), &"😀".repeat(10_000), 1, 10_000);
        assert!(c.finish().is_empty());

        let mut c = Checker::new();
        c.str_len(body("prompt"), &"é".repeat(10_001), 1, 10_000);
        let errors = c.finish();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, "string_too_long");
        assert_eq!(errors[0].field(), "prompt");
    }

    #[test]
    fn ranges_are_inclusive() {
        let mut c = Checker::new();
        c.int_range(body("max_tokens"), 1, 1, 8192);
        c.int_range(body("max_tokens"), 8192, 1, 8192);
        c.float_range(body("temperature"), 0.0, 0.0, 2.0);
        c.float_range(body("temperature"), 2.0, 0.0, 2.0);
        assert!(c.finish().is_empty());

        let mut c = Checker::new();
        c.int_range(body("max_tokens"), 0, 1, 8192);
        c.int_range(body("max_tokens"), 8193, 1, 8192);
        c.float_range(body("temperature"), 2.01, 0.0, 2.0);
        let kinds: Vec<_> = c.finish().into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            ["greater_than_equal", "less_than_equal", "less_than_equal"]
        );
    }

    #[test]
    fn field_name_drops_the_location_prefix() {
        let e = FieldError::at("x", vec![json!("body"), json!("prompts"), json!(3)], "m");
        assert_eq!(e.field(), "prompts.3");
    }
}
