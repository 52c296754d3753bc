//! The dashboard's live summary (`GET /api/v1/metrics/summary`) through the whole stack: time to
//! first token and tokens/s of real relayed streams, the five-minute series, and who may read
//! it (administrators only when accounts are on).

use std::time::Duration;

use e2e::{assert_envelope, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The mock waits this long before the first token (`[mock:delay=MS]`).
const FIRST_TOKEN_DELAY_MS: u64 = 150;

/// Polls the summary (as `bearer`, if any) until `ready` holds, for up to 15 s: figures cover
/// complete seconds and intervals only, so a stream shows up a few seconds after it ended.
async fn summary_when(
    stack: &Stack,
    bearer: Option<&str>,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut request = stack.client.get(stack.url("/api/v1/metrics/summary"));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        if ready(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the summary never showed the streams: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn stream(stack: &Stack, bearer: Option<&str>, prompt: &str) {
    let mut request = stack
        .client
        .post(stack.url("/api/v1/generate/stream"))
        .json(&json!({ "prompt": prompt }));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let body = request.send().await.unwrap().text().await.unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
}

#[tokio::test]
async fn ttft_and_tokens_of_relayed_streams_show_in_the_summary_and_its_series() {
    let stack = Stack::start().await;
    let idle = stack.get_json("/api/v1/metrics/summary").await;
    assert_eq!(idle["ttft_p50_ms"], Value::Null, "{idle}");
    assert_eq!(idle["ttft_p99_ms"], Value::Null, "{idle}");
    assert_eq!(idle["series_interval_secs"], 5, "{idle}");
    assert!(idle["series"].is_array(), "{idle}");

    for _ in 0..3 {
        stream(
            &stack,
            None,
            &format!("[mock:delay={FIRST_TOKEN_DELAY_MS}] [mock:tokens=20] hello"),
        )
        .await;
    }

    // Headline figures (last 10 s): the TTFT percentiles are bucket upper bounds, so at least
    // the mock's delay, and well under the seconds a broken measurement would give.
    let summary = summary_when(&stack, None, |s| s["ttft_p50_ms"].is_number()).await;
    for key in ["ttft_p50_ms", "ttft_p99_ms"] {
        let ms = summary[key].as_f64().unwrap();
        assert!(
            (FIRST_TOKEN_DELAY_MS as f64..3000.0).contains(&ms),
            "{key} = {ms} in {summary}"
        );
    }
    assert!(
        summary["tokens_per_sec"].as_f64().unwrap() > 0.0,
        "{summary}"
    );

    // The series: 5-second points, oldest first, one of them holding the streams.
    let summary = summary_when(&stack, None, |s| {
        s["series"]
            .as_array()
            .is_some_and(|points| points.iter().any(|p| p["ttft_p50_ms"].is_number()))
    })
    .await;
    let points = summary["series"].as_array().unwrap();
    let ends: Vec<u64> = points
        .iter()
        .map(|p| p["end_unix"].as_u64().unwrap())
        .collect();
    assert!(ends.windows(2).all(|w| w[1] == w[0] + 5), "{ends:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let last = *ends.last().unwrap();
    assert!(
        last <= now + 1 && last + 7 >= now,
        "last point ends at {last}, now {now}"
    );
    let tokens: f64 = points
        .iter()
        .map(|p| p["tokens_per_sec"].as_f64().unwrap() * 5.0)
        .sum();
    // 3 streams of 20 tokens; a stream's tokens may straddle the still-filling interval.
    assert!(
        (1.0..=60.0).contains(&tokens),
        "{tokens} tokens in {points:?}"
    );
    let busy = points
        .iter()
        .find(|p| p["ttft_p50_ms"].is_number())
        .unwrap();
    assert!(
        busy["ttft_p50_ms"].as_f64().unwrap() >= FIRST_TOKEN_DELAY_MS as f64,
        "{busy}"
    );
    assert!(busy["requests_per_sec"].as_f64().unwrap() > 0.0, "{busy}");
}

#[tokio::test]
async fn with_accounts_only_an_admin_reads_the_summary() {
    let stack = Stack::start_with(&[
        "--auth-mode",
        "jwt",
        "--jwt-secret",
        "e2e-test-signing-secret-0123456789abcdef",
    ])
    .await;
    let mut tokens = Vec::new();
    for email in ["admin@example.com", "user@example.com"] {
        let body = e2e::sign_up(
            &stack.client,
            &stack.url(""),
            &json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    let (admin, user) = (&tokens[0], &tokens[1]);

    assert_envelope(
        stack.get("/api/v1/metrics/summary").await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let refused = stack
        .client
        .get(stack.url("/api/v1/metrics/summary"))
        .bearer_auth(user)
        .send()
        .await
        .unwrap();
    assert_envelope(refused, 403, "FORBIDDEN").await;

    // The first account is the admin; its stream (and the user's) are in the figures.
    stream(&stack, Some(user), "[mock:delay=50] from the user").await;
    let summary = summary_when(&stack, Some(admin), |s| s["ttft_p50_ms"].is_number()).await;
    assert!(summary["series"].is_array(), "{summary}");
}
