//! CORS from `ALLOWED_ORIGINS` (contract §2.3): listed origins only, with credentials. A
//! wildcard cannot be combined with credentials (browsers refuse it), so `*` is refused at
//! start-up by [`validate`] rather than half-supported.

use std::time::Duration;

use axum::http::HeaderValue;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

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
