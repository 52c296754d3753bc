//! No secret reaches a log (issue 11.5): the three real binaries run as child processes with
//! `RUST_LOG=debug` and `LOG_FORMAT=json`, the auth and generation flows are driven through
//! the gateway over HTTP, and everything the services wrote to stdout and stderr is searched
//! for every secret value of the run: the database password, the JWT secret, the provider
//! key, the internal token, the user's password (and a wrong one), every access and refresh
//! token, the API key, and credentials that were presented but refused.
//!
//! Child processes rather than the in-process `Stack`: the tracing subscriber is global, so
//! only separate processes give each service exactly its production logging setup. The
//! binaries are the workspace's `target/<profile>/{gateway,model-service,worker-service}`:
//! `cargo test --workspace` builds them (their crates have integration tests); for
//! `cargo test -p e2e` alone run `cargo build --bins` first. The test refuses binaries older
//! than the sources rather than testing stale code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e::processes::{binaries, Service};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// `n` random hexadecimal characters.
fn random(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(n);
    out
}

/// `postgres://user@host/db` with `password` put in as the user's password.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("database URL has a scheme");
    let (userinfo, host) = rest.split_once('@').expect("database URL names a user");
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    format!("{scheme}://{user}:{password}@{host}")
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, bearer, Some(body), None)
            .await
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, bearer, None, None)
            .await
    }
}

async fn json_ok(response: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The `sable_refresh` cookie a response sets.
fn refresh_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sable_refresh="))
        .and_then(|c| c.split(';').next())
        .expect("a sable_refresh cookie")
        .to_owned()
}

