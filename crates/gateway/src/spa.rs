//! Serves the built frontend at `/` with SPA fallback: unknown non-API paths get
//! `index.html` so client-side routes survive a reload; `/api/*` stays the API's. Every answer
//! of the UI carries the Content-Security-Policy of [`crate::edge::content_security_policy`],
//! computed once from the `index.html` found at start-up.

use std::path::Path;

use axum::http::header::{self, HeaderValue};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub fn mount(router: Router, dir: &Path) -> Router {
    let index = dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(dir = %dir.display(), "FRONTEND_DIR has no index.html; not serving the UI");
        return router;
    }
    let csp = match std::fs::read_to_string(&index) {
        Ok(html) => crate::edge::content_security_policy(&html),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read index.html; not serving the UI");
            return router;
        }
    };
    let Ok(csp) = HeaderValue::from_str(&csp) else {
        tracing::warn!("index.html yields an invalid Content-Security-Policy; not serving the UI");
        return router;
    };
    let static_files = ServeDir::new(dir).fallback(ServeFile::new(index));
    // API paths keep their envelope 404s; everything else may be a client route.
    router.fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let mut svc = static_files.clone();
        let csp = csp.clone();
        async move {
            use tower::Service;
            if req.uri().path().starts_with("/api/") {
                let not_found = common::AppError::not_found("Not Found");
                return Ok::<_, std::convert::Infallible>(
                    axum::response::IntoResponse::into_response(not_found),
                );
            }
            let mut response = Service::<axum::extract::Request>::call(&mut svc, req).await?;
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, csp);
            Ok(response.map(axum::body::Body::new))
        }
    }))
}
