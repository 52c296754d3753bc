//! A request's deadline (`X-Sable-Deadline-Ms`, capped by `MODEL_REQUEST_DEADLINE_SECS`): a
//! stalled provider answers 504 `PROVIDER_TIMEOUT` within it instead of using up every attempt.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{assert_envelope, spawn_app, spawn_with, sse_payloads};

#[tokio::test]
async fn a_stalled_provider_answers_504_within_the_callers_deadline() {
    let app = spawn_app().await;
    let started = Instant::now();
    let response = app
        .client
        .post(app.url("/inference"))
        .header(common::http::DEADLINE_HEADER, "700")
        .json(&json!({"prompt": "[mock:delay=20000] hello"}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let body = assert_envelope(response, 504, "PROVIDER_TIMEOUT").await;
    assert_eq!(body["error"]["retryable"], true, "{body}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_timeout_error_within_the_callers_deadline() {
    let app = spawn_app().await;
    let started = Instant::now();
    let response = app
        .client
        .post(app.url("/inference/stream"))
        .header(common::http::DEADLINE_HEADER, "700")
        .json(&json!({"prompt": "[mock:delay=20000] hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));
    let payloads = sse_payloads(&body);
    assert_eq!(payloads.len(), 1, "{body}");
    assert!(
        payloads[0].starts_with("[ERROR] PROVIDER_TIMEOUT: "),
        "{body}"
    );
}

#[tokio::test]
async fn the_services_own_deadline_applies_without_a_header_and_caps_a_longer_one() {
    let mut config = model_service::config::Config::for_tests();
    config.model_request_deadline = Duration::from_millis(600);
    let app = spawn_with(config).await;
    for header in [None, Some("600000")] {
        let started = Instant::now();
        let mut request = app
            .client
            .post(app.url("/inference"))
            .json(&json!({"prompt": "[mock:delay=20000] hello"}));
        if let Some(ms) = header {
            request = request.header(common::http::DEADLINE_HEADER, ms);
        }
        let response = request.send().await.unwrap();
        assert_envelope(response, 504, "PROVIDER_TIMEOUT").await;
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{header:?}"
        );
    }
}
