//! Account self-service and administration (issues 21.5, 21.6, 25.10): sign-ins (list,
//! revoke, sign out everywhere), display name, password change, the one-time reset link an
//! admin issues, disabling an account, the export of everything of mine, and deleting my
//! account with everything in it.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use common::error::ErrorEnvelope;
use common::extract::ValidJson;
use common::validation::{body, Checker, FieldError, Validate};
use common::{AppError, AppResult};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::repo::{self, User};
use crate::auth::sign_ins::{self, Revoke, SignIn};
use crate::auth::{account_data, password, tokens, AdminUser, CurrentUser};
use crate::routes::auth::{accounts_on, clear_refresh_cookie};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/sessions", get(list_sign_ins))
        .route("/api/v1/auth/sessions/{id}", delete(revoke_sign_in))
        .route("/api/v1/auth/logout-all", post(logout_all))
        .route("/api/v1/auth/password", post(change_password))
        .route("/api/v1/auth/password-reset", post(use_reset_link))
        .route(
            "/api/v1/auth/me",
            axum::routing::patch(update_me).delete(delete_me),
        )
        .route("/api/v1/auth/export", get(export))
        .route("/api/v1/admin/users/{id}/disable", post(disable_user))
        .route("/api/v1/admin/users/{id}/enable", post(enable_user))
        .route(
            "/api/v1/admin/users/{id}/password-reset",
            post(issue_reset_link),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(list_sign_ins, revoke_sign_in, logout_all, change_password, use_reset_link, update_me,
          delete_me, export, disable_user, enable_user, issue_reset_link),
    components(schemas(SignIn, PasswordChange, PasswordReset, ProfileUpdate, AccountDelete, ResetLink)),
    tags((name = "auth", description = "Accounts, tokens and API keys"))
)]
pub struct ApiDoc;

// --- schemas ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// The password policy applies (10+ characters, not only whitespace, not a common one).
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

impl Validate for PasswordChange {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        check.str_len(
            body("current_password"),
            &self.current_password,
            1,
            password::MAX_CHARS,
        );
        if let Some(e) = password::check_policy_of("new_password", &self.new_password, "") {
            check.push(e);
        }
        check.finish()
    }
}

/// Consumes a reset link.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordReset {
    /// The `token` of the link.
    pub token: String,
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

impl Validate for PasswordReset {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        check.str_len(body("token"), self.token.trim(), 1, 200);
        if let Some(e) = password::check_policy_of("new_password", &self.new_password, "") {
            check.push(e);
        }
        check.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// Empty or `null` clears it.
    #[schema(max_length = 120)]
    pub display_name: Option<String>,
}

impl Validate for ProfileUpdate {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        if let Some(name) = &self.display_name {
            check.str_len(body("display_name"), name.trim(), 0, 120);
        }
        check.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountDelete {
    /// The account's password, entered again.
    pub password: String,
}

impl Validate for AccountDelete {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        check.str_len(body("password"), &self.password, 1, password::MAX_CHARS);
        check.finish()
    }
}

/// A one-time password-reset link: give it to the account's owner by a channel you trust.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetLink {
    /// The secret, shown once (only its hash is kept).
    pub token: String,
    /// The UI page that consumes it, relative to this server.
    #[schema(example = "/reset-password#token=…")]
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

// --- sign-ins ---------------------------------------------------------------------------------

/// The caller's active sign-ins (devices), most recently seen first; `current` marks the one
/// of this request's token.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth",
    responses(
        (status = 200, description = "Active sign-ins", body = Vec<SignIn>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ))]
pub async fn list_sign_ins(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Vec<SignIn>>> {
    Ok(Json(
        sign_ins::list(&state.db, user.id, user.sign_in).await?,
    ))
}

/// Ends one of the caller's sign-ins: its refresh token stops working at once, its access
/// tokens within `SIGN_IN_CHECK_SECS` (at once on this gateway).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "Sign-in id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such active sign-in of the caller's", body = ErrorEnvelope),
    ))]
