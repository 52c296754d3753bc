//! The lean HTTP client for hot calls (a model provider's chat completions and embeddings):
//! hyper-util's pooled `legacy::Client` used directly.
//!
//! Why not reqwest for these calls: reqwest's redirect layer turns the request URI back into a
//! `Url` on every call whatever the redirect policy (~12,800 instructions), and its client
//! stack costs ~41,000 instructions per whole completion (docs/benchmarks.md, "Performance
//! II"). This client has no redirect layer (a 3xx is the answer), takes a [`hyper::Uri`]
//! parsed once by its caller, and adds only what the callers need:
//!
//! - a **connect timeout** covering TCP and the TLS handshake (as reqwest's did);
//! - an **idle timeout**: the longest wait for the response head and for each further piece of
//!   its body (reqwest's `read_timeout`), so a stalled stream ends;
//! - an optional **total timeout** per request, covering the head and the whole body;
//! - pooled keep-alive connections (idle for at most 90 s) with `TCP_NODELAY`;
//! - TLS by rustls with the process's crypto provider (ring, [`crate::http::install_crypto_provider`])
//!   and the platform's trust roots through `rustls-platform-verifier`, as reqwest is
//!   configured in this workspace; HTTP/2 when the server offers it by ALPN;
//! - HTTP/2 with prior knowledge (h2c on plain `http://`) only when asked
//!   ([`ClientSettings::http2_prior_knowledge`]): one connection then carries a burst of
//!   simultaneous requests instead of one new connection each.
//!
//! - the environment's proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), as
//!   reqwest honoured them, through a `CONNECT` tunnel ([`proxy`]).
//!
//! Redirects are not followed: a provider or service answering 3xx is a misconfiguration.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use tokio::time::{Instant, Sleep};

mod proxy;

pub use proxy::Proxies;
use proxy::ProxyConnector;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long an idle pooled connection is kept (as the reqwest clients were built).
const POOL_IDLE: Duration = Duration::from_secs(90);

/// What a [`HttpClient`] is built with.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Longest time to open a connection, TLS handshake included.
    pub connect_timeout: Duration,
    /// Longest wait for the response head and between two pieces of the body; `None`: the
    /// caller bounds every request with a total timeout instead.
    pub idle_timeout: Option<Duration>,
    /// Speak HTTP/2 from the first byte (h2c on `http://`; on `https://` only `h2` is offered
    /// by ALPN). For servers known to speak it; off, HTTP/2 is used only when a TLS server
    /// picks it by ALPN.
    pub http2_prior_knowledge: bool,
    /// Trusted in addition to the platform's roots (tests with their own CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// HTTP/1.1 only, also over TLS (between our services: docs/benchmarks.md says why not h2).
    pub http1_only: bool,
    /// Outgoing proxies: the environment's by default ([`Proxies::from_env`]).
    pub proxies: Proxies,
}

impl ClientSettings {
    pub fn new(connect_timeout: Duration) -> Self {
        Self {
            connect_timeout,
            idle_timeout: None,
            http2_prior_knowledge: false,
            extra_roots: Vec::new(),
            http1_only: false,
            proxies: Proxies::from_env(),
        }
    }
}

/// A pooled HTTP/1.1 and HTTP/2 client; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<TimeoutConnector<HttpsConnector<ProxyConnector>>, Full<Bytes>>,
    idle_timeout: Option<Duration>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Fails only when the platform's trust roots cannot be loaded.
    pub fn new(settings: ClientSettings) -> Result<Self, String> {
        crate::http::install_crypto_provider();
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let verifier = if settings.extra_roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(
                settings.extra_roots.iter().cloned(),
                provider.clone(),
            )
        }
        .map_err(|e| format!("cannot load the TLS trust roots: {e}"))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot configure TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();

        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let tcp = ProxyConnector {
            direct: tcp,
            proxies: settings.proxies.clone(),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        // The ALPN offer: `h2` alone under prior knowledge, `http/1.1` alone when asked, else
        // both.
        let https = if settings.http2_prior_knowledge {
            https.enable_http2().wrap_connector(tcp)
        } else if settings.http1_only {
            https.enable_http1().wrap_connector(tcp)
        } else {
            https.enable_all_versions().wrap_connector(tcp)
        };
        let connector = TimeoutConnector {
            inner: https,
            timeout: settings.connect_timeout,
        };
        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .http2_only(settings.http2_prior_knowledge)
            .build(connector);
        Ok(Self {
            inner,
            idle_timeout: settings.idle_timeout,
        })
    }

    /// Sends `request`; `total` bounds the head and the whole body when given. A non-2xx
    /// status is an answer, not an error.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        total: Option<Duration>,
    ) -> Result<Response<Body>, Error> {
        let now = Instant::now();
        let deadline = total.map(|t| now + t);
        let head_by = earliest(self.idle_timeout.map(|i| now + i), deadline);
        let pending = self.inner.request(request);
        let response = match head_by {
            Some(at) => tokio::time::timeout_at(at, pending)
                .await
                .map_err(|_| Error::new(Kind::Timeout, None))?,
            None => pending.await,
        }
        .map_err(Error::from_client)?;
        let (parts, body) = response.into_parts();
        Ok(Response::from_parts(
            parts,
            Body {
                inner: body,
                idle_timeout: self.idle_timeout,
                deadline,
                timer: None,
                armed: false,
            },
        ))
    }
}

