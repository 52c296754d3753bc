//! Calls the model service for one prompt and classifies the outcome for the queue: an answer,
//! a permanent failure (recorded in the prompt's slot), or a transient one (the job is retried
//! with backoff). Messages are single sentences for users: no URLs, no library text.

use common::http::ServiceClient;
use common::schemas::{GenerateRequest, GenerateResponse};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// What became of one prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOutcome {
    Answer(String),
    /// The model service rejected the prompt (4xx other than 408/429): retrying cannot help.
    Permanent(String),
    /// Worth retrying later: model service down or overloaded, 429, timeout, 5xx.
    Transient(String),
}

/// Sends one prompt to `POST /inference` with only `prompt`, `model` and `max_tokens`
/// (contract §7.2).
pub async fn generate(
    client: &ServiceClient,
    prompt: &str,
    model: Option<&str>,
    max_tokens: i64,
) -> PromptOutcome {
    let mut request = GenerateRequest::new(prompt);
    request.model = model.map(str::to_owned);
    request.max_tokens = max_tokens;
    let response = match client
        .request(Method::POST, "/inference")
        .json(&request)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return transport(&e),
    };
    let status = response.status();
    if status.is_success() {
        return match response.json::<GenerateResponse>().await {
            Ok(body) => PromptOutcome::Answer(body.text),
            Err(e) if e.is_decode() => {
                PromptOutcome::Transient("The model service sent an unreadable answer.".to_owned())
            }
            Err(e) => transport(&e),
        };
    }
    let body = response.bytes().await.unwrap_or_default();
    classify_error(status, &body)
}

fn transport(e: &reqwest::Error) -> PromptOutcome {
    tracing::debug!(error = %e, "model service call failed");
    if e.is_timeout() {
        PromptOutcome::Transient("The model service timed out.".to_owned())
    } else {
        PromptOutcome::Transient("The model service is unavailable.".to_owned())
    }
}

/// Maps a non-2xx answer to an outcome, using the envelope's message when there is one.
pub fn classify_error(status: StatusCode, body: &[u8]) -> PromptOutcome {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(sanitize))
        .filter(|m| !m.is_empty());
    let code = status.as_u16();
    let with = |prefix: String| match &message {
        Some(m) => format!("{prefix}: {m}"),
        None => format!("{prefix}."),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        PromptOutcome::Transient(with(
            "The model service is rate limited (HTTP 429)".to_owned(),
        ))
    } else if status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
        PromptOutcome::Transient(with(format!("The model service failed (HTTP {code})")))
    } else {
        PromptOutcome::Permanent(with(format!(
            "The model service rejected the prompt (HTTP {code})"
        )))
    }
}

/// One line, at most 300 characters, URLs replaced: safe to show in a job's `error`.
pub fn sanitize(message: &str) -> String {
    let one_line = message
        .split_whitespace()
        .map(|word| if word.contains("://") { "<url>" } else { word })
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.chars().count() > 300 {
        let mut cut: String = one_line.chars().take(299).collect();
        cut.push('…');
        cut
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_and_5xx_are_transient() {
        assert!(matches!(
            classify_error(StatusCode::TOO_MANY_REQUESTS, b""),
            PromptOutcome::Transient(_)
        ));
        assert!(matches!(
            classify_error(StatusCode::SERVICE_UNAVAILABLE, b"{}"),
            PromptOutcome::Transient(_)
        ));
        assert!(matches!(
            classify_error(StatusCode::BAD_GATEWAY, b"oops"),
            PromptOutcome::Transient(_)
        ));
    }

    #[test]
    fn validation_errors_are_permanent_and_carry_the_message() {
        let outcome = classify_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"error":{"code":"VALIDATION_ERROR","message":"Invalid request: prompt: too long"}}"#,
        );
        assert_eq!(
            outcome,
            PromptOutcome::Permanent(
                "The model service rejected the prompt (HTTP 422): Invalid request: prompt: too long".to_owned()
            )
        );
    }

    #[test]
    fn messages_are_single_line_without_urls() {
        let s = sanitize("Cannot connect to http://10.0.0.3:8001/inference\nsee https://help");
        assert_eq!(s, "Cannot connect to <url> see <url>");
        assert!(sanitize(&"x".repeat(1000)).chars().count() <= 300);
    }
}
