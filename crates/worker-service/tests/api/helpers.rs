//! Test support: the real model service in-process (mock provider), `spawn_service()`, a
//! worker process, and polling helpers.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use clap::Parser;
use common::schemas::JobResponse;
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
// The real model service, in this process
// ---------------------------------------------------------------------------------------------

/// The real model service (mock provider) in this process, so the worker meets exactly the
/// statuses, error classes and `retryable` flags it meets in production. Each prompt's
/// behaviour is set by the mock's markers (`model_service::providers::mock`):
/// `[mock:reject]`, `[mock:overloaded]`, `[mock:flaky=N]`, `[mock:delay=MS]`, …
///
/// A thin observing layer in front of the real router counts `POST /inference` calls per
/// prompt; it changes nothing in the request or the answer. The service runs with one
/// provider attempt per model (`RETRY_MAX_ATTEMPTS=1`), so `[mock:flaky=N]` makes exactly the
/// first N calls from the worker fail.
pub struct ModelServer {
    pub url: String,
    pub state: model_service::AppState,
    calls: Arc<Mutex<HashMap<String, u32>>>,
    total: Arc<AtomicU64>,
}

impl ModelServer {
    pub fn calls(&self, prompt: &str) -> u32 {
        self.calls.lock().unwrap().get(prompt).copied().unwrap_or(0)
    }

    pub fn all_calls(&self) -> HashMap<String, u32> {
        self.calls.lock().unwrap().clone()
    }

    pub fn total_calls(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> model_service::stats::StatsSnapshot {
        self.state.stats.snapshot()
    }
}

/// The mock's answer to `prompt` from the default model (what a job's result holds).
pub fn answer(prompt: &str) -> String {
    format!("[Mock response from llama-3.3-70b-versatile] Simulated response to: {prompt}")
}

/// The model service for worker tests: mock provider, no delays, one attempt per model.
pub fn model_config() -> model_service::config::Config {
    let mut config = model_service::config::Config::for_tests();
    config.retry_max_attempts = 1;
    config
}

pub async fn spawn_model() -> ModelServer {
    spawn_model_with(model_config()).await
}

pub async fn spawn_model_with(config: model_service::config::Config) -> ModelServer {
    common::telemetry::init_for_tests();
    let state = model_service::build_state(config)
        .await
        .expect("model service state");
    let calls: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let total = Arc::new(AtomicU64::new(0));
    let (c, t) = (calls.clone(), total.clone());
    let observed = model_service::app(state.clone()).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let (calls, total) = (c.clone(), t.clone());
            async move {
                if request.uri().path() != "/inference" {
                    return next.run(request).await;
                }
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                if let Some(prompt) = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v["prompt"].as_str().map(str::to_owned))
                {
                    *calls.lock().unwrap().entry(prompt).or_insert(0) += 1;
                }
                total.fetch_add(1, Ordering::SeqCst);
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        },
    ));
    let addr = serve(observed).await;
    ModelServer {
        url: format!("http://{addr}"),
        state,
        calls,
        total,
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
    "--job-retry-base-delay-ms",
    "50",
    "--job-retry-max-delay-ms",
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
    // Uploaded files go to a fresh temporary directory, not `.data/files` under the crate.
    if !extra.contains(&"--file-store-url") {
        let store =
            std::env::temp_dir().join(format!("sable-worker-test-files-{}", Uuid::new_v4()));
        args.push("--file-store-url".into());
        args.push(store.to_string_lossy().into_owned());
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
            "FILE_STORE_URL",
            std::env::temp_dir().join(format!("sable-worker-test-files-{}", Uuid::new_v4())),
        )
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
    let client = common::http::client_builder().build().unwrap();
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
    common::http::client_builder()
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

/// The contract's envelope with `code`, and the request id in the body matching the header.
pub use common::test_support::assert_envelope;

pub fn prompts(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}

/// Sends `request` as `user` (the gateway's `X-Sable-User-Id`).
pub async fn as_user(user: &str, request: reqwest::RequestBuilder) -> reqwest::Response {
    request
        .header("x-sable-user-id", user)
        .send()
        .await
        .unwrap()
}

/// A second user in the `users` table (the default one is seeded by the migrations).
pub async fn create_user(pool: &PgPool) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, $2)")
        .bind(id)
        .bind(format!("{id}@example.test"))
        .execute(pool)
        .await
        .unwrap();
    id
}
