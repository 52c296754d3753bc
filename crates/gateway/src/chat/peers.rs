//! Several gateway replicas behind one load balancer: which replica runs a session's
//! server-side generation, and forwarding a resume (`GET …/stream`) or a stop (`POST …/stop`)
//! that reached another replica to the one that runs it.
//!
//! Why forwarding rather than telling the client where the answer runs: replicas sit behind
//! one public address, so a client cannot pick one; and why not Postgres `LISTEN/NOTIFY` per
//! token: a token stream through the database costs a write per batch on every generation,
//! where forwarding costs one HTTP hop only for the rare request that lands on the wrong
//! replica. The table `chat_generation_owners` maps a session to the owner's `GATEWAY_PEER_URL`
//! while a generation runs; the owner refreshes a heartbeat, so a replica that died leaves a
//! row that goes stale (and is ignored and replaced) instead of one that blocks the session.
//!
//! Nothing here runs unless `GATEWAY_PEER_URL` is set: one replica writes no rows.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use common::sse::Event;
use futures::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

/// Set on a forwarded request: the replica that receives it answers from its own registry and
/// never forwards again (no loops, whatever the table says).
pub const HOP_HEADER: &str = "x-sable-peer-hop";

/// How often an owner refreshes its rows, and after how long without a refresh a row is taken
/// to belong to a replica that died.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
const STALE_AFTER_SECS: f64 = 30.0;

/// A forwarded stop waits for the owner to store the partial answer (it waits up to 10 s).
const STOP_FORWARD_TIMEOUT: Duration = Duration::from_secs(15);

/// Written in `GATEWAY_PEER_URL` where this replica's own IP address goes
/// (`http://{ip}:8000`): under `docker compose up --scale gateway=3` every replica gets the
/// same environment, so none can be told its own address; each finds it at start-up.
pub const OWN_IP_PLACEHOLDER: &str = "{ip}";

/// Replaces `{ip}` in a `GATEWAY_PEER_URL` with the address this host's name resolves to (the
/// container's or pod's address, from /etc/hosts). Without the placeholder the URL is
/// returned as it is.
pub async fn expand_own_address(url: &str) -> Result<String, String> {
    if !url.contains(OWN_IP_PLACEHOLDER) {
        return Ok(url.to_owned());
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .ok_or("GATEWAY_PEER_URL contains {ip} but this host's name is unknown; set the URL explicitly")?;
    let ip = own_ip(&hostname).await?;
    let host = match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    Ok(url.replace(OWN_IP_PLACEHOLDER, &host))
}

/// The first address `hostname` resolves to that other machines can reach (not loopback,
/// IPv4 preferred). Bounded: a resolver that hangs must not stall start-up.
pub async fn own_ip(hostname: &str) -> Result<std::net::IpAddr, String> {
    let lookup = tokio::net::lookup_host((hostname, 0));
    let addrs: Vec<std::net::IpAddr> = tokio::time::timeout(Duration::from_secs(5), lookup)
        .await
        .map_err(|_| {
            format!("GATEWAY_PEER_URL's {{ip}}: resolving the host name {hostname:?} timed out")
        })?
        .map_err(|e| {
            format!("GATEWAY_PEER_URL's {{ip}}: cannot resolve the host name {hostname:?}: {e}")
        })?
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| {
            format!(
                "GATEWAY_PEER_URL's {{ip}}: the host name {hostname:?} resolves to no address other replicas can reach (only loopback); set the URL explicitly"
            )
        })
}

/// The request headers a forwarded request carries: who the caller is (the owner checks it
/// again), where a resumed stream continues, and the ids that tie the logs together.
const FORWARDED_HEADERS: [&str; 6] = [
    "authorization",
    "cookie",
    "host",
    "last-event-id",
    "x-request-id",
    "traceparent",
];

/// The response headers passed back to the client.
const RETURNED_HEADERS: [&str; 4] = [
    "content-type",
    "cache-control",
    "x-accel-buffering",
    crate::chat::conversation::USER_MESSAGE_ID_HEADER,
];

pub struct Peers {
    url: String,
    db: PgPool,
    http: reqwest::Client,
    /// Idle limit between two chunks of a forwarded stream.
    stream_idle: Duration,
}