#[tokio::test]
async fn no_secret_appears_in_the_logs_of_the_auth_and_generation_flows() {
    let bins = binaries();
    let db = common::test_support::fresh_database().await;
    // The services run in an empty directory, so no `.env` of the checkout is read.
    let cwd = std::env::temp_dir().join(format!("sable-log-capture-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&cwd).unwrap();

    // Every secret of the run, named for the failure message.
    let db_password = format!("dbpw{}", random(24));
    let jwt_secret = format!("jwt{}", random(40));
    let provider_key = format!("sk-proj-{}", random(40));
    let internal_token = format!("internal-{}", random(40));
    let password = format!("pw-{}", random(20));
    let wrong_password = format!("wrong-{}", random(20));
    let database_url = with_password(&db.url, &db_password);
    let mut secrets: Vec<(String, String)> = vec![
        ("DATABASE_URL password".into(), db_password.clone()),
        ("JWT_SECRET".into(), jwt_secret.clone()),
        ("OPENAI_API_KEY".into(), provider_key.clone()),
        ("INTERNAL_TOKEN".into(), internal_token.clone()),
        ("password".into(), password.clone()),
        ("wrong password".into(), wrong_password.clone()),
    ];

    let model = Service::start(
        "model-service",
        &bins.model,
        &cwd,
        &[
            ("RUST_LOG", "debug".into()),
            ("MODEL_SERVICE_ADDR", "127.0.0.1:0".into()),
            ("PROVIDER", "mock".into()),
            ("OPENAI_API_KEY", provider_key.clone()),
            ("MOCK_FIRST_TOKEN_DELAY_MS", "0".into()),
            ("MOCK_TOKEN_DELAY_MS", "0".into()),
            ("INTERNAL_TOKEN", internal_token.clone()),
        ],
    )
    .await;
    let model_url = model.url.clone();
    let worker = Service::start(
        "worker-service",
        &bins.worker,
        &cwd,
        &[
            ("RUST_LOG", "debug".into()),
            ("WORKER_SERVICE_ADDR", "127.0.0.1:0".into()),
            ("DATABASE_URL", database_url.clone()),
            ("MODEL_SERVICE_URL", model_url.clone()),
            ("POLL_INTERVAL_MS", "200".into()),
            ("INTERNAL_TOKEN", internal_token.clone()),
        ],
    )
    .await;
    let worker_url = worker.url.clone();
    let gateway = Service::start(
        "gateway",
        &bins.gateway,
        &cwd,
        &[
            ("RUST_LOG", "debug".into()),
            ("GATEWAY_ADDR", "127.0.0.1:0".into()),
            ("DATABASE_URL", database_url.clone()),
            ("MODEL_SERVICE_URL", model_url.clone()),
            ("WORKER_SERVICE_URL", worker_url.clone()),
            ("AUTH_MODE", "jwt".into()),
            ("JWT_SECRET", jwt_secret.clone()),
            // The test reads the sign-in that registration answers with this setting.
            ("REGISTRATION_REVEALS_ACCOUNTS", "true".into()),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "1000".into()),
            // A replay below is theft, however soon it comes.
            ("REFRESH_REUSE_GRACE_SECS", "0".into()),
            ("INTERNAL_TOKEN", internal_token.clone()),
        ],
    )
    .await;
    let gateway_url = gateway.url.clone();

    let api = Client {
        http: common::http::client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        base: gateway_url,
    };

    // Sign up, a refused sign-in, sign in.
    let email = format!("logs-{}@example.com", random(8).to_lowercase());
    let registered = api
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": password, "display_name": "Logs"}),
        )
        .await;
    let cookie = refresh_cookie(&registered);
    let registered = json_ok(registered, StatusCode::CREATED, "register").await;
    let refused = api
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": wrong_password}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let login = json_ok(
        api.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await,
        StatusCode::OK,
        "login",
    )
    .await;

    // Refresh by body, then by cookie.
    let by_body = json_ok(
        api.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await,
        StatusCode::OK,
        "refresh (body)",
    )
    .await;
    let by_cookie = api
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({})),
            Some(&format!(
                "sable_refresh={}",
                by_body["refresh_token"].as_str().unwrap()
            )),
        )
        .await;
    let by_cookie = json_ok(by_cookie, StatusCode::OK, "refresh (cookie)").await;
    let access = by_cookie["access_token"].as_str().unwrap().to_owned();
    json_ok(
        api.get("/api/v1/auth/me", Some(&access)).await,
        StatusCode::OK,
        "me",
    )
    .await;

    // An API key, used for generation and a job.
    let key = json_ok(
        api.post("/api/v1/auth/keys", Some(&access), json!({"name": "logs"}))
            .await,
        StatusCode::CREATED,
        "create key",
    )
    .await;
    let api_key = key["key"].as_str().unwrap().to_owned();
    let key_prefix = key["prefix"].as_str().unwrap_or_default().to_owned();
    json_ok(
        api.get("/api/v1/auth/keys", Some(&access)).await,
        StatusCode::OK,
        "list keys",
    )
    .await;
    let generated = json_ok(
        api.post(
            "/api/v1/generate",
            Some(&api_key),
            json!({"prompt": "Say hello to the logs", "max_tokens": 32}),
        )
        .await,
        StatusCode::OK,
        "generate",
    )
    .await;
    assert!(generated["text"].as_str().is_some_and(|t| !t.is_empty()));

    // A stored stream: session, then a streamed answer read to the end.
    let session = json_ok(
        api.post(
            "/api/v1/chat/sessions",
            Some(&access),
            json!({"title": "logs"}),
        )
        .await,
        StatusCode::CREATED,
        "create session",
    )
    .await;
    let stream = api
        .post(
            "/api/v1/generate/stream",
            Some(&access),
            json!({"prompt": "Stream to the logs", "max_tokens": 32, "session_id": session["id"]}),
        )
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    let body = stream.text().await.unwrap();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");

    let job = json_ok(
        api.post(
            "/api/v1/jobs",
            Some(&api_key),
            json!({"prompts": ["one for the logs", "two for the logs"]}),
        )
        .await,
        StatusCode::ACCEPTED,
        "submit job",
    )
    .await;
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = json_ok(
            api.get(&format!("/api/v1/jobs/{job_id}"), Some(&api_key))
                .await,
            StatusCode::OK,
            "job",
        )
        .await;
        if status["status"] == "completed" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job did not complete: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Credentials that are presented and refused must not be logged either.
    let forged_token = format!("eyJ{}.{}.{}", random(20), random(30), random(43));
    let forged_key = format!("sk-sable-{}", random(40));
    for bad in [&forged_token, &forged_key] {
        let response = api.get("/api/v1/auth/me", Some(bad)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // A replayed refresh token (reuse detection), then sign out.
    let replay = api
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let logout = api
        .post(
            "/api/v1/auth/logout",
            Some(&access),
            json!({"refresh_token": by_cookie["refresh_token"]}),
        )
        .await;
    assert!(logout.status().is_success(), "logout: {}", logout.status());

    for (name, value) in [
        ("register access token", &registered["access_token"]),
        ("register refresh token", &registered["refresh_token"]),
        ("login access token", &login["access_token"]),
        ("login refresh token", &login["refresh_token"]),
        ("refreshed access token", &by_body["access_token"]),
        ("refreshed refresh token", &by_body["refresh_token"]),
        ("cookie-refreshed access token", &by_cookie["access_token"]),
        (
            "cookie-refreshed refresh token",
            &by_cookie["refresh_token"],
        ),
    ] {
        secrets.push((name.into(), value.as_str().expect(name).to_owned()));
    }
    secrets.push(("refresh cookie".into(), cookie));
    secrets.push(("API key".into(), api_key.clone()));
    // The part of the key after its public prefix is what makes it a key.
    if let Some(rest) = api_key.strip_prefix(&key_prefix).filter(|r| r.len() >= 16) {
        secrets.push(("API key after its prefix".into(), rest.to_owned()));
    }
    secrets.push(("forged bearer token".into(), forged_token));
    secrets.push(("forged API key".into(), forged_key));

    let mut logs: Vec<(String, Vec<String>)> = Vec::new();
    for service in [gateway, worker, model] {
        let name = service.name.to_owned();
        let output = service.stop().await;
        logs.push((name, output.lines().map(str::to_owned).collect()));
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&cwd);

    // The capture worked: each service logged the traffic above.
    let all = |name: &str| -> String {
        logs.iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.join("\n"))
            .unwrap_or_default()
    };
    let gateway_log = all("gateway");
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/keys",
        "/api/v1/generate/stream",
        "/api/v1/jobs",
    ] {
        assert!(gateway_log.contains(path), "the gateway log has no {path}");
    }
    assert!(
        all("model-service").contains("/inference"),
        "model-service log"
    );
    assert!(
        all("worker-service").contains(&job_id),
        "worker-service log names the job"
    );
    let total: usize = logs.iter().map(|(_, l)| l.len()).sum();
    assert!(total > 100, "only {total} log lines at debug level");

    let mut leaks = Vec::new();
    for (service, lines) in &logs {
        for (name, secret) in &secrets {
            assert!(secret.len() >= 12, "{name} is too short to search for");
            if let Some(line) = lines.iter().find(|l| l.contains(secret.as_str())) {
                let shown: String = line.chars().take(300).collect();
                leaks.push(format!("{service} logged the {name}: {shown}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets in the logs ({} log lines searched):\n{}",
        total,
        leaks.join("\n")
    );
}
