//! Calls the model service for one prompt and classifies the outcome for the queue: an answer,
//! a permanent failure (recorded in the prompt's slot at once), or a transient one (the job is
//! retried with backoff).
//!
//! The decision follows the class the model service put in its error envelope: `retryable`
//! says whether another attempt can help (rate limited, overloaded, timeout, network: yes;
//! invalid request, context too long, content policy, unknown model, auth: no), and
//! `Retry-After` how long to wait at least. Only when an answer carries no `retryable` flag
//! (an older or foreign service) does the status decide: 408, 429 and 5xx are transient.
//! Messages are single sentences for users: no URLs, no library text.

use std::time::Duration;

use common::http::ServiceClient;
use common::schemas::{GenerateRequest, GenerateResponse, Usage};
use common::AppError;
use reqwest::{Method, StatusCode};

/// What became of one prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptOutcome {
    /// The answer, the tokens it used, the model that answered (the fallback, if it was used)
    /// and what it cost (`None`: unpriced): counted against its owner's daily quotas and in
    /// the model's day, as the gateway counts its own generations.
    Answer {
        text: String,
        usage: Usage,
        model: String,
        cost_usd: Option<f64>,
    },
    /// Retrying cannot help (the model service said `retryable: false`): the prompt's error.
    Permanent {
        /// The model service's error code, e.g. `CONTEXT_TOO_LONG`.
        code: String,
        message: String,
    },
    /// Worth retrying later: model service down or overloaded, rate limited, timeout.
    Transient {
        /// `<CODE>: <message>`, shown as the job's `last_error`.
        message: String,
        /// The least delay the model service asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
}

impl PromptOutcome {
    /// A label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Answer { .. } => "answer",
            Self::Permanent { .. } => "permanent_error",
            Self::Transient { .. } => "transient_error",
        }
    }
}

/// Sends one prompt to `POST /inference` with only `prompt`, `model` and `max_tokens`
/// (contract §7.2). Dropping the returned future aborts the request, and the model service
/// then drops its provider call (cancel).
pub async fn generate(
    client: &ServiceClient,
    prompt: &str,
    model: Option<&str>,
    max_tokens: i64,
) -> PromptOutcome {
    let mut request = GenerateRequest::new(prompt);
    request.model = model.map(str::to_owned);
    request.max_tokens = max_tokens;
    let sent = client
        .send_json::<GenerateResponse>(client.request(Method::POST, "/inference").json(&request))
        .await;
    match sent {
        Ok(body) => PromptOutcome::Answer {
            text: body.text,
            usage: body.usage,
            model: body.model,
            cost_usd: body.cost_usd,
        },
        Err(e) => classify(&e),
    }
}

/// Maps a failed call to an outcome (see the module docs).
pub fn classify(error: &AppError) -> PromptOutcome {
    let status = error.status();
    let retryable = error.retryable().unwrap_or(
        status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error(),
    );
    let message = match error {
        // A body we could not read says nothing useful to a user.
        AppError::Internal(_) => "The model service sent an unreadable answer.".to_owned(),
        other => sanitize(&other.public_message()),
    };
    let code = error.code().to_owned();
    if retryable {
        PromptOutcome::Transient {
            message: format!("{code}: {message}"),
            retry_after: error.retry_after(),
        }
    } else {
        PromptOutcome::Permanent { code, message }
    }
}

/// Longest message stored as a prompt's error or a job's `last_error`, in code points.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// One line, at most [`MAX_MESSAGE_CHARS`] code points, URLs replaced: safe to show in a job's
/// `error`.
pub fn sanitize(message: &str) -> String {
    let without_urls = message
        .split_whitespace()
        .map(|word| if word.contains("://") { "<url>" } else { word })
        .collect::<Vec<_>>()
        .join(" ");
    common::text::one_line_clipped(&without_urls, MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::error::from_upstream_response;

    fn upstream(status: u16, retry_after: Option<&str>, body: &str) -> AppError {
        from_upstream_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            retry_after,
            body.as_bytes(),
        )
    }

    #[test]
    fn the_envelopes_retryable_flag_decides() {
        // A 502 that the model service marks permanent (e.g. the provider refused the key).
        let auth = upstream(
            502,
            None,
            r#"{"error":{"code":"PROVIDER_AUTH","message":"refused","retryable":false}}"#,
        );
        assert_eq!(
            classify(&auth),
            PromptOutcome::Permanent {
                code: "PROVIDER_AUTH".into(),
                message: "refused".into()
            }
        );
        let limited = upstream(
            429,
            Some("2"),
            r#"{"error":{"code":"RATE_LIMITED","message":"slow down","retryable":true}}"#,
        );
        assert_eq!(
            classify(&limited),
            PromptOutcome::Transient {
                message: "RATE_LIMITED: slow down".into(),
                retry_after: Some(Duration::from_secs(2))
            }
        );
    }

    #[test]
    fn without_a_flag_the_status_decides() {
        let old = upstream(503, None, r#"{"error":{"code":"X","message":"busy"}}"#);
        assert!(matches!(classify(&old), PromptOutcome::Transient { .. }));
        let invalid = upstream(
            422,
            None,
            r#"{"error":{"code":"VALIDATION_ERROR","message":"Invalid request: prompt: too long"}}"#,
        );
        assert_eq!(
            classify(&invalid),
            PromptOutcome::Permanent {
                code: "VALIDATION_ERROR".into(),
                message: "Invalid request: prompt: too long".into()
            }
        );
        let unavailable = AppError::ServiceUnavailable("The model service is unavailable".into());
        assert!(matches!(
            classify(&unavailable),
            PromptOutcome::Transient {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn messages_are_single_line_without_urls() {
        let s = sanitize("Cannot connect to http://10.0.0.3:8001/inference\nsee https://help");
        assert_eq!(s, "Cannot connect to <url> see <url>");
        assert!(sanitize(&"x".repeat(1000)).chars().count() <= 300);
    }
}
