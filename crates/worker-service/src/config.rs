//! worker-service configuration: every flag is also an environment variable (`--help` lists them).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use common::config::{DatabaseArgs, HttpClientArgs, ServiceArgs};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "worker-service",
    version,
    about = "Sable worker-service: the durable batch-job queue"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "WORKER_SERVICE_ADDR", default_value = "0.0.0.0:8002")]
    pub addr: SocketAddr,

    /// Base URL of the model service (its `POST /inference` answers each prompt).
    #[arg(
        long,
        env = "MODEL_SERVICE_URL",
        default_value = "http://127.0.0.1:8001"
    )]
    pub model_service_url: String,

    /// This worker's name in job leases (`locked_by`); default `<hostname>-<pid>-<random>`.
    /// Must be unique among running workers.
    #[arg(long, env = "WORKER_ID")]
    pub worker_id: Option<String>,

    /// Most jobs this process works on at once.
    #[arg(long, env = "WORKER_MAX_JOBS", default_value_t = 16)]
    pub worker_max_jobs: usize,

    /// Most prompts this process sends to the model service at once (over all its jobs).
    #[arg(long, env = "WORKER_MAX_PROMPTS", default_value_t = 32)]
    pub worker_max_prompts: usize,

    /// Seconds a claim is valid without a heartbeat; after that any worker may take the job.
    #[arg(long, env = "LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,

    /// Seconds between lease extensions (must be well below LEASE_SECS).
    #[arg(long, env = "HEARTBEAT_SECS", default_value_t = 10)]
    pub heartbeat_secs: u64,

    /// Milliseconds between safety-net polls for work (new jobs normally arrive by
    /// LISTEN/NOTIFY within milliseconds). Also the reaper's period.
    #[arg(long, env = "POLL_INTERVAL_MS", default_value_t = 2000)]
    pub poll_interval_ms: u64,

    /// Claims a job may use before a transient failure (model service down, 429, timeout)
    /// fails it. Stored per job at submission.
    #[arg(long, env = "JOB_MAX_ATTEMPTS", default_value_t = 5)]
    pub job_max_attempts: i32,

    /// First delay before a job's next attempt after a transient failure, in milliseconds;
    /// doubles per attempt, with jitter (at least the model service's Retry-After) [default:
    /// 1000].
    #[arg(long, env = "JOB_RETRY_BASE_DELAY_MS")]
    pub job_retry_base_delay_ms: Option<u64>,

    /// Longest delay between two attempts of a job, in milliseconds [default: 60000].
    #[arg(long, env = "JOB_RETRY_MAX_DELAY_MS")]
    pub job_retry_max_delay_ms: Option<u64>,

    /// Deprecated name of JOB_RETRY_BASE_DELAY_MS (it also named the model service's provider
    /// backoff); still read, with a warning at start-up.
    #[arg(long = "retry-base-delay-ms", env = "RETRY_BASE_DELAY_MS", hide = true)]
    pub legacy_retry_base_delay_ms: Option<u64>,

    /// Deprecated name of JOB_RETRY_MAX_DELAY_MS; still read, with a warning at start-up.
    #[arg(long = "retry-max-delay-ms", env = "RETRY_MAX_DELAY_MS", hide = true)]
    pub legacy_retry_max_delay_ms: Option<u64>,

    /// Serve the HTTP API only: do not claim or process jobs.
    #[arg(long, env = "WORKER_DISABLED", default_value_t = false)]
    pub worker_disabled: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub http: HttpClientArgs,

    #[command(flatten)]
    pub service: ServiceArgs,
}

impl Config {
    /// Checks the settings that depend on each other; the error is one sentence for the operator.
    pub fn validate(&self) -> Result<(), String> {
        if self.worker_max_jobs == 0 || self.worker_max_prompts == 0 {
            return Err("WORKER_MAX_JOBS and WORKER_MAX_PROMPTS must be at least 1".to_owned());
        }
        if self.lease_secs == 0 || self.heartbeat_secs == 0 {
            return Err("LEASE_SECS and HEARTBEAT_SECS must be at least 1".to_owned());
        }
        if self.heartbeat_secs * 2 > self.lease_secs {
            return Err(format!(
                "HEARTBEAT_SECS ({}) must be at most half of LEASE_SECS ({}) so a lease is renewed before it expires",
                self.heartbeat_secs, self.lease_secs
            ));
        }
        if self.job_max_attempts < 1 {
            return Err("JOB_MAX_ATTEMPTS must be at least 1".to_owned());
        }
        if !self.worker_disabled && self.database.database_max_connections < 3 {
            return Err(
                "DATABASE_MAX_CONNECTIONS must be at least 3 for a worker (LISTEN holds one connection)".to_owned(),
            );
        }
        if !self.worker_disabled && self.database.database_max_connections < 3 {
            return Err(
                "DATABASE_MAX_CONNECTIONS must be at least 3 for a worker (LISTEN holds one connection)".to_owned(),
            );
        }
        if self.poll_interval_ms == 0 {
            return Err("POLL_INTERVAL_MS must be at least 1".to_owned());
        }
        if let Some(id) = &self.worker_id {
            if id.trim().is_empty() || id.len() > 200 {
                return Err("WORKER_ID must be 1..200 characters".to_owned());
            }
        }
        Ok(())
    }

