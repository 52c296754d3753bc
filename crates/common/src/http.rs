//! The one way Sable services call each other: a shared, pooled client with connect and
//! request timeouts, the request id forwarded, and failures mapped to the envelope. The two
//! hot calls (the gateway's `POST /inference` and `/inference/stream`) go through
//! [`crate::http_client`] instead; the rest stay on reqwest.
//!
//! Two clients sit behind [`ServiceClient`]: the gateway's hot calls to the model service
//! (`POST /inference` and `/inference/stream`, on every generate and stream) go through
//! [`crate::http_client`] ([`ServiceClient::post_json`], [`ServiceClient::post_stream`]),
//! which skips reqwest's per-call URL re-parse and redirect layer (~12,000 of the ~39,000
//! instructions a call cost, docs/benchmarks.md "Performance II"); every other call keeps
//! reqwest's builder API (queries, forms, multipart, per-call headers), where that cost is not
//! felt. Both speak HTTP/1.1 only between our services (docs/benchmarks.md says why not h2).

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
    builder.header(DEADLINE_HEADER, deadline_value(within))
}

/// [`DEADLINE_HEADER`]'s value for a call the caller gives up on after `within`.
fn deadline_value(within: Duration) -> reqwest::header::HeaderValue {
    let ms = u64::try_from(announced_deadline(within).as_millis()).unwrap_or(u64::MAX);
    reqwest::header::HeaderValue::from(ms)
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

/// The client of the hot calls between our services ([`ServiceClient::with_hot_client`]): the
/// connect timeout of `args`, no idle timeout (whole calls have a total timeout, streams the
/// caller's idle timeout), HTTP/1.1 only.
pub fn build_hot_client(args: &HttpClientArgs) -> Result<crate::http_client::HttpClient, String> {
    crate::http_client::HttpClient::new(crate::http_client::ClientSettings {
        http1_only: true,
        ..crate::http_client::ClientSettings::new(args.connect_timeout())
    })
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
    /// The client of the hot calls ([`with_hot_client`](Self::with_hot_client)).
    hot: Option<crate::http_client::HttpClient>,
    /// The `Host` header of every hot call (HTTP/1.1 only, see [`build_hot_client`]), made
    /// once from `base` ([`crate::http_client::http1_host_header`]).
    hot_host: Option<reqwest::header::HeaderValue>,
}

impl ServiceClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        name: &'static str,
        request_timeout: Duration,
    ) -> Self {
        let base = reqwest::Url::parse(base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| u.query().is_none() && u.fragment().is_none());
        let hot_host = base
            .as_ref()
            .and_then(|base| hyper::Uri::try_from(base.as_str()).ok())
            .and_then(|uri| crate::http_client::http1_host_header(&uri));
        Self {
            http,
            base_url: base_url.trim_end_matches('/').into(),
            base: base.map(std::sync::Arc::new),
            name,
            request_timeout,
            stream_deadline: None,
            internal_token: None,
            hot: None,
            hot_host,
        }
    }

    /// Sends [`post_json`](Self::post_json) and [`post_stream`](Self::post_stream) with `hot`
    /// (see [`build_hot_client`]).
    pub fn with_hot_client(mut self, hot: crate::http_client::HttpClient) -> Self {
        self.hot = Some(hot);
        self
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

    /// `POST path` with `body` as JSON on the hot client, with the total timeout applied and
    /// announced, and the JSON answer decoded: [`send_json`](Self::send_json) for the hot
    /// calls, with the same headers, errors and messages.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, AppError> {
        let within = self.request_timeout;
        let mut headers = self.hot_headers();
        headers.insert(DEADLINE_HEADER, deadline_value(within));
        let response = self.send_hot(path, headers, body, Some(within)).await?;
        let bytes = response
            .into_body()
            .bytes()
            .await
            .map_err(|e| self.hot_transport_error(&e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AppError::internal(format!("{} sent an unexpected body: {e}", self.name)))
    }

    /// `POST path` with `body` as JSON and `header` on the hot client, for a stream: no total
    /// timeout (the caller enforces idle timeouts), the stream deadline announced when set; the
    /// response when it is a 2xx ([`streaming_request`](Self::streaming_request) and
    /// [`send`](Self::send) for the hot calls).
    pub async fn post_stream(
        &self,
        path: &str,
        header: (&'static str, &'static str),
        body: &impl serde::Serialize,
    ) -> Result<hyper::Response<crate::http_client::Body>, AppError> {
        let mut headers = self.hot_headers();
        if let Some(idle) = self.stream_deadline {
            headers.insert(DEADLINE_HEADER, deadline_value(idle));
        }
        headers.insert(
            header.0,
            reqwest::header::HeaderValue::from_static(header.1),
        );
        self.send_hot(path, headers, body, None).await
    }

    /// What [`base_request`](Self::base_request) and reqwest's `.json()` put on every call.
    fn hot_headers(&self) -> reqwest::header::HeaderMap {
        use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
        let mut headers = reqwest::header::HeaderMap::with_capacity(8);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if let Some(token) = &self.internal_token {
            headers.insert(AUTHORIZATION, token.clone());
        }
        crate::tracing_otel::inject(&mut headers);
        if let Some(id) = request_id::current().and_then(|id| HeaderValue::from_str(&id).ok()) {
            headers.insert(request_id::HEADER, id);
        }
        headers
    }

    async fn send_hot(
        &self,
        path: &str,
        mut headers: reqwest::header::HeaderMap,
        body: &impl serde::Serialize,
        total: Option<Duration>,
    ) -> Result<hyper::Response<crate::http_client::Body>, AppError> {
        let Some(hot) = &self.hot else {
            return Err(AppError::internal(format!(
                "no hot client for the {}",
                self.name
            )));
        };
        // The base was parsed and normalised once; `path` is one of ours (plain ASCII), so
        // hyper's cheap `Uri` parse is enough here. (Joined without `format!`: its machinery
        // cost ~900 instructions a call.)
        let uri = self
            .base
            .as_deref()
            .and_then(|base| {
                let base = base.as_str().trim_end_matches('/');
                let mut uri = String::with_capacity(base.len() + path.len());
                uri.push_str(base);
                uri.push_str(path);
                hyper::Uri::try_from(uri).ok()
            })
            .ok_or_else(|| {
                tracing::warn!(service = self.name, "downstream URL does not parse");
                AppError::ServiceUnavailable(format!("The {} is unavailable", self.name))
            })?;
        let body = serde_json::to_vec(body)
            .map_err(|e| AppError::internal(format!("cannot encode a request: {e}")))?;
        // Last, where hyper-util would add it per call (~2,500 instructions: a `format!` and
        // an insert): the request's bytes are the same.
        if let Some(host) = &self.hot_host {
            headers.insert(reqwest::header::HOST, host.clone());
        }
        let request = crate::http_client::request(hyper::Method::POST, uri, headers, body);
        let started = std::time::Instant::now();
        let sent = hot.send(request, total).await;
        // Until the response head: what the caller's overhead histogram subtracts.
        crate::observability::upstream::record(started.elapsed());
        let response = sent.map_err(|e| self.hot_transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let (parts, mut body) = response.into_parts();
        let retry_after = parts
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        let (read, broke) = body.read_up_to(MAX_ERROR_BODY_BYTES).await;
        if let Some(e) = broke {
            return Err(self.hot_transport_error(&e));
        }
        Err(self.error_from_parts(parts.status.as_u16(), retry_after, &read))
    }

    /// [`transport_error`](Self::transport_error) for the hot client.
    pub fn hot_transport_error(&self, e: &crate::http_client::Error) -> AppError {
        tracing::warn!(service = self.name, error = %e, "downstream call failed");
        if e.is_timeout() {
            AppError::ServiceUnavailable(format!("The {} timed out", self.name))
        } else {
            AppError::ServiceUnavailable(format!("The {} is unavailable", self.name))
        }
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
        let status = response.status().as_u16();
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
        self.error_from_parts(status, retry_after.as_deref(), &body)
    }

    /// The error a non-2xx answer (`status`, `Retry-After`, the start of its body) stands for.
    fn error_from_parts(&self, status: u16, retry_after: Option<&str>, body: &[u8]) -> AppError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let error = from_upstream_response(status, retry_after, body);
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

    fn hot(c: ServiceClient) -> ServiceClient {
        c.with_hot_client(
            crate::http_client::HttpClient::new(crate::http_client::ClientSettings {
                http1_only: true,
                ..crate::http_client::ClientSettings::new(Duration::from_secs(1))
            })
            .unwrap(),
        )
    }

    /// A request's headers as the echo route answers them: (name, value), sorted.
    type Headers = Vec<(String, String)>;

    /// The hot calls send what the reqwest ones send, header for header, and their errors
    /// keep the downstream class as [`ServiceClient::send`] does.
    #[tokio::test]
    async fn hot_calls_send_the_same_headers_and_keep_the_error_classes() {
        // Answers with the request's headers, sorted.
        let app = axum::Router::new().route(
            "/echo",
            post(|headers: axum::http::HeaderMap| async move {
                let mut all: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                    .collect();
                all.sort();
                axum::Json(all)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let c =
            hot(client(&format!("http://{addr}/")).with_stream_deadline(Duration::from_secs(60)));
        let body = serde_json::json!({"prompt": "hi"});
        for id in [None, Some("req-1")] {
            let (plain, fast): (Headers, Headers) = match id {
                None => (
                    c.send_json(c.request(Method::POST, "/echo").json(&body))
                        .await
                        .unwrap(),
                    c.post_json("/echo", &body).await.unwrap(),
                ),
                Some(id) => {
                    request_id::scope(id.to_owned(), async {
                        (
                            c.send_json(c.request(Method::POST, "/echo").json(&body))
                                .await
                                .unwrap(),
                            c.post_json("/echo", &body).await.unwrap(),
                        )
                    })
                    .await
                }
            };
            assert_eq!(plain, fast);
            assert!(
                fast.iter()
                    .any(|(k, v)| k == DEADLINE_HEADER && v == "4500"),
                "{fast:?}"
            );
        }
        let plain: Headers = c
            .send(
                c.streaming_request(Method::POST, "/echo")
                    .header(crate::schemas::STREAM_META_HEADER, "1")
                    .json(&body),
            )
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let fast = c
            .post_stream("/echo", (crate::schemas::STREAM_META_HEADER, "1"), &body)
            .await
            .unwrap()
            .into_body()
            .bytes()
            .await
            .unwrap();
        let fast: Headers = serde_json::from_slice(&fast).unwrap();
        assert_eq!(plain, fast);

        let url = downstream(
            429,
            Some("2"),
            r#"{"error":{"code":"RATE_LIMITED","message":"slow down","request_id":"r","retryable":true}}"#
                .to_owned(),
        )
        .await;
        let e = hot(client(&url))
            .post_json::<serde_json::Value>("/x", &body)
            .await
            .expect_err("429");
        assert_eq!(
            (e.status(), e.code(), e.retryable(), e.retry_after()),
            (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                Some(true),
                Some(Duration::from_secs(2))
            )
        );
        let e = hot(client("http://127.0.0.1:9"))
            .post_json::<serde_json::Value>("/x", &body)
            .await
            .expect_err("refused");
        assert_eq!(e.public_message(), "The model service is unavailable");
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
