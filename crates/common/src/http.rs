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

/// Builds the process-wide client. There is deliberately no total timeout on the client:
/// streams may legitimately run for minutes. Non-streaming calls set one per request.
pub fn build_client(args: &HttpClientArgs) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(args.connect_timeout())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        // Building only fails when the TLS backend cannot initialise; fall back to defaults.
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A client for one downstream service, named by its role for error messages.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    base_url: String,
    /// "model service", "worker service": what a client is told, never the URL (§17.2).
    pub name: &'static str,
    request_timeout: Duration,
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
            base_url: base_url.trim_end_matches('/').to_owned(),
            name,
            request_timeout,
            internal_token: None,
        }
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

    /// A request with the total timeout applied and the current request id forwarded.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.streaming_request(method, path)
            .timeout(self.request_timeout)
    }

    /// A request without a total timeout, for streams (the caller enforces idle timeouts).
    pub fn streaming_request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
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
            reqwest::Client::new(),
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
