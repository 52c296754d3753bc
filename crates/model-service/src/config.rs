//! model-service configuration: every flag is also an environment variable (`--help` lists them).
//!
//! [`Config`] is what clap parses; [`Config::resolve`] turns it into the provider settings the
//! service runs with (preset, base URL, key, models), failing fast with one clear sentence when
//! the combination cannot work (e.g. `PROVIDER=groq` without `GROQ_API_KEY`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use common::config::{duration_ms, duration_secs, split_list, Secret, ServiceArgs};
use common::telemetry::LogFormat;

#[derive(Debug, Clone, Parser)]
#[command(name = "model-service", version, about = "Sable model-service")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MODEL_SERVICE_ADDR", default_value = "127.0.0.1:8001")]
    pub addr: SocketAddr,

    /// TOML file of providers, models and aliases (see README "Providers"); when set it
    /// replaces PROVIDER, the keys, OPENAI_BASE_URL and the model settings. Reloaded on SIGHUP.
    #[arg(long, env = "PROVIDERS_FILE")]
    pub providers_file: Option<std::path::PathBuf>,

    /// Seconds between refreshes of the model lists of `discover = true` providers (their
    /// `GET {base_url}/models`); 0 = only at start-up and on reload.
    #[arg(long, env = "DISCOVERY_REFRESH_SECS", default_value_t = 300)]
    pub discovery_refresh_secs: u64,

    /// Model provider: `auto` (groq if GROQ_API_KEY is set, else openai if OPENAI_API_KEY is
    /// set, else mock), `mock`, `groq`, `openai` (any OpenAI-compatible server) or `ollama`.
    #[arg(long, env = "PROVIDER", value_enum, default_value = "auto")]
    pub provider: ProviderChoice,

    /// API key for Groq (selects the groq preset when PROVIDER=auto). Never logged.
    #[arg(
        long,
        env = "GROQ_API_KEY",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub groq_api_key: Secret,

    /// API key for OpenAI or another OpenAI-compatible server. Never logged.
    #[arg(
        long,
        env = "OPENAI_API_KEY",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub openai_api_key: Secret,

    /// Base URL of the OpenAI-compatible API (e.g. http://localhost:8000/v1 for vLLM);
    /// overrides the preset's URL.
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,

    /// Speak HTTP/2 to that server from the first byte (h2c on an `http://` URL; on `https://`
    /// only `h2` is offered). For servers known to speak it (vLLM and others behind an h2c
    /// front end): a burst of streams then shares one connection. Off: HTTP/1.1, or HTTP/2
    /// when a TLS server picks it.
    #[arg(long, env = "OPENAI_HTTP2_PRIOR_KNOWLEDGE", default_value_t = false)]
    pub openai_http2_prior_knowledge: bool,

    /// Model used when a request names none; overrides the preset's default.
    #[arg(long, env = "DEFAULT_MODEL")]
    pub default_model: Option<String>,

    /// Model tried once when the primary fails before its first token; empty means no
    /// fallback. Overrides the preset's fallback.
    #[arg(long, env = "FALLBACK_MODEL")]
    pub fallback_model: Option<String>,

    /// Extra model ids to list in GET /api/v1/models (comma-separated); overrides the
    /// preset's extra list. Any model id is accepted in requests regardless.
    #[arg(long, env = "MODELS")]
    pub models: Option<String>,

    /// Model for POST /embeddings when a request names none or names the `embeddings` alias;
    /// overrides the preset's (mock: mock-embed, openai: text-embedding-3-small, ollama:
    /// nomic-embed-text, groq: none). Empty means none.
    #[arg(long, env = "EMBEDDINGS_MODEL")]
    pub embeddings_model: Option<String>,

    /// Mock provider: time before the first token (0 for benchmarks; `150ms`, a bare number is
    /// milliseconds).
    #[arg(long = "mock-first-token-delay-ms", env = "MOCK_FIRST_TOKEN_DELAY_MS", value_parser = duration_ms, default_value = "150ms")]
    pub mock_first_token_delay: Duration,

    /// Mock provider: time between tokens (0 for benchmarks; `40ms`, a bare number is
    /// milliseconds).
    #[arg(long = "mock-token-delay-ms", env = "MOCK_TOKEN_DELAY_MS", value_parser = duration_ms, default_value = "40ms")]
    pub mock_token_delay: Duration,

    /// Time allowed to open a TCP/TLS connection to the provider (`5s`; a bare number is
    /// seconds, fractions allowed).
    #[arg(long = "provider-connect-timeout-secs", env = "PROVIDER_CONNECT_TIMEOUT_SECS", value_parser = timeout_secs, default_value = "5s")]
    pub provider_connect_timeout: Duration,

    /// Time allowed for one whole non-streaming provider call (`2m`).
    #[arg(long = "provider-timeout-secs", env = "PROVIDER_TIMEOUT_SECS", value_parser = timeout_secs, default_value = "2m")]
    pub provider_timeout: Duration,

    /// Time allowed from sending a streaming request to receiving its first token (`30s`).
    #[arg(long = "first-token-timeout-secs", env = "FIRST_TOKEN_TIMEOUT_SECS", value_parser = timeout_secs, default_value = "30s")]
    pub first_token_timeout: Duration,

    /// Time a provider stream may stay silent between tokens before it is abandoned (`30s`).
    #[arg(long = "idle-timeout-secs", env = "IDLE_TIMEOUT_SECS", value_parser = timeout_secs, default_value = "30s")]
    pub idle_timeout: Duration,

    /// Longest time one request may take, every attempt and the fallback included (`4m30s`,
    /// below the gateway's HTTP_REQUEST_TIMEOUT_SECS; a bare number is seconds). A caller's
    /// shorter `X-Sable-Deadline-Ms` wins; for a stream it covers the time to the first token.
    #[arg(long = "model-request-deadline-secs", env = "MODEL_REQUEST_DEADLINE_SECS", value_parser = timeout_secs, default_value = "4m30s")]
    pub model_request_deadline: Duration,

    /// Attempts per model (first try included) on 429, 5xx, timeouts and connection errors.
    #[arg(long, env = "RETRY_MAX_ATTEMPTS", default_value_t = 3)]
    pub retry_max_attempts: u32,

    /// Base delay of the exponential backoff between provider attempts (jittered, doubled per
    /// attempt, capped at 5 s; a provider's Retry-After wins, capped at 10 s) [default: 200ms;
    /// a bare number is milliseconds].
    #[arg(long = "provider-retry-base-delay-ms", env = "PROVIDER_RETRY_BASE_DELAY_MS", value_parser = duration_ms)]
    pub provider_retry_base_delay: Option<Duration>,

    /// Deprecated name of PROVIDER_RETRY_BASE_DELAY_MS (it also named the worker's job
    /// backoff); still read, with a warning at start-up.
    #[arg(long = "retry-base-delay-ms", env = "RETRY_BASE_DELAY_MS", value_parser = duration_ms, hide = true)]
    pub legacy_retry_base_delay: Option<Duration>,

    /// What models can do, for OpenAI chat requests: `model=chat,tools,json;other=chat,vision`
    /// (capabilities: chat, embeddings, vision, tools, json). A request needing one its model
    /// lacks (an image part, tools, a JSON response format) is refused with 400, and a fallback
    /// must cover the request. Models not listed are assumed to have every capability.
    #[arg(long, env = "MODEL_CAPABILITIES", default_value = "")]
    pub model_capabilities: String,

    #[command(flatten)]
    pub internal: common::internal_auth::InternalAuthArgs,

    #[command(flatten)]
    pub service: ServiceArgs,
}

