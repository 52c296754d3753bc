//! Test support: a controllable fake model service, `spawn_service()`, a worker process, and
//! polling helpers.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use common::schemas::{GenerateRequest, GenerateResponse, JobResponse, Usage};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use worker_service::config::Config;
use worker_service::AppState;

/// Shared with every crate's tests.
pub use common::test_support::{closed_port_url, serve};

// ---------------------------------------------------------------------------------------------
// Fake model service
// ---------------------------------------------------------------------------------------------

/// A model service whose behaviour is set by directives inside each prompt:
/// - `[fail:N:CODE]` — the first N calls with this prompt answer HTTP CODE, later ones succeed;
/// - `[reject]` — always 422 (a permanent failure);
/// - `[slow:MS]` — wait MS milliseconds before answering;
///
/// plus a global delay. It counts calls per prompt. The answer is `answer: <prompt>`.
#[derive(Clone, Default)]
pub struct FakeModel {
    calls: Arc<Mutex<HashMap<String, u32>>>,
    delay_ms: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
}

pub struct FakeModelServer {
    pub url: String,
    pub model: FakeModel,
}

impl FakeModel {
    pub fn calls(&self, prompt: &str) -> u32 {
        self.calls.lock().unwrap().get(prompt).copied().unwrap_or(0)
    }

    pub fn all_calls(&self) -> HashMap<String, u32> {
        self.calls.lock().unwrap().clone()
    }

    pub fn total_calls(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

fn directive<'a>(prompt: &'a str, name: &str) -> Option<&'a str> {
    let start = prompt.find(&format!("[{name}"))? + name.len() + 1;
    let end = start + prompt[start..].find(']')?;
    Some(prompt[start..end].trim_start_matches(':'))
}

async fn inference(
    State(model): State<FakeModel>,
    Json(request): Json<GenerateRequest>,
) -> Response {
    let prompt = request.prompt.clone();
    let call = {
        let mut calls = model.calls.lock().unwrap();
        let n = calls.entry(prompt.clone()).or_insert(0);
        *n += 1;
        *n
    };
    model.total.fetch_add(1, Ordering::SeqCst);
    let mut delay = model.delay_ms.load(Ordering::SeqCst);
    if let Some(ms) = directive(&prompt, "slow").and_then(|s| s.parse::<u64>().ok()) {
        delay += ms;
    }
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if directive(&prompt, "reject").is_some() {
        return envelope(
            422,
            "VALIDATION_ERROR",
            "Invalid request: prompt: not allowed by the fake",
        );
    }
    if let Some(spec) = directive(&prompt, "fail") {
        let mut parts = spec.split(':');
        let times: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
        let code: u16 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(503);
        if call <= times {
            let code_name = if code == 429 {
                "RATE_LIMITED"
            } else {
                "SERVICE_UNAVAILABLE"
            };
            return envelope(
                code,
                code_name,
                "The provider is overloaded, see http://internal.example:9000/status\nretry later",
            );
        }
    }
    Json(GenerateResponse {
        text: format!("answer: {prompt}"),
        model: request.model.unwrap_or_else(|| "fake-model".to_owned()),
        usage: Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
        },
        latency_ms: 0.0,
        finish_reason: None,
    })
    .into_response()
}

fn envelope(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "request_id": null}})),
    )
        .into_response()
}

pub async fn spawn_fake_model() -> FakeModelServer {
    let model = FakeModel::default();
    let router = Router::new()
        .route("/inference", post(inference))
        .route(
            "/health",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .with_state(model.clone());
    let addr = serve(router).await;
    FakeModelServer {
        url: format!("http://{addr}"),
        model,
    }
}

// ---------------------------------------------------------------------------------------------
// The worker service in this process
// ---------------------------------------------------------------------------------------------

/// Settings for tests: short leases and delays, small pools.
pub const TEST_FLAGS: &[&str] = &[
    "--lease-secs",
    "2",
    "--heartbeat-secs",
    "1",
    "--poll-interval-ms",
    "250",
    "--retry-base-delay-ms",
    "50",
    "--retry-max-delay-ms",
    "200",
    "--database-max-connections",
    "6",
    "--shutdown-grace-secs",
    "3",
    "--worker-max-jobs",
    "8",
    "--worker-max-prompts",
    "16",
    "--http-request-timeout-secs",
    "20",
];

pub fn test_config(db_url: &str, model_url: &str, extra: &[&str]) -> Config {
    let mut args: Vec<String> = vec![
        "worker-service".into(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        db_url.into(),
        "--model-service-url".into(),
        model_url.into(),
    ];
    // Test defaults, unless `extra` sets the same flag.
    for pair in TEST_FLAGS.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend(pair.iter().map(|s| (*s).to_owned()));
        }
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Config::try_parse_from(args).expect("valid test config")
}

/// A running worker service (API + worker) in this process.
pub struct Service {
    pub base: String,
    pub state: AppState,
    pub shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGTERM equivalent: stop claiming, finish or release, return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("service stops within its grace period")
            .expect("service task")
            .expect("service result");
    }
}

