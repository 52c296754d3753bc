//! Health, envelopes, validation, request ids, CORS, OpenAPI, the docs reader, and what
//! happens when the downstream services are down.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{assert_envelope, spawn_app};

#[tokio::test]
async fn health_answers_the_contract_shape() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let process_time = response.headers()["x-process-time"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        process_time.ends_with("ms") && process_time.trim_end_matches("ms").parse::<f64>().is_ok()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "api-gateway");
    assert_eq!(body["version"], "0.1.0");
    assert!(body["environment"].is_string());
}

#[tokio::test]
async fn readiness_reports_each_dependency_and_503_when_one_is_down() {
    let app = spawn_app().await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["model_service"]["status"], "down");
    assert_eq!(body["checks"]["worker_service"]["status"], "down");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_envelope() {
    let app = spawn_app().await;
    assert_envelope(app.get("/api/v1/nope").await, 404, "NOT_FOUND").await;
    let response = app
        .client
        .delete(app.url("/api/v1/generate"))
        .send()
        .await
        .unwrap();
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED").await;
    let response = app
        .client
        .get(app.url("/api/v1/generate"))
        .send()
        .await
        .unwrap();
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_replaced_otherwise() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "test-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "test-123");

    let long = "x".repeat(500);
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", &long)
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, long);
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

#[tokio::test]
async fn generate_validation_names_each_field_with_422() {
    let app = spawn_app().await;
    let cases = [
        (json!({"prompt": ""}), "prompt", "string_too_short"),
        (
            json!({"prompt": "x".repeat(10_001)}),
            "prompt",
            "string_too_long",
        ),
        (
            json!({"prompt": "hi", "max_tokens": 0}),
            "max_tokens",
            "greater_than_equal",
        ),
        (
            json!({"prompt": "hi", "max_tokens": 8193}),
            "max_tokens",
            "less_than_equal",
        ),
        (
            json!({"prompt": "hi", "temperature": 2.5}),
            "temperature",
            "less_than_equal",
        ),
        (
            json!({"prompt": "hi", "temperature": -0.1}),
            "temperature",
            "greater_than_equal",
        ),
        (json!({"prompt": 5}), "prompt", "string_type"),
        (
            json!({"prompt": "hi", "max_tokens": 1.5}),
            "max_tokens",
            "int_from_float",
        ),
        (json!({}), "prompt", "missing"),
    ];
    for path in ["/api/v1/generate", "/api/v1/generate/stream"] {
        for (body, field, kind) in &cases {
            let response = app.post_json(path, body).await;
            let body = assert_envelope(response, 422, "VALIDATION_ERROR").await;
            assert_eq!(
                body["detail"][0]["loc"],
                json!(["body", field]),
                "{path} {body}"
            );
            assert_eq!(body["detail"][0]["type"], *kind, "{path} {body}");
            assert!(body["error"]["message"].as_str().unwrap().contains(field));
        }
    }
    // Limits are inclusive and counted in code points.
    let ok = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "é".repeat(10_000), "max_tokens": 8192, "temperature": 2.0}),
        )
        .await;
    assert_eq!(
        ok.status(),
        503,
        "valid input reaches the (down) model service"
    );
}

#[tokio::test]
async fn malformed_empty_and_untyped_bodies_are_422() {
    let app = spawn_app().await;
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = app.client.post(app.url("/api/v1/generate")).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };
    let body = assert_envelope(
        send("{\"prompt\": ", Some("application/json"))
            .await
            .unwrap(),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    let body = assert_envelope(
        send("", Some("application/json")).await.unwrap(),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    assert_envelope(
        send("{\"prompt\":\"hi\"}", None).await.unwrap(),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_envelope(
        send("{\"prompt\":\"hi\"}", Some("text/plain"))
            .await
            .unwrap(),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let body = assert_envelope(
        send("[\"hi\"]", Some("application/json")).await.unwrap(),
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["type"], "model_attributes_type");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let huge = json!({"prompt": "x".repeat(2 * 1024 * 1024)});
    assert_envelope(
        app.post_json("/api/v1/generate", &huge).await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
}

#[tokio::test]
async fn model_service_down_gives_503_quickly_without_internal_urls() {
    let app = spawn_app().await;
    let started = Instant::now();
    let response = app
        .post_json("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    let body = assert_envelope(response, 503, "SERVICE_UNAVAILABLE").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the connect timeout"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("model service"), "{message}");
    assert!(
        !message.contains("127.0.0.1") && !message.contains("http"),
        "{message}"
    );
}

#[tokio::test]
async fn model_service_down_stream_ends_with_an_error_event() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/generate/stream", &json!({"prompt": "hi"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("data: [ERROR] "), "{text:?}");
    assert!(
        text.ends_with("\n\n") && text.matches("data: ").count() == 1,
        "{text:?}"
    );
    assert!(!text.contains("127.0.0.1"), "{text:?}");
}

#[tokio::test]
async fn cors_allows_listed_origins_with_credentials_only() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/generate"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );

    let foreign = preflight("http://evil.example").await.unwrap();
    assert!(!foreign
        .headers()
        .contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn openapi_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/health",
        "/api/v1/generate",
        "/api/v1/generate/stream",
        "/api/v1/models",
        "/api/v1/workshop/content",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path} in OpenAPI");
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "Swagger UI page");
}

#[tokio::test]
async fn docs_reader_serves_project_markdown_with_contract_errors() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/workshop/content?path=Cargo.md").await;
    assert_envelope(response, 404, "NOT_FOUND").await;
    let response = app.get("/api/v1/workshop/content?path=../secrets.md").await;
    assert_envelope(response, 400, "INVALID_PATH").await;
    let response = app.get("/api/v1/workshop/content?path=Cargo.toml").await;
    assert_envelope(response, 400, "INVALID_PATH").await;
    let response = app
        .get("/api/v1/workshop/content?path=%2Fetc%2Fpasswd.md")
        .await;
    assert_envelope(response, 400, "INVALID_PATH").await;
    let response = app.get("/api/v1/workshop/content").await;
    let body = assert_envelope(response, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["detail"][0]["loc"], json!(["query", "path"]));

    let index: serde_json::Value = app
        .get("/api/v1/workshop/index")
        .await
        .json()
        .await
        .unwrap();
    let first = index["documents"][0]["path"].as_str().unwrap().to_owned();
    let response = app
        .get(&format!("/api/v1/workshop/content?path={first}"))
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["path"], first);
    assert!(!body["content"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn metrics_summary_and_prometheus_are_served() {
    let app = spawn_app().await;
    // Some API traffic for the window (validation failures count as requests too).
    for _ in 0..3 {
        app.post_json("/api/v1/generate", &json!({"prompt": ""}))
            .await;
    }
    let summary: serde_json::Value = app
        .get("/api/v1/metrics/summary")
        .await
        .json()
        .await
        .unwrap();
    for key in [
        "requests_per_sec",
        "tokens_per_sec",
        "queue_depth",
        "jobs_per_sec",
        "window_secs",
    ] {
        assert!(summary[key].is_number(), "{key} in {summary}");
    }
    assert_eq!(summary["queue_depth"], 0);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn malformed_path_segments_answer_with_the_envelope() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/jobs/%FF",
        "/api/v1/chat/sessions/%FF",
        "/api/v1/chat/sessions/%FF/messages",
    ] {
        let response = app.get(path).await;
        assert!(response.status().is_client_error(), "{path}");
        let status = response.status().as_u16();
        let code = if status == 405 {
            "METHOD_NOT_ALLOWED"
        } else {
            "BAD_REQUEST"
        };
        assert_envelope(response, status, code).await;
    }
}