/// The `PROVIDER` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderChoice {
    Auto,
    Mock,
    Groq,
    Openai,
    Ollama,
}

/// The resolved provider the service runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSettings {
    Mock,
    OpenAiCompatible {
        /// Base URL, without a trailing slash (e.g. `https://api.groq.com/openai/v1`).
        base_url: String,
        /// Whether to send `max_completion_tokens` (OpenAI) rather than the older, more widely
        /// supported `max_tokens` (Groq, Ollama, vLLM).
        max_completion_tokens: bool,
    },
}

/// Everything [`Config::resolve`] decides: which provider, which models.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Preset name reported by `/api/v1/models`: `mock`, `groq`, `openai`, `ollama`.
    pub provider_name: &'static str,
    pub settings: ProviderSettings,
    pub api_key: Secret,
    pub default_model: String,
    pub fallback_model: Option<String>,
    pub extra_models: Vec<String>,
    /// The `embeddings` alias; `None` when the provider has no embeddings model configured.
    pub embeddings_model: Option<String>,
}

struct Preset {
    name: &'static str,
    base_url: &'static str,
    default_model: &'static str,
    fallback_model: Option<&'static str>,
    extra_models: &'static [&'static str],
    embeddings_model: Option<&'static str>,
}

const MOCK: Preset = Preset {
    name: "mock",
    base_url: "",
    default_model: "llama-3.3-70b-versatile",
    fallback_model: Some("llama-3.1-8b-instant"),
    extra_models: &["mixtral-8x7b-32768", "openai/gpt-oss-120b"],
    embeddings_model: Some(crate::providers::mock::EMBEDDINGS_MODEL),
};

