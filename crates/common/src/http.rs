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
        }
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
        let builder = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
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
        let response = builder.send().await.map_err(|e| self.transport_error(&e))?;
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
        from_upstream_response(status, retry_after.as_deref(), &body)
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
