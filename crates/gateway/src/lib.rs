//! Sable gateway: the only public service.
//!
//! It validates requests, relays generation to the model service (SSE token by token), owns
//! chat persistence in Postgres, forwards batch jobs to the worker service, serves the
//! documentation reader, the OpenAPI document, and in local runs the built frontend.

pub mod access;
pub mod auth;
pub mod chat;
pub mod config;
pub mod cors;
pub mod edge;
pub mod embeddings;
pub mod layers;
pub mod limits;
pub mod metrics_window;
pub mod observability;
pub mod openai;
pub mod openapi;
pub mod relay;
pub mod routes;
pub mod spa;
pub mod state;
pub mod ttl_cache;
pub mod usage;

use axum::Router;
use common::server::AroundLayer;

pub use crate::config::Config;
pub use crate::state::AppState;

pub const SERVICE_NAME: &str = "api-gateway";

/// The full gateway router; tests mount exactly this. Its layers: see [`layers`].
pub fn app(state: AppState) -> Router {
    app_until(state, tokio_util::sync::CancellationToken::new())
}

/// [`app`] whose open streams end with an error event once `grace_over` is cancelled (the
/// shutdown of [`run`]).
pub fn app_until(state: AppState, grace_over: tokio_util::sync::CancellationToken) -> Router {
    let cors = cors::layer(&state.config.allowed_origins);
    let frontend = state.config.frontend_dir.clone();
    let edge = layers::Edge {
        hosts: std::sync::Arc::new(
            edge::AllowedHosts::parse(state.config.allowed_hosts.as_deref())
                .with_scraper_token(&state.config.internal),
        ),
        window: state.metrics_window.clone(),
        pool: state.db.clone(),
    };
    let admission = AroundLayer(layers::Admission(state.clone()));
    let mut router = Router::new()
        .merge(routes::router(&state.config))
        .route_layer(admission)
        .merge(openapi::router())
        .route("/metrics", axum::routing::get(common::metrics::render))
        .with_state(state);
    router = common::server::envelope_fallbacks(router);
    if let Some(dir) = frontend {
        // Replaces the 404 fallback for non-API paths with the SPA's index.html.
        router = spa::mount(router, &dir);
    }
    layers::apply(router, cors, edge, shutdown::EndStreams(grace_over))
}

/// How long start-up waits for the schema when SKIP_MIGRATIONS is set (as long as the worker
/// waits for it).
pub const SCHEMA_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Connects to the database, applies migrations (or, with SKIP_MIGRATIONS, waits until they
/// are applied), and builds the state.
pub async fn build_state(mut config: Config) -> anyhow::Result<AppState> {
    common::metrics::install();
    observability::export_counters_at_zero();
    if let Some(url) = config.generations.peer_url.take() {
        let url = chat::peers::expand_own_address(&url)
            .await
            .map_err(anyhow::Error::msg)?;
        tracing::info!(peer_url = %url, "this replica's address for the other gateway replicas");
        config.generations.peer_url = Some(url);
    }
    let auth = auth::Auth::new(&config.auth).map_err(anyhow::Error::msg)?;
    let limits = limits::Limits::new(&config.limits).map_err(anyhow::Error::msg)?;
    // With SKIP_MIGRATIONS another component applies them (Kubernetes: the migration Job, which
    // runs while the new pods start): wait for the schema rather than serve on an old one.
    let db = if config.skip_migrations {
        common::db::open_when_migrated(&config.database, SCHEMA_WAIT).await?
    } else {
        common::db::open(&config.database, false).await?
    };
    let state = AppState::new(config, db, auth, limits).map_err(anyhow::Error::msg)?;
    chat::generations::spawn_heartbeat(&state.generations);
    {
        // Counted usage is written once a second; the task ends with the state.
        let (meter, db) = (std::sync::Arc::downgrade(&state.usage), state.db.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                match meter.upgrade() {
                    Some(meter) => meter.flush(&db).await,
                    None => break,
                }
            }
        });
    }
    if let Some(limits) = state.limits.clone() {
        // Idle in-memory buckets are forgotten once a minute. The task holds only a weak
        // reference, so it ends with the state.
        let limits = std::sync::Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                match limits.upgrade() {
                    Some(limits) => limits.shrink(),
                    None => break,
                }
            }
        });
    }
    Ok(state)
}

