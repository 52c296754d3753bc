//! Rate-limit settings (flattened into the gateway's `Config`). The defaults are what a person
//! chatting never meets; scripts and abuse do.

use clap::{Args, ValueEnum};
use common::config::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    /// Buckets in this process (one gateway).
    Memory,
    /// Buckets in Redis, shared by every gateway replica (`REDIS_URL`).
    Redis,
}

#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// `on`, or `off` to disable every rate and stream limit (benchmarks).
    #[arg(
        long = "rate-limit",
        env = "RATE_LIMIT",
        value_enum,
        default_value = "on"
    )]
    pub rate_limit: Switch,

    /// Where buckets live: `memory` (one process) or `redis` (shared by replicas).
    #[arg(long, env = "RATE_LIMIT_STORE", value_enum, default_value = "memory")]
    pub rate_limit_store: Store,

    /// Redis for shared limits, e.g. redis://:password@redis:6379/0.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,

    /// Prefix of the Redis keys (several installs may share one Redis).
    #[arg(long, env = "RATE_LIMIT_REDIS_PREFIX", default_value = "sable:rl:")]
    pub rate_limit_redis_prefix: String,

    /// Generations per minute per user (generate, stream, and each prompt of a job).
    #[arg(long, env = "RATE_LIMIT_GENERATE_PER_MINUTE", default_value_t = 60)]
    pub rate_limit_generate_per_minute: u32,

    /// Generations allowed at once before the per-minute pace applies.
    #[arg(long, env = "RATE_LIMIT_GENERATE_BURST", default_value_t = 20)]
    pub rate_limit_generate_burst: u32,

    /// Other API requests per minute per user.
    #[arg(long, env = "RATE_LIMIT_READ_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_read_per_minute: u32,

    /// Other API requests allowed at once.
    #[arg(long, env = "RATE_LIMIT_READ_BURST", default_value_t = 100)]
    pub rate_limit_read_burst: u32,

    /// Login and register attempts per minute per client IP (also the burst).
    #[arg(long, env = "RATE_LIMIT_AUTH_PER_MINUTE", default_value_t = 10)]
    pub rate_limit_auth_per_minute: u32,

    /// Concurrent streams per user (per gateway process).
    #[arg(long, env = "MAX_STREAMS_PER_USER", default_value_t = 8)]
    pub max_streams_per_user: u32,

    /// Comma-separated proxies (IPs or CIDRs) whose `X-Forwarded-For` is believed, e.g. the
    /// nginx in front of the gateway. Unset: the header is ignored and the peer address counts.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
}

impl LimitArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.rate_limit == Switch::Off {
            return Ok(());
        }
        let rates = [
            self.rate_limit_generate_per_minute,
            self.rate_limit_generate_burst,
            self.rate_limit_read_per_minute,
            self.rate_limit_read_burst,
            self.rate_limit_auth_per_minute,
            self.max_streams_per_user,
        ];
        if rates.contains(&0) {
            return Err(
                "rate limits and bursts must be at least 1 (or set RATE_LIMIT=off)".to_owned(),
            );
        }
        if self.rate_limit_store == Store::Redis
            && self.redis_url.as_ref().is_none_or(Secret::is_empty)
        {
            return Err(
                "RATE_LIMIT_STORE=redis needs REDIS_URL, e.g. redis://127.0.0.1:6379".to_owned(),
            );
        }
        super::client_ip::parse_trusted(&self.trusted_proxies).map(|_| ())
    }
}
