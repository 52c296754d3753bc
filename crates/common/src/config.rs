//! Configuration pieces shared by the services. Each service has its own clap `Parser` that
//! flattens the pieces it needs; every option is also an environment variable, and a `.env`
//! file is read first when present (see [`load_dotenv`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::telemetry::LogFormat;

/// Reads `.env` from the working directory or the nearest parent that has one, so running a
/// binary from `crates/x` or from the repository root behaves the same (contract §17.2).
/// Variables already set in the environment win.
pub fn load_dotenv() -> Option<PathBuf> {
    dotenvy::dotenv().ok()
}

#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// Deployment environment reported by /health (development, staging, production, test).
    #[arg(long, env = "ENVIRONMENT", default_value = "development")]
    pub environment: String,

    /// Log output: `pretty` for people, `json` for log shippers.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,

    /// Log filter in RUST_LOG syntax, e.g. `info` or `debug,sqlx=warn`.
    #[arg(
        long,
        env = "RUST_LOG",
        default_value = "info,sqlx=warn,tower_http=info"
    )]
    pub log_filter: String,

    /// Seconds to wait for in-flight requests after SIGINT/SIGTERM before exiting.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Postgres connection string, e.g. postgres://postgres@127.0.0.1:5432/sable.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/sable"
    )]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Seconds to wait for a free pooled connection (and for the first connect) before failing.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_acquire_timeout_secs: u64,
}

impl DatabaseArgs {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.database_acquire_timeout_secs)
    }
}

#[derive(Debug, Clone, Args)]
pub struct HttpClientArgs {
    /// Milliseconds allowed to open a connection to another service.
    #[arg(long, env = "HTTP_CONNECT_TIMEOUT_MS", default_value_t = 2000)]
    pub http_connect_timeout_ms: u64,

    /// Seconds allowed for a whole non-streaming call to another service (long generations
    /// take minutes, so this is generous; streams use idle timeouts instead).
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT_SECS", default_value_t = 300)]
    pub http_request_timeout_secs: u64,

    /// Seconds a stream may stay silent before it is considered stalled.
    #[arg(long, env = "STREAM_IDLE_TIMEOUT_SECS", default_value_t = 120)]
    pub stream_idle_timeout_secs: u64,
}

impl HttpClientArgs {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.http_connect_timeout_ms)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http_request_timeout_secs)
    }
    pub fn stream_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.stream_idle_timeout_secs)
    }
}

/// A secret string (API key, password) whose Debug output never shows the value.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Parses a comma-separated list, trimming entries and dropping empty ones.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s: Secret = "sk-live-123".into();
        assert!(!format!("{s:?}").contains("sk-live"));
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(split_list(" a, b ,,c"), vec!["a", "b", "c"]);
    }
}
