//! `POST /inference/stream`: SSE framing (contract §6), errors, cancellation.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::helpers::{spawn_app, sse_payloads};

#[tokio::test]
async fn stream_framing_is_byte_exact_and_tokens_survive_quotes_newlines_and_unicode() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/inference/stream",
            &json!({"prompt": "Hi \"there\"\nnew line é✓"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(headers.contains_key("x-request-id"));
    let body = response.text().await.unwrap();
    let expected = [
        r#"data: "[Mock ""#,
        r#"data: "response ""#,
        r#"data: "from ""#,
        r#"data: "llama-3.3-70b-versatile] ""#,
        r#"data: "Simulated ""#,
        r#"data: "response ""#,
        r#"data: "to: ""#,
        r#"data: "Hi ""#,
        r#"data: "\"there\"\n""#,
        r#"data: "new ""#,
        r#"data: "line ""#,
        r#"data: "é✓ ""#,
        "data: [DONE]",
    ]
    .map(|line| format!("{line}\n\n"))
    .concat();
    assert_eq!(body, expected);

    // Decoding the payloads gives the text back, the newline included.
    let payloads = sse_payloads(&body);
    let text: String = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str::<String>(p).unwrap())
        .collect();
    assert!(text.ends_with("Hi \"there\"\nnew line é✓ "), "{text:?}");
}

#[tokio::test]
async fn stream_ends_with_exactly_one_done_and_no_other_fields() {
    let app = spawn_app().await;
    let body = app
        .post_json(
            "/inference/stream",
            &json!({"prompt": "one two three", "model": "m"}),
        )
        .await
        .text()
        .await
        .unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(payloads.iter().filter(|p| *p == "[DONE]").count(), 1);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    assert!(payloads[..payloads.len() - 1]
        .iter()
        .all(|p| p.starts_with('"')));
    assert!(
        body.lines()
            .all(|l| l.is_empty() || l.starts_with("data: ")),
        "{body}"
    );
    assert!(!body.contains("[ERROR]"));
    let s = app.stats();
    assert_eq!(
        (s.streams_started, s.streams_completed, s.streams_cancelled),
        (1, 1, 0)
    );
    assert_eq!(s.tokens_generated as usize, payloads.len() - 1);
}

#[tokio::test]
async fn failure_before_the_first_token_is_one_single_line_error_event() {
    let app = spawn_app().await;
    let response = app
        .post_json("/inference/stream", &json!({"prompt": "[mock:error] x"}))
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(payloads.len(), 1, "{body:?}");
    let error = &payloads[0];
    assert!(
        error.starts_with(
            "[ERROR] INFERENCE_ERROR: Streaming failed with llama-3.3-70b-versatile: mock provider failure"
        ),
        "{error}"
    );
    // The mock's two-line message arrives on one line.
    assert!(error.contains("[mock:error] this second line"), "{error}");
    assert_eq!(
        body.matches('\n').count(),
        2,
        "one line plus the blank line: {body:?}"
    );
    assert!(!body.contains("[DONE]"));
    assert_eq!(app.stats().streams_failed, 1);
}

#[tokio::test]
async fn failure_after_tokens_ends_with_error_and_never_falls_back() {
    let app = spawn_app().await;
    let body = app
        .post_json(
            "/inference/stream",
            &json!({"prompt": "[mock:error-after=3] go"}),
        )
        .await
        .text()
        .await
        .unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(
        payloads,
        [
            r#""[Mock ""#,
            r#""response ""#,
            r#""from ""#,
            "[ERROR] INFERENCE_ERROR: Streaming failed with llama-3.3-70b-versatile: mock provider failure after 3 tokens",
        ]
    );
}

#[tokio::test]
async fn stream_stops_provider_when_client_disconnects() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/inference/stream",
            &json!({"prompt": "[mock:slow] tell me a long story please"}),
        )
        .await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);

    let stats = &app.service.state.stats;
    let after = stats
        .wait_for(Duration::from_secs(5), |s| s.streams_cancelled == 1)
        .await
        .expect("cancellation observed");
    assert_eq!((after.streams_completed, after.streams_failed), (0, 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stats.snapshot().tokens_generated,
        after.tokens_generated,
        "generation stopped"
    );
}
