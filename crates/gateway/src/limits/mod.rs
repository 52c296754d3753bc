//! Rate limits at the edge: GCRA token buckets per class, keyed by user (or client IP when
//! anonymous or in `AUTH_MODE=off`), in memory or in Redis; and a cap on concurrent streams
//! per user.
//!
//! | class | routes | key |
//! | --- | --- | --- |
//! | `generate` | generate, stream, job submission (a job costs its prompts, up to the burst), OpenAI chat completions and embeddings | user |
//! | `read` | every other API route | user |
//! | `auth` | login, register, refresh | client IP |
//!
//! A refused request gets 429 in the envelope (`RATE_LIMITED`) with an honest `Retry-After`
//! (whole seconds, rounded up); limited routes carry `X-RateLimit-Limit/Remaining/Reset`.
//! If Redis cannot be reached, reads pass and generation is refused with 503 (one log line
//! a minute), and `/health/ready` says so.

pub mod client_ip;
pub mod config;
mod memory;
mod redis_store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use common::AppError;
use futures::StreamExt;
use ipnet::IpNet;

pub use self::config::LimitArgs;
use self::config::{Store, Switch};
use self::memory::MemoryBuckets;
use self::redis_store::RedisBuckets;
use crate::auth::{self, CurrentUser};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Generate,
    Read,
    Auth,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Read => "read",
            Self::Auth => "auth",
        }
    }
}

/// A bucket's size: `per_minute` cells refill evenly; at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    /// Time for one cell to refill.
    pub fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.max(1)
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub rate: Rate,
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset: Duration,
    /// When refused: until the request would pass.
    pub retry_after: Duration,
}

impl Decision {
    fn allowed(rate: Rate, remaining: u32, reset: Duration) -> Self {
        Self {
            allowed: true,
            rate,
            remaining,
            reset,
            retry_after: Duration::ZERO,
        }
    }

    fn refused(rate: Rate, retry_after: Duration) -> Self {
        Self {
            allowed: false,
            rate,
            remaining: 0,
            reset: retry_after,
            retry_after,
        }
    }
}

enum Buckets {
    Memory(MemoryBuckets),
    Redis(Box<RedisBuckets>),
}

/// The gateway's limits (absent with `RATE_LIMIT=off`).
pub struct Limits {
    buckets: Buckets,
    trusted: Vec<IpNet>,
    max_streams: u32,
    streams: Arc<Mutex<HashMap<String, u32>>>,
    /// Unix second of the last "store unreachable" log line.
    last_outage_log: AtomicU64,
}

impl Limits {
    /// `None` when limits are off.
    pub fn new(args: &LimitArgs) -> Result<Option<Self>, String> {
        args.validate()?;
        if args.rate_limit == Switch::Off {
            return Ok(None);
        }
        let rates = [
            (
                Class::Generate,
                Rate {
                    per_minute: args.rate_limit_generate_per_minute,
                    burst: args.rate_limit_generate_burst,
                },
            ),
            (
                Class::Read,
                Rate {
                    per_minute: args.rate_limit_read_per_minute,
                    burst: args.rate_limit_read_burst,
                },
            ),
            (
                Class::Auth,
                Rate {
                    per_minute: args.rate_limit_auth_per_minute,
                    burst: args.rate_limit_auth_per_minute,
                },
            ),
        ];
        let buckets = match (args.rate_limit_store, &args.redis_url) {
            (Store::Redis, Some(url)) => Buckets::Redis(Box::new(RedisBuckets::new(
                url.expose(),
                &args.rate_limit_redis_prefix,
                &rates,
            )?)),
            _ => Buckets::Memory(MemoryBuckets::new(&rates)),
        };
        Ok(Some(Self {
            buckets,
            trusted: client_ip::parse_trusted(&args.trusted_proxies)?,
            max_streams: args.max_streams_per_user,
            streams: Arc::default(),
            last_outage_log: AtomicU64::new(0),
        }))
    }

