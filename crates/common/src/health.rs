//! `/health` (liveness) and `/health/ready` (dependencies) response shapes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::VERSION;

/// `GET /health` body (contract §5.1, §8).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct HealthResponse {
    pub status: String,
    pub service: String,
    pub version: String,
    pub environment: String,
}

impl HealthResponse {
    pub fn healthy(service: &str, environment: &str) -> Self {
        Self {
            status: "healthy".to_owned(),
            service: service.to_owned(),
            version: VERSION.to_owned(),
            environment: environment.to_owned(),
        }
    }
}

/// `GET /health/ready` body: each dependency's state and how long the probe took.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReadinessResponse {
    /// `ready` when every check is up, `degraded` otherwise (answered with 503).
    pub status: String,
    pub service: String,
    pub version: String,
    pub checks: BTreeMap<String, CheckResult>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// `up` or `down`.
    pub status: String,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ReadinessResponse {
    pub fn new(service: &str, checks: BTreeMap<String, CheckResult>) -> Self {
        let ready = checks.values().all(|c| c.status == "up");
        Self {
            status: if ready { "ready" } else { "degraded" }.to_owned(),
            service: service.to_owned(),
            version: VERSION.to_owned(),
            checks,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// Runs one probe with a deadline and reports it as a [`CheckResult`].
pub async fn check<F, E>(timeout: Duration, probe: F) -> CheckResult
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, probe).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    match outcome {
        Ok(Ok(())) => CheckResult {
            status: "up".to_owned(),
            latency_ms,
            error: None,
        },
        Ok(Err(e)) => CheckResult {
            status: "down".to_owned(),
            latency_ms,
            error: Some(e.to_string()),
        },
        Err(_) => CheckResult {
            status: "down".to_owned(),
            latency_ms,
            error: Some("timed out".to_owned()),
        },
    }
}
