//! The gateway's own per-request work around its routes, as [`Around`] layers (see
//! `common::server::around` for why not `axum::middleware::from_fn`). [`crate::app`] stacks
//! them, outermost first:
//!
//! 1. the security headers ([`crate::edge::with_security_headers`]), on every answer, CORS
//!    preflights included, then CORS
//!    ([`crate::cors::LeanCorsLayer`]: tower-http's, with a shortcut for requests without
//!    `Origin`);
//! 2. the shared layers (`common::server::shared_layers`: request id, trace, metrics, envelope
//!    errors, body limit);
//! 3. [`Edge`]: the allowed hosts, the dashboard's window, pool gauges, gateway overhead;
//! 4. the end of open streams at shutdown (`crate::shutdown::EndStreams`)
//!    — 1 to 4 are one stack, [`apply`];
//! 5. (routing) [`Admission`] on matched routes: rate limits, then the daily quota.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use axum::Router;
use common::server::{Around, AroundLayer, Next};
use sqlx::PgPool;
use tower::util::MapResponseLayer;
use tower::Service;
use tower_http::cors::CorsLayer;

use crate::cors::LeanCorsLayer;
use crate::edge::AllowedHosts;
use crate::metrics_window::MetricsWindow;
use crate::shutdown::EndStreams;
use crate::state::AppState;
use crate::{edge, limits, metrics_window, observability, usage};

/// The gateway's layers around `router`, outermost first: the security headers on every
/// answer, CORS preflights included ([`edge::with_security_headers`]: one plain function over
/// the response, one small layer where there were three, each cloned and wrapping the future
/// per request); CORS; the shared
/// layers (`common::server::shared_layers`); [`Edge`]; the end of open streams at shutdown
/// (`crate::shutdown::EndStreams`).
///
/// One stack applied with one `Router::layer`: axum's `Route` clones the service it boxes for
/// every request, so each separate `Router::layer` call was one more deep copy per request of
/// everything below it (CORS's configuration included).
pub fn apply(router: Router, cors: CorsLayer, edge: Edge, end_streams: EndStreams) -> Router {
    router.layer(
        tower::ServiceBuilder::new()
            .layer(MapResponseLayer::new(edge::with_security_headers))
            .layer(LeanCorsLayer::new(cors))
            .layer(common::server::shared_layers())
            .layer(AroundLayer(edge))
            .layer(AroundLayer(end_streams)),
    )
}

/// Inside the shared layers, in this order: the allowed hosts (so a refused host is logged
/// and answered with a request id); the dashboard's window (API routes only); pool gauges
/// (published when /metrics is scraped); gateway overhead (time in the gateway minus time
/// waiting on the other services).
#[derive(Clone)]
pub struct Edge {
    pub hosts: Arc<AllowedHosts>,
    pub window: Arc<MetricsWindow>,
    pub pool: PgPool,
}

impl Around for Edge {
    async fn around<S>(&self, req: Request, next: Next<S>) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        if let Some(refused) = edge::refused_host(&self.hosts, &req) {
            return refused;
        }
        let counted = metrics_window::counts(&req);
        let started = Instant::now();
        common::observability::publish_pool_gauges(&self.pool, "gateway", &req);
        let route = req.extensions().get::<MatchedPath>().cloned();
        let response = observability::overhead(route, next.run(req)).await;
        if counted {
            self.window.record_request(started.elapsed());
        }
        response
    }
}

/// On matched routes (after routing, so the route template decides the class), before the
/// handlers: the rate limits ([`limits::enforce`]), then the daily quota
/// ([`usage::enforce_quota`]).
#[derive(Clone)]
pub struct Admission(pub AppState);

impl Around for Admission {
    async fn around<S>(&self, req: Request, next: Next<S>) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        let state = &self.0;
        limits::enforce(state, req, |req| {
            usage::enforce_quota(state, req, |req| next.run(req))
        })
        .await
    }
}