const GROQ: Preset = Preset {
    name: "groq",
    base_url: "https://api.groq.com/openai/v1",
    default_model: "llama-3.3-70b-versatile",
    fallback_model: Some("llama-3.1-8b-instant"),
    extra_models: &["openai/gpt-oss-120b"],
    embeddings_model: None,
};

const OPENAI: Preset = Preset {
    name: "openai",
    base_url: "https://api.openai.com/v1",
    default_model: "gpt-4o-mini",
    fallback_model: None,
    extra_models: &[],
    embeddings_model: Some("text-embedding-3-small"),
};

const OLLAMA: Preset = Preset {
    name: "ollama",
    base_url: "http://localhost:11434/v1",
    default_model: "llama3.2",
    fallback_model: None,
    extra_models: &[],
    embeddings_model: Some("nomic-embed-text"),
};

impl Config {
    /// A mock-provider config with zero delays, fast retries and short timeouts, listening on
    /// `127.0.0.1:0`: what other crates' tests start in-process. Reads no environment.
    pub fn for_tests() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            providers_file: None,
            discovery_refresh_secs: 0,
            provider: ProviderChoice::Mock,
            groq_api_key: Secret::default(),
            openai_api_key: Secret::default(),
            openai_base_url: None,
            openai_http2_prior_knowledge: false,
            default_model: None,
            fallback_model: None,
            models: None,
            embeddings_model: None,
            mock_first_token_delay: Duration::ZERO,
            mock_token_delay: Duration::ZERO,
            provider_connect_timeout: Duration::from_secs(2),
            provider_timeout: Duration::from_secs(10),
            first_token_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            model_request_deadline: Duration::from_secs(30),
            retry_max_attempts: 3,
            provider_retry_base_delay: Some(Duration::from_millis(10)),
            legacy_retry_base_delay: None,
            model_capabilities: String::new(),
            internal: common::internal_auth::InternalAuthArgs::default(),
            service: ServiceArgs {
                environment: "test".to_owned(),
                log_format: LogFormat::Pretty,
                log_filter: "info".to_owned(),
                shutdown_grace: Duration::from_secs(1),
                header_read_timeout: Duration::from_secs(10),
                request_body_timeout: Duration::from_secs(30),
            },
        }
    }

    /// Decides provider, URL, key and models from the settings and presets.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let choice = match self.provider {
            ProviderChoice::Auto if !self.groq_api_key.is_empty() => ProviderChoice::Groq,
            ProviderChoice::Auto if !self.openai_api_key.is_empty() => ProviderChoice::Openai,
            ProviderChoice::Auto => ProviderChoice::Mock,
            other => other,
        };
        let (preset, api_key) = match choice {
            ProviderChoice::Mock | ProviderChoice::Auto => (&MOCK, Secret::default()),
            ProviderChoice::Groq => {
                if self.groq_api_key.is_empty() {
                    anyhow::bail!("PROVIDER=groq needs GROQ_API_KEY to be set");
                }
                (&GROQ, self.groq_api_key.clone())
            }
            ProviderChoice::Openai => {
                if self.openai_api_key.is_empty() && self.base_url_override().is_none() {
                    anyhow::bail!(
                        "PROVIDER=openai needs OPENAI_API_KEY, or OPENAI_BASE_URL for a server without keys"
                    );
                }
                (&OPENAI, self.openai_api_key.clone())
            }
            ProviderChoice::Ollama => (&OLLAMA, self.openai_api_key.clone()),
        };

        let settings = if preset.name == MOCK.name {
            ProviderSettings::Mock
        } else {
            let base_url = self
                .base_url_override()
                .unwrap_or(preset.base_url)
                .trim_end_matches('/')
                .to_owned();
            if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                anyhow::bail!("OPENAI_BASE_URL must start with http:// or https://");
            }
            ProviderSettings::OpenAiCompatible {
                base_url,
                max_completion_tokens: preset.name == OPENAI.name
                    && self.base_url_override().is_none(),
            }
        };

        let default_model = self
            .default_model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(preset.default_model)
            .to_owned();
        let fallback_model = match self.fallback_model.as_deref() {
            Some(explicit) => Some(explicit.trim())
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            None => preset.fallback_model.map(str::to_owned),
        }
        .filter(|f| *f != default_model);
        let extra_models = match self.models.as_deref() {
            Some(list) => split_list(list),
            None => preset
                .extra_models
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
        };

        let embeddings_model = match self.embeddings_model.as_deref() {
            Some(explicit) => Some(explicit.trim())
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            None => preset.embeddings_model.map(str::to_owned),
        };

        Ok(Resolved {
            provider_name: preset.name,
            settings,
            api_key,
            default_model,
            fallback_model,
            extra_models,
            embeddings_model,
        })
    }

    fn base_url_override(&self) -> Option<&str> {
        self.openai_base_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    pub fn connect_timeout(&self) -> Duration {
        self.provider_connect_timeout
    }
    pub fn provider_timeout(&self) -> Duration {
        self.provider_timeout
    }
    pub fn first_token_timeout(&self) -> Duration {
        self.first_token_timeout
    }
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
    pub fn model_request_deadline(&self) -> Duration {
        self.model_request_deadline
    }

    /// `PROVIDER_RETRY_BASE_DELAY_MS`, else the deprecated `RETRY_BASE_DELAY_MS`, else 200 ms.
    pub fn provider_retry_base_delay(&self) -> Duration {
        self.provider_retry_base_delay
            .or(self.legacy_retry_base_delay)
            .unwrap_or(DEFAULT_PROVIDER_RETRY_BASE_DELAY)
    }

    /// A warning for each deprecated setting in use, for the start-up log.
    pub fn deprecations(&self) -> Vec<String> {
        match (
            self.legacy_retry_base_delay.is_some(),
            self.provider_retry_base_delay.is_some(),
        ) {
            (true, true) => vec!["RETRY_BASE_DELAY_MS is deprecated and ignored because PROVIDER_RETRY_BASE_DELAY_MS is set; remove it".to_owned()],
            (true, false) => vec!["RETRY_BASE_DELAY_MS is deprecated; rename it to PROVIDER_RETRY_BASE_DELAY_MS (it is still honoured)".to_owned()],
            _ => Vec::new(),
        }
    }
}

