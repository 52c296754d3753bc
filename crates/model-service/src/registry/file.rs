//! `PROVIDERS_FILE`: any number of OpenAI-compatible providers, their models and aliases, in
//! TOML. Validated when read; every mistake is refused with one sentence naming the file's
//! line (`providers.toml line 7: unknown capability "audio" (chat, embeddings, vision, tools, json)`).
//!
//! ```toml
//! [[providers]]
//! name = "local"                       # unique; models are addressed as local/<id>
//! base_url = "http://127.0.0.1:11434/v1"
//! api_key_env = "OLLAMA_API_KEY"       # optional: the variable holding the key
//! discover = false                     # true: models also from GET {base_url}/models
//! # kind = "openai"                    # or "mock" (the offline mock; no base_url)
//! # timeout_secs, first_token_timeout_secs, idle_timeout_secs, connect_timeout_secs:
//! #   this provider's own timeouts (default: the service's settings)
//! # failure_threshold = 5, cooldown_secs = 30: the circuit breaker
//! # max_completion_tokens = false      # send max_completion_tokens instead of max_tokens
//! # http2_prior_knowledge = false      # HTTP/2 from the first byte (h2c on http://)
//! [[providers.models]]
//! id = "llama3.2"
//! capabilities = ["chat"]              # chat | embeddings | vision | tools | json
//! context_window = 131072
//! max_output_tokens = 8192
//! price_input_per_mtok = 0.0           # USD per million tokens
//! price_output_per_mtok = 0.0
//! fallbacks = ["openai/gpt-4o-mini"]   # tried in order when this one fails for a retryable reason
//! [aliases]
//! default = "local/llama3.2"
//! fast = ["local/llama3.2", "other/llama3.2"]   # several targets: least in flight first
//! embeddings = "local/nomic-embed-text"
//! ```

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use common::config::Secret;
use serde::Deserialize;
use toml::Spanned;

use super::capability::Capability;

/// Which implementation serves a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Mock,
}

/// One provider, validated.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash; empty for the mock.
    pub base_url: String,
    pub api_key: Secret,
    pub discover: bool,
    pub connect_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
    pub first_token_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub failure_threshold: u32,
    pub cooldown: Duration,
    pub max_completion_tokens: bool,
    /// HTTP/2 from the first byte (h2c on `http://`), for servers known to speak it.
    pub http2_prior_knowledge: bool,
    pub models: Vec<ModelConfig>,
}

/// One model of a provider, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub id: String,
    pub capabilities: Vec<Capability>,
    pub context_window: Option<u32>,
    pub max_output_tokens: Option<u32>,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    /// `provider/model` or alias names, tried in order.
    pub fallbacks: Vec<String>,
}

impl ModelConfig {
    /// A model known only by its id: capabilities guessed from it, no price.
    pub fn plain(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            capabilities: Capability::guess(id),
            context_window: None,
            max_output_tokens: None,
            price_input_per_mtok: 0.0,
            price_output_per_mtok: 0.0,
            fallbacks: Vec::new(),
        }
    }
}

/// The whole file, validated.
#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    pub providers: Vec<ProviderConfig>,
    /// Alias → `provider/model` targets.
    pub aliases: BTreeMap<String, Vec<String>>,
}

/// Circuit breaker defaults.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    providers: Vec<RawProvider>,
    #[serde(default)]
    aliases: BTreeMap<String, Spanned<RawTargets>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTargets {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: Spanned<String>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    base_url: Option<Spanned<String>>,
    #[serde(default)]
    api_key_env: Option<Spanned<String>>,
    #[serde(default)]
    discover: bool,
    #[serde(default)]
    connect_timeout_secs: Option<Spanned<f64>>,
    #[serde(default)]
    timeout_secs: Option<Spanned<f64>>,
    #[serde(default)]
    first_token_timeout_secs: Option<Spanned<f64>>,
    #[serde(default)]
    idle_timeout_secs: Option<Spanned<f64>>,
    #[serde(default)]
    failure_threshold: Option<Spanned<u32>>,
    #[serde(default)]
    cooldown_secs: Option<Spanned<f64>>,
    #[serde(default)]
    max_completion_tokens: bool,
    #[serde(default)]
    http2_prior_knowledge: bool,
    #[serde(default)]
    models: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: Spanned<String>,
    #[serde(default)]
    capabilities: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    context_window: Option<u32>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    price_input_per_mtok: Option<Spanned<f64>>,
    #[serde(default)]
    price_output_per_mtok: Option<Spanned<f64>>,
    #[serde(default)]
    fallbacks: Vec<Spanned<String>>,
}

