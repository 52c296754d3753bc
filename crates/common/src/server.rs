//! Serving a router: shared layers, envelope fallbacks, graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use self::around::{Around, AroundLayer, Next};
pub use self::slow_clients::{serve_connections, ClientTimeouts};

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

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

/// The shared per-request work, in this order (outermost first):
///
/// 1. the request id ([`request_id`]): the client's or a new one, on the request and as
///    `X-Request-ID` on every response (even one produced below), and [`request_id::current`]
///    for everything the request runs;
/// 2. the request span, one `request finished` log line, `X-Process-Time` ([`telemetry`]);
/// 3. Prometheus counters by route template ([`metrics`]);
/// 4. plain-text framework errors become the envelope ([`crate::error::envelope_plain_text_errors`]:
///    inside the id scope, so the envelope names the request id; inside trace and metrics,
///    which see the final status);
/// 5. the body limit.
///
/// Apply last: routes added afterwards are not covered. Service-specific layers (e.g. the
/// gateway's dashboard window, CORS) go inside or outside this stack as they need.
///
/// One [`Around`] and the body limit, applied with a single `Router::layer`: each
/// `Router::layer` call boxes the layer around every route, and each `from_fn` layer clones
/// and boxes the service below it on every call (see [`around`]).
pub fn common_layers(router: Router) -> Router {
    router.layer(shared_layers())
}

/// The layers of [`common_layers`], for a service that stacks them with its own before one
/// `Router::layer` (the gateway): every `Router::layer` call is one more boxed copy of the
/// stack below it per request (axum's `Route` clones its service for each request).
pub fn shared_layers() -> tower::ServiceBuilder<SharedLayers> {
    tower::ServiceBuilder::new()
        .layer(AroundLayer(Shared))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// The type of [`shared_layers`].
pub type SharedLayers = tower::layer::util::Stack<
    DefaultBodyLimit,
    tower::layer::util::Stack<AroundLayer<Shared>, tower::layer::util::Identity>,
>;

/// The work of [`common_layers`] on every request of every service.
#[derive(Clone, Copy)]
pub struct Shared;

impl Around for Shared {
    async fn around<S>(&self, mut req: Request, next: Next<S>) -> Response
    where
        S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        let started = Instant::now();
        let (id, id_header) = request_id::take(&mut req);
        let span = telemetry::request_span(&id, &req);
        let labels = metrics::RequestLabels::of(&req);
        let run =
            async move { crate::error::envelope_plain_text_errors(next.run(req).await).await };
        request_id::scope(id, async move {
            let mut response = run.instrument(span.clone()).await;
            let elapsed = started.elapsed();
            labels.record(response.status(), elapsed);
            telemetry::finished(&span, elapsed, &mut response);
            request_id::stamp(&mut response, id_header);
            response
        })
        .await
    }
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

pub mod around;
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
