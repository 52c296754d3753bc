//! `spawn_app()` and friends: mount real routers on random local ports.

use clap::Parser;
use common::test_support::{fresh_database, TestDb};
use gateway::{AppState, Config};

/// Shared with every crate's tests.
pub use common::test_support::{assert_envelope, closed_port_url, serve};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db: TestDb,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }
}

/// The gateway with its downstream services unreachable.
pub async fn spawn_app() -> TestApp {
    let down = closed_port_url().await;
    spawn_app_with(&down, &down, &[]).await
}

/// The gateway pointing at the given model and worker services; `extra` are additional
/// command-line flags (e.g. `--frontend-dir`).
pub async fn spawn_app_with(model_url: &str, worker_url: &str, extra: &[&str]) -> TestApp {
    common::telemetry::init_for_tests();
    let db = fresh_database().await;
    let mut args = vec![
        "gateway".to_owned(),
        "--addr".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--database-url".to_owned(),
        db.url.clone(),
        "--model-service-url".to_owned(),
        model_url.to_owned(),
        "--worker-service-url".to_owned(),
        worker_url.to_owned(),
        "--stream-idle-timeout-secs".to_owned(),
        "5".to_owned(),
    ];
    // This checkout's documentation, unless the test brings its own.
    if !extra.contains(&"--docs-root") {
        args.extend([
            "--docs-root".to_owned(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../..").to_owned(),
        ]);
    }
    // The reference-compatible single-user mode, unless the test asks for accounts.
    if !extra.contains(&"--auth-mode") {
        args.extend(["--auth-mode".to_owned(), "off".to_owned()]);
    }
    // Limits have their own tests; elsewhere a test may send more than a person would.
    if !extra.contains(&"--rate-limit") {
        args.extend(["--rate-limit".to_owned(), "off".to_owned()]);
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let config = Config::try_parse_from(args).expect("valid test config");
    let state = gateway::build_state(config).await.expect("gateway state");
    let addr = serve(gateway::app(state.clone())).await;
    TestApp {
        base: format!("http://{addr}"),
        client: common::http::client_builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client"),
        state,
        db,
    }
}
