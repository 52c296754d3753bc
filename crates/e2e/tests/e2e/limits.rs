//! Rate limits at the gateway: 429 with an honest Retry-After, jobs counting their prompts,
//! concurrent streams, client IPs behind proxies, and buckets shared through Redis.

use std::time::Duration;

use e2e::{assert_envelope, closed_port_url, Stack};
use reqwest::StatusCode;
use serde_json::json;

/// The Redis the tests share: `TEST_REDIS_URL` (scripts/test.sh finds or starts one).
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn generate(stack: &Stack) -> reqwest::Response {
    stack
        .post("/api/v1/generate", &json!({"prompt": "hi"}))
        .await
}

#[tokio::test]
async fn over_the_generate_limit_answers_429_with_an_honest_retry_after() {
    let stack = Stack::start_with(&[
        "--rate-limit",
        "on",
        "--rate-limit-generate-per-minute",
        "60",
        "--rate-limit-generate-burst",
        "2",
    ])
    .await;
    let first = generate(&stack).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "x-ratelimit-limit"), Some(60));
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some(1));
    assert!(header(&first, "x-ratelimit-reset").is_some());
    assert_eq!(generate(&stack).await.status(), StatusCode::OK);

    let refused = generate(&stack).await;
    let retry_after = header(&refused, "retry-after").expect("Retry-After");
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some(0));
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_envelope(refused, 429, "RATE_LIMITED").await;

    // Reads have their own bucket.
    assert_eq!(
        stack.get("/api/v1/chat/sessions").await.status(),
        StatusCode::OK
    );
    // A request sent after Retry-After passes.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(generate(&stack).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_job_counts_its_prompts() {
    let stack = Stack::start_with(&[
        "--rate-limit",
        "on",
        "--rate-limit-generate-per-minute",
        "6",
        "--rate-limit-generate-burst",
        "3",
    ])
    .await;
    let job = stack
        .post("/api/v1/jobs", &json!({"prompts": ["a", "b", "c"]}))
        .await;
    assert_eq!(job.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&job, "x-ratelimit-remaining"), Some(0));
    let refused = generate(&stack).await;
    assert!(header(&refused, "retry-after").is_some_and(|s| s >= 1));
    assert_envelope(refused, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn concurrent_streams_per_user_are_capped() {
    let stack = Stack::start_with(&["--rate-limit", "on", "--max-streams-per-user", "1"]).await;
    let slow = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:delay=1500] slow"}),
        )
        .await;
    assert_eq!(slow.status(), StatusCode::OK);
    let second = stack
        .post("/api/v1/generate/stream", &json!({"prompt": "fast"}))
        .await;
    assert_eq!(header(&second, "retry-after"), Some(1));
    assert_envelope(second, 429, "RATE_LIMITED").await;
    // Reading the first to its end frees the slot.
    assert!(slow.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let third = stack
        .post("/api/v1/generate/stream", &json!({"prompt": "fast"}))
        .await;
    assert_eq!(third.status(), StatusCode::OK);
    third.text().await.unwrap();
}

