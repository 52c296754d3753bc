//! The one way Sable services call each other: a shared, pooled reqwest client with connect
//! and request timeouts, the request id forwarded, and failures mapped to the envelope.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::config::HttpClientArgs;
use crate::error::{from_upstream_response, AppError};
use crate::request_id;

/// Largest downstream error body read; an envelope is far smaller.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The time the callee has left to answer, in whole milliseconds (`X-Sable-Deadline-Ms`).
/// The model service caps it by its own `MODEL_REQUEST_DEADLINE` and fits every attempt and
/// the fallback inside it, so it answers (504 `PROVIDER_TIMEOUT` at worst) before the caller
/// gives up. README.md, "Timeouts", has the whole budget.
pub const DEADLINE_HEADER: &str = "x-sable-deadline-ms";

/// The deadline announced for a call the caller gives up on after `within`: `within` less a
/// margin (a tenth, at most 2 s) for the answer to travel back before the caller's own timer
/// fires.
pub fn announced_deadline(within: Duration) -> Duration {
    within.saturating_sub((within / 10).min(Duration::from_secs(2)))
}

/// Adds [`DEADLINE_HEADER`] for a call the caller gives up on after `within`.
pub fn with_deadline(builder: RequestBuilder, within: Duration) -> RequestBuilder {
    let ms = u64::try_from(announced_deadline(within).as_millis()).unwrap_or(u64::MAX);
    builder.header(DEADLINE_HEADER, ms)
}

/// The deadline a request announced in [`DEADLINE_HEADER`]; `None` when absent or not a
/// whole number of milliseconds.
pub fn requested_deadline(headers: &axum::http::HeaderMap) -> Option<Duration> {
    let ms: u64 = headers
        .get(DEADLINE_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_millis(ms))
}

/// Makes rustls's ring provider the process default. Every reqwest client in the tree is built
/// with `rustls-no-provider` (one crypto provider, no aws-lc C build), so some provider must be
/// installed before the first client; installing twice is harmless (the second is ignored).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The one way to start a reqwest client in this workspace (clippy's `disallowed-methods`
/// refuses `reqwest::Client::new`/`builder`/`reqwest::get` elsewhere): with `rustls-no-provider`,
/// reqwest panics at `build()` when no crypto provider is installed, so this installs it first.
#[allow(clippy::disallowed_methods)]
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// Builds the process-wide client. There is deliberately no total timeout on the client:
/// streams may legitimately run for minutes. Non-streaming calls set one per request.
///
/// Building fails only when the TLS backend cannot initialise; the service then stops at
/// start-up with that sentence. There is no fallback: a default client has no connect
/// timeout, and every outgoing call must have one.
pub fn build_client(args: &HttpClientArgs) -> Result<reqwest::Client, String> {
    client_builder()
        .connect_timeout(args.connect_timeout())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build the HTTP client for calls between services: {e}"))
}

/// A client for one downstream service, named by its role for error messages.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    /// Shared, not copied: the client is cloned with the service state on every request.
    base_url: std::sync::Arc<str>,
    /// `base_url` parsed once: parsing a whole URL per call (host rules included) cost
    /// ~18,000 instructions of every proxied request. `None` when it does not parse (the
    /// request then fails with reqwest's own error, as before).
    base: Option<std::sync::Arc<reqwest::Url>>,
    /// "model service", "worker service": what a client is told, never the URL (§17.2).
    pub name: &'static str,
    request_timeout: Duration,
    /// What a stream's callee is told it has until its first event (see
    /// [`with_stream_deadline`](Self::with_stream_deadline)).
    stream_deadline: Option<Duration>,
    /// `Authorization: Bearer <INTERNAL_TOKEN>` on every call (see [`crate::internal_auth`]).
    internal_token: Option<reqwest::header::HeaderValue>,
}

