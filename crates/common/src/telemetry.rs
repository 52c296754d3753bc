//! Logging setup: JSON lines in production, human-readable text locally.

use clap::ValueEnum;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Coloured, human-readable lines.
    Pretty,
}

/// Installs the global subscriber. `filter` uses `RUST_LOG` syntax, e.g. `info,sqlx=warn`.
/// Calling it twice is harmless (the second call is ignored), which keeps tests simple.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(true),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    // Already initialised (tests start several services in one process): keep the first.
    let _ = result;
}

/// For tests: silent unless `TEST_LOG` is set, as in zero-to-production.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init(LogFormat::Pretty, "debug,sqlx=warn,hyper=info,h2=info");
    }
}
