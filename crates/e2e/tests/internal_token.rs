//! Internal services trust nobody by default (issue 11.4): with `INTERNAL_TOKEN` set, the
//! model and worker services answer every non-health request without the token with 401,
//! while the gateway and worker, which send it, keep working end to end. A gateway that lacks
//! the token reports the service as unavailable (503), never the caller as unauthenticated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use clap::Parser;
use common::config::Secret;
use common::test_support::{assert_envelope, fresh_database, serve, TestDb};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "internal-test-token-0123456789abcdef";

struct Services {
    gateway: String,
    model: String,
    worker: String,
    client: reqwest::Client,
    _db: TestDb,
    model_running: model_service::RunningService,
    worker_shutdown: CancellationToken,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.model_running.shutdown.cancel();
        self.worker_shutdown.cancel();
    }
}

/// The three services in this process; each `Some(token)` is that service's `INTERNAL_TOKEN`.
async fn start(
    model_token: Option<&str>,
    worker_token: Option<&str>,
    gateway_token: Option<&str>,
) -> Services {
    common::telemetry::init_for_tests();
    common::metrics::install();
    let db = fresh_database().await;

    let mut model_config = model_service::config::Config::for_tests();
    model_config.internal.internal_token = model_token.map(Secret::from);
    let model_running = model_service::spawn(model_config)
        .await
        .expect("model service");
    let model = model_running.base_url();

    // Uploaded files (none here) in a temporary directory, not `.data/files` under the crate.
    let file_store = std::env::temp_dir()
        .join(format!("sable-e2e-files-{}", uuid::Uuid::new_v4()))
        .to_string_lossy()
        .into_owned();
    let mut worker_args = vec![
        "worker-service",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--model-service-url",
        &model,
        "--poll-interval-ms",
        "100",
        "--file-store-url",
        &file_store,
    ];
    if let Some(token) = worker_token {
        worker_args.extend(["--internal-token", token]);
    }
    let worker_config = worker_service::config::Config::try_parse_from(worker_args).unwrap();
    let worker_state = worker_service::build_state(worker_config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker = format!("http://{}", listener.local_addr().unwrap());
    let worker_shutdown = CancellationToken::new();
    tokio::spawn(worker_service::serve(
        worker_state,
        listener,
        worker_shutdown.clone(),
    ));

    let mut gateway_args = vec![
        "gateway",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--model-service-url",
        &model,
        "--worker-service-url",
        &worker,
        "--auth-mode",
        "off",
    ];
    if let Some(token) = gateway_token {
        gateway_args.extend(["--internal-token", token]);
    }
    let gateway_config = gateway::Config::try_parse_from(gateway_args).unwrap();
    let gateway_state = gateway::build_state(gateway_config).await.unwrap();
    let gateway = format!("http://{}", serve(gateway::app(gateway_state)).await);
    Services {
        gateway,
        model,
        worker,
        client: common::http::client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        _db: db,
        model_running,
        worker_shutdown,
    }
}

impl Services {
    async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        bearer: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

async fn assert_refused(response: reqwest::Response, what: &str) {
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("Bearer realm=\"sable-internal\"".to_owned()),
        "{what}"
    );
    assert_envelope(response, 401, "INTERNAL_UNAUTHORIZED").await;
}

#[tokio::test]
async fn direct_calls_without_the_internal_token_get_401_while_the_services_work_together() {
    let s = start(Some(TOKEN), Some(TOKEN), Some(TOKEN)).await;
    use reqwest::Method;
    let prompt = json!({"prompt": "hello", "max_tokens": 16});

    // The model service: no token, a wrong one, another scheme — refused on every route.
    for (method, path, body) in [
        (Method::POST, "/inference", Some(prompt.clone())),
        (Method::POST, "/inference/stream", Some(prompt.clone())),
        (Method::GET, "/api/v1/models", None),
        (Method::GET, "/metrics", None),
    ] {
        let url = format!("{}{path}", s.model);
        let none = s
            .call(method.clone(), url.clone(), None, body.clone())
            .await;
        assert_refused(none, path).await;
        let wrong = s
            .call(
                method.clone(),
                url.clone(),
                Some("internal-test-token-0123456789abcdeX"),
                body.clone(),
            )
            .await;
        assert_refused(wrong, path).await;
    }
    let basic = s
        .client
        .post(format!("{}/inference", s.model))
        .header("authorization", format!("Basic {TOKEN}"))
        .json(&prompt)
        .send()
        .await
        .unwrap();
    assert_refused(basic, "Basic scheme").await;
    let right = s
        .call(
            Method::POST,
            format!("{}/inference", s.model),
            Some(TOKEN),
            Some(prompt.clone()),
        )
        .await;
    assert_eq!(right.status(), 200, "the right token passes");

    // The worker service likewise.
    for (method, path, body) in [
        (Method::POST, "/jobs", Some(json!({"prompts": ["x"]}))),
        (Method::GET, "/jobs", None),
        (Method::GET, "/jobs/stats", None),
        (Method::GET, "/metrics", None),
    ] {
        let response = s
            .call(method, format!("{}{path}", s.worker), None, body)
            .await;
        assert_refused(response, path).await;
    }

    // Health stays open for probes on both.
    for base in [&s.model, &s.worker] {
        for path in ["/health", "/health/ready"] {
            let response = s
                .call(Method::GET, format!("{base}{path}"), None, None)
                .await;
            assert_eq!(response.status(), 200, "{base}{path}");
        }
    }

    // Through the gateway, which sends the token: generate, stream, and a job the worker
    // completes by calling the model service with the token too.
    let generated = s
        .call(
            Method::POST,
            format!("{}/api/v1/generate", s.gateway),
            None,
            Some(prompt.clone()),
        )
        .await;
    assert_eq!(generated.status(), 200);
    let stream = s
        .call(
            Method::POST,
            format!("{}/api/v1/generate/stream", s.gateway),
            None,
            Some(prompt.clone()),
        )
        .await;
    assert_eq!(stream.status(), 200);
    assert!(stream
        .text()
        .await
        .unwrap()
        .trim_end()
        .ends_with("data: [DONE]"));
    let job: serde_json::Value = s
        .call(
            Method::POST,
            format!("{}/api/v1/jobs", s.gateway),
            None,
            Some(json!({"prompts": ["one", "two"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = job["job_id"].as_str().expect("a job id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job: serde_json::Value = s
            .call(
                Method::GET,
                format!("{}/api/v1/jobs/{id}", s.gateway),
                None,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        if job["status"] == "completed" {
            assert_eq!(job["results"].as_array().map(Vec::len), Some(2), "{job}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job did not complete: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_gateway_without_the_token_answers_503_not_401() {
    let s = start(Some(TOKEN), Some(TOKEN), None).await;
    let generate = s
        .call(
            reqwest::Method::POST,
            format!("{}/api/v1/generate", s.gateway),
            None,
            Some(json!({"prompt": "hello"})),
        )
        .await;
    assert_envelope(generate, 503, "SERVICE_UNAVAILABLE").await;
    let job = s
        .call(
            reqwest::Method::POST,
            format!("{}/api/v1/jobs", s.gateway),
            None,
            Some(json!({"prompts": ["x"]})),
        )
        .await;
    assert_envelope(job, 503, "SERVICE_UNAVAILABLE").await;
}

#[tokio::test]
async fn without_an_internal_token_the_services_accept_any_caller() {
    let s = start(None, None, None).await;
    let direct = s
        .call(
            reqwest::Method::POST,
            format!("{}/inference", s.model),
            None,
            Some(json!({"prompt": "hello"})),
        )
        .await;
    assert_eq!(direct.status(), 200);
    let stats = s
        .call(
            reqwest::Method::GET,
            format!("{}/jobs/stats", s.worker),
            None,
            None,
        )
        .await;
    assert_ne!(stats.status(), 401);
}