pub async fn revoke_sign_in(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let not_found = || AppError::not_found("Sign-in not found");
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let ended = end_sign_ins(&state, user.id, Revoke::One(id)).await?;
    if ended.is_empty() {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Signs out everywhere: ends every sign-in of the caller, this one included, and clears the
/// refresh cookie. API keys are not touched (revoke them under `/api/v1/auth/keys`).
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    responses(
        (status = 204, description = "Every sign-in ended"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ))]
pub async fn logout_all(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    end_sign_ins(&state, user.id, Revoke::All).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_refresh_cookie(&state, &mut response);
    Ok(response)
}

/// Ends sign-ins in the database and in this gateway's cache at once.
async fn end_sign_ins(state: &AppState, user: Uuid, which: Revoke) -> AppResult<Vec<Uuid>> {
    let ended = sign_ins::revoke(&state.db, user, which).await?;
    state.auth.sign_ins.forget_all(&ended);
    Ok(ended)
}

// --- password ---------------------------------------------------------------------------------

/// Changes the caller's password; every other sign-in ends (this one stays).
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sign-ins ended"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "Accounts are off", body = ErrorEnvelope),
        (status = 422, description = "Wrong current password, or the new one breaks the policy (names which and why)", body = ErrorEnvelope),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(body): ValidJson<PasswordChange>,
) -> AppResult<StatusCode> {
    accounts_on(&state)?;
    check_password(&state, user.id, body.current_password, "current_password").await?;
    store_password(&state, user.id, body.new_password).await?;
    end_sign_ins(&state, user.id, Revoke::AllBut(user.sign_in)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Verifies `given` against the account's password (argon2, off the async threads); a
/// mismatch is a 422 on `field` and counts as a failed login.
async fn check_password(state: &AppState, user: Uuid, given: String, field: &str) -> AppResult<()> {
    let stored = repo::password_hash(&state.db, user).await?;
    let has_password = stored.is_some();
    let matches = tokio::task::spawn_blocking(move || password::verify(&given, stored.as_deref()))
        .await
        .map_err(|e| AppError::internal(format!("password check: {e}")))?;
    if matches {
        return Ok(());
    }
    if has_password {
        let args = &state.auth.args;
        repo::record_failure(
            &state.db,
            user,
            args.login_max_failures,
            args.login_lockout_secs,
        )
        .await?;
    }
    Err(AppError::validation(FieldError::new(
        "wrong_password",
        &["body", field],
        "The password is not right",
    )))
}

async fn store_password(state: &AppState, user: Uuid, new_password: String) -> AppResult<()> {
    let hash = tokio::task::spawn_blocking(move || password::hash(&new_password))
        .await
        .map_err(|e| AppError::internal(format!("password hashing: {e}")))?
        .map_err(|e| AppError::internal(format!("password hashing: {e}")))?;
    if !repo::set_password(&state.db, user, &hash).await? {
        return Err(AppError::not_found("Account not found"));
    }
    Ok(())
}

/// Sets a new password with a reset link (single use, expiring); every sign-in of the
/// account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = PasswordReset,
    responses(
        (status = 204, description = "Password set; sign in with it"),
        (status = 400, description = "Unknown, used or expired link: `INVALID_RESET_LINK`", body = ErrorEnvelope),
        (status = 404, description = "Accounts are off", body = ErrorEnvelope),
        (status = 422, description = "The new password breaks the policy", body = ErrorEnvelope),
    ))]
pub async fn use_reset_link(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<PasswordReset>,
) -> AppResult<StatusCode> {
    accounts_on(&state)?;
    let Some(user) =
        repo::use_password_reset(&state.db, &tokens::digest(body.token.trim())).await?
    else {
        return Err(AppError::detailed(
            StatusCode::BAD_REQUEST,
            "INVALID_RESET_LINK",
            "This reset link is not valid: it was used already or has expired. Ask an administrator for a new one",
        ));
    };
    store_password(&state, user, body.new_password).await?;
    end_sign_ins(&state, user, Revoke::All).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- profile, export, deletion ----------------------------------------------------------------

/// Changes the caller's display name.
#[utoipa::path(patch, path = "/api/v1/auth/me", tag = "auth",
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 422, description = "Name over 120 characters", body = ErrorEnvelope),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(body): ValidJson<ProfileUpdate>,
) -> AppResult<Json<User>> {
    let name = body
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let updated = repo::set_display_name(&state.db, user.id, name)
        .await?
        .ok_or_else(|| AppError::not_found("Account not found"))?;
    Ok(Json(updated))
}

/// Everything of the caller's as one JSON download: profile, chats with every message, jobs
/// with their items, API keys' and files' metadata (never a secret), collections, sign-ins.
#[utoipa::path(get, path = "/api/v1/auth/export", tag = "auth",
    responses(
        (status = 200, description = "A JSON attachment `sable-export-<date>.json`", content_type = "application/json", body = Object),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ))]
