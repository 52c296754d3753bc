//! worker-service configuration: every flag is also an environment variable (`--help` lists them).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use common::config::{duration_ms, duration_secs, DatabaseArgs, HttpClientArgs, ServiceArgs};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "worker-service",
    version,
    about = "Sable worker-service: the durable batch-job queue"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "WORKER_SERVICE_ADDR", default_value = "127.0.0.1:8002")]
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

    /// How long a claim is valid without a heartbeat; after that any worker may take the job
    /// (`30s`; a bare number is seconds).
    #[arg(long = "lease-secs", env = "LEASE_SECS", value_parser = duration_secs, default_value = "30s")]
    pub lease: Duration,

    /// Time between lease extensions, at most half of LEASE_SECS (`10s`; a bare number is
    /// seconds).
    #[arg(long = "heartbeat-secs", env = "HEARTBEAT_SECS", value_parser = duration_secs, default_value = "10s")]
    pub heartbeat: Duration,

    /// Time between safety-net polls for work (new jobs normally arrive by LISTEN/NOTIFY within
    /// milliseconds); also the reaper's period (`2s`; a bare number is milliseconds).
    #[arg(long = "poll-interval-ms", env = "POLL_INTERVAL_MS", value_parser = duration_ms, default_value = "2s")]
    pub poll_interval: Duration,

    /// Claims a job may use before a transient failure (model service down, 429, timeout)
    /// fails it. Stored per job at submission.
    #[arg(long, env = "JOB_MAX_ATTEMPTS", default_value_t = 5)]
    pub job_max_attempts: i32,

    /// First delay before a job's next attempt after a transient failure; doubles per
    /// attempt, with jitter, and is at least the model service's Retry-After [default: 1s; a
    /// bare number is milliseconds].
    #[arg(long = "job-retry-base-delay-ms", env = "JOB_RETRY_BASE_DELAY_MS", value_parser = duration_ms)]
    pub job_retry_base_delay: Option<Duration>,

    /// Longest delay between two attempts of a job [default: 1m; a bare number is
    /// milliseconds].
    #[arg(long = "job-retry-max-delay-ms", env = "JOB_RETRY_MAX_DELAY_MS", value_parser = duration_ms)]
    pub job_retry_max_delay: Option<Duration>,

    /// Deprecated name of JOB_RETRY_BASE_DELAY_MS (it also named the model service's provider
    /// backoff); still read, with a warning at start-up.
    #[arg(long = "retry-base-delay-ms", env = "RETRY_BASE_DELAY_MS", value_parser = duration_ms, hide = true)]
    pub legacy_retry_base_delay: Option<Duration>,

    /// Deprecated name of JOB_RETRY_MAX_DELAY_MS; still read, with a warning at start-up.
    #[arg(long = "retry-max-delay-ms", env = "RETRY_MAX_DELAY_MS", value_parser = duration_ms, hide = true)]
    pub legacy_retry_max_delay: Option<Duration>,

    /// Where uploaded files are stored: a local directory (default `.data/files`, created when
    /// missing) or `s3://bucket/prefix` for any S3-compatible store (with the usual `AWS_*`
    /// variables: `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ALLOW_HTTP`).
    #[arg(long, env = "FILE_STORE_URL", default_value = ".data/files")]
    pub file_store_url: String,

    /// Largest file accepted when the gateway does not say (it sends its own FILE_MAX_BYTES).
    #[arg(long, env = "FILE_MAX_BYTES", default_value_t = 25_000_000)]
    pub file_max_bytes: u64,

    /// Per-user storage quota when the gateway does not say (it sends its QUOTA_FILE_BYTES).
    #[arg(long, env = "QUOTA_FILE_BYTES", default_value_t = 500_000_000)]
    pub quota_file_bytes: u64,

    /// Claims an ingestion job may use before transient failures (file store or embedding
    /// provider down) fail its file; with the retry backoff capped at JOB_RETRY_MAX_DELAY_MS
    /// this rides out an outage of about an hour.
    #[arg(long, env = "INGEST_MAX_ATTEMPTS", default_value_t = 60)]
    pub ingest_max_attempts: i32,

    /// How long one PDF may take to parse before it fails as damaged or hostile (`60s`; a
    /// bare number is seconds).
    #[arg(long = "pdf-timeout-secs", env = "PDF_TIMEOUT_SECS", value_parser = duration_secs, default_value = "60s")]
    pub pdf_timeout: Duration,

    /// Most bytes a DOCX may decompress to (zip bombs).
    #[arg(
        long,
        env = "DOCX_MAX_UNCOMPRESSED_BYTES",
        default_value_t = 100_000_000
    )]
    pub docx_max_uncompressed_bytes: u64,

    /// Memory for retrieval's decoded passage vectors, in MiB (each file's kept until the file
    /// changes, least recently used dropped first; 256 floats per passage: about 1 KiB each,
    /// so 256 MiB holds some 250,000 passages). 0 reads them from Postgres on every query.
    #[arg(long, env = "VECTOR_CACHE_MB", default_value_t = 256)]
    pub vector_cache_mb: usize,

    /// Serve the HTTP API only: do not claim or process jobs.
    #[arg(long, env = "WORKER_DISABLED", default_value_t = false)]
    pub worker_disabled: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub http: HttpClientArgs,

    #[command(flatten)]
    pub internal: common::internal_auth::InternalAuthArgs,

    #[command(flatten)]
    pub service: ServiceArgs,
}

