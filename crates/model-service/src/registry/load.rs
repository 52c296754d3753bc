//! Building the [`Registry`] the service runs with: from `PROVIDERS_FILE` when it is set
//! (models of `discover = true` providers added from their `GET {base_url}/models`), else
//! from today's single-provider settings. Run at start-up and on every reload (SIGHUP or
//! `POST /providers/reload`).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::breaker::Breaker;
use super::file::{self, ModelConfig, ProviderConfig, ProviderKind};
use super::{ProviderSlot, ProviderTimeouts, Registry};
use crate::config::{Config, ProviderSettings};
use crate::providers::{self, mock, openai, Provider};

/// Longest wait for a provider's model list.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// `previous`: the registry in use (on a reload or refresh), whose provider slots are kept
/// for providers whose settings did not change, so that a reload does not forget a provider's
/// cool-down, load or latency figures.
pub async fn load(config: &Config, previous: Option<&Registry>) -> anyhow::Result<Registry> {
    match &config.providers_file {
        Some(path) => {
            let mut file = file::load(path, &|name| std::env::var(name).ok())?;
            for p in &mut file.providers {
                if p.discover {
                    discover(config, p).await;
                }
            }
            let registry = Registry::from_file(&file, |p| {
                let fingerprint = fingerprint(config, p);
                let kept = previous.and_then(|r| {
                    r.providers()
                        .iter()
                        .find(|s| s.name == p.name && s.fingerprint == fingerprint)
                        .cloned()
                });
                match kept {
                    Some(slot) => Ok(slot),
                    None => {
                        let mut slot = slot(config, p)?;
                        slot.fingerprint = fingerprint;
                        Ok(Arc::new(slot))
                    }
                }
            })?;
            tracing::info!(
                file = %path.display(),
                providers = file.providers.len(),
                models = file.providers.iter().map(|p| p.models.len()).sum::<usize>(),
                aliases = file.aliases.len(),
                "providers file loaded"
            );
            Ok(registry)
        }
        None => single(config),
    }
}

/// Today's settings: one provider, no circuit breaker (a single provider has nothing to fall
/// back to, and behaviour stays exactly as before the providers file existed).
fn single(config: &Config) -> anyhow::Result<Registry> {
    let resolved = config.resolve()?;
    let provider = providers::build(config, &resolved)?;
    tracing::info!(
        provider = resolved.provider_name,
        base_url = match &resolved.settings {
            ProviderSettings::Mock => "-",
            ProviderSettings::OpenAiCompatible { base_url, .. } => base_url.as_str(),
        },
        api_key = if resolved.api_key.is_empty() { "not set" } else { "set" },
        default_model = %resolved.default_model,
        fallback_model = resolved.fallback_model.as_deref().unwrap_or("none"),
        embeddings_model = resolved.embeddings_model.as_deref().unwrap_or("none"),
        "model provider configured"
    );
    let kind = match resolved.settings {
        ProviderSettings::Mock => "mock",
        ProviderSettings::OpenAiCompatible { .. } => "openai",
    };
    Ok(Registry::single(
        ProviderSlot::new(
            resolved.provider_name,
            kind,
            provider,
            timeouts(config, None),
            Breaker::new(resolved.provider_name, u32::MAX, Duration::ZERO),
        ),
        &resolved.default_model,
        resolved.fallback_model.as_deref(),
        &resolved.extra_models,
        resolved.embeddings_model.as_deref(),
    ))
}

fn timeouts(config: &Config, p: Option<&ProviderConfig>) -> ProviderTimeouts {
    ProviderTimeouts {
        total: p
            .and_then(|p| p.timeout)
            .unwrap_or(config.provider_timeout()),
        first_token: p
            .and_then(|p| p.first_token_timeout)
            .unwrap_or(config.first_token_timeout()),
        idle: p
            .and_then(|p| p.idle_timeout)
            .unwrap_or(config.idle_timeout()),
    }
}

/// A hash of what a provider's slot is built from (its settings and the service's timeouts;
/// not its models).
fn fingerprint(config: &Config, p: &ProviderConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &p.name,
        p.kind == ProviderKind::Mock,
        &p.base_url,
        p.api_key.expose(),
        p.connect_timeout,
        timeouts(config, Some(p)),
        p.failure_threshold,
        p.cooldown,
        (p.max_completion_tokens, p.http2_prior_knowledge),
    )
        .hash(&mut h);
    h.finish()
}

fn slot(config: &Config, p: &ProviderConfig) -> anyhow::Result<ProviderSlot> {
    let t = timeouts(config, Some(p));
    let (kind, provider): (&'static str, Arc<dyn Provider>) = match p.kind {
        ProviderKind::Mock => (
            "mock",
            Arc::new(mock::MockProvider::new(mock::MockSettings {
                first_token_delay: config.mock_first_token_delay,
                token_delay: config.mock_token_delay,
            })),
        ),
        ProviderKind::OpenAi => (
            "openai",
            Arc::new(openai::OpenAiProvider::new(openai::OpenAiSettings {
                name: p.name.clone(),
                base_url: p.base_url.clone(),
                api_key: p.api_key.clone(),
                connect_timeout: p.connect_timeout.unwrap_or(config.connect_timeout()),
                // A safety net only: the generation layer's deadlines fire first.
                read_timeout: t.total.max(t.first_token).max(t.idle) + Duration::from_secs(5),
                max_completion_tokens: p.max_completion_tokens,
                http2_prior_knowledge: p.http2_prior_knowledge,
            })?),
        ),
    };
    Ok(ProviderSlot::new(
        &p.name,
        kind,
        provider,
        t,
        Breaker::new(&p.name, p.failure_threshold, p.cooldown),
    ))
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

/// Adds the models `GET {base_url}/models` lists that the file does not (capabilities guessed
/// from the id). A provider that cannot be asked keeps its listed models (logged).
async fn discover(config: &Config, p: &mut ProviderConfig) {
    let listed = async {
        let client = common::http::client_builder()
            .connect_timeout(p.connect_timeout.unwrap_or(config.connect_timeout()))
            .timeout(DISCOVERY_TIMEOUT)
            .build()?;
        let mut request = client.get(format!("{}/models", p.base_url));
        if !p.api_key.is_empty() {
            request = request.bearer_auth(p.api_key.expose());
        }
        let body = request.send().await?.error_for_status()?.bytes().await?;
        anyhow::Ok(serde_json::from_slice::<ModelList>(&body)?.data)
    }
    .await;
    match listed {
        Ok(found) => {
            let before = p.models.len();
            for m in found {
                if !p.models.iter().any(|x| x.id == m.id) {
                    p.models.push(ModelConfig::plain(&m.id));
                }
            }
            tracing::info!(provider = %p.name, discovered = p.models.len() - before, "provider models discovered");
        }
        Err(e) => {
            tracing::warn!(provider = %p.name, error = %e, "could not list the provider's models; using the listed ones");
        }
    }
}
