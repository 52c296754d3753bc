//! `GET /api/v1/auth/config` states the input limits the gateway enforces (issue 25, defect 6),
//! so the UI takes them from there instead of copying them: each one reported is the one a
//! request is refused at.

use serde_json::{json, Value};

use crate::helpers::{assert_envelope, spawn_app};

#[tokio::test]
async fn the_config_reports_the_limits_that_requests_are_refused_at() {
    let app = spawn_app().await;
    let config: Value = app.get("/api/v1/auth/config").await.json().await.unwrap();
    let limits = &config["limits"];
    let n = |k: &str| {
        limits[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {limits}")) as usize
    };

    // One code point over each limit is refused (422, naming the field); no model is reached.
    let prompt = "é".repeat(n("prompt_max_chars") + 1);
    let response = app
        .post_json("/api/v1/generate", &json!({ "prompt": prompt }))
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;

    let system = "s".repeat(n("system_prompt_max_chars") + 1);
    let response = app
        .post_json(
            "/api/v1/chat/sessions",
            &json!({ "title": "x", "system_prompt": system }),
        )
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    let at_limit = "s".repeat(n("system_prompt_max_chars"));
    let response = app
        .post_json(
            "/api/v1/chat/sessions",
            &json!({ "title": "x", "system_prompt": at_limit }),
        )
        .await;
    assert_eq!(response.status(), 201);

    let over = n("max_tokens_max") + 1;
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({ "prompt": "hi", "max_tokens": over }),
        )
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    assert_eq!(limits["max_tokens_min"], 1);

    let title = "t".repeat(n("title_max_chars") + 1);
    let response = app
        .post_json("/api/v1/chat/sessions", &json!({ "title": title }))
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;

    assert!(n("job_prompts_max") >= 1);
    assert!(n("job_name_max_chars") >= 1);
    assert!(
        limits["temperature_max"].as_f64().unwrap() > limits["temperature_min"].as_f64().unwrap()
    );
}