impl Config {
    pub fn extract_limits(&self) -> crate::knowledge::extract::Limits {
        crate::knowledge::extract::Limits {
            pdf_timeout: self.pdf_timeout,
            docx_max_bytes: self.docx_max_uncompressed_bytes,
        }
    }

    /// Checks the settings that depend on each other; the error is one sentence for the operator.
    pub fn validate(&self) -> Result<(), String> {
        self.internal.validate()?;
        if self.worker_max_jobs == 0 || self.worker_max_prompts == 0 {
            return Err("WORKER_MAX_JOBS and WORKER_MAX_PROMPTS must be at least 1".to_owned());
        }
        if self.lease.is_zero() || self.heartbeat.is_zero() {
            return Err("LEASE_SECS and HEARTBEAT_SECS must be at least 1".to_owned());
        }
        if self.heartbeat * 2 > self.lease {
            return Err(format!(
                "HEARTBEAT_SECS ({:?}) must be at most half of LEASE_SECS ({:?}) so a lease is renewed before it expires",
                self.heartbeat, self.lease
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
        if self.poll_interval.is_zero() {
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
        self.lease
    }
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }
    pub fn shutdown_grace(&self) -> Duration {
        self.service.shutdown_grace
    }

    /// `JOB_RETRY_BASE_DELAY_MS`, else the deprecated `RETRY_BASE_DELAY_MS`, else 1 s.
    pub fn job_retry_base_delay(&self) -> Duration {
        self.job_retry_base_delay
            .or(self.legacy_retry_base_delay)
            .unwrap_or(DEFAULT_JOB_RETRY_BASE_DELAY)
    }

    /// `JOB_RETRY_MAX_DELAY_MS`, else the deprecated `RETRY_MAX_DELAY_MS`, else 60 s.
    pub fn job_retry_max_delay(&self) -> Duration {
        self.job_retry_max_delay
            .or(self.legacy_retry_max_delay)
            .unwrap_or(DEFAULT_JOB_RETRY_MAX_DELAY)
    }

    /// One warning per deprecated setting in use, for the start-up log.
    pub fn deprecations(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let pairs = [
            (
                self.legacy_retry_base_delay.is_some(),
                self.job_retry_base_delay.is_some(),
                "RETRY_BASE_DELAY_MS",
                "JOB_RETRY_BASE_DELAY_MS",
            ),
            (
                self.legacy_retry_max_delay.is_some(),
                self.job_retry_max_delay.is_some(),
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

const DEFAULT_JOB_RETRY_BASE_DELAY: Duration = Duration::from_secs(1);
const DEFAULT_JOB_RETRY_MAX_DELAY: Duration = Duration::from_secs(60);

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
    fn durations_take_units_or_the_unit_in_their_name() {
        let c = config(&[
            "--lease-secs",
            "1m",
            "--heartbeat-secs",
            "20",
            "--poll-interval-ms",
            "500",
        ]);
        assert_eq!(c.lease(), Duration::from_secs(60));
        assert_eq!(c.heartbeat(), Duration::from_secs(20));
        assert_eq!(c.poll_interval(), Duration::from_millis(500));
        assert_eq!(c.validate(), Ok(()));
        let c = config(&["--job-retry-base-delay-ms", "2s"]);
        assert_eq!(c.job_retry_base_delay(), Duration::from_secs(2));
        let mut all = vec!["worker-service", "--lease-secs", "soon"];
        assert!(Config::try_parse_from(all.drain(..))
            .is_err_and(|e| e.to_string().contains("not a duration")));
    }

    #[test]
    fn default_worker_ids_differ() {
        assert_ne!(default_worker_id(), default_worker_id());
    }
}
