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

    /// Comma-separated origins allowed by CORS (credentials allowed).
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        default_value = "http://localhost:3000,http://localhost:5173,http://localhost:8000"
    )]
    pub allowed_origins: String,

    /// Directory of the built frontend (`frontend/dist`); served at `/` with SPA fallback
    /// when set and present.
    #[arg(long, env = "FRONTEND_DIR")]
    pub frontend_dir: Option<PathBuf>,

    /// Root of the documentation served by `/api/v1/workshop/content` (README.md,
    /// ARCHITECTURE.md, docs/*.md). Defaults to the working directory.
    #[arg(long, env = "DOCS_ROOT", default_value = ".")]
    pub docs_root: PathBuf,

    /// Budget, in characters, of earlier turns sent to the model with a session's prompt;
    /// the oldest turns are dropped first.
    #[arg(long, env = "CONTEXT_BUDGET_CHARS", default_value_t = 24_000)]
    pub context_budget_chars: usize,

    /// Skip applying migrations at start-up (when another component owns them).
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
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub http: HttpClientArgs,

    #[command(flatten)]
    pub service: ServiceArgs,
}
