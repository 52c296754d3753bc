//! Sable model-service: turns generation requests into provider calls.
//!
//! - [`routes`]: `/health`, `/health/ready`, `/metrics`, `POST /inference`,
//!   `POST /inference/stream` (SSE), `POST /embeddings`, `GET /api/v1/models`, and
//!   `POST /v1/chat/completions` (OpenAI requests forwarded whole, for the gateway's
//!   OpenAI-compatible API).
//! - [`capabilities`]: what a model can do and what an OpenAI request needs of it.
//! - [`providers`]: the [`providers::Provider`] trait, the offline mock and the
//!   OpenAI-compatible provider.
//! - [`generation`]: model resolution, retry, fallback, deadlines, cancellation.
//! - [`registry`]: default/fallback models and the models list; [`retry`]: backoff policy.
//! - [`sse`]: the contract's SSE framing; [`stats`]: counters tests can observe.
//!
//! Embedding the service (e.g. in another crate's tests):
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let running = model_service::spawn(model_service::config::Config::for_tests()).await?;
//! // … call http://{running.addr}/inference/stream, drop the response early …
//! let seen = running
//!     .state
//!     .stats
//!     .wait_for(std::time::Duration::from_secs(5), |s| s.streams_cancelled >= 1)
//!     .await;
//! assert!(seen.is_ok());
//! # Ok(()) }
//! ```

pub mod capabilities;
pub mod config;
pub mod generation;
pub mod providers;
pub mod registry;
pub mod retry;
mod routes;
pub mod sse;
pub mod stats;
#[cfg(test)]
mod timeout_budget;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::generation::{Generator, Timeouts};
use crate::retry::RetryPolicy;
use crate::stats::GenerationStats;

pub const SERVICE_NAME: &str = "model-service";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub generator: Arc<Generator>,
    /// What each model can do (OpenAI chat requests are checked against it).
    pub capabilities: Arc<capabilities::CapabilityTable>,
    /// Stream and token counters; see [`GenerationStats::snapshot`] and
    /// [`GenerationStats::wait_for`].
    pub stats: Arc<GenerationStats>,
}

/// Resolves the provider and models from `config` and builds the state. Fails with one clear
/// sentence when the configuration cannot work (e.g. `PROVIDER=groq` without a key).
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    common::metrics::install();
    generation::export_counters_at_zero();
    config.internal.validate().map_err(anyhow::Error::msg)?;
    common::internal_auth::warn_if_open(&config.internal, SERVICE_NAME);
    for warning in config.deprecations() {
        tracing::warn!("{warning}");
    }
    let capabilities = capabilities::CapabilityTable::parse(&config.model_capabilities)
        .map_err(anyhow::Error::msg)?;
    let registry = registry::load::load(&config, None).await?;
    let stats = Arc::new(GenerationStats::default());
    let generator = Generator::new(
        registry,
        RetryPolicy::new(
            config.retry_max_attempts,
            config.provider_retry_base_delay(),
        ),
        Timeouts {
            total: config.provider_timeout(),
            first_token: config.first_token_timeout(),
            idle: config.idle_timeout(),
            request_deadline: config.model_request_deadline(),
        },
        stats.clone(),
    );
    Ok(AppState {
        config: Arc::new(config),
        generator: Arc::new(generator),
        capabilities: Arc::new(capabilities),
        stats,
    })
}

/// Reads the providers (file) again and routes new requests with them; on error the old
/// ones stay in use.
pub async fn reload(state: &AppState) -> anyhow::Result<()> {
    reload_with(&state.config, &state.generator).await?;
    tracing::info!("providers reloaded");
    Ok(())
}

async fn reload_with(config: &Config, generator: &Generator) -> anyhow::Result<()> {
    let previous = generator.registry();
    let registry = registry::load::load(config, Some(&previous)).await?;
    generator.replace_registry(registry);
    Ok(())
}

/// Every `DISCOVERY_REFRESH_SECS`, while some provider has `discover = true`, asks the
/// providers for their models again (a reload of the file: unchanged providers keep their
/// state). Ends with the service (it holds the generator weakly).
fn refresh_discovered(state: &AppState) {
    let every = state.config.discovery_refresh_secs;
    if every == 0 || state.config.providers_file.is_none() {
        return;
    }
    let config = state.config.clone();
    let generator = Arc::downgrade(&state.generator);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(generator) = generator.upgrade() else {
                return;
            };
            if !generator.registry().discovers() {
                continue;
            }
            match reload_with(&config, &generator).await {
                Ok(()) => tracing::debug!("discovered models refreshed"),
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "refreshing the discovered models failed; keeping the old ones"
                ),
            }
        }
    });
}

pub fn app(state: AppState) -> Router {
    // Every route but /health needs the internal token when one is configured.
    let internal = state.config.internal.clone();
    common::server::with_common_layers(common::internal_auth::protect(
        routes::router().with_state(state),
        &internal,
    ))
}

/// Builds the service from its config and serves until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let shutdown = common::shutdown::install();
    let grace = config.service.shutdown_grace;
    let timeouts = config.service.client_timeouts();
    let addr = config.addr;
    let state = build_state(config).await?;
    reload_on_sighup(state.clone());
    refresh_discovered(&state);
    let listener = common::server::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "model-service listening");
    common::server::serve_with(listener, app(state), shutdown, grace, timeouts).await?;
    Ok(())
}

/// SIGHUP reloads the providers file (a failed reload is logged; the old providers stay).
fn reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /providers/reload");
            return;
        };
        while hangups.recv().await.is_some() {
            if let Err(e) = reload(&state).await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "providers reload failed; keeping the old ones"
                );
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}

/// A model service running in the current process (for tests and benchmarks).
pub struct RunningService {
    pub addr: SocketAddr,
    /// The state the server uses: `state.stats` observes streams and tokens.
    pub state: AppState,
    /// Cancel to stop the server.
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<std::io::Result<()>>,
}

impl RunningService {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Builds the state, binds `config.addr` (use port 0 for a free port) and serves in a
/// background task.
pub async fn spawn(config: Config) -> anyhow::Result<RunningService> {
    let addr = config.addr;
    let state = build_state(config).await?;
    refresh_discovered(&state);
    let listener = common::server::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(common::server::serve(
        listener,
        app(state.clone()),
        shutdown.clone(),
        Duration::from_secs(1),
    ));
    Ok(RunningService {
        addr,
        state,
        shutdown,
        handle,
    })
}
