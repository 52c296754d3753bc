//! Edge protection (issue 11.6): security headers on every answer, the UI's
//! Content-Security-Policy when the gateway serves the frontend itself (`make run`), and
//! `ALLOWED_HOSTS` against DNS rebinding.

use base64::Engine as _;
use reqwest::header::HOST;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{assert_envelope, closed_port_url, spawn_app, spawn_app_with, TestApp};

/// Exactly one of each security header with its value.
fn assert_security_headers(response: &reqwest::Response, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        let got: Vec<_> = response.headers().get_all(name).iter().collect();
        assert_eq!(got, [value], "{what}: {name}");
    }
}

#[tokio::test]
async fn every_response_carries_nosniff_and_no_referrer() {
    let app = spawn_app().await;
    let ok = app.get("/health").await;
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok, "GET /health");

    let openapi = app.get("/openapi.json").await;
    assert_eq!(openapi.status(), 200);
    assert_security_headers(&openapi, "GET /openapi.json");

    let not_found = app.get("/api/v1/nope").await;
    assert_security_headers(&not_found, "404");
    assert_envelope(not_found, 404, "NOT_FOUND").await;

    let invalid = app
        .client
        .post(app.url("/api/v1/generate"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_security_headers(&invalid, "422");
    assert_envelope(invalid, 422, "VALIDATION_ERROR").await;

    // The model service is down: a 503 from the relay path.
    let unavailable = app
        .post_json("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    assert_security_headers(&unavailable, "503");
    assert_eq!(unavailable.status(), 503);

    // A CORS preflight is answered by the CORS layer itself, and still carries them.
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/generate"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_security_headers(&preflight, "preflight");

    // The API answers carry no page policy; the UI's is on the UI (below).
    let health = app.get("/health").await;
    assert!(!health.headers().contains_key("content-security-policy"));
}

const INLINE: &str =
    "\n      (function () { document.documentElement.classList.add(\"x\"); })();\n    ";

/// A frontend build like `frontend/dist`: an inline bootstrap script, a module script, an
/// asset.
fn frontend_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sable-ui-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        format!(
            "<!doctype html><html><head><script>{INLINE}</script>\
             <script type=\"module\" crossorigin src=\"/assets/index-abc.js\"></script></head>\
             <body><div id=\"root\"></div></body></html>"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("assets/index-abc.js"), "console.log(1)").unwrap();
    dir
}

async fn spawn_with_ui(extra: &[&str]) -> (TestApp, std::path::PathBuf) {
    let dir = frontend_dir();
    let down = closed_port_url().await;
    let mut flags = vec!["--frontend-dir", dir.to_str().unwrap()];
    flags.extend_from_slice(extra);
    (spawn_app_with(&down, &down, &flags).await, dir)
}

#[tokio::test]
async fn ui_pages_carry_a_policy_without_inline_scripts_or_framing() {
    let (app, dir) = spawn_with_ui(&[]).await;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(INLINE.as_bytes()));
    for path in [
        "/",
        "/index.html",
        "/chat/abc",
        "/jobs",
        "/assets/index-abc.js",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_security_headers(&response, path);
        let csp: Vec<_> = response
            .headers()
            .get_all("content-security-policy")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(csp.len(), 1, "{path}: one policy");
        let directives: Vec<&str> = csp[0].split(';').map(str::trim).collect();
        assert!(
            directives.contains(&"frame-ancestors 'none'"),
            "{path}: {csp:?}"
        );
        assert!(
            directives.contains(&"default-src 'self'"),
            "{path}: {csp:?}"
        );
        assert!(directives.contains(&"object-src 'none'"), "{path}: {csp:?}");
        let script_src = directives
            .iter()
            .find(|d| d.starts_with("script-src "))
            .expect("a script-src directive");
        // The inline bootstrap runs by its hash; nothing else inline does.
        assert_eq!(
            *script_src,
            format!("script-src 'self' 'sha256-{hash}'"),
            "{path}"
        );
        assert!(!script_src.contains("unsafe"), "{path}: {script_src}");
    }
    // API paths under the UI keep their envelope.
    let missing = app.get("/api/v1/nope").await;
    assert_security_headers(&missing, "/api/v1/nope");
    assert_envelope(missing, 404, "NOT_FOUND").await;
    std::fs::remove_dir_all(dir).unwrap();
}

