//! Error classes survive every hop (issue 12.1), seen from the gateway's public API: the
//! model service's class reaches the client's envelope (status, `code`, `retryable`,
//! `Retry-After`), the stream's `[ERROR]` event, and the worker's per-prompt decision.

use std::time::Duration;

use e2e::{assert_envelope, sse_payloads, Stack};
use serde_json::json;

#[tokio::test]
async fn a_context_too_long_prompt_is_a_permanent_400() {
    let stack = Stack::start().await;
    let response = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "[mock:context] far too long"}),
        )
        .await;
    let body = assert_envelope(response, 400, "CONTEXT_TOO_LONG").await;
    assert_eq!(body["error"]["retryable"], false, "{body}");
}

#[tokio::test]
async fn a_provider_rate_limit_is_a_429_with_retry_after() {
    let stack = Stack::start().await;
    let response = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "[mock:ratelimit] busy provider"}),
        )
        .await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = assert_envelope(response, 429, "RATE_LIMITED").await;
    assert_eq!(body["error"]["retryable"], true, "{body}");
    let secs: u64 = retry_after
        .expect("Retry-After on a provider rate limit")
        .parse()
        .unwrap();
    assert!(secs >= 1, "{secs}");
}

#[tokio::test]
async fn a_stream_ends_with_the_class_in_its_error_event() {
    let stack = Stack::start().await;
    let response = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:context] far too long"}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().await.unwrap();
    let payloads = sse_payloads(&body);
    let last = payloads.last().expect("a final event");
    assert!(last.starts_with("[ERROR] CONTEXT_TOO_LONG:"), "{body}");
    assert!(!payloads.iter().any(|p| p == "[DONE]"), "{body}");
}

#[tokio::test]
async fn a_rejected_prompt_fails_alone_and_the_job_completes() {
    let stack = Stack::start().await;
    let response = stack
        .post(
            "/api/v1/jobs",
            &json!({"prompts": ["first", "[mock:reject] refused", "third"]}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let job: serde_json::Value = response.json().await.unwrap();
    let id = job["job_id"].as_str().unwrap().to_owned();
    let done = stack
        .wait_for_job(&id, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(done["failed_prompts"], 1, "{done}");
    assert_eq!(done["completed_prompts"], 2, "{done}");
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{done}");
    assert_eq!(done["result_indexes"], json!([0, 2]), "{done}");
    let errors = done["prompt_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{done}");
    assert_eq!(errors[0]["index"], 1, "{done}");
    assert_eq!(errors[0]["code"], "INVALID_REQUEST", "{done}");
    // Permanent: one attempt, no retry of the whole job.
    assert_eq!(done["attempts"], 1, "{done}");
}

#[tokio::test]
async fn a_stalled_provider_answers_504_within_the_gateways_timeout() {
    // The gateway gives the model service 2 s and announces it (X-Sable-Deadline-Ms, less the
    // margin): the model service answers 504 PROVIDER_TIMEOUT before the gateway gives up.
    let stack = Stack::start_with(&["--http-request-timeout-secs", "2"]).await;
    let started = std::time::Instant::now();
    let response = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "[mock:delay=20000] never answers in time"}),
        )
        .await;
    let body = assert_envelope(response, 504, "PROVIDER_TIMEOUT").await;
    assert_eq!(body["error"]["retryable"], true, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_stream_ends_with_provider_timeout_before_the_gateways_idle_timeout() {
    let stack = Stack::start_with(&["--stream-idle-timeout-secs", "2"]).await;
    let started = std::time::Instant::now();
    let response = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:delay=20000] never answers in time"}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let last = sse_payloads(&body).pop().expect("a final event");
    assert!(last.starts_with("[ERROR] PROVIDER_TIMEOUT:"), "{body}");
}
