//! Service-to-service authentication (issue 11.4): the internal services (model, worker) trust
//! no caller without the shared `INTERNAL_TOKEN`.
//!
//! - [`InternalAuthArgs`]: the setting, flattened into every service's config (a secret:
//!   hidden in `--help` and `Debug`).
//! - [`protect`]: the receiving side. Every request but `/health` and `/health/*` must carry
//!   `Authorization: Bearer <INTERNAL_TOKEN>`, compared in constant time; otherwise 401
//!   `INTERNAL_UNAUTHORIZED` in the envelope. Without a token configured every caller is
//!   accepted (local development, tests) and [`warn_if_open`] says so at start-up.
//! - The sending side is [`crate::http::ServiceClient::with_internal_token`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::error::AppError;
use crate::server::{Around, AroundLayer, Next};

/// The envelope code of a refused internal call (also how a caller recognises that the
/// *internal* credential, not a user's, was refused).
pub const CODE: &str = "INTERNAL_UNAUTHORIZED";

/// Shortest accepted token: `make run` generates 64 characters.
pub const MIN_LEN: usize = 16;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct InternalAuthArgs {
    /// Shared secret between the Sable services: the gateway and worker send it as
    /// `Authorization: Bearer …`, and the model and worker services refuse any other
    /// non-health request with 401. Unset: they accept every caller (development only; a
    /// warning is logged). `make run` generates one; Compose requires it.
    #[arg(long, env = "INTERNAL_TOKEN", hide_env_values = true)]
    pub internal_token: Option<Secret>,
}

impl InternalAuthArgs {
    /// The token when one is set (an empty value counts as unset).
    pub fn token(&self) -> Option<&Secret> {
        self.internal_token.as_ref().filter(|t| !t.is_empty())
    }

    /// One sentence for the operator when the token is too short to be a secret.
    pub fn validate(&self) -> Result<(), String> {
        match self.token() {
            Some(token) if token.expose().trim().len() < MIN_LEN => Err(format!(
                "INTERNAL_TOKEN must be at least {MIN_LEN} characters (e.g. openssl rand -hex 32)"
            )),
            _ => Ok(()),
        }
    }
}

/// Logs, at start-up of a receiving service, that it accepts any caller.
pub fn warn_if_open(args: &InternalAuthArgs, service: &str) {
    if args.token().is_none() {
        tracing::warn!(
            service,
            "INTERNAL_TOKEN is not set: this service accepts requests from any caller; set the same INTERNAL_TOKEN on every Sable service outside development"
        );
    }
}

/// Requires the internal token on every route of `router` except `/health` and `/health/*`
/// (apply before the shared layers, so a refusal carries the request id). `None`: no check.
pub fn protect<S>(router: Router<S>, args: &InternalAuthArgs) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    match expected(args) {
        Some(expected) => router.layer(AroundLayer(Check(expected))),
        None => router,
    }
}

/// The token `args` expects, as [`presents`] compares it; `None` when none is configured.
pub fn expected(args: &InternalAuthArgs) -> Option<Arc<[u8]>> {
    args.token()
        .map(|t| Arc::from(t.expose().trim().as_bytes()))
}

/// Whether `headers` carry `Authorization: Bearer <expected>` (compared in constant time).
/// `Some(false)`: a bearer token that is not it; `None`: no bearer token at all.
pub fn presents(headers: &axum::http::HeaderMap, expected: &[u8]) -> Option<bool> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })?;
    Some(bool::from(presented.as_bytes().ct_eq(expected)))
}

/// The layer of [`protect`]: the token it expects.
#[derive(Clone)]
struct Check(Arc<[u8]>);

impl Around for Check {
    async fn around<S>(&self, req: Request, next: Next<S>) -> Response
    where
        S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        match refusal(&self.0, &req) {
            Some(refused) => refused,
            None => next.run(req).await,
        }
    }
}

/// The 401 for a request without the expected token; `None` when it may go on.
fn refusal(expected: &[u8], req: &Request) -> Option<Response> {
    let path = req.uri().path();
    if path == "/health" || path.starts_with("/health/") {
        return None;
    }
    let presented = presents(req.headers(), expected);
    if presented == Some(true) {
        return None;
    }
    tracing::warn!(
        presented = presented.is_some(),
        "internal request refused: missing or wrong INTERNAL_TOKEN"
    );
    let mut response = AppError::detailed(
        StatusCode::UNAUTHORIZED,
        CODE,
        "This service only answers other Sable services (Authorization: Bearer <INTERNAL_TOKEN>)",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"sable-internal\""),
    );
    Some(response)
}

/// The `Authorization` header value for `token`, marked sensitive (never logged by hyper).
pub fn bearer(token: &Secret) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose().trim())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use clap::Parser;
    use tower::ServiceExt;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        internal: InternalAuthArgs,
    }

    fn args(token: Option<&str>) -> InternalAuthArgs {
        InternalAuthArgs {
            internal_token: token.map(Secret::from),
        }
    }

    async fn status(router: &Router, path: &str, auth: Option<&str>) -> u16 {
        let mut request = Request::builder().uri(path);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        response.status().as_u16()
    }

    fn app(args: &InternalAuthArgs) -> Router {
        protect(
            Router::new()
                .route("/health", get(|| async { "ok" }))
                .route("/health/ready", get(|| async { "ok" }))
                .route("/inference", get(|| async { "answer" })),
            args,
        )
    }

    #[tokio::test]
    async fn only_the_right_bearer_passes_and_health_stays_open() {
        let token = "0123456789abcdef0123456789abcdef";
        let app = app(&args(Some(token)));
        assert_eq!(status(&app, "/inference", None).await, 401);
        assert_eq!(status(&app, "/inference", Some("Bearer wrong")).await, 401);
        assert_eq!(
            status(&app, "/inference", Some(&format!("Basic {token}"))).await,
            401
        );
        assert_eq!(
            status(&app, "/inference", Some(&format!("Bearer {token}x"))).await,
            401
        );
        assert_eq!(
            status(&app, "/inference", Some(&format!("Bearer {token}"))).await,
            200
        );
        assert_eq!(
            status(&app, "/inference", Some(&format!("bearer {token}"))).await,
            200
        );
        assert_eq!(status(&app, "/health", None).await, 200);
        assert_eq!(status(&app, "/health/ready", None).await, 200);
    }

    #[tokio::test]
    async fn without_a_token_every_caller_is_accepted() {
        for unset in [None, Some(""), Some("  ")] {
            let app = app(&args(unset));
            assert_eq!(status(&app, "/inference", None).await, 200);
        }
    }

    #[test]
    fn the_token_is_a_secret_and_must_be_long_enough() {
        let cli = Cli::try_parse_from(["x", "--internal-token", "short"]).unwrap();
        assert!(cli
            .internal
            .validate()
            .unwrap_err()
            .contains("INTERNAL_TOKEN"));
        assert!(!format!("{:?}", cli.internal).contains("short"));
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.internal.validate(), Ok(()));
        let header = bearer(&Secret::from("abc")).unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header, "Bearer abc");
    }
}
