//! Serves the built frontend at `/` with SPA fallback: unknown non-API paths get
//! `index.html` so client-side routes survive a reload; `/api/*` stays the API's. Every answer
//! of the UI carries the Content-Security-Policy of [`crate::edge::content_security_policy`],
//! computed once from the `index.html` found at start-up.
//!
//! Speed (issue 16): the build writes `.br` and `.gz` next to every text file
//! (frontend/vite.config.ts), and they are sent as they are to clients that accept them, so
//! nothing is compressed per request. Files under `/assets/` are named by content hash and
//! cached for a year; everything else (index.html above all, which names the current hashes)
//! is revalidated on each load. The same policy as frontend/nginx.conf.

use std::path::Path;

use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

/// For the content-hashed files Vite writes under `/assets/`.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For index.html, the SPA fallback and the unhashed files of `public/`.
pub const REVALIDATE: &str = "no-cache";

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
    let index = ServeFile::new(index)
        .precompressed_br()
        .precompressed_gzip();
    let static_files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    // A missing hashed asset (a tab open across a deploy) is a 404, never index.html served
    // as JavaScript with a year of caching.
    let assets = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    // API paths keep their envelope 404s; everything else may be a client route.
    router.fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let csp = csp.clone();
        let path = req.uri().path().to_owned();
        let (mut static_files, mut assets) = (static_files.clone(), assets.clone());
        async move {
            use tower::Service;
            if path.starts_with("/api/") {
                let not_found = common::AppError::not_found("Not Found");
                return Ok::<_, std::convert::Infallible>(
                    axum::response::IntoResponse::into_response(not_found),
                );
            }
            let mut response = if path.starts_with("/assets/") {
                Service::<axum::extract::Request>::call(&mut assets, req)
                    .await?
                    .map(axum::body::Body::new)
            } else {
                Service::<axum::extract::Request>::call(&mut static_files, req)
                    .await?
                    .map(axum::body::Body::new)
            };
            let cache = HeaderValue::from_static(cache_control(&path, response.status()));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
            headers.insert(header::CACHE_CONTROL, cache);
            // The body depends on Accept-Encoding: shared caches must keep one copy per coding.
            headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
            Ok(response)
        }
    }))
}

/// The Cache-Control of one answer of the UI. Only a found hashed asset may be kept for a
/// year; a 404 or anything else is revalidated.
fn cache_control(path: &str, status: StatusCode) -> &'static str {
    let found = status.is_success() || status == StatusCode::NOT_MODIFIED;
    if found && path.starts_with("/assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    const INDEX: &str = "<!doctype html><html><body><div id=root></div></body></html>";
    const JS: &str = "console.log('plain');";

    /// A built frontend in a fresh directory: index.html and one hashed asset, each with
    /// `.br` and `.gz` siblings whose bodies are distinct markers (so a test sees which file
    /// was sent, not merely which header).
    fn dist(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sable-spa-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("assets")).expect("create temp dist");
        let write = |rel: &str, body: &str| std::fs::write(dir.join(rel), body).expect("write");
        write("index.html", INDEX);
        write("index.html.br", "index-br");
        write("index.html.gz", "index-gz");
        write("assets/index-abc123.js", JS);
        write("assets/index-abc123.js.br", "js-br");
        write("assets/index-abc123.js.gz", "js-gz");
        write("favicon.svg", "<svg/>");
        dir
    }

    async fn get(
        app: &Router,
        path: &str,
        accept_encoding: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::get(path);
        if let Some(ae) = accept_encoding {
            req = req.header(header::ACCEPT_ENCODING, ae);
        }
        let response = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    fn header(headers: &axum::http::HeaderMap, name: header::HeaderName) -> &str {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn hashed_assets_are_precompressed_and_cached_for_a_year() {
        let dir = dist("assets");
        let app = mount(Router::new(), &dir);

        let (status, h, body) = get(&app, "/assets/index-abc123.js", Some("gzip, br")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&h, header::CONTENT_ENCODING), "br");
        assert_eq!(body, "js-br");
        assert_eq!(header(&h, header::CACHE_CONTROL), IMMUTABLE);
        assert!(header(&h, header::CONTENT_TYPE).contains("javascript"));
        assert!(header(&h, header::VARY)
            .to_ascii_lowercase()
            .contains("accept-encoding"));

        let (_, h, body) = get(&app, "/assets/index-abc123.js", Some("gzip")).await;
        assert_eq!(header(&h, header::CONTENT_ENCODING), "gzip");
        assert_eq!(body, "js-gz");
        assert_eq!(header(&h, header::CACHE_CONTROL), IMMUTABLE);

        // No Accept-Encoding (or one we have no file for): the identity file.
        for ae in [None, Some("deflate")] {
            let (status, h, body) = get(&app, "/assets/index-abc123.js", ae).await;
            assert_eq!(status, StatusCode::OK);
            assert!(h.get(header::CONTENT_ENCODING).is_none(), "{ae:?}");
            assert_eq!(body, JS);
            assert_eq!(header(&h, header::CACHE_CONTROL), IMMUTABLE);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn index_and_the_spa_fallback_are_revalidated() {
        let dir = dist("index");
        let app = mount(Router::new(), &dir);

        for path in ["/", "/index.html", "/jobs", "/chat/0b0e/anything"] {
            let (status, h, body) = get(&app, path, Some("br;q=1.0, gzip;q=0.8")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(header(&h, header::CONTENT_ENCODING), "br", "{path}");
            assert_eq!(body, "index-br", "{path}");
            assert_eq!(header(&h, header::CACHE_CONTROL), REVALIDATE, "{path}");
            assert!(h.get(header::CONTENT_SECURITY_POLICY).is_some(), "{path}");

            let (_, h, body) = get(&app, path, None).await;
            assert!(h.get(header::CONTENT_ENCODING).is_none(), "{path}");
            assert_eq!(body, INDEX, "{path}");
            assert_eq!(header(&h, header::CACHE_CONTROL), REVALIDATE, "{path}");
        }

        // An unhashed public file is revalidated too; it has no compressed copy.
        let (status, h, body) = get(&app, "/favicon.svg", Some("br, gzip")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(h.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body, "<svg/>");
        assert_eq!(header(&h, header::CACHE_CONTROL), REVALIDATE);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_missing_asset_is_a_404_not_the_app_shell() {
        let dir = dist("missing");
        let app = mount(Router::new(), &dir);
        let (status, h, body) = get(&app, "/assets/index-gone999.js", Some("br, gzip")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!body.contains("<html"), "{body}");
        // A 404 must not stick in caches for a year.
        assert_eq!(header(&h, header::CACHE_CONTROL), REVALIDATE);

        // The API keeps its JSON envelope.
        let (status, _, body) = get(&app, "/api/v1/nothing-here", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("\"NOT_FOUND\""), "{body}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
