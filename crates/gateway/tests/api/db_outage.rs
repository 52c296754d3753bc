//! A database outage: the gateway answers 503 `DATABASE_UNAVAILABLE` within the pool's
//! acquire timeout on every data route, readiness says not ready, and everything recovers by
//! itself when the database is back. The outage is real: the gateway reaches Postgres through
//! a TCP relay that the test cuts (every connection dropped, the port closed) and restores.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use common::test_support::fresh_database;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{assert_envelope, closed_port_url, serve};

/// A TCP relay in front of Postgres that can be cut and restored.
struct Cut {
    addr: SocketAddr,
    upstream: SocketAddr,
    task: Option<(JoinHandle<()>, tokio::task::AbortHandle)>,
}

impl Cut {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut cut = Self {
            addr,
            upstream,
            task: None,
        };
        cut.serve(listener);
        cut
    }

    fn serve(&mut self, listener: TcpListener) {
        // The forwarded connections live in a JoinSet owned by the accept loop, so aborting
        // the loop drops every one of them.
        let upstream = self.upstream;
        let handle = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        let abort = handle.abort_handle();
        self.task = Some((handle, abort));
    }

    /// The outage: the port closes and every open connection drops.
    async fn cut(&mut self) {
        if let Some((handle, abort)) = self.task.take() {
            abort.abort();
            let _ = handle.await;
        }
    }

    /// The database is back on the same address.
    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
async fn an_outage_answers_503_quickly_and_recovers_by_itself() {
    common::telemetry::init_for_tests();
    let db = fresh_database().await;
    let server: reqwest::Url = db.url.parse().unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let mut cut = Cut::start(upstream).await;
    let mut via_relay = server.clone();
    via_relay.set_port(Some(cut.addr.port())).unwrap();
    let down = closed_port_url().await;
    let config = gateway::Config::try_parse_from([
        "gateway",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        via_relay.as_str(),
        "--database-acquire-timeout-secs",
        "1",
        "--model-service-url",
        &down,
        "--worker-service-url",
        &down,
        "--auth-mode",
        "off",
        "--rate-limit",
        "off",
    ])
    .unwrap();
    let state = gateway::build_state(config).await.unwrap();
    let base = format!("http://{}", serve(gateway::app(state)).await);
    let client = common::http::client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let created = client
        .post(format!("{base}/api/v1/chat/sessions"))
        .json(&json!({"title": "before"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);

    cut.cut().await;
    for (method, path) in [
        ("GET", "/api/v1/chat/sessions".to_owned()),
        ("POST", "/api/v1/chat/sessions".to_owned()),
        ("GET", "/api/v1/chat/search?q=before".to_owned()),
    ] {
        let started = Instant::now();
        let request = match method {
            "POST" => client.post(format!("{base}{path}")).json(&json!({})),
            _ => client.get(format!("{base}{path}")),
        };
        let response = request.send().await.unwrap();
        let body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE").await;
        assert_eq!(body["error"]["retryable"], true, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{method} {path} took {:?}",
            started.elapsed()
        );
    }
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);

    cut.restore().await;
    // The pool reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = client
            .get(format!("{base}/api/v1/chat/sessions"))
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 200 {
            let sessions: serde_json::Value = response.json().await.unwrap();
            assert_eq!(sessions[0]["title"], "before");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not recover: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