const DEFAULT_PROVIDER_RETRY_BASE_DELAY: Duration = Duration::from_millis(200);

/// clap value parser for the provider timeouts: a duration with a unit (`500ms`, `30s`, `2m`)
/// or a number of seconds, fractions allowed (`2.5`, as before units were accepted). Zero,
/// negative, more than a day, and anything else is refused with one sentence: a timeout is
/// never silently turned into something else.
fn timeout_secs(input: &str) -> Result<Duration, String> {
    const MAX: Duration = Duration::from_secs(86_400);
    let refused = || {
        format!(
            "`{input}` is not a usable timeout: use a positive duration of at most a day, such as 500ms, 30s, 2m or 2.5 (seconds)"
        )
    };
    let text = input.trim();
    let parsed = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= MAX.as_secs_f64() => {
            Duration::from_secs_f64(secs)
        }
        Ok(_) => return Err(refused()),
        Err(_) => duration_secs(text).map_err(|_| refused())?,
    };
    if parsed.is_zero() || parsed > MAX {
        return Err(refused());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut c = Config::for_tests();
        // Only the fields the tests touch; everything else keeps the test defaults.
        for pair in args.chunks(2) {
            let value = pair[1].to_owned();
            match pair[0] {
                "provider" => {
                    c.provider = ProviderChoice::from_str(&value, true).unwrap();
                }
                "groq" => c.groq_api_key = value.as_str().into(),
                "openai" => c.openai_api_key = value.as_str().into(),
                "base" => c.openai_base_url = Some(value),
                "default" => c.default_model = Some(value),
                "fallback" => c.fallback_model = Some(value),
                "models" => c.models = Some(value),
                "embeddings" => c.embeddings_model = Some(value),
                other => panic!("unknown test key {other}"),
            }
        }
        c
    }

    #[test]
    fn auto_without_keys_is_the_mock_with_the_reference_models() {
        let r = config(&["provider", "auto"]).resolve().unwrap();
        assert_eq!(r.provider_name, "mock");
        assert_eq!(r.settings, ProviderSettings::Mock);
        assert_eq!(r.default_model, "llama-3.3-70b-versatile");
        assert_eq!(r.fallback_model.as_deref(), Some("llama-3.1-8b-instant"));
    }

    #[test]
    fn auto_prefers_groq_then_openai() {
        let r = config(&["provider", "auto", "groq", "gsk", "openai", "sk"])
            .resolve()
            .unwrap();
        assert_eq!(r.provider_name, "groq");
        assert_eq!(r.api_key.expose(), "gsk");
        let r = config(&["provider", "auto", "openai", "sk"])
            .resolve()
            .unwrap();
        assert_eq!(r.provider_name, "openai");
        assert_eq!(r.default_model, "gpt-4o-mini");
        assert_eq!(r.fallback_model, None);
        assert_eq!(
            r.settings,
            ProviderSettings::OpenAiCompatible {
                base_url: "https://api.openai.com/v1".into(),
                max_completion_tokens: true
            }
        );
    }

    #[test]
    fn explicit_settings_override_presets() {
        let r = config(&[
            "provider",
            "groq",
            "groq",
            "k",
            "base",
            "http://127.0.0.1:9/v1/",
            "default",
            "a",
            "fallback",
            "b",
            "models",
            "c, d",
        ])
        .resolve()
        .unwrap();
        assert_eq!(
            r.settings,
            ProviderSettings::OpenAiCompatible {
                base_url: "http://127.0.0.1:9/v1".into(),
                max_completion_tokens: false
            }
        );
        assert_eq!(
            (r.default_model.as_str(), r.fallback_model.as_deref()),
            ("a", Some("b"))
        );
        assert_eq!(r.extra_models, ["c", "d"]);
    }

    #[test]
    fn empty_fallback_means_none_and_a_fallback_equal_to_the_default_is_dropped() {
        let r = config(&["provider", "mock", "fallback", ""])
            .resolve()
            .unwrap();
        assert_eq!(r.fallback_model, None);
        let r = config(&["provider", "mock", "default", "x", "fallback", "x"])
            .resolve()
            .unwrap();
        assert_eq!(r.fallback_model, None);
    }

    #[test]
    fn embeddings_models_come_from_the_preset_unless_set() {
        let r = config(&["provider", "mock"]).resolve().unwrap();
        assert_eq!(r.embeddings_model.as_deref(), Some("mock-embed"));
        let r = config(&["provider", "groq", "groq", "k"])
            .resolve()
            .unwrap();
        assert_eq!(r.embeddings_model, None);
        let r = config(&["provider", "openai", "openai", "k", "embeddings", "e5"])
            .resolve()
            .unwrap();
        assert_eq!(r.embeddings_model.as_deref(), Some("e5"));
        let r = config(&["provider", "ollama", "embeddings", " "])
            .resolve()
            .unwrap();
        assert_eq!(r.embeddings_model, None);
    }

    #[test]
    fn ollama_needs_no_key() {
        let r = config(&["provider", "ollama"]).resolve().unwrap();
        assert_eq!(r.default_model, "llama3.2");
        assert!(r.api_key.is_empty());
    }

    #[test]
    fn missing_keys_fail_fast_with_one_sentence() {
        let e = config(&["provider", "groq"]).resolve().unwrap_err();
        assert!(e.to_string().contains("GROQ_API_KEY"));
        assert!(config(&["provider", "openai"]).resolve().is_err());
        assert!(
            config(&["provider", "openai", "base", "http://127.0.0.1:1/v1"])
                .resolve()
                .is_ok()
        );
        assert!(
            config(&["provider", "openai", "openai", "k", "base", "ftp://x"])
                .resolve()
                .is_err()
        );
    }
}