impl Peers {
    pub fn new(url: &str, db: PgPool, http: reqwest::Client, stream_idle: Duration) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            db,
            http,
            stream_idle,
        }
    }

    /// Records this replica as the owner of the session's new generation `generation_id`.
    /// `Ok(false)` when another replica, alive, runs one in that session. A row of this same
    /// replica is stale by definition (its registry said the session is free) and is replaced.
    pub async fn claim(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        generation_id: Uuid,
    ) -> Result<bool, sqlx::Error> {
        let claimed: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO chat_generation_owners (session_id, user_id, owner_url, generation_id)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id) DO UPDATE
                SET user_id = EXCLUDED.user_id, owner_url = EXCLUDED.owner_url,
                    generation_id = EXCLUDED.generation_id, started_at = now(), heartbeat_at = now()
              WHERE chat_generation_owners.owner_url = EXCLUDED.owner_url
                 OR chat_generation_owners.heartbeat_at < now() - make_interval(secs => $5)
             RETURNING session_id",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(&self.url)
        .bind(generation_id)
        .bind(STALE_AFTER_SECS)
        .fetch_optional(&self.db)
        .await?;
        Ok(claimed.is_some())
    }

    /// Forgets the generation's row (only that generation's: a newer one in the same session
    /// keeps its own).
    pub async fn release(&self, generation_id: Uuid) {
        if let Err(e) = sqlx::query("DELETE FROM chat_generation_owners WHERE generation_id = $1")
            .bind(generation_id)
            .execute(&self.db)
            .await
        {
            // The heartbeat removes it within HEARTBEAT; until then a peer forwards in vain
            // and gets "nothing running" from this replica, which is the truth.
            tracing::warn!(error = %e, "could not forget a finished generation's owner row");
        }
    }

    /// Refreshes the rows of the generations this replica runs and deletes its other rows
    /// (left by a task that ended without releasing, or by this replica's previous run).
    /// Rows younger than a few seconds are kept: their generation may be starting right now.
    pub async fn heartbeat(&self, running: &[Uuid]) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE chat_generation_owners SET heartbeat_at = now()
              WHERE owner_url = $1 AND generation_id = ANY($2)",
        )
        .bind(&self.url)
        .bind(running)
        .execute(&self.db)
        .await?;
        sqlx::query(
            "DELETE FROM chat_generation_owners
              WHERE owner_url = $1 AND NOT (generation_id = ANY($2))
                AND started_at < now() - interval '5 seconds'",
        )
        .bind(&self.url)
        .bind(running)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// The URL of the live replica, other than this one, running the caller's generation in
    /// the session.
    pub async fn owner_elsewhere(
        &self,
        session_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT owner_url FROM chat_generation_owners
              WHERE session_id = $1 AND user_id = $2 AND owner_url <> $3
                AND heartbeat_at >= now() - make_interval(secs => $4)",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(&self.url)
        .bind(STALE_AFTER_SECS)
        .fetch_optional(&self.db)
        .await
    }

    /// Sends the caller's request on to `owner` and returns its answer, streamed through for
    /// `GET …/stream`. `None` when the owner cannot be reached (it died since its last
    /// heartbeat): the caller answers as if nothing ran, which is what the database will say
    /// once the row goes stale.
    pub async fn forward(
        &self,
        owner: &str,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let stream = method == Method::GET;
        let mut request = self
            .http
            .request(method, format!("{owner}{path_and_query}"))
            .header(HOP_HEADER, "1");
        for name in FORWARDED_HEADERS {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value);
            }
        }
        // A stop is bounded as a whole; a stream only up to its response head here, then per
        // chunk (`relay_body`): an answer may run for minutes.
        request = if stream {
            request.header("accept", "text/event-stream")
        } else {
            request.timeout(STOP_FORWARD_TIMEOUT)
        };
        let head = tokio::time::timeout(self.stream_idle, request.send()).await;
        let upstream = match head {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                tracing::warn!(owner, error = %e, "the replica running this answer did not answer");
                return None;
            }
            Err(_) => {
                tracing::warn!(
                    owner,
                    "the replica running this answer did not answer in time"
                );
                return None;
            }
        };
        metrics::counter!("gateway_peer_forwards_total", "route" => if stream { "stream" } else { "stop" })
            .increment(1);
        let status =
            StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = Response::builder().status(status);
        for name in RETURNED_HEADERS {
            if let Some(value) = upstream.headers().get(name) {
                response = response.header(HeaderName::from_static(name), value.as_bytes());
            }
        }
        let body = if stream {
            Body::from_stream(relay_body(upstream, self.stream_idle))
        } else {
            // Within the request's own timeout (STOP_FORWARD_TIMEOUT).
            Body::from(upstream.bytes().await.ok()?)
        };
        response.body(body).ok()
    }
}

/// The owner's SSE body, chunk by chunk. If the owner goes quiet past the idle limit or the
/// connection breaks, the stream ends with an `[ERROR]` event (never a silently cut body); the
/// client reconnects with `Last-Event-ID` and loses nothing.
fn relay_body(
    upstream: reqwest::Response,
    idle: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    futures::stream::unfold(Some(upstream.bytes_stream()), move |state| async move {
        let mut chunks = state?;
        match tokio::time::timeout(idle, chunks.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(chunks))),
            Ok(None) => None,
            Ok(Some(Err(_))) | Err(_) => {
                let mut out = BytesMut::new();
                Event::Error(
                    "SERVICE_UNAVAILABLE: lost the connection to the server generating this answer; reconnect to resume"
                        .to_owned(),
                )
                .encode_into(&mut out);
                Some((Ok(out.freeze()), None))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_without_the_placeholder_is_kept() {
        assert_eq!(
            expand_own_address("http://gateway-2:8000").await.as_deref(),
            Ok("http://gateway-2:8000")
        );
    }

    #[tokio::test]
    async fn the_own_address_is_a_reachable_one() {
        // An address literal resolves to itself.
        assert_eq!(
            own_ip("10.1.2.3").await,
            Ok(std::net::IpAddr::from([10, 1, 2, 3]))
        );
        // A name that means this machine only is refused with a sentence, not used.
        let err = own_ip("localhost").await.unwrap_err();
        assert!(err.contains("set the URL explicitly"), "{err}");
    }

    #[tokio::test]
    async fn the_placeholder_becomes_this_hosts_address_or_a_clear_error() {
        // Whatever this machine's name resolves to: either a reachable address in the URL, or
        // the explanation (a development machine whose name maps to 127.0.x.1 only).
        match expand_own_address("http://{ip}:8000").await {
            Ok(url) => {
                let host = url
                    .strip_prefix("http://")
                    .and_then(|r| r.strip_suffix(":8000"))
                    .unwrap();
                let ip: std::net::IpAddr = host.trim_matches(['[', ']']).parse().unwrap();
                assert!(!ip.is_loopback(), "{url}");
            }
            Err(e) => assert!(e.contains("set the URL explicitly"), "{e}"),
        }
    }
}
