//! Shared building blocks of the Sable services.
//!
//! Every binary (gateway, model-service, worker-service) is built from these pieces so that
//! errors, request ids, logging, configuration and wire schemas behave identically everywhere.
//! This crate knows nothing about providers, queues or chat storage: those live in the
//! service that owns them.

pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod grounding;
pub mod health;
pub mod http;
pub mod http_client;
pub mod internal_auth;
pub mod metrics;
pub mod observability;
pub mod request_id;
pub mod schemas;
pub mod server;
pub mod shutdown;
pub mod sse;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod text;
pub mod tracing_otel;
pub mod validation;

pub use error::{AppError, AppResult};

/// The version every service reports in `/health` (contract §5.1).
pub const VERSION: &str = "0.1.0";

/// jemalloc instead of glibc's malloc for every binary that links `common` with the `jemalloc`
/// feature (the three services). Under callgrind, malloc and free were ~40 % of the gateway's
/// instructions per request; with jemalloc the gateway spends ~20 % fewer instructions per
/// request and ~13 % fewer per relayed token (docs/benchmarks.md, "Third pass").
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