    /// Takes `cost` from `key`'s bucket of `class`; `Err` when the shared store is down.
    pub async fn check(&self, class: Class, key: &str, cost: u32) -> Result<Option<Decision>, ()> {
        match &self.buckets {
            Buckets::Memory(m) => Ok(m.check(class, key, cost)),
            Buckets::Redis(r) => r.check(class, key, cost).await.map_err(|e| {
                self.log_outage(&e);
            }),
        }
    }

    /// True when buckets live in Redis (shared by replicas).
    pub fn has_shared_store(&self) -> bool {
        matches!(self.buckets, Buckets::Redis(_))
    }

    /// Whether the bucket store answers (the memory store always does).
    pub async fn store_reachable(&self) -> bool {
        match &self.buckets {
            Buckets::Memory(_) => true,
            Buckets::Redis(r) => r.ping().await,
        }
    }

    /// Periodic housekeeping: forget idle in-memory buckets.
    pub fn shrink(&self) {
        if let Buckets::Memory(m) = &self.buckets {
            m.shrink();
        }
    }

    fn log_outage(&self, error: &redis::RedisError) {
        let now = unix_secs();
        let last = self.last_outage_log.load(Ordering::Relaxed);
        if now >= last + 60
            && self
                .last_outage_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::error!(error = %error.kind_label(), "rate-limit store (Redis) unreachable: reads pass, generation is refused");
        }
    }

    /// A slot for one more stream of `key`, released when the guard drops; `None` at the cap.
    fn open_stream(&self, key: &str) -> Option<StreamSlot> {
        let mut open = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(key.to_owned()).or_insert(0);
        if *count >= self.max_streams {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            streams: self.streams.clone(),
            key: key.to_owned(),
        })
    }
}

trait KindLabel {
    fn kind_label(&self) -> String;
}