/// The stream cap counts every stream, whatever route opened it: the OpenAI-compatible
/// completions with `stream: true`, attaches to a session's stream and continuations, as well
/// as `POST /api/v1/generate/stream`. A non-streaming completion is not a stream.
#[tokio::test]
async fn every_kind_of_stream_counts_against_the_stream_cap() {
    let stack = Stack::start_with(&["--rate-limit", "on", "--max-streams-per-user", "1"]).await;
    let session = |title: &'static str| {
        let stack = &stack;
        async move {
            stack
                .post("/api/v1/chat/sessions", &json!({"title": title}))
                .await
                .json::<serde_json::Value>()
                .await
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (cut, busy) = (session("cut").await, session("busy").await);
    // An answer cut at max_tokens, to continue later.
    let first = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:tokens=40] cut me", "max_tokens": 3, "session_id": cut}),
        )
        .await;
    assert!(first.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let detail = stack
        .get_json(&format!("/api/v1/chat/sessions/{cut}"))
        .await;
    let answer = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let model = stack.get_json("/v1/models").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let completion = |stream: bool| {
        json!({"model": model, "stream": stream, "max_tokens": 8,
               "messages": [{"role": "user", "content": "hello"}]})
    };

    // The one slot is taken by a slow session stream.
    let slow = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:delay=2500] slow", "session_id": busy}),
        )
        .await;
    assert_eq!(slow.status(), StatusCode::OK);
    let attach_path = format!("/api/v1/chat/sessions/{busy}/stream");
    let continue_path = format!("/api/v1/chat/sessions/{cut}/messages/{answer}/continue");
    let refused = [
        stack.post("/v1/chat/completions", &completion(true)).await,
        stack.get(&attach_path).await,
        stack.post(&continue_path, &json!({})).await,
        stack
            .post("/api/v1/generate/stream", &json!({"prompt": "fast"}))
            .await,
    ];
    for response in refused {
        assert_eq!(header(&response, "retry-after"), Some(1));
        assert_envelope(response, 429, "RATE_LIMITED").await;
    }
    // A completion that does not stream is not counted.
    let sync = stack.post("/v1/chat/completions", &completion(false)).await;
    assert_eq!(sync.status(), StatusCode::OK);

    // Once the slow stream has ended, each of them opens.
    assert!(slow.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let streamed = stack.post("/v1/chat/completions", &completion(true)).await;
    assert_eq!(streamed.status(), StatusCode::OK);
    assert!(streamed.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let attach = stack.get(&attach_path).await;
    assert_eq!(
        attach.status(),
        StatusCode::NO_CONTENT,
        "nothing runs any more"
    );
    let continued = stack.post(&continue_path, &json!({})).await;
    assert_eq!(continued.status(), StatusCode::OK);
    assert!(continued
        .text()
        .await
        .unwrap()
        .ends_with("data: [DONE]\n\n"));
}

async fn login_attempt(stack: &Stack, forwarded_for: &str) -> StatusCode {
    stack
        .client
        .post(stack.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "a@example.com", "password": "whatever!!"}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn clients_cannot_pick_their_bucket_with_x_forwarded_for() {
    let flags = ["--rate-limit", "on", "--rate-limit-auth-per-minute", "2"];
    let direct = Stack::start_with(&flags).await;
    for ip in ["1.1.1.1", "2.2.2.2"] {
        assert_ne!(
            login_attempt(&direct, ip).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // A third attempt with yet another forged address is still the same client.
    assert_eq!(
        login_attempt(&direct, "3.3.3.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Behind a trusted proxy (here: the test itself, on 127.0.0.1) the header counts.
    let mut trusted = flags.to_vec();
    trusted.extend(["--trusted-proxies", "127.0.0.1/32"]);
    let proxied = Stack::start_with(&trusted).await;
    for _ in 0..2 {
        assert_ne!(
            login_attempt(&proxied, "1.1.1.1").await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(
        login_attempt(&proxied, "1.1.1.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_ne!(
        login_attempt(&proxied, "2.2.2.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn two_gateways_share_their_limits_through_redis() {
    let prefix = format!("sable-test:{}:", uuid::Uuid::new_v4().simple());
    let url = redis_url();
    let flags = [
        "--rate-limit",
        "on",
        "--rate-limit-store",
        "redis",
        "--redis-url",
        url.as_str(),
        "--rate-limit-redis-prefix",
        prefix.as_str(),
        "--rate-limit-generate-per-minute",
        "6",
        "--rate-limit-generate-burst",
        "3",
    ];
    let a = Stack::start_with(&flags).await;
    let b = Stack::start_with(&flags).await;
    assert_eq!(generate(&a).await.status(), StatusCode::OK);
    assert_eq!(generate(&b).await.status(), StatusCode::OK);
    let last = generate(&a).await;
    assert_eq!(last.status(), StatusCode::OK);
    assert_eq!(header(&last, "x-ratelimit-remaining"), Some(0));
    for stack in [&a, &b] {
        let refused = generate(stack).await;
        let wait = header(&refused, "retry-after").expect("Retry-After");
        assert!((1..=10).contains(&wait), "{wait}");
        assert_envelope(refused, 429, "RATE_LIMITED").await;
    }
    let ready = a.get_json("/health/ready").await;
    assert!(ready.to_string().contains("rate_limit"), "{ready}");
}

#[tokio::test]
async fn without_redis_reads_pass_and_generation_is_refused() {
    let down = closed_port_url().await.replace("http://", "redis://");
    let stack = Stack::start_with(&[
        "--rate-limit",
        "on",
        "--rate-limit-store",
        "redis",
        "--redis-url",
        down.as_str(),
    ])
    .await;
    assert_eq!(
        stack.get("/api/v1/chat/sessions").await.status(),
        StatusCode::OK
    );
    let refused = generate(&stack).await;
    assert_envelope(refused, 503, "SERVICE_UNAVAILABLE").await;
    let ready = stack.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
}