/// Builds the gateway from its config and serves until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if config.print_openapi {
        println!("{}", openapi::document().to_pretty_json()?);
        return Ok(());
    }
    config.validate().map_err(anyhow::Error::msg)?;
    if config.migrate_only {
        common::db::open(&config.database, false).await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let shutdown = common::shutdown::install();
    let grace = config.service.shutdown_grace;
    let timeouts = config.service.client_timeouts();
    match routes::workshop::docs_root(&config) {
        Some(root) if root.is_dir() => {
            tracing::info!(docs_root = %root.display(), "documentation reader serves this directory");
        }
        Some(root) => tracing::warn!(
            docs_root = %root.display(),
            "DOCS_ROOT is not a directory: the documentation reader answers 404"
        ),
        None => tracing::warn!(
            "no documentation directory (DOCS_ROOT unset and the build checkout is gone): the documentation reader answers 404; set DOCS_ROOT to the directory holding README.md and docs/"
        ),
    }
    let listener = common::server::bind(config.addr).await?;
    let state = build_state(config).await?;
    tracing::info!(addr = %listener.local_addr()?, "gateway listening");
    // On SIGTERM the listener closes (new connections are refused) and in-flight requests get
    // the grace period. Then, in this order: server-side generations still running are
    // stopped (each stores its partial answer as stopped; its viewers get the final event),
    // every stream still open ends with an `[ERROR]` event (never a silently cut body), and
    // the connections get a moment to write those last events before the process exits.
    let generations = state.generations.clone();
    let (usage, db) = (state.usage.clone(), state.db.clone());
    let grace_over = tokio_util::sync::CancellationToken::new();
    let router = app_until(state, grace_over.clone());
    let server = common::server::serve_connections(listener, router, timeouts, {
        let shutdown = shutdown.clone();
        async move { shutdown.cancelled().await }
    });
    let mut server = tokio::spawn(server);
    let served = |joined: Result<std::io::Result<()>, tokio::task::JoinError>| {
        joined
            .map_err(anyhow::Error::from)?
            .map_err(anyhow::Error::from)
    };
    let outcome = async {
        tokio::select! {
            joined = &mut server => return served(joined),
            () = shutdown.cancelled() => {}
        }
        let signalled = std::time::Instant::now();
        generations.shutdown(grace).await;
        let left = grace.saturating_sub(signalled.elapsed());
        if let Ok(joined) = tokio::time::timeout(left, &mut server).await {
            return served(joined);
        }
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "grace period over: ending the streams still open with [ERROR]"
        );
        grace_over.cancel();
        match tokio::time::timeout(shutdown::LAST_WRITES, &mut server).await {
            Ok(joined) => served(joined),
            Err(_) => {
                tracing::warn!("closing the connections still open");
                server.abort();
                Ok(())
            }
        }
    }
    .await;
    // Usage counted since the last periodic write.
    usage.flush(&db).await;
    outcome
}

/// Ending the streams still open when the shutdown grace period is over.
pub mod shutdown {
    use std::convert::Infallible;
    use std::time::Duration;

    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    use bytes::Bytes;
    use common::server::{Around, Next};
    use futures::StreamExt;
    use tokio_util::sync::CancellationToken;

    /// How long the connections get to write their last events after the grace period.
    pub const LAST_WRITES: Duration = Duration::from_secs(2);

    const SABLE_EVENT: &[u8] =
        b"data: [ERROR] SERVICE_UNAVAILABLE: the gateway is shutting down; please retry\n\n";
    const OPENAI_EVENT: &[u8] = b"data: {\"error\":{\"message\":\"the gateway is shutting down; please retry\",\"type\":\"server_error\",\"param\":null,\"code\":\"service_unavailable\"}}\n\n";

    /// Layer (in [`crate::layers::apply`]): an event stream (`text/event-stream`) still open
    /// when the token is cancelled
    /// ends with an error event in its route's format (the OpenAI-compatible `/v1/` routes get
    /// OpenAI's error object). Each chunk of a stream body is whole events, so the error event
    /// never lands inside another one.
    #[derive(Clone)]
    pub struct EndStreams(pub CancellationToken);

    impl Around for EndStreams {
        async fn around<S>(&self, req: Request, next: Next<S>) -> Response
        where
            S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
            S::Future: Send,
        {
            end_streams_when(self.0.clone(), req, next).await
        }
    }

    async fn end_streams_when<S>(
        grace_over: CancellationToken,
        req: Request,
        next: Next<S>,
    ) -> Response
    where
        S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        let openai = req.uri().path().starts_with("/v1/");
        let response = next.run(req).await;
        let is_stream = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if !is_stream {
            return response;
        }
        let last = Bytes::from_static(if openai { OPENAI_EVENT } else { SABLE_EVENT });
        let (parts, body) = response.into_parts();
        let mut inner = body.into_data_stream();
        let body = async_stream::stream! {
            loop {
                tokio::select! {
                    biased;
                    next = inner.next() => match next {
                        Some(chunk) => yield chunk,
                        None => return,
                    },
                    () = grace_over.cancelled() => {
                        yield Ok(last);
                        return;
                    }
                }
            }
        };
        Response::from_parts(parts, Body::from_stream(body))
    }
}
