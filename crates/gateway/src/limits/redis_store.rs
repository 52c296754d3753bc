//! Buckets in Redis, shared by every gateway replica: the same GCRA as the memory store, run
//! atomically as one Lua script per check with Redis's own clock (replicas' clocks may differ).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::OnceCell;

use super::{Class, Decision, Rate};

/// KEYS[1] bucket; ARGV interval (µs per cell), burst (cells), cost (cells).
/// Returns {allowed, remaining, retry_after_us, reset_us}.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  local remaining = math.max(0, math.floor((now - (tat - burst * interval)) / interval))
  return {0, remaining, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
";

pub struct RedisBuckets {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    rates: Vec<(Class, Rate)>,
    script: Script,
}

impl RedisBuckets {
    pub fn new(url: &str, prefix: &str, rates: &[(Class, Rate)]) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|_| {
            "REDIS_URL is not a valid Redis URL (redis://[:password@]host:port/db)".to_owned()
        })?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            prefix: prefix.to_owned(),
            rates: rates.to_vec(),
            script: Script::new(GCRA),
        })
    }

    /// The shared connection, opened on first use (a gateway starts even while Redis is
    /// down) and re-established by the manager after that. Every call has a timeout.
    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    pub async fn check(
        &self,
        class: Class,
        key: &str,
        cost: u32,
    ) -> redis::RedisResult<Option<Decision>> {
        let Some(&(_, rate)) = self.rates.iter().find(|(c, _)| *c == class) else {
            return Ok(None);
        };
        let mut connection = self.connection().await?;
        let (allowed, remaining, retry_us, reset_us): (i64, i64, i64, i64) = self
            .script
            .key(format!("{}{}:{key}", self.prefix, class.as_str()))
            .arg(rate.interval().as_micros() as u64)
            .arg(rate.burst)
            .arg(cost.min(rate.burst))
            .invoke_async(&mut connection)
            .await?;
        let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
        let remaining = u32::try_from(remaining).unwrap_or(0);
        Ok(Some(if allowed == 1 {
            Decision::allowed(rate, remaining, micros(reset_us))
        } else {
            Decision::refused(rate, micros(retry_us))
        }))
    }

    /// `PING` with the connection's timeouts, for readiness.
    pub async fn ping(&self) -> bool {
        match self.connection().await {
            Ok(mut c) => redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .is_ok(),
            Err(_) => false,
        }
    }
}