impl KindLabel for redis::RedisError {
    /// The error's category, never its text (which may carry the URL).
    fn kind_label(&self) -> String {
        format!("{:?}", self.kind())
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct StreamSlot {
    streams: Arc<Mutex<HashMap<String, u32>>>,
    key: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Which class a route belongs to; `None` for routes that are not limited (health, docs, the
/// OpenAPI document, metrics, logout, the auth config).
pub fn classify(method: &Method, route: &str) -> Option<Class> {
    match (method, route) {
        (
            &Method::POST,
            "/api/v1/generate"
            | "/api/v1/generate/stream"
            | "/api/v1/jobs"
            | "/v1/chat/completions"
            | "/v1/embeddings"
            | "/api/v1/chat/sessions/{id}/messages/{message_id}/continue",
        ) => Some(Class::Generate),
        // Password guessing is limited per IP. A refresh guesses nothing (its token is 256
        // random bits) and every page load makes one, so it counts as a read.
        (&Method::POST, "/api/v1/auth/login" | "/api/v1/auth/register") => Some(Class::Auth),
        (_, "/api/v1/auth/config" | "/api/v1/auth/logout") => None,
        (_, r) if r.starts_with("/api/") || r.starts_with("/v1/") => Some(Class::Read),
        _ => None,
    }
}

const JOBS_ROUTE: &str = "/api/v1/jobs";

/// Whether a request to `route` opens a stream, which then counts against the per-user stream
/// cap (`MAX_STREAMS_PER_USER`) for as long as its response body lives. `Always` routes answer
/// with a stream whatever the body says; `IfBodyAsks` routes stream only when their JSON body
/// has `"stream": true` (the body is read here, within the body limit, to find out). A new
/// streaming route is added here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    Always,
    IfBodyAsks,
}

pub fn streams(method: &Method, route: &str) -> Option<Streams> {
    match (method, route) {
        (
            &Method::POST,
            "/api/v1/generate/stream" | "/api/v1/chat/sessions/{id}/messages/{message_id}/continue",
        )
        | (&Method::GET, "/api/v1/chat/sessions/{id}/stream") => Some(Streams::Always),
        (&Method::POST, "/v1/chat/completions") => Some(Streams::IfBodyAsks),
        _ => None,
    }
}

/// `"stream": true` in a JSON body (anything else, including invalid JSON, is the handler's
/// business and opens no stream).
fn body_asks_for_stream(body: &Bytes) -> bool {
    #[derive(serde::Deserialize)]
    struct Flag {
        #[serde(default)]
        stream: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Flag>(body)
        .is_ok_and(|f| f.stream == Some(serde_json::Value::Bool(true)))
}

/// Applies the limits to matched routes, then runs `next` (part of [`crate::layers`]).
pub async fn enforce<F, Fut>(state: &AppState, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let Some(limits) = state.limits.clone() else {
        return next(request).await;
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(class) = classify(request.method(), &route) else {
        return next(request).await;
    };
    let ip = client_ip::client_ip(&request, &limits.trusted);
    let (mut parts, body) = request.into_parts();
    let key = bucket_key(state, class, &mut parts, ip).await;

    // A job costs its prompts, and some routes stream only when their body asks: those
    // bodies are read here (the body limit still applies).
    let is_job = class == Class::Generate && route == JOBS_ROUTE;
    let streams = streams(&parts.method, &route);
    let (body, cost, opens_stream) = if is_job || streams == Some(Streams::IfBodyAsks) {
        match axum::body::to_bytes(body, common::server::BODY_LIMIT_BYTES).await {
            Ok(bytes) => {
                let cost = if is_job { prompt_count(&bytes) } else { 1 };
                let opens_stream = streams.is_some() && body_asks_for_stream(&bytes);
                (Body::from(bytes), cost, opens_stream)
            }
            Err(_) => return AppError::PayloadTooLarge.into_response(),
        }
    } else {
        (body, 1, streams == Some(Streams::Always))
    };

    let decision = match limits.check(class, &key, cost).await {
        Ok(Some(decision)) => Some(decision),
        Ok(None) => None,
        // The shared store is down: reads pass, generation does not.
        Err(()) if class == Class::Read => None,
        Err(()) => {
            return AppError::ServiceUnavailable(
                "Rate limiting is unavailable; try again shortly".to_owned(),
            )
            .into_response()
        }
    };
    if let Some(decision) = decision.filter(|d| !d.allowed) {
        metrics::counter!("rate_limit_rejections_total", "class" => class.as_str()).increment(1);
        let mut response = AppError::RateLimited(format!(
            "Too many {} requests: try again in {} s",
            class.as_str(),
            whole_secs(decision.retry_after)
        ))
        .into_response();
        rate_headers(response.headers_mut(), &decision);
        return response;
    }

    let slot = if opens_stream {
        match limits.open_stream(&key) {
            Some(slot) => Some(slot),
            None => {
                metrics::counter!("rate_limit_rejections_total", "class" => "streams").increment(1);
                let mut response = AppError::RateLimited(format!(
                    "Too many streams at once (at most {}): wait for one to finish",
                    limits.max_streams
                ))
                .into_response();
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from_static("1"));
                return response;
            }
        }
    } else {
        None
    };

    let mut response = next(Request::from_parts(parts, body)).await;
    if let Some(decision) = &decision {
        rate_headers(response.headers_mut(), decision);
    }
    if let Some(slot) = slot {
        // The slot lives as long as the response body: a stream holds it until it ends or
        // the client goes away.
        let (parts, body) = response.into_parts();
        let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &slot;
            chunk
        }));
        response = Response::from_parts(parts, body);
    }
    response
}

/// The bucket of this request: the user's id when signed in (auth class: always the IP), the
/// client IP otherwise. A successful authentication is kept for the handler's extractor.
async fn bucket_key(
    state: &AppState,
    class: Class,
    parts: &mut Parts,
    ip: Option<IpAddr>,
) -> String {
    let by_ip = || {
        format!(
            "ip:{}",
            ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
        )
    };
    if class == Class::Auth || state.auth.mode == auth::AuthMode::Off {
        return by_ip();
    }
    if let Some(user) = parts.extensions.get::<CurrentUser>() {
        return format!("user:{}", user.id);
    }
    match auth::authenticate(parts, state).await {
        Ok(user) => {
            parts.extensions.insert(user);
            format!("user:{}", user.id)
        }
        Err(_) => by_ip(),
    }
}

/// The number of prompts of a job body, at least 1 (invalid bodies are the handler's 422).
fn prompt_count(body: &Bytes) -> u32 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("prompts").and_then(|p| p.as_array()).map(Vec::len))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(1)
        .max(1)
}

fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn rate_headers(headers: &mut HeaderMap, decision: &Decision) {
    let mut put = |name: &'static str, value: u64| {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-ratelimit-limit", u64::from(decision.rate.per_minute));
    put("x-ratelimit-remaining", u64::from(decision.remaining));
    put("x-ratelimit-reset", whole_secs(decision.reset));
    if !decision.allowed {
        put("retry-after", whole_secs(decision.retry_after).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_into_classes() {
        assert_eq!(
            classify(&Method::POST, "/api/v1/generate/stream"),
            Some(Class::Generate)
        );
        assert_eq!(
            classify(&Method::POST, "/api/v1/jobs"),
            Some(Class::Generate)
        );
        assert_eq!(classify(&Method::GET, "/api/v1/jobs"), Some(Class::Read));
        assert_eq!(
            classify(&Method::POST, "/api/v1/auth/login"),
            Some(Class::Auth)
        );
        assert_eq!(classify(&Method::GET, "/api/v1/auth/config"), None);
        assert_eq!(classify(&Method::GET, "/health"), None);
    }

    #[test]
    fn every_streaming_route_is_known_and_completions_stream_when_asked() {
        for (method, route) in [
            (Method::POST, "/api/v1/generate/stream"),
            (Method::GET, "/api/v1/chat/sessions/{id}/stream"),
            (
                Method::POST,
                "/api/v1/chat/sessions/{id}/messages/{message_id}/continue",
            ),
        ] {
            assert_eq!(streams(&method, route), Some(Streams::Always), "{route}");
        }
        assert_eq!(
            streams(&Method::POST, "/v1/chat/completions"),
            Some(Streams::IfBodyAsks)
        );
        assert_eq!(streams(&Method::POST, "/api/v1/generate"), None);
        assert!(body_asks_for_stream(&Bytes::from_static(
            br#"{"model":"m","stream":true,"messages":[]}"#
        )));
        for body in [
            &br#"{"stream":false}"#[..],
            br#"{"stream":"true"}"#,
            br#"{}"#,
            b"not json",
        ] {
            assert!(!body_asks_for_stream(&Bytes::copy_from_slice(body)));
        }
    }

    #[test]
    fn jobs_cost_their_prompts() {
        assert_eq!(
            prompt_count(&Bytes::from_static(br#"{"prompts":["a","b","c"]}"#)),
            3
        );
        assert_eq!(prompt_count(&Bytes::from_static(b"not json")), 1);
        assert_eq!(prompt_count(&Bytes::from_static(br#"{"prompts":[]}"#)), 1);
    }

    #[test]
    fn memory_buckets_refuse_with_an_honest_wait() {
        let rate = Rate {
            per_minute: 60,
            burst: 2,
        };
        let buckets = MemoryBuckets::new(&[(Class::Read, rate)]);
        let first = buckets.check(Class::Read, "k", 1).unwrap();
        assert!(first.allowed);
        assert_eq!(first.remaining, 1);
        assert!(buckets.check(Class::Read, "k", 1).unwrap().allowed);
        let refused = buckets.check(Class::Read, "k", 1).unwrap();
        assert!(!refused.allowed);
        assert!(
            refused.retry_after <= Duration::from_secs(1) && refused.retry_after > Duration::ZERO
        );
        assert!(
            buckets.check(Class::Read, "other", 1).unwrap().allowed,
            "buckets are per key"
        );
        std::thread::sleep(refused.retry_after + Duration::from_millis(20));
        assert!(
            buckets.check(Class::Read, "k", 1).unwrap().allowed,
            "Retry-After is honest"
        );
    }
}
