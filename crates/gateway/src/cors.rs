//! CORS from `ALLOWED_ORIGINS` (contract §2.3): listed origins only, with credentials. A
//! wildcard cannot be combined with credentials (browsers refuse it), so `*` is refused at
//! start-up by [`validate`] rather than half-supported.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{ORIGIN, VARY};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use futures::future::Either;
use futures::FutureExt;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, Cors, CorsLayer, ResponseFuture};

/// Checks `ALLOWED_ORIGINS`: each entry is `http(s)://host[:port]`, and `*` is refused with a
/// sentence that says what to write instead.
pub fn validate(allowed_origins: &str) -> Result<(), String> {
    for origin in common::config::split_list(allowed_origins) {
        if origin == "*" {
            return Err("ALLOWED_ORIGINS=* is not supported because the API allows credentials: list the origins, e.g. ALLOWED_ORIGINS=https://chat.example.com".to_owned());
        }
        let host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let valid = host.is_some_and(|h| !h.is_empty() && !h.contains('/'))
            && HeaderValue::from_str(&origin).is_ok()
            && !origin.contains(char::is_whitespace);
        if !valid {
            return Err(format!(
                "ALLOWED_ORIGINS entry `{origin}` is not an origin: write scheme and host, e.g. http://localhost:5173"
            ));
        }
    }
    Ok(())
}

/// The CORS layer. Entries that [`validate`] would refuse are left out here (tests build the
/// app without `run`), never a panic.
pub fn layer(allowed_origins: &str) -> CorsLayer {
    let origins: Vec<HeaderValue> = common::config::split_list(allowed_origins)
        .iter()
        .filter(|o| validate(o).is_ok())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([common::request_id::HEADER, common::request_id::PROCESS_TIME])
        .max_age(Duration::from_secs(600))
}

/// [`layer`] with a shortcut for the common case: a request that is not a preflight and has no
/// `Origin` header (same-origin requests, API clients, the bench) gets the headers tower-http
/// adds to every such request, replayed from a list made once, instead of tower-http building
/// them again per request (the `Vary` value joined into a new string, four header-map
/// extensions, then a drain into the response: ~5,000 instructions of every request,
/// docs/benchmarks.md "Performance II"). Preflights and requests with an `Origin` go through
/// tower-http as before.
#[derive(Clone)]
pub struct LeanCorsLayer {
    cors: CorsLayer,
    /// What tower-http adds to the answer of a request without `Origin`, in its order; `None`
    /// when it could not be worked out (every request then goes through tower-http).
    plain: Option<Arc<[(HeaderName, HeaderValue)]>>,
}

impl LeanCorsLayer {
    pub fn new(cors: CorsLayer) -> Self {
        let plain = added_without_origin(&cors).map(Arc::from);
        Self { cors, plain }
    }
}

/// The headers `cors` adds to the answer of a `GET` without `Origin` (they do not depend on
/// the request: no origin to match, no preflight to mirror), by running it once.
fn added_without_origin(cors: &CorsLayer) -> Option<Vec<(HeaderName, HeaderValue)>> {
    let probe = cors.layer(tower::service_fn(|_: Request<Body>| {
        std::future::ready(Ok::<_, Infallible>(Response::new(Body::empty())))
    }));
    let response = probe.oneshot(Request::new(Body::empty())).now_or_never()?;
    let response = response.ok()?;
    Some(
        response
            .headers()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    )
}

impl<S> Layer<S> for LeanCorsLayer {
    type Service = LeanCors<S>;

    fn layer(&self, inner: S) -> LeanCors<S> {
        LeanCors {
            cors: self.cors.layer(inner),
            plain: self.plain.clone(),
        }
    }
}

/// The service of [`LeanCorsLayer`].
#[derive(Clone)]
pub struct LeanCors<S> {
    cors: Cors<S>,
    plain: Option<Arc<[(HeaderName, HeaderValue)]>>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for LeanCors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Unpin,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<ResponseFuture<S::Future>, PlainFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match &self.plain {
            Some(plain)
                if req.method() != Method::OPTIONS && !req.headers().contains_key(ORIGIN) =>
            {
                Either::Right(PlainFuture {
                    inner: self.cors.get_mut().call(req),
                    plain: plain.clone(),
                })
            }
            _ => Either::Left(self.cors.call(req)),
        }
    }
}

/// The answer of the inner service with [`LeanCorsLayer`]'s list added as tower-http adds it:
/// `Vary` appended to the inner service's own, the others replacing any of the same name.
pub struct PlainFuture<F> {
    inner: F,
    plain: Arc<[(HeaderName, HeaderValue)]>,
}

impl<F, B, E> Future for PlainFuture<F>
where
    F: Future<Output = Result<Response<B>, E>> + Unpin,
{
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = ready!(Pin::new(&mut self.inner).poll(cx))?;
        let headers = response.headers_mut();
        for (name, value) in self.plain.iter() {
            if name == VARY {
                headers.append(name.clone(), value.clone());
            } else {
                headers.insert(name.clone(), value.clone());
            }
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    /// An inner service whose answer already carries a `Vary` and an `Access-Control-*` header,
    /// to see both the appending and the replacing.
    fn inner(
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = Answer>
           + Clone {
        tower::service_fn(|_: Request<Body>| {
            let mut response = Response::new(Body::from("ok"));
            let headers = response.headers_mut();
            headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
            headers.insert(
                "access-control-expose-headers",
                HeaderValue::from_static("x-inner"),
            );
            headers.insert("x-inner", HeaderValue::from_static("1"));
            Box::pin(std::future::ready(Ok::<_, Infallible>(response))) as Answer
        })
    }

    fn headers_of(response: &Response<Body>) -> Vec<(String, String)> {
        response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn answers_carry_exactly_the_headers_tower_http_gives_them() {
        let origins = "http://localhost:5173,https://chat.example.com";
        let requests = [
            ("GET", None, vec![]),
            ("POST", None, vec![("content-type", "application/json")]),
            ("GET", Some("http://localhost:5173"), vec![]),
            ("POST", Some("https://chat.example.com"), vec![]),
            ("GET", Some("https://evil.example"), vec![]),
            (
                "OPTIONS",
                Some("http://localhost:5173"),
                vec![
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "content-type,authorization",
                    ),
                ],
            ),
            ("OPTIONS", None, vec![]),
        ];
        let lean = LeanCorsLayer::new(layer(origins));
        assert!(
            lean.plain.is_some(),
            "the list without Origin is worked out"
        );
        for (method, origin, extra) in requests {
            let build = || {
                let mut builder = Request::builder().method(method).uri("/api/v1/x");
                if let Some(origin) = origin {
                    builder = builder.header(ORIGIN, origin);
                }
                for (name, value) in &extra {
                    builder = builder.header(*name, *value);
                }
                builder.body(Body::empty()).unwrap()
            };
            let expected = layer(origins)
                .layer(inner())
                .oneshot(build())
                .await
                .unwrap();
            let got = lean.layer(inner()).oneshot(build()).await.unwrap();
            assert_eq!(got.status(), expected.status(), "{method} {origin:?}");
            assert_eq!(
                headers_of(&got),
                headers_of(&expected),
                "{method} {origin:?}"
            );
        }
    }
}