pub async fn export(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let profile = repo::user(&state.db, user.id)
        .await?
        .ok_or_else(|| AppError::not_found("Account not found"))?;
    let data = account_data::export(&state.db, user.id).await?;
    let now = Utc::now();
    let mut document = serde_json::json!({
        "format": "sable-account-export",
        "version": 1,
        "exported_at": now,
        "profile": profile,
    });
    if let (Some(out), serde_json::Value::Object(parts)) = (document.as_object_mut(), data) {
        out.extend(parts);
    }
    let body = serde_json::to_vec_pretty(&document)
        .map_err(|e| AppError::internal(format!("export: {e}")))?;
    let disposition = format!(
        "attachment; filename=\"sable-export-{}.json\"",
        now.format("%Y-%m-%d")
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Deletes the caller's account and everything in it, after the password is entered again:
/// files (their blobs too, through the worker service), chats, jobs (a job the worker is
/// running stops at its next write: its row is gone), API keys, collections, sign-ins.
#[utoipa::path(delete, path = "/api/v1/auth/me", tag = "auth",
    request_body = AccountDelete,
    responses(
        (status = 204, description = "Deleted; every token and key of it is refused"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "Accounts are off", body = ErrorEnvelope),
        (status = 422, description = "Wrong password", body = ErrorEnvelope),
        (status = 503, description = "The worker service could not delete the files: nothing else was deleted; try again", body = ErrorEnvelope),
    ))]
pub async fn delete_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(body): ValidJson<AccountDelete>,
) -> AppResult<Response> {
    accounts_on(&state)?;
    check_password(&state, user.id, body.password, "password").await?;
    // Files first: if the worker cannot delete them, nothing else is gone and the user can
    // try again (still signed in).
    for file in account_data::file_ids(&state.db, user.id).await? {
        let request = super::forward::worker_request(
            &state,
            &user,
            Method::DELETE,
            &format!("/files/{file}"),
        );
        match state.worker.send(request).await {
            Ok(_) => {}
            Err(e) if e.status() == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    // No new work from here on: sign-ins and keys end, then running answers stop (each stores
    // its partial answer, which the delete then removes).
    repo::set_disabled(&state.db, user.id, true).await?;
    end_sign_ins(&state, user.id, Revoke::All).await?;
    for session in account_data::session_ids(&state.db, user.id).await? {
        state.generations.stop(user.id, session).await;
    }
    repo::delete_user(&state.db, user.id).await?;
    tracing::info!(user_id = %user.id, "account deleted by its owner");
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_refresh_cookie(&state, &mut response);
    Ok(response)
}

// --- administration ---------------------------------------------------------------------------

fn user_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::not_found("User not found"))
}

/// Disables an account (admins only): its sign-ins end and its API keys are revoked at once;
/// it cannot sign in until enabled again (keys stay revoked).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable", tag = "auth",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The account, with `disabled_at`", body = User),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
        (status = 409, description = "An admin cannot disable their own account", body = ErrorEnvelope),
    ))]
pub async fn disable_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> AppResult<Json<User>> {
    let id = user_id(&id)?;
    if id == admin.id {
        return Err(AppError::Conflict(
            "You cannot disable your own account".to_owned(),
        ));
    }
    set_disabled(&state, id, true).await
}

/// Enables a disabled account again (admins only).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/enable", tag = "auth",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ))]
pub async fn enable_user(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> AppResult<Json<User>> {
    set_disabled(&state, user_id(&id)?, false).await
}

async fn set_disabled(state: &AppState, id: Uuid, disabled: bool) -> AppResult<Json<User>> {
    if !repo::set_disabled(&state.db, id, disabled).await? {
        return Err(AppError::not_found("User not found"));
    }
    if disabled {
        end_sign_ins(state, id, Revoke::All).await?;
    }
    let user = repo::user(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("User not found"))?;
    Ok(Json(user))
}

/// Issues a one-time password-reset link for an account (admins only). It replaces any
/// earlier unused link of that account and expires after `PASSWORD_RESET_TTL_SECS`.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/password-reset", tag = "auth",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 201, description = "The link, shown once", body = ResetLink),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such account", body = ErrorEnvelope),
    ))]
pub async fn issue_reset_link(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<ResetLink>)> {
    accounts_on(&state)?;
    let id = user_id(&id)?;
    if repo::password_hash(&state.db, id).await?.is_none() {
        return Err(AppError::not_found("User not found"));
    }
    let token = tokens::random_secret();
    let expires_at = repo::create_password_reset(
        &state.db,
        id,
        &tokens::digest(&token),
        state.auth.args.password_reset_ttl_secs,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ResetLink {
            url: format!("/reset-password#token={token}"),
            token,
            expires_at,
        }),
    ))
}
