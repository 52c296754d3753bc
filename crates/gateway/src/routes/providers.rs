//! Admin routes for providers and who may use which models (issue 22):
//! - `GET /api/v1/admin/providers`: the model service's providers (health, cool-down, latency
//!   p50/p99, error rate, models), relayed from its `GET /providers`;
//! - `POST /api/v1/admin/providers/reload`: reads `PROVIDERS_FILE` again (its
//!   `POST /providers/reload`; a wrong file is 400 `PROVIDERS_FILE_INVALID`, the old one stays);
//! - `PUT /api/v1/admin/users/{id}/models`, `PUT /api/v1/admin/keys/{id}/models`: limit an
//!   account or an API key to a list of models and aliases (`null`: any), see `crate::access`;
//! - `GET /api/v1/admin/usage/models`: today's usage and cost by model (all users).

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::ValidJson;
use common::validation::{FieldError, Validate};
use common::{AppError, AppResult};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::access;
use crate::auth::AdminUser;
use crate::state::AppState;
use crate::usage::ModelUsage;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/providers", get(list_providers))
        .route("/api/v1/admin/providers/reload", post(reload_providers))
        .route("/api/v1/admin/users/{id}/models", put(set_user_models))
        .route("/api/v1/admin/keys/{id}/models", put(set_key_models))
        .route("/api/v1/admin/usage/models", get(usage_by_model))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_providers,
        reload_providers,
        set_user_models,
        set_key_models,
        usage_by_model
    ),
    components(schemas(AllowedModels, ModelUsage))
)]
pub struct ApiDoc;

/// The models and aliases an account or key may use; `null` lifts the limit.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowedModels {
    /// e.g. `["fast"]` or `["openai/gpt-4o-mini", "local/llama3.2"]`; null = any model.
    pub models: Option<Vec<String>>,
}

impl Validate for AllowedModels {
    fn validate(&self) -> Vec<FieldError> {
        match &self.models {
            Some(list) => match access::validate_list(list, &["body", "models"]) {
                Ok(_) => Vec::new(),
                Err(AppError::Validation(errors)) => errors,
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        }
    }
}

/// Each provider with its health, cool-down, load, latency and error rate, and its models.
#[utoipa::path(get, path = "/api/v1/admin/providers", tag = "admin",
    responses(
        (status = 200, description = "`{from_file, providers: [{name, kind, status, cooldown_remaining_secs, consecutive_failures, in_flight, latency_p50_ms, latency_p99_ms, requests, errors, error_rate, models}]}`", body = Object),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 503, description = "The model service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn list_providers(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> AppResult<Json<Value>> {
    let providers = state
        .model
        .send_json(state.model.request(Method::GET, "/providers"))
        .await?;
    Ok(Json(providers))
}

/// Reads the providers file again and routes new requests with it (as SIGHUP does).
#[utoipa::path(post, path = "/api/v1/admin/providers/reload", tag = "admin",
    responses(
        (status = 200, description = "The providers now in use (as `GET /api/v1/admin/providers`)", body = Object),
        (status = 400, description = "The file is wrong (`PROVIDERS_FILE_INVALID`, naming the line); the old providers stay", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 503, description = "The model service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn reload_providers(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> AppResult<Json<Value>> {
    let providers = state
        .model
        .send_json(state.model.request(Method::POST, "/providers/reload"))
        .await?;
    Ok(Json(providers))
}

fn parse_id(raw: &str, what: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::not_found(format!("{what} not found")))
}

/// The list in `body`, cleaned, once every name in it is known to the registry.
async fn checked(state: &AppState, body: &AllowedModels) -> AppResult<Option<Vec<String>>> {
    let Some(list) = body.models.as_deref() else {
        return Ok(None);
    };
    let list = access::validate_list(list, &["body", "models"])?;
    access::check_known(state, &list).await?;
    Ok(Some(list))
}

/// Limits an account to a list of models and aliases (`{"models": null}` lifts it).
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/models", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    request_body = AllowedModels,
    responses(
        (status = 200, description = "The list now in force", body = AllowedModels),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
        (status = 400, description = "A name is neither a model nor an alias of the registry (`UNKNOWN_MODEL`, naming it in `unknown_models`)", body = ErrorEnvelope),
        (status = 422, description = "More than 100 names, or an empty or over-long name", body = ErrorEnvelope),
    ))]
pub async fn set_user_models(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<AllowedModels>,
) -> AppResult<Json<AllowedModels>> {
    let id = parse_id(&id, "Account")?;
    let models = checked(&state, &body).await?;
    if !access::set_user_models(&state, id, models.as_deref()).await? {
        return Err(AppError::not_found("Account not found"));
    }
    Ok(Json(AllowedModels { models }))
}

/// Limits an API key (anyone's) to a list of models and aliases (`{"models": null}` lifts it);
/// the key's owner's own list still applies.
#[utoipa::path(put, path = "/api/v1/admin/keys/{id}/models", tag = "admin",
    params(("id" = String, Path, description = "API key id")),
    request_body = AllowedModels,
    responses(
        (status = 200, description = "The list now in force", body = AllowedModels),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such live key", body = ErrorEnvelope),
        (status = 400, description = "A name is neither a model nor an alias of the registry (`UNKNOWN_MODEL`, naming it in `unknown_models`)", body = ErrorEnvelope),
        (status = 422, description = "More than 100 names, or an empty or over-long name", body = ErrorEnvelope),
    ))]
pub async fn set_key_models(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<AllowedModels>,
) -> AppResult<Json<AllowedModels>> {
    let id = parse_id(&id, "API key")?;
    let models = checked(&state, &body).await?;
    if !access::set_key_models(&state, id, None, models.as_deref()).await? {
        return Err(AppError::not_found("API key not found"));
    }
    Ok(Json(AllowedModels { models }))
}

/// Today's (UTC) usage and cost by model, all users, most expensive first.
#[utoipa::path(get, path = "/api/v1/admin/usage/models", tag = "admin",
    responses(
        (status = 200, description = "One entry per model used today", body = Vec<ModelUsage>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn usage_by_model(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> AppResult<Json<Vec<ModelUsage>>> {
    Ok(Json(
        crate::usage::today_by_model(&state.db, &state.usage).await?,
    ))
}
