//! Helpers for integration tests (feature `test-support`): a fresh, migrated database per test
//! on the server named by `DATABASE_URL`, so tests never share state.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// The server tests use: `DATABASE_URL` (as set by `make test`), else the local default.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A freshly created, migrated database and its URL. Databases are named `sable_test_*`;
/// `scripts/test.sh` drops leftovers from earlier runs.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
}

/// Creates and migrates a new database. Panics with a clear message when no server is
/// reachable: a test without its database cannot mean anything.
#[allow(clippy::expect_used)]
pub async fn fresh_database() -> TestDb {
    let server: PgConnectOptions = server_url()
        .parse()
        .expect("DATABASE_URL is not a valid Postgres URL");
    let name = format!("sable_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect_with(&server.clone().database("postgres"))
        .await
        .expect("cannot reach Postgres: run the tests with `make test`, which finds or starts a database");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("cannot create a test database");
    let _ = admin.close().await;

    let options = server.database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect_with(options.clone())
        .await
        .expect("cannot connect to the test database");
    crate::db::migrate(&pool).await.expect("migrations failed");
    let url = database_url_for(&name);
    TestDb { pool, url, name }
}

/// `server_url()` with the database name replaced.
pub fn database_url_for(name: &str) -> String {
    match url::Url::parse(&server_url()) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!("postgres://postgres@127.0.0.1:5432/{name}"),
    }
}

/// Serves `router` on 127.0.0.1:0 in the background and returns its address.
#[allow(clippy::expect_used)]
pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let timeouts = crate::server::ClientTimeouts::default();
        let forever = std::future::pending::<()>();
        if let Err(e) = crate::server::serve_connections(listener, router, timeouts, forever).await
        {
            tracing::error!(error = %e, "test server failed");
        }
    });
    addr
}

/// A local URL where nothing listens (connections are refused at once): a service that is down.
#[allow(clippy::expect_used)]
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

/// Asserts the contract's error envelope (`{"error":{"code","message","request_id"}}` with the
/// `X-Request-ID` header matching `request_id`) with `status` and `code`; returns the body.
#[allow(clippy::expect_used, clippy::panic)]
pub async fn assert_envelope(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("x-request-id on error responses");
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert_eq!(
        body["error"]["request_id"],
        request_id.as_str(),
        "request id in body matches header"
    );
    body
}