#[cfg(test)]
mod deprecation_tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["model-service"];
        all.extend_from_slice(args);
        Config::parse_from(all)
    }

    #[test]
    fn timeouts_take_units_or_fractional_seconds_and_refuse_nonsense() {
        let c = parse(&[
            "--provider-timeout-secs",
            "2.5",
            "--first-token-timeout-secs",
            "500ms",
            "--idle-timeout-secs",
            "1m",
            "--mock-token-delay-ms",
            "7",
        ]);
        assert_eq!(c.provider_timeout(), Duration::from_millis(2500));
        assert_eq!(c.first_token_timeout(), Duration::from_millis(500));
        assert_eq!(c.idle_timeout(), Duration::from_secs(60));
        assert_eq!(c.mock_token_delay, Duration::from_millis(7));
        for bad in ["0", "-1", "NaN", "soon", "2d"] {
            let flag = format!("--provider-timeout-secs={bad}");
            let parsed = Config::try_parse_from(["model-service", flag.as_str()]);
            assert!(
                parsed.is_err_and(|e| e.to_string().contains("not a usable timeout")),
                "{bad}"
            );
        }
    }

    #[test]
    fn provider_retry_delay_has_a_new_name_and_the_old_one_still_works() {
        assert_eq!(
            parse(&[]).provider_retry_base_delay(),
            Duration::from_millis(200)
        );
        assert!(parse(&[]).deprecations().is_empty());
        let old = parse(&["--retry-base-delay-ms", "50"]);
        assert_eq!(old.provider_retry_base_delay(), Duration::from_millis(50));
        assert!(old.deprecations()[0].contains("rename it to PROVIDER_RETRY_BASE_DELAY_MS"));
        let both = parse(&[
            "--retry-base-delay-ms",
            "50",
            "--provider-retry-base-delay-ms",
            "70",
        ]);
        assert_eq!(both.provider_retry_base_delay(), Duration::from_millis(70));
        assert!(both.deprecations()[0].contains("ignored"));
    }
}
