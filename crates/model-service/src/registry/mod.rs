//! Which provider and model answer a request: [`Registry::resolve`] turns what a request names
//! into a [`Route`] (a provider and one of its models, with capabilities, context window and
//! price), and [`Registry::plan`] into the routes to try in order (the model's fallback chain).
//!
//! The registry comes from `PROVIDERS_FILE` ([`file`]) or, without it, from today's settings
//! (`PROVIDER`, `DEFAULT_MODEL`, `FALLBACK_MODEL`, `MODELS`, `EMBEDDINGS_MODEL`): one provider,
//! any model id accepted, every model falling back to `FALLBACK_MODEL` (contract §11).
//!
//! Routing rules, in order:
//! 1. none or `""` means the `default` alias;
//! 2. an alias names its targets; with several, the one with the fewest requests in flight
//!    (not cooling down) goes first, the others follow it, then its fallbacks;
//! 3. `provider/model` names that provider's model (an unlisted model of a named provider is
//!    sent as it is, its capabilities unknown);
//! 4. a bare model id must be listed by exactly one provider (400 `AMBIGUOUS_MODEL` naming the
//!    candidates otherwise); without a providers file any id goes to the one provider;
//! 5. a model lacking what the request needs (chat, embeddings) is 400 `INVALID_REQUEST`.
//!
//! Embeddings never fall back: another model's vectors live in another space, so mixing
//! them would silently corrupt an index.

pub mod breaker;
pub mod capability;
pub mod file;
pub mod load;
pub mod metrics;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::schemas::{ModelInfo, ModelsResponse, Usage};
use common::AppError;

use self::breaker::Breaker;
use self::capability::Capability;
use self::file::{ModelConfig, ProviderConfig, ProvidersConfig};
use crate::providers::Provider;

/// The alias used when a request names no model.
pub const DEFAULT_ALIAS: &str = "default";
/// The alias that names the embeddings model.
pub const EMBEDDINGS_ALIAS: &str = "embeddings";

/// One provider's timeouts (its own from the file, else the service's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderTimeouts {
    pub total: Duration,
    pub first_token: Duration,
    pub idle: Duration,
}

/// A provider as routing sees it: the client, its breaker and its load.
pub struct ProviderSlot {
    pub name: String,
    pub provider: Arc<dyn Provider>,
    pub breaker: Breaker,
    pub timeouts: ProviderTimeouts,
    /// `mock` or `openai`.
    pub kind: &'static str,
    /// Hash of the provider's settings (all but its models): a reload keeps the slot (its
    /// breaker, load and latency figures) of a provider whose settings did not change.
    pub fingerprint: u64,
    in_flight: AtomicUsize,
    /// Recent calls' latency and outcome, for the admin page.
    pub calls: CallStats,
}

/// The most recent calls a provider's latency percentiles and error rate are read from.
const RECENT_CALLS: usize = 512;

/// A provider's recent calls (each attempt: a whole completion, or a stream up to its first
/// token): latency percentiles and error rate over the last [`RECENT_CALLS`].
#[derive(Debug, Default)]
pub struct CallStats {
    /// (latency ms, failed), oldest first.
    recent: std::sync::Mutex<std::collections::VecDeque<(f64, bool)>>,
}

