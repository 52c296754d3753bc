//! CORS from `ALLOWED_ORIGINS` (contract §2.3): listed origins only, with credentials.

use std::time::Duration;

use axum::http::HeaderValue;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

pub fn layer(allowed_origins: &str) -> CorsLayer {
    let origins: Vec<HeaderValue> = common::config::split_list(allowed_origins)
        .iter()
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