impl ServiceClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        name: &'static str,
        request_timeout: Duration,
    ) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').into(),
            base: reqwest::Url::parse(base_url.trim_end_matches('/'))
                .ok()
                .filter(|u| u.query().is_none() && u.fragment().is_none())
                .map(std::sync::Arc::new),
            name,
            request_timeout,
            stream_deadline: None,
            internal_token: None,
        }
    }

    /// Announces `idle` (the caller's stream idle timeout, less the margin of
    /// [`announced_deadline`]) as the deadline of every [`streaming_request`]
    /// (Self::streaming_request): nothing flows before the first token, so the callee's retries
    /// and fallback must fit inside the caller's idle timeout.
    pub fn with_stream_deadline(mut self, idle: Duration) -> Self {
        self.stream_deadline = Some(idle);
        self
    }

    /// Sends the internal token (when one is configured) with every request, so the model and
    /// worker services accept the call.
    pub fn with_internal_token(mut self, args: &crate::internal_auth::InternalAuthArgs) -> Self {
        self.internal_token = args.token().and_then(crate::internal_auth::bearer);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A request with the total timeout applied, announced in [`DEADLINE_HEADER`], and the
    /// current request id forwarded.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_within(method, path, self.request_timeout)
    }

    /// [`request`](Self::request) with its own total timeout (e.g. the worker's per-prompt
    /// timeout), announced in [`DEADLINE_HEADER`].
    pub fn request_within(&self, method: Method, path: &str, within: Duration) -> RequestBuilder {
        with_deadline(self.base_request(method, path), within).timeout(within)
    }

    /// A request without a total timeout, for streams (the caller enforces idle timeouts);
    /// announces the stream deadline when one is set
    /// ([`with_stream_deadline`](Self::with_stream_deadline)).
    pub fn streaming_request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.base_request(method, path);
        match self.stream_deadline {
            Some(idle) => with_deadline(builder, idle),
            None => builder,
        }
    }

    fn base_request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = match self.url(path) {
            Some(url) => self.http.request(method, url),
            None => self
                .http
                .request(method, format!("{}{}", self.base_url, path)),
        };
        if let Some(token) = &self.internal_token {
            builder = builder.header(reqwest::header::AUTHORIZATION, token.clone());
        }
        if crate::tracing_otel::enabled() {
            // W3C traceparent: the callee's spans join the caller's trace.
            let mut headers = reqwest::header::HeaderMap::new();
            crate::tracing_otel::inject(&mut headers);
            builder = builder.headers(headers);
        }
        match request_id::current() {
            Some(id) => builder.header(request_id::HEADER, id),
            None => builder,
        }
    }

    /// `base_url` + `path` (which may carry a query), from the parsed base: the same URL as
    /// parsing the joined string, without parsing the host again.
    fn url(&self, path: &str) -> Option<reqwest::Url> {
        let base = self.base.as_deref()?;
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let mut url = base.clone();
        url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
        url.set_query(query);
        Some(url)
    }

    /// Sends `builder` and returns the response when it is a 2xx. A downstream error envelope
    /// keeps its class: status, `code`, `retryable` and `Retry-After` travel on unchanged (a
    /// model service 429 stays a 429 with its delay, a `CONTEXT_TOO_LONG` 400 stays one); a
    /// transport failure becomes 503. Error bodies are read up to [`MAX_ERROR_BODY_BYTES`].
    pub async fn send(&self, builder: RequestBuilder) -> Result<Response, AppError> {
        let started = std::time::Instant::now();
        let sent = builder.send().await;
        // Until the response head: what the caller's overhead histogram subtracts.
        crate::observability::upstream::record(started.elapsed());
        let response = sent.map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_from(response).await)
    }

    /// The error a non-2xx downstream answer stands for (see [`send`](Self::send)).
    pub async fn error_from(&self, mut response: Response) -> AppError {
        let status =
            StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_ERROR_BODY_BYTES.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_ERROR_BODY_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return self.transport_error(&e),
            }
        }
        let error = from_upstream_response(status, retry_after.as_deref(), &body);
        if error.code() == crate::internal_auth::CODE {
            // Our own credential was refused: a deployment mistake, not the caller's. Never
            // relay it as a 401 (a client would think its own sign-in failed).
            tracing::error!(
                service = self.name,
                "the {} refused this service's INTERNAL_TOKEN: set the same INTERNAL_TOKEN on every Sable service",
                self.name
            );
            return AppError::ServiceUnavailable(format!("The {} is unavailable", self.name));
        }
        error
    }

    /// [`send`](Self::send) and decode a JSON body.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        builder: RequestBuilder,
    ) -> Result<T, AppError> {
        let response = self.send(builder).await?;
        response.json::<T>().await.map_err(|e| {
            if e.is_decode() {
                AppError::internal(format!("{} sent an unexpected body: {e}", self.name))
            } else {
                self.transport_error(&e)
            }
        })
    }

    /// Maps a transport failure to 503 with a message that names the service, not its URL.
    pub fn transport_error(&self, e: &reqwest::Error) -> AppError {
        tracing::warn!(service = self.name, error = %e, "downstream call failed");
        if e.is_timeout() {
            AppError::ServiceUnavailable(format!("The {} timed out", self.name))
        } else {
            AppError::ServiceUnavailable(format!("The {} is unavailable", self.name))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use axum::http::HeaderValue;
    use axum::response::IntoResponse;
    use axum::routing::post;

    #[test]
    fn urls_from_the_parsed_base_are_those_of_the_joined_string() {
        for base in [
            "http://127.0.0.1:8001",
            "http://model:8001/",
            "http://h:1/prefix/",
        ] {
            let client = ServiceClient::new(
                crate::http::client_builder().build().unwrap(),
                base,
                "model service",
                Duration::from_secs(1),
            );
            for path in [
                "/inference",
                "/jobs?limit=20&cursor=a%20b",
                "/jobs/é x",
                "/",
            ] {
                let joined = reqwest::Url::parse(&format!("{}{path}", client.base_url)).unwrap();
                assert_eq!(client.url(path), Some(joined), "{base} + {path}");
            }
        }
    }

    /// A downstream service answering `status` with `body` (and `Retry-After` when given).
    async fn downstream(status: u16, retry_after: Option<&'static str>, body: String) -> String {
        let app = axum::Router::new().route(
            "/x",
            post(move || {
                let body = body.clone();
                async move {
                    let mut response = (
                        StatusCode::from_u16(status).unwrap(),
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                        .into_response();
                    if let Some(v) = retry_after {
                        response
                            .headers_mut()
                            .insert("retry-after", HeaderValue::from_static(v));
                    }
                    response
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn client(url: &str) -> ServiceClient {
        ServiceClient::new(
            crate::http::client_builder().build().unwrap(),
            url,
            "model service",
            Duration::from_secs(5),
        )
    }

    #[tokio::test]
    async fn an_upstream_class_survives_the_hop_with_status_retryable_and_retry_after() {
        let url = downstream(
            429,
            Some("2"),
            r#"{"error":{"code":"RATE_LIMITED","message":"slow down","request_id":"r","retryable":true}}"#
                .to_owned(),
        )
        .await;
        let c = client(&url);
        let e = c
            .send(c.request(Method::POST, "/x"))
            .await
            .expect_err("429");
        assert_eq!(
            (e.status(), e.code(), e.retryable()),
            (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", Some(true))
        );
        // Relayed by this service: the same status, code, flag and delay.
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
        let body = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "RATE_LIMITED");
        assert_eq!(body["error"]["retryable"], true);
        assert_eq!(body["error"]["message"], "slow down");

        let url = downstream(
            400,
            None,
            r#"{"error":{"code":"CONTEXT_TOO_LONG","message":"too long","retryable":false}}"#
                .to_owned(),
        )
        .await;
        let c = client(&url);
        let e = c
            .send(c.request(Method::POST, "/x"))
            .await
            .expect_err("400");
        assert_eq!(
            (e.status(), e.code(), e.retryable(), e.retry_after()),
            (
                StatusCode::BAD_REQUEST,
                "CONTEXT_TOO_LONG",
                Some(false),
                None
            )
        );
    }

    #[test]
    fn the_deadline_header_announces_the_time_left_less_a_margin() {
        assert_eq!(
            announced_deadline(Duration::from_secs(300)),
            Duration::from_secs(298)
        );
        assert_eq!(
            announced_deadline(Duration::from_secs(5)),
            Duration::from_millis(4500)
        );
        let c = client("http://127.0.0.1:9").with_stream_deadline(Duration::from_secs(120));
        let whole = c.request(Method::POST, "/x").build().unwrap();
        assert_eq!(whole.headers()[DEADLINE_HEADER], "4500");
        assert_eq!(whole.timeout(), Some(&Duration::from_secs(5)));
        let within = c
            .request_within(Method::POST, "/x", Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(within.headers()[DEADLINE_HEADER], "900");
        let stream = c.streaming_request(Method::POST, "/x").build().unwrap();
        assert_eq!(stream.headers()[DEADLINE_HEADER], "118000");
        assert_eq!(stream.timeout(), None);
        let plain = client("http://127.0.0.1:9")
            .streaming_request(Method::POST, "/x")
            .build()
            .unwrap();
        assert!(plain.headers().get(DEADLINE_HEADER).is_none());

        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(requested_deadline(&headers), None);
        headers.insert(DEADLINE_HEADER, HeaderValue::from_static("1500"));
        assert_eq!(
            requested_deadline(&headers),
            Some(Duration::from_millis(1500))
        );
        headers.insert(DEADLINE_HEADER, HeaderValue::from_static("soon"));
        assert_eq!(requested_deadline(&headers), None);
    }

    #[tokio::test]
    async fn huge_error_bodies_are_read_up_to_the_cap() {
        let url = downstream(502, None, "x".repeat(4 * MAX_ERROR_BODY_BYTES)).await;
        let c = client(&url);
        let e = c
            .send(c.request(Method::POST, "/x"))
            .await
            .expect_err("502");
        // Not an envelope: a generic 500 whose message leaks nothing.
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.public_message(), "Internal server error");
    }
}
