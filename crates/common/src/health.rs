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
    /// Why a check is down, in a fixed word: `unreachable` or `timed out` (never the
    /// driver's text; the log line with the request id has the cause).
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

/// What a failed check says in `error`: a fixed word, never the driver's text (which can
/// name hosts, users or SQL). The cause goes to the log with the request id.
pub const UNREACHABLE: &str = "unreachable";
/// `error` of a check whose probe did not answer within its deadline.
pub const TIMED_OUT: &str = "timed out";

/// Runs one probe with a deadline and reports it as a [`CheckResult`]; a failure's cause is
/// logged (as `dependency`), not returned. Prefer [`probe`], which names the dependency.
pub async fn check<F, E>(timeout: Duration, probe_fut: F) -> CheckResult
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    probe("dependency", timeout, probe_fut).await
}

/// Runs the probe of dependency `name` with a deadline and reports it as a [`CheckResult`]:
/// `up`, or `down` with `error` [`UNREACHABLE`] or [`TIMED_OUT`]. The failure's own text is
/// logged at `warn` with `name`, never put in the response (a readiness body is public).
pub async fn probe<F, E>(name: &str, timeout: Duration, probe: F) -> CheckResult
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, probe).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    let error = match outcome {
        Ok(Ok(())) => {
            return CheckResult {
                status: "up".to_owned(),
                latency_ms,
                error: None,
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %e, "readiness check failed");
            UNREACHABLE
        }
        Err(_) => {
            tracing::warn!(
                dependency = name,
                timeout_ms = timeout.as_millis() as u64,
                "readiness check timed out"
            );
            TIMED_OUT
        }
    };
    CheckResult {
        status: "down".to_owned(),
        latency_ms,
        error: Some(error.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_check_says_unreachable_and_never_the_driver_text() {
        let result = probe("database", Duration::from_secs(1), async {
            Err::<(), _>("password authentication failed for user \"sable\" at 10.0.0.5")
        })
        .await;
        assert_eq!(result.status, "down");
        assert_eq!(result.error.as_deref(), Some(UNREACHABLE));
        let json = serde_json::to_string(&result).unwrap();
        assert!(
            !json.contains("sable") && !json.contains("10.0.0.5"),
            "{json}"
        );
    }

    #[tokio::test]
    async fn a_slow_check_times_out_and_a_good_one_is_up() {
        let slow = probe("model_service", Duration::from_millis(10), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<(), String>(())
        })
        .await;
        assert_eq!(slow.error.as_deref(), Some(TIMED_OUT));
        let good = check(Duration::from_secs(1), async { Ok::<(), String>(()) }).await;
        assert_eq!((good.status.as_str(), good.error), ("up", None));
    }
}
