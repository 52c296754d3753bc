//! The optional daily token quota (QUOTA_TOKENS_PER_DAY): usage counted from what the model
//! service reports, shown by /auth/me, and a generation over the quota refused with 429.

use e2e::{assert_envelope, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn usage_is_counted_and_the_daily_quota_refuses_with_its_reset_time() {
    let stack = Stack::start_with(&["--quota-tokens-per-day", "30"]).await;
    let before = stack.get_json("/api/v1/auth/me").await;
    assert_eq!(before["usage_today"]["total_tokens"], 0, "{before}");
    assert_eq!(before["usage_today"]["quota_tokens"], 30);

    // A sync answer and a stream both count (the mock reports its usage).
    let sync: Value = stack
        .post("/api/v1/generate", &json!({"prompt": "one two three"}))
        .await
        .json()
        .await
        .unwrap();
    let stream = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "four five six"}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(stream.ends_with("data: [DONE]\n\n"));
    // The stream's usage is recorded in the background as it ends.
    let mut me = Value::Null;
    for _ in 0..50 {
        me = stack.get_json("/api/v1/auth/me").await;
        if me["usage_today"]["requests"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let usage = &me["usage_today"];
    assert_eq!(usage["requests"], 2, "{me}");
    let total = usage["total_tokens"].as_i64().unwrap();
    assert!(
        total > sync["usage"]["total_tokens"].as_i64().unwrap(),
        "{me}"
    );

    // Spend the rest, then the next generation is refused until midnight UTC.
    while stack.get_json("/api/v1/auth/me").await["usage_today"]["total_tokens"]
        .as_i64()
        .unwrap()
        < 30
    {
        let r = stack
            .post("/api/v1/generate", &json!({"prompt": "more words please"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let refused = stack
        .post("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry_after));
    assert!(refused.headers().contains_key("x-quota-reset"));
    assert_envelope(refused, 429, "QUOTA_EXCEEDED").await;
    let job = stack.post("/api/v1/jobs", &json!({"prompts": ["a"]})).await;
    assert_envelope(job, 429, "QUOTA_EXCEEDED").await;
    // Reads still work.
    assert_eq!(
        stack.get("/api/v1/chat/sessions").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_jobs_answers_count_against_the_daily_quota() {
    let stack = Stack::start_with(&["--quota-tokens-per-day", "40"]).await;
    let job: Value = stack
        .post(
            "/api/v1/jobs",
            &json!({"prompts": ["[mock:tokens=15] one", "[mock:tokens=15] two", "[mock:reject] three"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = job["job_id"].as_str().unwrap();
    let done = stack
        .wait_for_job(id, "completed", std::time::Duration::from_secs(20))
        .await;
    assert_eq!(done["failed_prompts"], 1, "{done}");
    // The two answers are counted (the refused prompt used nothing), written with the results.
    let me = stack.get_json("/api/v1/auth/me").await;
    let usage = &me["usage_today"];
    assert_eq!(usage["requests"], 2, "{me}");
    assert_eq!(usage["completion_tokens"], 30, "{me}");
    assert!(usage["total_tokens"].as_i64().unwrap() >= 40, "{me}");
    // Jobs cannot get round the quota: the next generation is refused.
    let refused = stack
        .post("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    assert_envelope(refused, 429, "QUOTA_EXCEEDED").await;
}
