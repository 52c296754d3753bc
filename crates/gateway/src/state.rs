//! The gateway's shared state, cloned into every handler.

use std::ops::Deref;
use std::sync::Arc;

use common::http::ServiceClient;
use sqlx::PgPool;

use crate::auth::Auth;
use crate::config::Config;
use crate::limits::Limits;
use crate::metrics_window::MetricsWindow;

/// One reference count behind which every part of the state lives. axum clones the state for
/// every `from_fn_with_state` layer and every `State` extractor (~55 times per request in
/// callgrind); cloning one `Arc` instead of a dozen fields saved ~23,000 instructions per
/// request (214,652 -> 191,402) and the cross-core traffic of those counts. Fields are read
/// through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub model: ServiceClient,
    pub worker: ServiceClient,
    /// The dashboard's rolling window of API traffic and streamed tokens.
    pub metrics_window: Arc<MetricsWindow>,
    /// How callers are identified (`AUTH_MODE`, token signing).
    pub auth: Arc<Auth>,
    /// Rate and stream limits; `None` with `RATE_LIMIT=off`.
    pub limits: Option<Arc<Limits>>,
    /// Server-side generations of session streams (they outlive the HTTP response).
    pub generations: Arc<crate::chat::generations::Generations>,
    /// Token usage counted in memory, written once a second (`usage.rs`).
    pub usage: Arc<crate::usage::UsageMeter>,
}

impl AppState {
    /// Fails only when the HTTP client cannot be built (see [`common::http::build_client`]).
    pub fn new(
        config: Config,
        db: PgPool,
        auth: Auth,
        limits: Option<Limits>,
    ) -> Result<Self, String> {
        let http = common::http::build_client(&config.http)?;
        let timeout = config.http.request_timeout();
        let model = ServiceClient::new(
            http.clone(),
            &config.model_service_url,
            "model service",
            timeout,
        )
        // Retries and fallback before a stream's first token fit inside the idle timeout.
        .with_stream_deadline(config.http.stream_idle_timeout())
        .with_internal_token(&config.internal)
        // POST /inference and /inference/stream, on every generate and stream.
        .with_hot_client(common::http::build_hot_client(&config.http)?);
        let worker = ServiceClient::new(
            http.clone(),
            &config.worker_service_url,
            "worker service",
            timeout,
        )
        .with_internal_token(&config.internal);
        let peers = config.generations.peer_url.as_deref().map(|url| {
            crate::chat::peers::Peers::new(
                url,
                db.clone(),
                http.clone(),
                config.http.stream_idle_timeout(),
            )
        });
        let generations = Arc::new(crate::chat::generations::Generations::new(
            &config.generations,
            peers,
        ));
        Ok(Self(Arc::new(Shared {
            generations,
            config: Arc::new(config),
            db,
            model,
            worker,
            metrics_window: Arc::new(MetricsWindow::new()),
            auth: Arc::new(auth),
            limits: limits.map(Arc::new),
            usage: Arc::default(),
        })))
    }
}