/// What [`CallStats::snapshot`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CallSummary {
    pub calls: usize,
    pub errors: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl CallStats {
    pub fn record(&self, latency: Duration, failed: bool) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RECENT_CALLS {
            recent.pop_front();
        }
        recent.push_back((latency.as_secs_f64() * 1000.0, failed));
    }

    pub fn snapshot(&self) -> CallSummary {
        let mut ms: Vec<f64> = Vec::new();
        let mut errors = 0;
        {
            let recent = self
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (latency, failed) in recent.iter() {
                ms.push(*latency);
                errors += usize::from(*failed);
            }
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| -> Option<f64> {
            if ms.is_empty() {
                return None;
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
            Some((ms[i] * 100.0).round() / 100.0)
        };
        CallSummary {
            calls: ms.len(),
            errors,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
        }
    }
}

impl std::fmt::Debug for ProviderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSlot")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ProviderSlot {
    pub fn new(
        name: &str,
        kind: &'static str,
        provider: Arc<dyn Provider>,
        timeouts: ProviderTimeouts,
        breaker: Breaker,
    ) -> Self {
        Self {
            name: name.to_owned(),
            provider,
            breaker,
            timeouts,
            kind,
            fingerprint: 0,
            in_flight: AtomicUsize::new(0),
            calls: CallStats::default(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts one request in flight until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// A request in flight on a provider (see [`ProviderSlot::enter`]).
pub struct InFlight(Arc<ProviderSlot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A model of a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub config: ModelConfig,
    /// Configured (listed), or only named by a request.
    pub listed: bool,
    /// Its Prometheus series, made on first use ([`Route::metrics`]).
    pub metrics: metrics::MetricsCell,
}

/// Where a request goes: a provider and one of its models.
#[derive(Debug, Clone)]
pub struct Route {
    pub provider: Arc<ProviderSlot>,
    pub model: Arc<ModelSpec>,
}

impl Route {
    /// `provider/model`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider.name, self.model.config.id)
    }

    /// The series this route's calls are recorded in.
    pub fn metrics(&self) -> &metrics::RouteMetrics {
        self.model.metrics.get(&self.provider.name, self.model_id())
    }

    /// The id the provider knows the model by.
    pub fn model_id(&self) -> &str {
        &self.model.config.id
    }

    /// Whether the model can do `c` (an unlisted model is assumed to: its provider decides).
    pub fn supports(&self, c: Capability) -> bool {
        !self.model.listed || self.model.config.capabilities.contains(&c)
    }

    /// What `usage` cost on this model, in USD.
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        self.price().cost_usd(usage)
    }

    /// The model's configured prices.
    pub fn price(&self) -> Price {
        Price {
            input_per_mtok: self.model.config.price_input_per_mtok,
            output_per_mtok: self.model.config.price_output_per_mtok,
        }
    }

    fn same(&self, other: &Route) -> bool {
        Arc::ptr_eq(&self.provider, &other.provider)
            && self.model.config.id == other.model.config.id
    }
}

/// A model's prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Price {
    /// The response header the OpenAI passthrough names the answering model's prices in, so
    /// that the gateway can price the usage it reads from the (untouched) provider answer:
    /// `<input>,<output>` USD per million tokens.
    pub const HEADER: &'static str = common::schemas::PRICE_HEADER;

    /// What `usage` cost, in USD.
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        common::schemas::cost_usd(self.input_per_mtok, self.output_per_mtok, usage)
    }

    pub fn header_value(&self) -> String {
        format!("{},{}", self.input_per_mtok, self.output_per_mtok)
    }
}

struct Alias {
    targets: Vec<String>,
    /// Rotates the starting target so that idle targets share the load too.
    next: AtomicUsize,
}