/// A request for [`HttpClient::send`]: `method uri` with `headers` and `body`.
pub fn request(
    method: hyper::Method,
    uri: Uri,
    headers: hyper::HeaderMap,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body.into()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// A URL as a [`Uri`], normalised as a browser or reqwest would (`url::Url`: percent-encoding,
/// IDNA host, default port dropped). Parse it once per target, not per call.
pub fn parse_uri(url: &str) -> Result<Uri, String> {
    let url = url::Url::parse(url).map_err(|e| e.to_string())?;
    Uri::try_from(url.as_str()).map_err(|e| e.to_string())
}

/// The `Host` header hyper-util's client adds to every HTTP/1.1 request to `uri` (its host,
/// and its port unless it is the scheme's default), made once. A request that already has it
/// skips hyper-util's per-call `format!` and header insert (~3,000 instructions a call). Only
/// for requests that are sure to go out on HTTP/1.1 (`http://` without prior knowledge):
/// HTTP/2 carries the authority in `:authority`, not in a `Host` header.
pub fn http1_host_header(uri: &Uri) -> Option<hyper::header::HeaderValue> {
    let host = uri.host()?;
    let default_port = if matches!(uri.scheme_str(), Some("https" | "wss")) {
        443
    } else {
        80
    };
    match uri.port_u16() {
        Some(port) if port != default_port => {
            hyper::header::HeaderValue::from_str(&format!("{host}:{port}")).ok()
        }
        _ => hyper::header::HeaderValue::from_str(host).ok(),
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A response body read under the client's idle timeout and the request's total timeout.
#[derive(Debug)]
pub struct Body {
    inner: Incoming,
    idle_timeout: Option<Duration>,
    deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The timer runs for the current wait (set when a read finds nothing, cleared by data):
    /// back-to-back pieces of a body cost no timer update.
    armed: bool,
}

impl Body {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut all = Vec::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(more) = self.chunk().await? {
            all.extend_from_slice(&more);
        }
        Ok(all.into())
    }

    /// At most `cap` bytes of the body (an error body: what it says fits in far less). A body
    /// that goes on, or breaks, yields what arrived.
    pub async fn read_capped(&mut self, cap: usize) -> Vec<u8> {
        self.read_up_to(cap).await.0
    }

    /// At most `cap` bytes of the body, and the error that cut it short when one did.
    pub async fn read_up_to(&mut self, cap: usize) -> (Vec<u8>, Option<Error>) {
        let mut body = Vec::new();
        loop {
            match self.chunk().await {
                Ok(Some(chunk)) => {
                    let room = cap.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= cap {
                        return (body, None);
                    }
                }
                Ok(None) => return (body, None),
                Err(e) => return (body, Some(e)),
            }
        }
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, Error>> {
        loop {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => {
                        self.armed = false;
                        return Poll::Ready(Ok(Some(data)));
                    }
                    // Empty data, trailers: nothing for the caller.
                    _ => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(Error::new(Kind::Body, Some(e.into()))))
                }
                Poll::Ready(None) => return Poll::Ready(Ok(None)),
                Poll::Pending => return self.poll_timer(cx),
            }
        }
    }

    /// Nothing to read: starts this wait's timer (the idle timeout, never past the deadline)
    /// unless it runs, and fails when it has fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, Error>> {
        if !self.armed {
            let Some(at) = earliest(self.idle_timeout.map(|i| Instant::now() + i), self.deadline)
            else {
                return Poll::Pending;
            };
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(at),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.armed = true;
        }
        match self.timer.as_mut().map(|timer| timer.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(Error::new(Kind::Timeout, None))),
            _ => Poll::Pending,
        }
    }
}

/// A failed call: what [`is_timeout`](Error::is_timeout) and [`is_connect`](Error::is_connect)
/// say decides its class; the text (which may name the address) is for logs only.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The idle or total timeout fired.
    Timeout,
    /// No connection could be opened (refused, DNS, TLS, or the connect timeout).
    Connect,
    /// The request failed on an open connection (closed, reset, protocol error).
    Request,
    /// The body broke while being read.
    Body,
}

impl Error {
    fn new(kind: Kind, source: Option<BoxError>) -> Self {
        Self { kind, source }
    }

    fn from_client(e: hyper_util::client::legacy::Error) -> Self {
        let kind = if e.is_connect() {
            Kind::Connect
        } else {
            Kind::Request
        };
        Self::new(kind, Some(e.into()))
    }

    /// The idle, total or connect timeout fired.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout || self.chain().any(|e| e.is::<ConnectTimedOut>())
    }

    /// No connection could be opened (a connect timeout is also [`is_timeout`](Self::is_timeout)).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }

    /// The body broke while being read (not a timeout).
    pub fn is_body(&self) -> bool {
        self.kind == Kind::Body
    }

    fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: Option<&(dyn StdError + 'static)> = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        std::iter::successors(first, |e: &&(dyn StdError + 'static)| (*e).source())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            Kind::Timeout => "timed out",
            Kind::Connect => "connect error",
            Kind::Request => "request failed",
            Kind::Body => "response body broke",
        };
        // hyper's own messages are short; the chain says which step failed.
        f.write_str(what)?;
        for e in self.chain() {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The connect timeout fired.
#[derive(Debug)]
struct ConnectTimedOut;

impl std::fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connect timed out")
    }
}

impl StdError for ConnectTimedOut {}

/// A connector that gives up after `timeout` (TCP connect and TLS handshake together; hyper's
/// own connect timeout covers TCP only).
#[derive(Clone)]
struct TimeoutConnector<C> {
    inner: C,
    timeout: Duration,
}

impl<C> tower::Service<Uri> for TimeoutConnector<C>
where
    C: tower::Service<Uri>,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(Box::new(ConnectTimedOut) as BoxError),
            }
        })
    }
}

#[cfg(test)]
mod tests;