async fn get_with_host(app: &TestApp, path: &str, host: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(HOST, host)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_host_outside_allowed_hosts_gets_400_but_health_stays_reachable() {
    let (app, dir) = spawn_with_ui(&["--allowed-hosts", "localhost, 127.0.0.1"]).await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();

    // Listed names pass, with any port.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("LOCALHOST:{port}"),
        "localhost".into(),
    ] {
        let response = get_with_host(&app, "/api/v1/chat/sessions", &host).await;
        assert_eq!(response.status(), 200, "{host}");
    }

    // A rebinding page's requests name its own host: refused on the API and on the UI.
    for path in [
        "/api/v1/chat/sessions",
        "/",
        "/chat/abc",
        "/openapi.json",
        "/metrics",
    ] {
        for host in [
            format!("evil.example:{port}"),
            "localhost.evil.example".into(),
        ] {
            let response = get_with_host(&app, path, &host).await;
            assert_security_headers(&response, path);
            assert_envelope(response, 400, "INVALID_HOST").await;
        }
    }
    let post = app
        .client
        .post(app.url("/api/v1/chat/sessions"))
        .header(HOST, "evil.example")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_envelope(post, 400, "INVALID_HOST").await;

    // Probes that address the service by IP or service name still reach /health.
    let health = get_with_host(&app, "/health", "10.0.0.7:8000").await;
    assert_eq!(health.status(), 200);
    let ready = get_with_host(&app, "/health/ready", "gateway:8000").await;
    assert_ne!(ready.status(), 400);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Prometheus scrapes each replica at its IP: `/metrics` answers it when it presents the
/// internal token (the scrape job's `credentials_file`), and stays refused for any other
/// caller naming a foreign host.
#[tokio::test]
async fn metrics_answer_a_scraper_with_the_internal_token_whatever_its_host() {
    let token = "scrape-test-internal-token-0123456789";
    let app = crate::helpers::spawn_app_with(
        &crate::helpers::closed_port_url().await,
        &crate::helpers::closed_port_url().await,
        &[
            "--allowed-hosts",
            "sable.example",
            "--internal-token",
            token,
        ],
    )
    .await;
    let scrape = |auth: Option<String>| {
        let mut request = app
            .client
            .get(app.url("/metrics"))
            .header(HOST, "10.0.3.7:8000");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let response = scrape(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("# TYPE"));
    for auth in [None, Some("Bearer wrong-token-0123456789".to_owned())] {
        let response = scrape(auth.clone()).await.unwrap();
        assert_envelope(response, 400, "INVALID_HOST").await;
    }
    // The token opens /metrics only, not the API.
    let api = app
        .client
        .get(app.url("/api/v1/chat/sessions"))
        .header(HOST, "10.0.3.7:8000")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_envelope(api, 400, "INVALID_HOST").await;
}

#[tokio::test]
async fn without_allowed_hosts_any_host_is_served() {
    let app = spawn_app().await;
    let response = get_with_host(&app, "/api/v1/chat/sessions", "anything.example").await;
    assert_eq!(response.status(), 200);
}

/// Two `Host` headers are refused with 400 `INVALID_HOST`, with or without ALLOWED_HOSTS (a
/// raw socket: HTTP clients will not send two).
#[tokio::test]
async fn a_request_with_two_host_headers_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (restricted, dir) = spawn_with_ui(&["--allowed-hosts", "localhost, 127.0.0.1"]).await;
    let open = spawn_app().await;
    for app in [&restricted, &open] {
        let addr = app.base.trim_start_matches("http://").to_owned();
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = "GET /api/v1/chat/sessions HTTP/1.1\r\nHost: localhost\r\nHost: rebind.evil.example\r\nConnection: close\r\n\r\n";
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            socket.read_to_string(&mut answer),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains(r#""code":"INVALID_HOST""#), "{answer}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
