//! The published OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`, vendored assets).

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sable API",
        version = "0.1.0",
        description = "Sable gateway: generation (sync and SSE), chat sessions, batch jobs. \
                       Errors use the envelope {\"error\":{\"code\",\"message\",\"request_id\"}}."
    ),
    components(schemas(
        common::error::ErrorEnvelope,
        common::error::ErrorBody,
        common::error::ErrorDetail,
        common::validation::FieldError
    ))
)]
struct BaseDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.merge(routes::health::ApiDoc::openapi());
    doc.merge(routes::generate::ApiDoc::openapi());
    doc.merge(routes::models::ApiDoc::openapi());
    doc.merge(routes::openai::ApiDoc::openapi());
    doc.merge(routes::embeddings::ApiDoc::openapi());
    doc.merge(routes::auth::ApiDoc::openapi());
    doc.merge(routes::account::ApiDoc::openapi());
    doc.merge(routes::chat::ApiDoc::openapi());
    doc.merge(routes::folders::ApiDoc::openapi());
    doc.merge(routes::shares::ApiDoc::openapi());
    doc.merge(routes::feedback::ApiDoc::openapi());
    doc.merge(routes::jobs::ApiDoc::openapi());
    doc.merge(routes::files::ApiDoc::openapi());
    doc.merge(routes::collections::ApiDoc::openapi());
    doc.merge(routes::retrieve::ApiDoc::openapi());
    doc.merge(routes::metrics::ApiDoc::openapi());
    doc.merge(routes::providers::ApiDoc::openapi());
    doc.merge(routes::workshop::ApiDoc::openapi());
    doc
}

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", document()))
}
