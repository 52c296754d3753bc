//! `spawn_app()` and friends: mount real routers on random local ports.

use clap::Parser;
use common::test_support::{fresh_database, TestDb};
use gateway::{AppState, Config};
use reqwest::Method;
use serde_json::{json, Value};

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

    /// Session `id` exported as `format` ("json" or "markdown"), which must succeed: the text.
    pub async fn export(&self, id: &str, format: &str) -> String {
        let response = self
            .get(&format!(
                "/api/v1/chat/sessions/{id}/export?format={format}"
            ))
            .await;
        assert_eq!(response.status(), 200, "export {id} as {format}");
        response.text().await.expect("export body")
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

/// A gateway with accounts on.
pub async fn accounts_app() -> TestApp {
    let down = closed_port_url().await;
    let secret = "accounts-test-secret-0123456789abcdef-xyz";
    spawn_app_with(
        &down,
        &down,
        &["--auth-mode", "jwt", "--jwt-secret", secret],
    )
    .await
}

/// A signed-in user: their access token, id and email.
pub struct User {
    pub token: String,
    pub id: String,
    pub email: String,
}

/// Registers and signs in `email` (the first account of an app is its admin).
pub async fn sign_up(app: &TestApp, email: &str) -> User {
    let password = "accounts-password-123";
    let body = json!({"email": email, "password": password});
    let registered = app.post_json("/api/v1/auth/register", &body).await;
    assert_eq!(registered.status(), 202);
    let login = json_of(app.post_json("/api/v1/auth/login", &body).await, 200).await;
    let mut user = User {
        token: login["access_token"].as_str().unwrap().to_owned(),
        id: String::new(),
        email: email.to_owned(),
    };
    let me = call_json(app, Some(&user), Method::GET, "/api/v1/auth/me", None, 200).await;
    me["id"].as_str().unwrap().clone_into(&mut user.id);
    user
}

/// `method path` as `user` (no credentials when `None`), with an optional JSON body.
pub async fn call(
    app: &TestApp,
    user: Option<&User>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// The JSON body of `response`, which must have `status`.
pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// `call`, then the JSON body of an answer that must have `status`.
pub async fn call_json(
    app: &TestApp,
    user: Option<&User>,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    json_of(call(app, user, method, path, body).await, status).await
}
