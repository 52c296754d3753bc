//! Serving a router: shared layers, envelope fallbacks, graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::AppError;
use crate::request_id;

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

/// The body limit and the request-id/logging/metrics middleware (outermost, so that every
/// response carries `X-Request-ID`). Apply last: routes added afterwards are not covered.
pub fn common_layers(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

/// Binds `addr`, logging a clear sentence when the port is taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish for up to
/// `grace` (streams are cut after that).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let signal = shutdown.clone();
    let server = axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(async move { signal.cancelled().await });
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
