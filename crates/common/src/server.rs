//! Serving a router: shared layers, envelope fallbacks, graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

pub use self::slow_clients::{serve_connections, ClientTimeouts};

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::AppError;
use crate::{metrics, request_id, telemetry};

/// Largest accepted request body (nginx's `client_max_body_size` matches it).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Adds what every Sable router needs: envelope answers for unknown routes and methods
/// ([`envelope_fallbacks`]) and the shared layers ([`common_layers`]).
pub fn with_common_layers(router: Router) -> Router {
    common_layers(envelope_fallbacks(router))
}

/// Unknown paths and methods answer with the error envelope, never plain text.
pub fn envelope_fallbacks(router: Router) -> Router {
    router
        .fallback(|| async { AppError::not_found("Not Found") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
}

/// The shared layers, outermost first:
///
/// 1. [`request_id::assign`] — the request id, so every response (even one a later layer
///    produces) carries `X-Request-ID` and everything below can read [`request_id::current`];
/// 2. [`telemetry::trace`] — the request span, one log line, `X-Process-Time`;
/// 3. [`metrics::track`] — Prometheus counters by route template;
/// 4. [`envelope_errors`] — plain-text framework errors become the envelope (inside the id
///    scope, so the envelope names the request id; inside trace and metrics, which see the
///    final status);
/// 5. the body limit.
///
/// Apply last: routes added afterwards are not covered. Service-specific layers (e.g. the
/// gateway's dashboard window, CORS) go inside or outside this stack as they need.
///
/// They are one `ServiceBuilder` stack applied with a single `Router::layer`: each
/// `Router::layer` call boxes the layer around every route, and axum's middleware clones the
/// service below it on every call, so five separate layers cost five boxed deep copies per
/// layer per request (callgrind: tens of thousands of instructions and a hundred mallocs per
/// request in the gateway). In one stack the layers nest by value: one box.
pub fn common_layers(router: Router) -> Router {
    router.layer(
        tower::ServiceBuilder::new()
            .layer(middleware::from_fn(request_id::assign))
            .layer(middleware::from_fn(telemetry::trace))
            .layer(middleware::from_fn(metrics::track))
            .layer(middleware::from_fn(envelope_errors))
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
    )
}

/// Layer: an error that a framework extractor answered in plain text (e.g. a malformed path
/// segment) is rewritten into the error envelope; see [`crate::error::envelope_plain_text_errors`].
pub async fn envelope_errors(req: Request, next: Next) -> Response {
    crate::error::envelope_plain_text_errors(next.run(req).await).await
}

/// Connections the kernel queues until they are accepted (capped by `net.core.somaxconn`).
/// `TcpListener::bind` listens with a backlog of 128: when a few hundred clients connect at
/// once (a burst of streams, or every client reconnecting after a restart) the queue
/// overflows, the kernel drops the extra SYNs and those clients retry one second later. The
/// bench saw it as a time to first token p99 of ~1 s at 200 streams (`ListenOverflows`).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with [`LISTEN_BACKLOG`], logging a clear sentence when the port is taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listen = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted service can bind while old connections
        // of the previous process linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// [`serve_with`] with the default [`ClientTimeouts`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, grace, ClientTimeouts::default()).await
}

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish for up to
/// `grace` (streams are cut after that).
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
    timeouts: ClientTimeouts,
) -> std::io::Result<()> {
    let signal = shutdown.clone();
    let server = serve_connections(listener, router, timeouts, async move {
        signal.cancelled().await;
    });
    tokio::select! {
        result = server => result,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over, closing remaining connections");
            Ok(())
        }
    }
}

mod slow_clients;

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn every_response_carries_the_id_and_time_and_plain_text_errors_name_the_same_id() {
        let app = with_common_layers(Router::new().route(
            "/plain",
            get(|| async { (StatusCode::BAD_REQUEST, "nope") }),
        ));
        let request = Request::builder()
            .uri("/plain")
            .header(request_id::HEADER, "test-42")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[request_id::HEADER], "test-42");
        let time = response.headers()[request_id::PROCESS_TIME]
            .to_str()
            .unwrap();
        assert!(time.strip_suffix("ms").unwrap().parse::<f64>().is_ok());
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "BAD_REQUEST");
        assert_eq!(body["error"]["message"], "nope");
        assert_eq!(body["error"]["request_id"], "test-42");

        // Unknown paths too, with a generated id.
        let request = Request::builder().uri("/x").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().contains_key(request_id::HEADER));
        assert!(response.headers().contains_key(request_id::PROCESS_TIME));
    }
}