    /// The configured worker id, or `<hostname>-<pid>-<random>`.
    pub fn worker_id(&self) -> String {
        self.worker_id.clone().unwrap_or_else(default_worker_id)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    pub fn shutdown_grace(&self) -> Duration {
        self.service.shutdown_grace
    }

    /// `JOB_RETRY_BASE_DELAY_MS`, else the deprecated `RETRY_BASE_DELAY_MS`, else 1 s.
    pub fn job_retry_base_delay(&self) -> Duration {
        Duration::from_millis(
            self.job_retry_base_delay_ms
                .or(self.legacy_retry_base_delay_ms)
                .unwrap_or(DEFAULT_JOB_RETRY_BASE_DELAY_MS),
        )
    }

    /// `JOB_RETRY_MAX_DELAY_MS`, else the deprecated `RETRY_MAX_DELAY_MS`, else 60 s.
    pub fn job_retry_max_delay(&self) -> Duration {
        Duration::from_millis(
            self.job_retry_max_delay_ms
                .or(self.legacy_retry_max_delay_ms)
                .unwrap_or(DEFAULT_JOB_RETRY_MAX_DELAY_MS),
        )
    }

    /// One warning per deprecated setting in use, for the start-up log.
    pub fn deprecations(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let pairs = [
            (
                self.legacy_retry_base_delay_ms.is_some(),
                self.job_retry_base_delay_ms.is_some(),
                "RETRY_BASE_DELAY_MS",
                "JOB_RETRY_BASE_DELAY_MS",
            ),
            (
                self.legacy_retry_max_delay_ms.is_some(),
                self.job_retry_max_delay_ms.is_some(),
                "RETRY_MAX_DELAY_MS",
                "JOB_RETRY_MAX_DELAY_MS",
            ),
        ];
        for (old_set, new_set, old, new) in pairs {
            if old_set {
                warnings.push(if new_set {
                    format!("{old} is deprecated and ignored because {new} is set; remove it")
                } else {
                    format!("{old} is deprecated; rename it to {new} (it is still honoured)")
                });
            }
        }
        warnings
    }
}

const DEFAULT_JOB_RETRY_BASE_DELAY_MS: u64 = 1000;
const DEFAULT_JOB_RETRY_MAX_DELAY_MS: u64 = 60_000;

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "worker".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut all = vec!["worker-service"];
        all.extend_from_slice(args);
        Config::parse_from(all)
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(config(&[]).validate(), Ok(()));
    }

    #[test]
    fn heartbeat_must_fit_in_the_lease() {
        let err = config(&["--lease-secs", "10", "--heartbeat-secs", "6"]).validate();
        assert!(err.is_err_and(|e| e.contains("HEARTBEAT_SECS")));
    }

    #[test]
    fn job_retry_delays_have_new_names_and_the_old_ones_still_work() {
        let c = config(&[]);
        assert_eq!(c.job_retry_base_delay(), Duration::from_secs(1));
        assert_eq!(c.job_retry_max_delay(), Duration::from_secs(60));
        assert!(c.deprecations().is_empty());

        let c = config(&["--retry-base-delay-ms", "50", "--retry-max-delay-ms", "500"]);
        assert_eq!(c.job_retry_base_delay(), Duration::from_millis(50));
        assert_eq!(c.job_retry_max_delay(), Duration::from_millis(500));
        assert_eq!(c.deprecations().len(), 2);
        assert!(c.deprecations()[0].contains("rename it to JOB_RETRY_BASE_DELAY_MS"));

        let c = config(&[
            "--retry-base-delay-ms",
            "50",
            "--job-retry-base-delay-ms",
            "70",
        ]);
        assert_eq!(c.job_retry_base_delay(), Duration::from_millis(70));
        assert!(c.deprecations()[0].contains("ignored"));
    }

    #[test]
    fn default_worker_ids_differ() {
        assert_ne!(default_worker_id(), default_worker_id());
    }
}
