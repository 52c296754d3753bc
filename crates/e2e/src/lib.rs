//! The whole product in one process for end-to-end tests: the model service (mock provider),
//! the worker service and the gateway, each on its own `127.0.0.1:0` port, sharing one fresh
//! Postgres database. Tests drive only the gateway's public API, as a client would.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod processes;

use std::time::Duration;

use clap::Parser;
use common::test_support::{fresh_database, serve, TestDb};
use tokio_util::sync::CancellationToken;

pub use common::test_support::{assert_envelope, closed_port_url};

/// The three services, running. Dropping it stops the model and worker services.
pub struct Stack {
    /// The gateway's base URL, e.g. `http://127.0.0.1:41234`.
    pub gateway: String,
    pub gateway_state: gateway::AppState,
    /// The model and worker services' base URLs (internal; for scraping their `/metrics`).
    pub model_url: String,
    pub worker_url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// The worker's local file store (a fresh temporary directory).
    pub file_store: String,
    model: model_service::RunningService,
    worker_shutdown: CancellationToken,
}

impl Stack {
    /// All three services with a mock that answers at once.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// All three services; `gateway_flags` are extra gateway command-line flags (a flag given
    /// here overrides the default one, e.g. `--worker-service-url`).
    pub async fn start_with(gateway_flags: &[&str]) -> Self {
        Self::start_with_model(model_service::config::Config::for_tests(), gateway_flags).await
    }

    /// All three services, the model service built from `model` (e.g. another provider, or
    /// `model_capabilities`); `gateway_flags` as in [`start_with`](Self::start_with).
    pub async fn start_with_model(
        model: model_service::config::Config,
        gateway_flags: &[&str],
    ) -> Self {
        Self::start_full(model, gateway_flags, &[]).await
    }

    /// [`start_with`](Self::start_with), plus extra worker-service flags.
    pub async fn start_with_worker(gateway_flags: &[&str], worker_flags: &[&str]) -> Self {
        Self::start_full(
            model_service::config::Config::for_tests(),
            gateway_flags,
            worker_flags,
        )
        .await
    }

    /// All three services: the model service from `model`, extra gateway and worker flags.
    pub async fn start_full(
        model: model_service::config::Config,
        gateway_flags: &[&str],
        worker_flags: &[&str],
    ) -> Self {
        common::telemetry::init_for_tests();
        common::metrics::install();
        let db = fresh_database().await;
        let model = model_service::spawn(model)
            .await
            .expect("model service starts");
        let model_url = model.base_url();

        // Each stack keeps its uploaded files in a directory of its own.
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
            &model_url,
            "--lease-secs",
            "5",
            "--heartbeat-secs",
            "1",
            "--poll-interval-ms",
            "250",
        ];
        // A test may name its own store (e.g. `s3://…`).
        if !worker_flags.contains(&"--file-store-url") {
            worker_args.extend(["--file-store-url", &file_store]);
        }
        worker_args.extend_from_slice(worker_flags);
        let worker_config =
            worker_service::config::Config::try_parse_from(worker_args).expect("worker config");
        let worker_state = worker_service::build_state(worker_config)
            .await
            .expect("worker state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let worker_url = format!("http://{}", listener.local_addr().expect("addr"));
        let worker_shutdown = CancellationToken::new();
        tokio::spawn(worker_service::serve(
            worker_state,
            listener,
            worker_shutdown.clone(),
        ));

        let defaults = [
            ("--addr", "127.0.0.1:0"),
            ("--database-url", db.url.as_str()),
            ("--model-service-url", model_url.as_str()),
            ("--worker-service-url", worker_url.as_str()),
            // The reference-compatible single-user mode, unless the test asks for accounts.
            ("--auth-mode", "off"),
            // Limits have their own tests; elsewhere a test may send more than a person would.
            ("--rate-limit", "off"),
        ];
        let mut args = vec!["gateway"];
        for (flag, value) in defaults {
            if !gateway_flags.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend_from_slice(gateway_flags);
        let config = gateway::Config::try_parse_from(args).expect("gateway config");
        let gateway_state = gateway::build_state(config).await.expect("gateway state");
        let addr = serve(gateway::app(gateway_state.clone())).await;
        Self {
            gateway: format!("http://{addr}"),
            gateway_state,
            model_url,
            worker_url,
            client: common::http::client_builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            db,
            file_store,
            model,
            worker_shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// GET, asserting 200, as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Polls `GET /api/v1/jobs/{id}` until the job has `status` (or panics after `timeout`).
    pub async fn wait_for_job(
        &self,
        id: &str,
        status: &str,
        timeout: Duration,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let job = self.get_json(&format!("/api/v1/jobs/{id}")).await;
            if job["status"] == status {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} did not reach {status} within {timeout:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.model.shutdown.cancel();
        self.worker_shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.file_store);
    }
}

/// Registers an account through the gateway at `base` and signs it in; the sign-in answer
/// (`access_token`, `refresh_token`, `user`). `body` is the registration body (`email`,
/// `password`, optional `display_name`). Registration answers 202 without tokens by default
/// (it does not tell whether the email was taken), so this signs in after it.
pub async fn sign_up(
    client: &reqwest::Client,
    base: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let registered = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(body)
        .send()
        .await
        .expect("register");
    let status = registered.status().as_u16();
    assert!(status == 201 || status == 202, "register: {status}");
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": body["email"], "password": body["password"]}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status().as_u16(), 200, "login after register");
    login.json().await.expect("JSON sign-in answer")
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .filter_map(|e| e.strip_prefix("data: ").map(str::to_owned))
        .collect()
}