pub async fn spawn_service(db_url: &str, model_url: &str, extra: &[&str]) -> Service {
    common::telemetry::init_for_tests();
    common::metrics::install();
    let config = test_config(db_url, model_url, extra);
    let state = worker_service::build_state(config)
        .await
        .expect("worker state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(worker_service::serve(
        state.clone(),
        listener,
        shutdown.clone(),
    ));
    Service {
        base: format!("http://{addr}"),
        state,
        shutdown,
        handle,
    }
}

// ---------------------------------------------------------------------------------------------
// The worker service as a separate OS process
// ---------------------------------------------------------------------------------------------

pub struct WorkerProcess {
    pub child: tokio::process::Child,
    pub worker_id: String,
}

impl WorkerProcess {
    /// SIGKILL: no shutdown handler runs, leases are left to expire.
    pub async fn kill_9(&mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }
}

/// Starts the `worker-service` binary; waits until its `/health` answers.
pub async fn spawn_worker_process(
    db_url: &str,
    model_url: &str,
    worker_id: &str,
    env: &[(&str, &str)],
) -> WorkerProcess {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_worker-service"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WORKER_SERVICE_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", db_url)
        .env("MODEL_SERVICE_URL", model_url)
        .env("WORKER_ID", worker_id)
        .env("LEASE_SECS", "2")
        .env("HEARTBEAT_SECS", "1")
        .env("POLL_INTERVAL_MS", "250")
        .env("DATABASE_MAX_CONNECTIONS", "6")
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").map_or("error".to_owned(), |_| "info".to_owned()),
        )
        .stdout(Stdio::null())
        .stderr(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("start the worker-service binary");
    let health = format!("http://127.0.0.1:{port}/health");
    let client = reqwest::Client::new();
    let up = wait_until(Duration::from_secs(20), || {
        let request = client.get(&health).send();
        async move { request.await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    assert!(up, "worker process did not become healthy");
    WorkerProcess {
        child,
        worker_id: worker_id.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP and database helpers
// ---------------------------------------------------------------------------------------------

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub async fn submit(client: &reqwest::Client, base: &str, prompts: &[String]) -> JobResponse {
    let response = client
        .post(format!("{base}/jobs"))
        .json(&json!({ "prompts": prompts }))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status().as_u16(), 202);
    response.json().await.expect("job body")
}

pub async fn get_job(client: &reqwest::Client, base: &str, id: Uuid) -> JobResponse {
    let response = client
        .get(format!("{base}/jobs/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("job body")
}

/// Polls `check` every 25 ms until it is true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn status_of(pool: &PgPool, id: Uuid) -> String {
    let (s,): (String,) = sqlx::query_as("SELECT status FROM batch_jobs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("status");
    s
}

/// Waits until the job reaches `status`; panics with the job's row otherwise.
pub async fn wait_for_status(pool: &PgPool, id: Uuid, status: &str, timeout: Duration) {
    let ok = wait_until(timeout, || async { status_of(pool, id).await == status }).await;
    if !ok {
        let row: Option<Value> =
            sqlx::query_scalar("SELECT to_jsonb(j) FROM batch_jobs j WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .unwrap_or(None);
        panic!("job {id} did not reach {status} within {timeout:?}: {row:?}");
    }
}

/// Every row of `batch_job_results` of a job: (idx, attempt, has_text).
pub async fn slots(pool: &PgPool, id: Uuid) -> Vec<(i32, i32, bool)> {
    sqlx::query_as("SELECT idx, attempt, text IS NOT NULL FROM batch_job_results WHERE job_id = $1 ORDER BY idx")
        .bind(id)
        .fetch_all(pool)
        .await
        .expect("slots")
}

/// Asserts the contract's error envelope and returns the body.
pub async fn assert_envelope(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert!(body["error"].get("request_id").is_some(), "body: {body}");
    body
}

pub fn prompts(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}
