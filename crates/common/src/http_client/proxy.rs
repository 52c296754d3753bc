//! Outgoing proxies, read from the environment as reqwest read them: `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (lower case too; curl's rules, by hyper-util's
//! `Matcher`). A deployment whose egress goes through a proxy reaches its model provider the
//! same way as before this client replaced reqwest on the hot calls.
//!
//! A proxied destination is reached through an HTTP `CONNECT` tunnel to the proxy, with
//! `Proxy-Authorization` from the proxy URL's user and password; for an `https://` destination
//! TLS runs inside the tunnel, so the proxy sees only the host and port. Plain `http://`
//! destinations are tunnelled too (reqwest sent those to the proxy as absolute-form
//! requests): a proxy that allows `CONNECT` only to port 443 needs such hosts in `NO_PROXY`,
//! which is where in-cluster services belong anyway.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use tower::Service;

use super::BoxError;

/// Which destinations go through which proxy; cheap to clone.
#[derive(Clone, Default)]
pub struct Proxies(Option<Arc<Matcher>>);

impl Proxies {
    /// The proxies the environment names (none when it names none).
    pub fn from_env() -> Self {
        Self(Some(Arc::new(Matcher::from_env())))
    }

    /// Every destination direct.
    pub fn none() -> Self {
        Self(None)
    }

    /// Proxies given by a matcher (tests: without touching the process's environment).
    pub fn from_matcher(matcher: Matcher) -> Self {
        Self(Some(Arc::new(matcher)))
    }
}

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The matcher's proxy URLs may carry a password: never printed.
        f.write_str(if self.0.is_some() {
            "Proxies(configured)"
        } else {
            "Proxies(none)"
        })
    }
}

/// TCP to the destination, or a `CONNECT` tunnel through its proxy.
#[derive(Clone)]
pub(super) struct ProxyConnector {
    pub(super) direct: HttpConnector,
    pub(super) proxies: Proxies,
}

impl Service<Uri> for ProxyConnector {
    type Response = <HttpConnector as Service<Uri>>::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(proxy) = self.proxies.0.as_ref().and_then(|m| m.intercept(&dst)) else {
            let connecting = self.direct.call(dst);
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        let mut tunnel = Tunnel::new(proxy.uri().clone(), self.direct.clone());
        if let Some(auth) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        Box::pin(async move {
            let target = with_port(&dst)?;
            std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
            Ok(tunnel.call(target).await?)
        })
    }
}

/// `dst` with its port written out: the tunnel asks for `host:port` and would take 443 for an
/// `http://` URL without one.
fn with_port(dst: &Uri) -> Result<Uri, BoxError> {
    if dst.port().is_some() {
        return Ok(dst.clone());
    }
    let host = dst.host().ok_or("the URL has no host")?;
    let (scheme, port) = match dst.scheme_str() {
        Some("https") => ("https", 443),
        _ => ("http", 80),
    };
    Ok(Uri::builder()
        .scheme(scheme)
        .authority(format!("{host}:{port}"))
        .path_and_query("/")
        .build()?)
}
