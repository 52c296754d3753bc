//! Gateway configuration: every flag is also an environment variable (`--help` lists them).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use common::config::{DatabaseArgs, HttpClientArgs, ServiceArgs};

#[derive(Debug, Clone, Parser)]
#[command(name = "gateway", version, about = "Sable gateway: the public API")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_ADDR", default_value = "0.0.0.0:8000")]
    pub addr: SocketAddr,

    /// Base URL of the model service.
    #[arg(
        long,
        env = "MODEL_SERVICE_URL",
        default_value = "http://127.0.0.1:8001"
    )]
    pub model_service_url: String,

    /// Base URL of the worker service.
    #[arg(
        long,
        env = "WORKER_SERVICE_URL",
        default_value = "http://127.0.0.1:8002"
    )]
    pub worker_service_url: String,

    /// Comma-separated origins allowed by CORS, e.g. `https://chat.example.com` (credentials
    /// are allowed, so `*` is refused).
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        default_value = "http://localhost:3000,http://localhost:5173,http://localhost:8000"
    )]
    pub allowed_origins: String,

    /// Comma-separated hosts the gateway answers for (`Host` header), e.g.
    /// `localhost,127.0.0.1,chat.example.com`; `host:port` pins a port, `.example.com` allows
    /// subdomains. Unset: any host. Others get 400 (`/health` stays reachable), which stops
    /// DNS-rebinding pages from reaching a local install.
    #[arg(long, env = "ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Directory of the built frontend (`frontend/dist`); served at `/` with SPA fallback
    /// when set and present.
    #[arg(long, env = "FRONTEND_DIR")]
    pub frontend_dir: Option<PathBuf>,

    /// Root of the documentation served by `/api/v1/workshop/content` (README.md,
    /// ARCHITECTURE.md, docs/*.md). Unset: the checkout the binary was built from, while it
    /// still holds README.md; otherwise the reader serves nothing. Never the working directory.
    #[arg(long, env = "DOCS_ROOT")]
    pub docs_root: Option<PathBuf>,

    /// Root of the workshop (`part*/task*/…` pages, contract §5.7). Unset: `workshop/` under
    /// the documentation root.
    #[arg(long, env = "WORKSHOP_ROOT")]
    pub workshop_root: Option<PathBuf>,

    /// Budget, in characters, of earlier turns sent to the model with a session's prompt;
    /// the oldest turns are dropped first.
    #[arg(long, env = "CONTEXT_BUDGET_CHARS", default_value_t = 24_000)]
    pub context_budget_chars: usize,

    /// Tokens of passages a grounded answer (a chat with files) is given at most, estimated at
    /// four characters a token and shared round robin between the files.
    #[arg(long, env = "GROUNDING_BUDGET_TOKENS", default_value_t = 1500)]
    pub grounding_budget_tokens: usize,

    /// Skip applying migrations at start-up (when another component owns them, e.g. the
    /// Kubernetes migration Job) and wait up to 60 s until the schema is current instead.
    #[arg(long, env = "SKIP_MIGRATIONS", default_value_t = false)]
    pub skip_migrations: bool,

    /// Apply the database migrations and exit (used by `make db-migrate`).
    #[arg(long)]
    pub migrate_only: bool,

    /// Print the OpenAPI document (the one served at `/openapi.json`) and exit; needs no
    /// database. The frontend generates its API types from it.
    #[arg(long)]
    pub print_openapi: bool,

    #[command(flatten)]
    pub auth: crate::auth::AuthArgs,

    #[command(flatten)]
    pub internal: common::internal_auth::InternalAuthArgs,

    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,

    #[command(flatten)]
    pub quota: crate::usage::QuotaArgs,

    #[command(flatten)]
    pub files: crate::routes::files::FileArgs,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub generations: crate::chat::generations::GenerationArgs,

    #[command(flatten)]
    pub http: HttpClientArgs,

    #[command(flatten)]
    pub service: ServiceArgs,
}

impl Config {
    /// Checks every setting at start-up ([`crate::run`] calls it); the error is one sentence
    /// for the operator and never contains a secret.
    pub fn validate(&self) -> Result<(), String> {
        self.service.validate()?;
        self.database.validate()?;
        self.http.validate()?;
        for (name, url) in [
            ("MODEL_SERVICE_URL", &self.model_service_url),
            ("WORKER_SERVICE_URL", &self.worker_service_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("{name} must start with http:// or https://"));
            }
        }
        crate::cors::validate(&self.allowed_origins)?;
        self.internal.validate()?;
        self.generations.validate()?;
        crate::edge::AllowedHosts::parse(self.allowed_hosts.as_deref()).validate()?;
        if self.context_budget_chars == 0 {
            return Err("CONTEXT_BUDGET_CHARS must be at least 1".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("gateway").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(parse(&[]).validate(), Ok(()));
    }

    #[test]
    fn a_wildcard_origin_is_refused_with_one_sentence() {
        let err = parse(&["--allowed-origins", "*"]).validate().unwrap_err();
        assert!(
            err.contains("ALLOWED_ORIGINS") && err.contains('*'),
            "{err}"
        );
        let err = parse(&["--allowed-origins", "http://a.example, *"])
            .validate()
            .unwrap_err();
        assert!(err.contains("ALLOWED_ORIGINS"), "{err}");
    }

    #[test]
    fn odd_origins_and_service_urls_are_refused() {
        for origins in ["localhost:3000", "http://a.example/path", "http://a b"] {
            let err = parse(&["--allowed-origins", origins])
                .validate()
                .unwrap_err();
            assert!(err.contains("ALLOWED_ORIGINS"), "{origins}: {err}");
        }
        let err = parse(&["--model-service-url", "127.0.0.1:8001"])
            .validate()
            .unwrap_err();
        assert!(err.contains("MODEL_SERVICE_URL"), "{err}");
    }

    #[test]
    fn secrets_hide_their_values_in_help() {
        for arg in Config::command().get_arguments() {
            let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
            if env == "DATABASE_URL" || env.ends_with("_SECRET") || env.ends_with("_KEY") {
                assert!(arg.is_hide_env_values_set(), "{env} must hide its value");
            }
        }
    }
}