pub struct Registry {
    providers: Vec<Arc<ProviderSlot>>,
    models: Vec<Route>,
    aliases: BTreeMap<String, Alias>,
    /// Without a providers file: any bare id goes to the one provider, falling back to these.
    open: Option<Vec<String>>,
    /// Some provider lists its models from `GET {base_url}/models` (refreshed periodically).
    discovers: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.providers)
            .field("models", &self.models.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Today's single provider (no providers file): `default` and `fallback` models, extras
    /// listed, any other id accepted; every model falls back to `fallback` (unless it is it).
    pub fn single(
        slot: ProviderSlot,
        default: &str,
        fallback: Option<&str>,
        extra: &[String],
        embeddings: Option<&str>,
    ) -> Self {
        let slot = Arc::new(slot);
        let fallback = fallback.filter(|f| *f != default && !f.is_empty());
        let mut models: Vec<Route> = Vec::new();
        let chat_model = |id: &str| {
            let mut config = ModelConfig::plain(id);
            config.capabilities = vec![Capability::Chat];
            config.fallbacks = fallback
                .filter(|f| *f != id)
                .map(|f| vec![format!("{}/{f}", slot.name)])
                .unwrap_or_default();
            config
        };
        let mut push = |config: ModelConfig| {
            if !config.id.is_empty() && !models.iter().any(|r| r.model.config.id == config.id) {
                models.push(Route {
                    provider: slot.clone(),
                    model: Arc::new(ModelSpec {
                        config,
                        listed: true,
                        metrics: metrics::MetricsCell::default(),
                    }),
                });
            }
        };
        push(chat_model(default));
        if let Some(f) = fallback {
            push(chat_model(f));
        }
        for id in extra {
            push(chat_model(id));
        }
        if let Some(e) = embeddings {
            let mut config = ModelConfig::plain(e);
            config.capabilities = vec![Capability::Embeddings];
            push(config);
        }
        let mut aliases = BTreeMap::new();
        aliases.insert(
            DEFAULT_ALIAS.to_owned(),
            Alias::new(vec![format!("{}/{default}", slot.name)]),
        );
        if let Some(e) = embeddings {
            aliases.insert(
                EMBEDDINGS_ALIAS.to_owned(),
                Alias::new(vec![format!("{}/{e}", slot.name)]),
            );
        }
        Self {
            open: Some(
                fallback
                    .map(|f| vec![format!("{}/{f}", slot.name)])
                    .unwrap_or_default(),
            ),
            providers: vec![slot],
            models,
            aliases,
            discovers: false,
        }
    }

    /// The registry of a providers file; `slot` builds (or reuses) each provider's slot.
    pub fn from_file(
        config: &ProvidersConfig,
        mut slot: impl FnMut(&ProviderConfig) -> anyhow::Result<Arc<ProviderSlot>>,
    ) -> anyhow::Result<Self> {
        let mut providers = Vec::new();
        let mut models = Vec::new();
        for p in &config.providers {
            let s = slot(p)?;
            for m in &p.models {
                models.push(Route {
                    provider: s.clone(),
                    model: Arc::new(ModelSpec {
                        config: m.clone(),
                        listed: true,
                        metrics: metrics::MetricsCell::default(),
                    }),
                });
            }
            providers.push(s);
        }
        Ok(Self {
            providers,
            models,
            aliases: config
                .aliases
                .iter()
                .map(|(k, v)| (k.clone(), Alias::new(v.clone())))
                .collect(),
            open: None,
            discovers: config.providers.iter().any(|p| p.discover),
        })
    }

    pub fn providers(&self) -> &[Arc<ProviderSlot>] {
        &self.providers
    }

    /// Whether some provider's models are discovered (and so worth refreshing).
    pub fn discovers(&self) -> bool {
        self.discovers
    }

    /// Whether the registry is today's single provider (ids listed bare).
    pub fn is_single(&self) -> bool {
        self.open.is_some()
    }

    /// The route a request naming `requested` goes to first (see the module docs).
    pub fn resolve(&self, requested: Option<&str>) -> Result<Route, AppError> {
        self.resolve_all(
            requested
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .unwrap_or(DEFAULT_ALIAS),
        )
        .map(|mut routes| routes.remove(0))
    }

    /// The routes to try for a request naming `requested` that needs `capability`: the
    /// resolved one (an alias's other targets after it), then its fallback chain (none for
    /// embeddings), without duplicates or models lacking the capability.
    pub fn plan(
        &self,
        requested: Option<&str>,
        capability: Capability,
    ) -> Result<Vec<Route>, AppError> {
        let name = requested
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(match capability {
                Capability::Embeddings => EMBEDDINGS_ALIAS,
                _ => DEFAULT_ALIAS,
            });
        if name == EMBEDDINGS_ALIAS && !self.aliases.contains_key(EMBEDDINGS_ALIAS) {
            return Err(AppError::detailed(
                StatusCode::BAD_REQUEST,
                "NO_EMBEDDINGS_MODEL",
                "No embeddings model is configured (the `embeddings` alias, or EMBEDDINGS_MODEL without a providers file) and the request names none",
            ));
        }
        let mut routes = self.resolve_all(name)?;
        let first = &routes[0];
        if !first.supports(capability) {
            return Err(AppError::detailed(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                format!(
                    "The model `{name}` does not support {} (it offers: {})",
                    capability.as_str(),
                    first
                        .model
                        .config
                        .capabilities
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        routes.retain(|r| r.supports(capability));
        if capability == Capability::Embeddings {
            routes.truncate(1);
            return Ok(routes);
        }
        let fallbacks = if routes[0].model.listed || self.open.is_none() {
            routes[0].model.config.fallbacks.clone()
        } else {
            self.open.clone().unwrap_or_default()
        };
        for f in fallbacks {
            // A fallback that no longer resolves (a discovered model gone) is skipped.
            if let Ok(more) = self.resolve_all(&f) {
                for r in more {
                    if r.supports(capability) && !routes.iter().any(|x| x.same(&r)) {
                        routes.push(r);
                    }
                }
            }
        }
        Ok(routes)
    }

    /// `name` → its routes, the first to try first (several only for an alias).
    fn resolve_all(&self, name: &str) -> Result<Vec<Route>, AppError> {
        if let Some(alias) = self.aliases.get(name) {
            let mut routes = Vec::new();
            for t in &alias.targets {
                if let Some(r) = self.by_provider(t) {
                    routes.push(r);
                }
            }
            if routes.is_empty() {
                return Err(unknown(name));
            }
            let start = alias.next.fetch_add(1, Ordering::Relaxed) % routes.len();
            routes.rotate_left(start);
            // Stable: among equals the rotation decides.
            routes.sort_by_key(|r| {
                (
                    r.provider.breaker.snapshot().cooling_down.is_some(),
                    r.provider.in_flight(),
                )
            });
            return Ok(routes);
        }
        if name == DEFAULT_ALIAS {
            // No `default` alias: the first chat model.
            if let Some(r) = self
                .models
                .iter()
                .find(|r| r.model.config.capabilities.contains(&Capability::Chat))
            {
                return Ok(vec![r.clone()]);
            }
        }
        let listed: Vec<&Route> = self
            .models
            .iter()
            .filter(|r| r.model.config.id == name)
            .collect();
        match listed.as_slice() {
            [one] => return Ok(vec![(*one).clone()]),
            [] => {}
            many => {
                return Err(AppError::detailed(
                    StatusCode::BAD_REQUEST,
                    "AMBIGUOUS_MODEL",
                    format!(
                        "The model `{name}` is offered by several providers; name one of: {}",
                        many.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        }
        if let Some(r) = self.by_provider(name) {
            return Ok(vec![r]);
        }
        match (&self.open, self.providers.as_slice()) {
            (Some(_), [only]) => Ok(vec![unlisted(only, name)]),
            _ => Err(unknown(name)),
        }
    }

    /// `provider/model`: the listed model, or an unlisted one of that provider.
    fn by_provider(&self, target: &str) -> Option<Route> {
        let (provider, model) = target.split_once('/')?;
        let slot = self.providers.iter().find(|p| p.name == provider)?;
        if model.is_empty() {
            return None;
        }
        Some(
            self.models
                .iter()
                .find(|r| Arc::ptr_eq(&r.provider, slot) && r.model.config.id == model)
                .cloned()
                .unwrap_or_else(|| unlisted(slot, model)),
        )
    }

    /// `GET /api/v1/models`. Without a providers file: as before (bare ids; default, fallback,
    /// extras), plus the embeddings model. With one: every listed model as `provider/model`.
    pub fn models_response(&self) -> ModelsResponse {
        let single = self.is_single();
        let list_id = |r: &Route| {
            if single {
                r.model.config.id.clone()
            } else {
                r.id()
            }
        };
        let default = self
            .aliases
            .get(DEFAULT_ALIAS)
            .and_then(|a| a.targets.first())
            .and_then(|t| self.by_provider(t))
            .or_else(|| {
                self.models
                    .iter()
                    .find(|r| r.model.config.capabilities.contains(&Capability::Chat))
                    .cloned()
            });
        let fallback = default
            .as_ref()
            .and_then(|d| d.model.config.fallbacks.first())
            .and_then(|f| self.resolve_all(f).ok())
            .and_then(|mut r| (!r.is_empty()).then(|| r.remove(0)));
        let models = self
            .models
            .iter()
            .map(|r| {
                let id = list_id(r);
                let c = &r.model.config;
                let priced = c.price_input_per_mtok > 0.0 || c.price_output_per_mtok > 0.0;
                ModelInfo {
                    role: if default.as_ref().is_some_and(|d| d.same(r)) {
                        "default"
                    } else if fallback.as_ref().is_some_and(|f| f.same(r)) {
                        "fallback"
                    } else {
                        "available"
                    }
                    .to_owned(),
                    description: describe(&c.id).map(str::to_owned),
                    provider: r.provider.name.clone(),
                    provider_kind: Some(r.provider.kind.to_owned()),
                    capabilities: c
                        .capabilities
                        .iter()
                        .map(|x| x.as_str().to_owned())
                        .collect(),
                    context_window: c.context_window,
                    max_output_tokens: c.max_output_tokens,
                    price_input_per_mtok: priced.then_some(c.price_input_per_mtok),
                    price_output_per_mtok: priced.then_some(c.price_output_per_mtok),
                    id,
                }
            })
            .collect();
        let aliases = self
            .aliases
            .iter()
            .map(|(name, a)| {
                let ids = a
                    .targets
                    .iter()
                    .filter_map(|t| self.by_provider(t))
                    .map(|r| list_id(&r))
                    .collect();
                (name.clone(), ids)
            })
            .collect();
        ModelsResponse {
            provider: default.as_ref().map_or_else(
                || self.providers[0].name.clone(),
                |d| d.provider.name.clone(),
            ),
            default: default.as_ref().map(list_id).unwrap_or_default(),
            fallback: fallback.as_ref().map(list_id),
            models,
            aliases,
        }
    }
}

impl Alias {
    fn new(targets: Vec<String>) -> Self {
        Self {
            targets,
            next: AtomicUsize::new(0),
        }
    }
}

fn unlisted(slot: &Arc<ProviderSlot>, id: &str) -> Route {
    let mut config = ModelConfig::plain(id);
    config.capabilities = Capability::ALL.to_vec();
    Route {
        provider: slot.clone(),
        model: Arc::new(ModelSpec {
            config,
            listed: false,
            metrics: metrics::MetricsCell::default(),
        }),
    }
}

fn unknown(name: &str) -> AppError {
    AppError::detailed(
        StatusCode::NOT_FOUND,
        "UNKNOWN_MODEL",
        format!("The model `{name}` is not configured (see GET /api/v1/models)"),
    )
}

/// Human descriptions for well-known ids (the reference UI's picker labels, contract §11).
fn describe(id: &str) -> Option<&'static str> {
    Some(match id {
        "llama-3.3-70b-versatile" => "Llama 3.3 70B — Best quality, slower",
        "llama-3.1-8b-instant" => "Llama 3.1 8B — Fast, good quality",
        "mixtral-8x7b-32768" => "Mixtral 8x7B — Balanced speed & quality",
        "openai/gpt-oss-120b" => "GPT-OSS 120B — High-quality, slower",
        "gpt-4o-mini" => "GPT-4o mini — Fast and affordable",
        "llama3.2" => "Llama 3.2 (local, Ollama)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
