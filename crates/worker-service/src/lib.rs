//! Sable worker-service: owns the `batch_jobs` queue.
//!
//! Routes: `GET /health`, `/health/ready`, `/metrics`; `POST /jobs` (202), `GET /jobs`
//! (summaries, newest first), `GET /jobs/stats` (counts for the dashboard),
//! `GET /jobs/{id}`, `POST /jobs/{id}/cancel` — see [`routes::jobs`], including how jobs are
//! owned (`X-Sable-User-Id`).
//!
//! It accepts job submissions over HTTP (202), and every process also runs a [`queue::Worker`]
//! that claims jobs with `FOR UPDATE SKIP LOCKED`, calls the model service per prompt, and
//! writes each result into its slot as it lands. Any number of processes may share one
//! database.

pub mod config;
pub mod job_repo;
pub mod knowledge;
pub mod model_client;
pub mod queue;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use common::http::ServiceClient;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::knowledge::ingest::IngestSettings;
use crate::knowledge::store::BlobStore;
use crate::knowledge::vector::VectorCache;
use crate::queue::{QueueConfig, Worker};

pub const SERVICE_NAME: &str = "worker-service";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub model: ServiceClient,
    /// This process's name in job leases.
    pub worker_id: Arc<str>,
    /// Uploaded files' bytes (`FILE_STORE_URL`).
    pub store: BlobStore,
    /// Decoded passage vectors for retrieval (`VECTOR_CACHE_MB`).
    pub vectors: VectorCache,
}

impl AppState {
    pub fn new(config: Config, db: PgPool) -> Result<Self, String> {
        let store = BlobStore::open(&config.file_store_url)?;
        let http = common::http::build_client(&config.http)?;
        let model = ServiceClient::new(
            http,
            &config.model_service_url,
            "model service",
            config.http.request_timeout(),
        )
        .with_internal_token(&config.internal);
        let worker_id: Arc<str> = config.worker_id().into();
        let vectors = VectorCache::new(config.vector_cache_mb.saturating_mul(1 << 20));
        Ok(Self {
            config: Arc::new(config),
            db,
            model,
            worker_id,
            store,
            vectors,
        })
    }

    pub fn queue_config(&self) -> QueueConfig {
        let ingest = IngestSettings {
            store: self.store.clone(),
            limits: self.config.extract_limits(),
        };
        QueueConfig::from_config(&self.config, self.worker_id.to_string(), Some(ingest))
    }
}

/// The HTTP API; tests mount exactly this.
pub fn app(state: AppState) -> Router {
    let internal = state.config.internal.clone();
    let router = Router::new()
        .route("/health", get(routes::health::health))
        .route("/health/ready", get(routes::health::ready))
        .route("/metrics", get(common::metrics::render))
        .route("/jobs", post(routes::jobs::submit).get(routes::jobs::list))
        .route("/jobs/stats", get(routes::jobs::stats))
        .route(
            "/jobs/{job_id}",
            get(routes::jobs::get).delete(routes::jobs::delete),
        )
        .route("/jobs/{job_id}/cancel", post(routes::jobs::cancel))
        .route(
            "/jobs/{job_id}/prompts/{index}/retry",
            post(routes::jobs::retry_prompt),
        )
        .route(
            "/files",
            post(routes::files::upload)
                .get(routes::files::list)
                // The body is the file, bounded by the caller's FILE_MAX_BYTES while it streams.
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/files/{file_id}",
            get(routes::files::get).delete(routes::files::delete),
        )
        .route("/files/{file_id}/content", get(routes::files::content))
        .route("/retrieve", post(routes::retrieve::retrieve))
        .route("/knowledge/check", post(routes::retrieve::check))
        .route(
            "/collections",
            post(routes::collections::create).get(routes::collections::list),
        )
        .route(
            "/collections/{collection_id}",
            get(routes::collections::get)
                .patch(routes::collections::update)
                .delete(routes::collections::delete),
        )
        .route(
            "/collections/{collection_id}/files/{file_id}",
            axum::routing::put(routes::collections::add_file)
                .delete(routes::collections::remove_file),
        )
        .layer(axum::middleware::from_fn_with_state(
            (state.db.clone(), "worker"),
            common::observability::pool_gauges,
        ))
        .with_state(state);
    // Every route but /health needs the internal token when one is configured.
    common::server::with_common_layers(common::internal_auth::protect(router, &internal))
}

/// How long start-up waits for the gateway to migrate a new database (compose starts all
/// services together).
const SCHEMA_WAIT: Duration = Duration::from_secs(60);

/// Validates the config, connects to the database and waits until its schema is current.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    config.validate().map_err(anyhow::Error::msg)?;
    for warning in config.deprecations() {
        tracing::warn!("{warning}");
    }
    common::internal_auth::warn_if_open(&config.internal, SERVICE_NAME);
    // The gateway owns the schema; the worker waits for it (ARCHITECTURE.md, "Migrations").
    let db = common::db::open_when_migrated(&config.database, SCHEMA_WAIT).await?;
    let state = AppState::new(config, db).map_err(anyhow::Error::msg)?;
    tracing::info!(store = %state.store.describe, "file store");
    Ok(state)
}

/// Starts this process's queue worker (claims until `shutdown` is cancelled).
pub fn start_worker(state: &AppState, shutdown: CancellationToken) -> Worker {
    Worker::start(
        state.db.clone(),
        state.model.clone(),
        state.queue_config(),
        shutdown,
    )
}

/// Serves the API and runs the worker until `shutdown`; then stops claiming, lets in-flight
/// prompts finish within the grace period, releases unfinished jobs, and returns.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let grace = state.config.shutdown_grace();
    let worker = (!state.config.worker_disabled).then(|| start_worker(&state, shutdown.clone()));
    let timeouts = state.config.service.client_timeouts();
    let served = common::server::serve_with(listener, app(state), shutdown, grace, timeouts).await;
    if let Some(worker) = worker {
        // The worker enforces the grace period itself; the margin covers the final writes.
        if tokio::time::timeout(grace + Duration::from_secs(5), worker.join())
            .await
            .is_err()
        {
            tracing::warn!(
                "worker did not stop in time; unreleased jobs return after their lease expires"
            );
        }
    }
    served?;
    Ok(())
}

/// Builds the service from its config and serves until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    common::metrics::install();
    let shutdown = common::shutdown::install();
    let listener = common::server::bind(config.addr).await?;
    let state = build_state(config).await?;
    tracing::info!(addr = %listener.local_addr()?, worker_id = %state.worker_id, "worker-service listening");
    serve(state, listener, shutdown).await
}
