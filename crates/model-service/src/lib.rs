//! Sable model-service.

pub mod config;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::health::HealthResponse;

use crate::config::Config;

pub const SERVICE_NAME: &str = "model-service";

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
}

pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(common::metrics::render))
        .with_state(state);
    common::server::with_common_layers(router)
}

async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse::healthy(SERVICE_NAME, &state.config.service.environment))
}

/// Builds the service from its config and serves until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    common::metrics::install();
    let shutdown = common::shutdown::install();
    let grace = Duration::from_secs(config.service.shutdown_grace_secs);
    let listener = common::server::bind(config.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "model-service listening");
    let state = AppState { config: Arc::new(config) };
    common::server::serve(listener, app(state), shutdown, grace).await?;
    Ok(())
}