/// Reads and validates the file at `path`; `env` looks up the key variables.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<ProvidersConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("PROVIDERS_FILE {} cannot be read: {e}", path.display()))?;
    parse(&text, &path.display().to_string(), env)
}

/// Validates `text` (`origin` names it in errors).
pub fn parse(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ProvidersConfig> {
    let at = |span: Range<usize>| format!("{origin} line {}", line_of(text, span.start));
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        // The parser's own errors name the line and quote it (its message may not name the key).
        let place = e.span().map_or_else(
            || origin.to_owned(),
            |span| {
                let line = text
                    .lines()
                    .nth(line_of(text, span.start) - 1)
                    .unwrap_or("")
                    .trim();
                format!("{} (`{line}`)", at(span))
            },
        );
        anyhow::anyhow!("{place}: {}", one_line(e.message()))
    })?;
    if raw.providers.is_empty() {
        anyhow::bail!("{origin}: no [[providers]] are defined");
    }
    let mut names = HashSet::new();
    let mut providers = Vec::new();
    for p in raw.providers {
        let name = p.name.get_ref().trim().to_owned();
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
            anyhow::bail!(
                "{}: provider name {:?} must be a non-empty word without `/` or spaces",
                at(p.name.span()),
                p.name.get_ref()
            );
        }
        if !names.insert(name.clone()) {
            anyhow::bail!(
                "{}: provider name `{name}` is used twice",
                at(p.name.span())
            );
        }
        let kind = match p.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("openai") => ProviderKind::OpenAi,
            Some("mock") => ProviderKind::Mock,
            Some(other) => anyhow::bail!(
                "{}: provider `{name}` has unknown kind {other:?} (openai or mock)",
                at(p.kind.as_ref().map_or(p.name.span(), Spanned::span))
            ),
        };
        let base_url = match (&p.base_url, kind) {
            (Some(url), _) => {
                let trimmed = url.get_ref().trim().trim_end_matches('/');
                let parsed = reqwest::Url::parse(trimmed).ok();
                if !parsed.is_some_and(|u| {
                    matches!(u.scheme(), "http" | "https") && u.host_str().is_some()
                }) {
                    anyhow::bail!(
                        "{}: provider `{name}` has base_url {:?}, which is not an http:// or https:// URL",
                        at(url.span()),
                        url.get_ref()
                    );
                }
                trimmed.to_owned()
            }
            (None, ProviderKind::Mock) => String::new(),
            (None, ProviderKind::OpenAi) => {
                anyhow::bail!("{}: provider `{name}` needs a base_url", at(p.name.span()))
            }
        };
        let api_key = match &p.api_key_env {
            None => Secret::default(),
            Some(var) => match env(var.get_ref()).filter(|v| !v.trim().is_empty()) {
                Some(value) => value.as_str().into(),
                None => anyhow::bail!(
                    "{}: provider `{name}` reads its key from {}, which is not set",
                    at(var.span()),
                    var.get_ref()
                ),
            },
        };
        let secs = |v: &Option<Spanned<f64>>, what: &str| -> anyhow::Result<Option<Duration>> {
            match v {
                None => Ok(None),
                Some(s) if s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= 86_400.0 => {
                    Ok(Some(Duration::from_secs_f64(*s.get_ref())))
                }
                Some(s) => anyhow::bail!(
                    "{}: provider `{name}` has {what} = {}, which is not a number of seconds between 0 and 86400",
                    at(s.span()),
                    s.get_ref()
                ),
            }
        };
        let failure_threshold = match &p.failure_threshold {
            None => DEFAULT_FAILURE_THRESHOLD,
            Some(t) if *t.get_ref() >= 1 => *t.get_ref(),
            Some(t) => anyhow::bail!(
                "{}: provider `{name}` has failure_threshold = 0; use 1 or more",
                at(t.span())
            ),
        };
        let mut ids = HashSet::new();
        let mut models = Vec::new();
        for m in p.models {
            let id = m.id.get_ref().trim().to_owned();
            if id.is_empty() {
                anyhow::bail!(
                    "{}: a model of provider `{name}` has an empty id",
                    at(m.id.span())
                );
            }
            if !ids.insert(id.clone()) {
                anyhow::bail!(
                    "{}: model `{id}` is listed twice for provider `{name}`",
                    at(m.id.span())
                );
            }
            let capabilities = match &m.capabilities {
                None => Capability::guess(&id),
                Some(list) => {
                    let mut caps = Vec::new();
                    for c in list {
                        match Capability::parse(c.get_ref().trim()) {
                            Some(cap) if !caps.contains(&cap) => caps.push(cap),
                            Some(_) => {}
                            None => anyhow::bail!(
                                "{}: model `{name}/{id}` has unknown capability {:?} ({})",
                                at(c.span()),
                                c.get_ref(),
                                Capability::names()
                            ),
                        }
                    }
                    if caps.is_empty() {
                        anyhow::bail!(
                            "{}: model `{name}/{id}` has no capabilities ({})",
                            at(m.id.span()),
                            Capability::names()
                        );
                    }
                    caps
                }
            };
            let price = |v: &Option<Spanned<f64>>, what: &str| -> anyhow::Result<f64> {
                match v {
                    None => Ok(0.0),
                    Some(s) if s.get_ref().is_finite() && *s.get_ref() >= 0.0 => Ok(*s.get_ref()),
                    Some(s) => anyhow::bail!(
                        "{}: model `{name}/{id}` has {what} = {}, which is not a price of 0 or more",
                        at(s.span()),
                        s.get_ref()
                    ),
                }
            };
            models.push((
                ModelConfig {
                    price_input_per_mtok: price(&m.price_input_per_mtok, "price_input_per_mtok")?,
                    price_output_per_mtok: price(
                        &m.price_output_per_mtok,
                        "price_output_per_mtok",
                    )?,
                    id,
                    capabilities,
                    context_window: m.context_window,
                    max_output_tokens: m.max_output_tokens,
                    fallbacks: m
                        .fallbacks
                        .iter()
                        .map(|f| f.get_ref().trim().to_owned())
                        .collect(),
                },
                m.fallbacks,
            ));
        }
        providers.push((
            ProviderConfig {
                connect_timeout: secs(&p.connect_timeout_secs, "connect_timeout_secs")?,
                timeout: secs(&p.timeout_secs, "timeout_secs")?,
                first_token_timeout: secs(&p.first_token_timeout_secs, "first_token_timeout_secs")?,
                idle_timeout: secs(&p.idle_timeout_secs, "idle_timeout_secs")?,
                cooldown: secs(&p.cooldown_secs, "cooldown_secs")?.unwrap_or(DEFAULT_COOLDOWN),
                name,
                kind,
                base_url,
                api_key,
                discover: p.discover,
                failure_threshold,
                max_completion_tokens: p.max_completion_tokens,
                http2_prior_knowledge: p.http2_prior_knowledge,
                models: Vec::new(),
            },
            models,
        ));
    }

    // References: aliases and fallbacks name `provider/model` of a listed model (or of a
    // provider that discovers its models), and fallbacks may name an alias.
    let known = |target: &str| -> Result<(), String> {
        let Some((provider, model)) = target.split_once('/') else {
            return Err(format!("`{target}` is not of the form provider/model"));
        };
        let Some((p, models)) = providers.iter().find(|(p, _)| p.name == provider) else {
            return Err(format!("`{target}` names no provider `{provider}`"));
        };
        if p.discover || models.iter().any(|(m, _): &(ModelConfig, _)| m.id == model) {
            Ok(())
        } else {
            Err(format!(
                "`{target}` is not a model listed for provider `{provider}`"
            ))
        }
    };
    let mut aliases = BTreeMap::new();
    for (alias, targets) in &raw.aliases {
        let list = match targets.get_ref() {
            RawTargets::One(t) => vec![t.trim().to_owned()],
            RawTargets::Many(ts) => ts.iter().map(|t| t.trim().to_owned()).collect(),
        };
        if list.is_empty() {
            anyhow::bail!("{}: alias `{alias}` has no target", at(targets.span()));
        }
        if alias.contains('/') {
            anyhow::bail!(
                "{}: alias `{alias}` must not contain `/`",
                at(targets.span())
            );
        }
        for t in &list {
            known(t)
                .map_err(|e| anyhow::anyhow!("{}: alias `{alias}`: {e}", at(targets.span())))?;
        }
        aliases.insert(alias.clone(), list);
    }
    for (p, models) in &providers {
        for (m, spans) in models {
            for (f, span) in m.fallbacks.iter().zip(spans) {
                if !aliases.contains_key(f) {
                    known(f).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: fallback of `{}/{}`: {e}",
                            at(span.span()),
                            p.name,
                            m.id
                        )
                    })?;
                }
            }
        }
    }
    Ok(ProvidersConfig {
        providers: providers
            .into_iter()
            .map(|(mut p, models)| {
                p.models = models.into_iter().map(|(m, _)| m).collect();
                p
            })
            .collect(),
        aliases,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SET_KEY").then(|| "sk-test".to_owned())
    }

    const GOOD: &str = r#"
[[providers]]
name = "local"
base_url = "http://127.0.0.1:11434/v1/"
[[providers.models]]
id = "llama3.2"
capabilities = ["chat", "tools"]
context_window = 131072
price_input_per_mtok = 0.5
fallbacks = ["cloud/gpt-4o-mini"]
[[providers.models]]
id = "nomic-embed-text"

[[providers]]
name = "cloud"
base_url = "https://api.openai.com/v1"
api_key_env = "SET_KEY"
timeout_secs = 20
[[providers.models]]
id = "gpt-4o-mini"
capabilities = ["chat", "vision", "json"]

[aliases]
default = "local/llama3.2"
fast = ["local/llama3.2", "cloud/gpt-4o-mini"]
embeddings = "local/nomic-embed-text"
"#;

    fn refused(text: &str) -> String {
        parse(text, "p.toml", &env).unwrap_err().to_string()
    }

    #[test]
    fn a_good_file_is_read_with_defaults() {
        let c = parse(GOOD, "p.toml", &env).unwrap();
        assert_eq!(c.providers.len(), 2);
        let local = &c.providers[0];
        assert_eq!(local.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(local.kind, ProviderKind::OpenAi);
        assert!(local.api_key.is_empty());
        assert_eq!(local.failure_threshold, DEFAULT_FAILURE_THRESHOLD);
        assert_eq!(
            local.models[0].capabilities,
            [Capability::Chat, Capability::Tools]
        );
        assert_eq!(local.models[0].fallbacks, ["cloud/gpt-4o-mini"]);
        assert_eq!(
            local.models[1].capabilities,
            [Capability::Embeddings],
            "guessed"
        );
        assert_eq!(c.providers[1].api_key.expose(), "sk-test");
        assert_eq!(c.providers[1].timeout, Some(Duration::from_secs(20)));
        assert_eq!(c.aliases["fast"].len(), 2);
    }

    #[test]
    fn mistakes_are_one_sentence_naming_the_line() {
        let cases = [
            (GOOD.replace("SET_KEY", "UNSET_KEY"), "p.toml line 17: provider `cloud` reads its key from UNSET_KEY, which is not set"),
            (GOOD.replace("\"tools\"", "\"audio\""), "p.toml line 7: model `local/llama3.2` has unknown capability \"audio\" (chat, embeddings, vision, tools, json)"),
            (GOOD.replace("https://api.openai.com/v1", "ftp://x"), "p.toml line 16: provider `cloud` has base_url \"ftp://x\", which is not an http:// or https:// URL"),
            (GOOD.replace("fast = [", "default = \"cloud/gpt-4o-mini\"\nfast = ["), "p.toml line 25 (`default = \"cloud/gpt-4o-mini\"`): duplicate key"),
            (GOOD.replace("name = \"cloud\"", "name = \"local\""), "p.toml line 15: provider name `local` is used twice"),
            (GOOD.replace("cloud/gpt-4o-mini\"]\n[[providers.models]]", "cloud/gpt-5\"]\n[[providers.models]]"), "p.toml line 10: fallback of `local/llama3.2`: `cloud/gpt-5` is not a model listed for provider `cloud`"),
            (GOOD.replace("embeddings = \"local/nomic-embed-text\"", "embeddings = \"nowhere/x\""), "p.toml line 26: alias `embeddings`: `nowhere/x` names no provider `nowhere`"),
            (GOOD.replace("timeout_secs = 20", "timeout_secs = -1"), "p.toml line 18: provider `cloud` has timeout_secs = -1, which is not a number of seconds between 0 and 86400"),
            (GOOD.replace("discover", "x").replace("timeout_secs = 20", "colour = 1"), "p.toml line 18 (`colour = 1`): unknown field `colour`"),
        ];
        for (text, expected) in cases {
            let e = refused(&text);
            assert!(e.starts_with(expected), "{e}\nexpected: {expected}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        assert_eq!(refused(""), "p.toml: no [[providers]] are defined");
    }

    #[test]
    fn the_shipped_examples_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/providers");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let c =
                    load(&path, &|_| Some("set".to_owned())).unwrap_or_else(|e| panic!("{e:#}"));
                assert!(c.aliases.contains_key("default"), "{}", path.display());
                seen += 1;
            }
        }
        assert_eq!(seen, 6, "openai, groq, ollama, vllm, llamacpp, openrouter");
    }
}
