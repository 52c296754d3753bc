//! [`Around`]: per-request work written as one async function around the rest of the stack,
//! applied as a tower layer ([`AroundLayer`]) — what `axum::middleware::from_fn` does, without
//! its per-request costs.
//!
//! Why not `from_fn`: on every request each `from_fn` layer clones the service below it, boxes
//! that clone into a `BoxCloneSyncService` for its `Next`, boxes its own future, and `Next::run`
//! boxes the inner future again. With a dozen such layers per request that was tens of
//! allocations and deep copies per request (issue 28's gateway profile). An [`Around`] takes
//! the service below it by value ([`Next`]) and its future is boxed once; several concerns
//! that always run together (request id, trace, metrics…) share one [`Around`], so one layer
//! replaces several.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::Service;

/// Work around one request: read or change the request, run the rest with
/// [`Next::run`] (or answer without it), read or change the response.
pub trait Around: Clone + Send + Sync + 'static {
    fn around<S>(&self, req: Request, next: Next<S>) -> impl Future<Output = Response> + Send
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send;
}

/// The rest of the stack below an [`Around`], for one request.
pub struct Next<S>(S);

impl<S> Next<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send,
    S::Future: Send,
{
    /// Runs the rest of the stack. (The service was polled ready by [`AroundService`]'s
    /// `poll_ready`: this is that same instance.)
    pub async fn run(mut self, req: Request) -> Response {
        match self.0.call(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The tower layer of an [`Around`]: `router.layer(AroundLayer(MyWork { … }))`, or inside a
/// `ServiceBuilder` stack.
#[derive(Clone)]
pub struct AroundLayer<A>(pub A);

impl<A: Clone, S> tower::Layer<S> for AroundLayer<A> {
    type Service = AroundService<A, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            around: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct AroundService<A, S> {
    around: A,
    inner: S,
}

impl<A, S> Service<Request> for AroundService<A, S>
where
    A: Around,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // tower's contract: the instance polled ready is the one called; a fresh clone stays
        // for the next request (as axum's own middleware does).
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        let around = self.around.clone();
        Box::pin(async move { Ok(around.around(req, Next(ready)).await) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// Answers `/refused` itself; otherwise runs the route and marks the response.
    #[derive(Clone)]
    struct Mark(&'static str);

    impl Around for Mark {
        async fn around<S>(&self, req: Request, next: Next<S>) -> Response
        where
            S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
            S::Future: Send,
        {
            if req.uri().path() == "/refused" {
                return StatusCode::FORBIDDEN.into_response();
            }
            let mut response = next.run(req).await;
            response
                .headers_mut()
                .append("x-mark", HeaderValue::from_static(self.0));
            response
        }
    }

    #[tokio::test]
    async fn layers_run_outermost_last_on_the_response_and_may_answer_alone() {
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/refused", get(|| async { "never" }))
            .layer(
                tower::ServiceBuilder::new()
                    .layer(AroundLayer(Mark("outer")))
                    .layer(AroundLayer(Mark("inner"))),
            );
        for _ in 0..2 {
            let response = app
                .clone()
                .oneshot(Request::builder().uri("/ok").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let marks: Vec<_> = response.headers().get_all("x-mark").iter().collect();
            assert_eq!(marks, ["inner", "outer"]);
            let body = axum::body::to_bytes(response.into_body(), 16)
                .await
                .unwrap();
            assert_eq!(&body[..], b"ok");
        }
        let refused = app
            .oneshot(
                Request::builder()
                    .uri("/refused")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.headers().get("x-mark").is_none());
    }
}
