//! Accounts: `/api/v1/auth/*` (register, login, refresh, logout, me, API keys) and
//! `/api/v1/admin/users`.
//!
//! Login and register answer an access token (a short-lived JWT, kept in memory by the UI) and
//! a refresh token (opaque, random, stored hashed, rotated on every use). The refresh token is
//! also set as an httpOnly `SameSite=Strict` cookie scoped to `/api/v1/auth`, so the browser
//! UI never has to keep it where scripts can read it; API clients use the body instead.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::ValidJson;
use common::validation::{body, Checker, FieldError, Validate};
use common::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::repo::{self, ApiKey, NewRole, RefreshUse, User};
use crate::auth::sign_ins::{self, Revoke};
use crate::auth::{password, tokens, AdminUser, AuthMode, CurrentUser, Registration, Role};
use crate::state::AppState;

/// The refresh-token cookie.
pub const REFRESH_COOKIE: &str = "sable_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/config", get(auth_config))
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/keys", post(create_key).get(list_keys))
        .route("/api/v1/auth/keys/{id}", delete(revoke_key))
        .route("/api/v1/admin/users", get(list_users).post(create_user))
}

#[derive(OpenApi)]
#[openapi(
    paths(auth_config, register, login, refresh, logout, me, create_key, list_keys, revoke_key, list_users, create_user),
    components(schemas(
        AuthConfigOut, LimitsOut, AuthMode, Registration, Role, RegisterRequest, LoginRequest, RefreshRequest,
        TokenResponse, User, MeOut, crate::usage::UsageToday, ApiKey, ApiKeyCreate, ApiKeyCreated, AdminUserCreate,
        RegisterAccepted
    )),
    tags((name = "auth", description = "Accounts, tokens and API keys"))
)]
pub struct ApiDoc;

// --- schemas ----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthConfigOut {
    pub auth_mode: AuthMode,
    pub registration: Registration,
    /// The limits this gateway enforces, so clients check input against them instead of
    /// copies (additive).
    pub limits: LimitsOut,
}

/// Input limits, inclusive; lengths in Unicode code points.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsOut {
    /// A generate request's `prompt` (one chat message).
    pub prompt_max_chars: usize,
    /// A system prompt (request, chat setting or folder default).
    pub system_prompt_max_chars: usize,
    pub max_tokens_min: i64,
    pub max_tokens_max: i64,
    pub temperature_min: f64,
    pub temperature_max: f64,
    /// Prompts in one batch job.
    pub job_prompts_max: usize,
    pub job_name_max_chars: usize,
    pub title_max_chars: usize,
}

impl LimitsOut {
    fn current() -> Self {
        use common::schemas::limits;
        Self {
            prompt_max_chars: limits::PROMPT_MAX_CHARS,
            system_prompt_max_chars: limits::SYSTEM_PROMPT_MAX_CHARS,
            max_tokens_min: limits::MAX_TOKENS_MIN,
            max_tokens_max: limits::MAX_TOKENS_MAX,
            temperature_min: limits::TEMPERATURE_MIN,
            temperature_max: limits::TEMPERATURE_MAX,
            job_prompts_max: limits::JOB_PROMPTS_MAX,
            job_name_max_chars: common::schemas::JOB_NAME_MAX_CHARS,
            title_max_chars: common::schemas::chat_limits::TITLE_MAX_CHARS,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(max_length = 320, example = "ada@example.com")]
    pub email: String,
    /// At least 10 characters, not the email address.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    #[serde(default)]
    #[schema(max_length = 120)]
    pub display_name: Option<String>,
}

impl Validate for RegisterRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        check_email(&mut check, &self.email);
        if let Some(error) = password::check_policy(&self.password, &self.email) {
            check.push(error);
        }
        if let Some(name) = &self.display_name {
            check.str_len(body("display_name"), name, 0, 120);
        }
        check.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

impl Validate for LoginRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        check.str_len(body("email"), &self.email, 1, 320);
        if self.password.is_empty() || self.password.chars().count() > password::MAX_CHARS {
            check.push(FieldError::new(
                "string_length",
                &["body", "password"],
                format!(
                    "Password should have 1 to {} characters",
                    password::MAX_CHARS
                ),
            ));
        }
        check.finish()
    }
}

/// The refresh token in the body, or (browsers) none: the `sable_refresh` cookie is used.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl Validate for RefreshRequest {
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Single use: `POST /api/v1/auth/refresh` returns a new pair.
    pub refresh_token: String,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: User,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyCreate {
    #[schema(min_length = 1, max_length = 100, example = "laptop scripts")]
    pub name: String,
}

impl Validate for ApiKeyCreate {
    fn validate(&self) -> Vec<FieldError> {
        let mut check = Checker::new();
        check.str_len(body("name"), self.name.trim(), 1, 100);
        check.finish()
    }
}

/// A new key: shown once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The key itself (`sk-sable-…`). Store it now: only its hash is kept.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminUserCreate {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `user` unless given.
    #[serde(default)]
    pub role: Option<Role>,
}

impl Validate for AdminUserCreate {
    fn validate(&self) -> Vec<FieldError> {
        RegisterRequest {
            email: self.email.clone(),
            password: self.password.clone(),
            display_name: self.display_name.clone(),
        }
        .validate()
    }
}

fn check_email(check: &mut Checker, email: &str) {
    let email = email.trim();
    let plausible = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if email.chars().count() > 320 || !plausible {
        check.push(FieldError::new(
            "value_error",
            &["body", "email"],
            "Enter an email address like name@example.com",
        ));
    }
}

// --- handlers ---------------------------------------------------------------------------------

/// How the UI should behave: whether accounts are on and whether anyone may register.
#[utoipa::path(get, path = "/api/v1/auth/config", tag = "auth",
    responses((status = 200, description = "Auth mode, registration policy and the input limits", body = AuthConfigOut)))]
pub async fn auth_config(State(state): State<AppState>) -> Json<AuthConfigOut> {
    Json(AuthConfigOut {
        auth_mode: state.auth.mode,
        registration: state.auth.args.registration,
        limits: LimitsOut::current(),
    })
}

/// `POST /api/v1/auth/register` when registration does not reveal accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterAccepted {
    /// What to do next (sign in with the email and password just sent).
    pub message: &'static str,
}

const REGISTER_ACCEPTED: &str =
    "If this email can be registered, its account now exists: sign in with the email and password you chose";

/// Creates an account. The first account becomes the admin.
///
/// By default (`REGISTRATION_REVEALS_ACCOUNTS=false`) a new and a taken email get the same
/// 202 and no tokens, so nobody learns from this endpoint whether an email has an account; the
/// client then signs in (`POST /api/v1/auth/login`). With `REGISTRATION_REVEALS_ACCOUNTS=true`
/// a new account is signed in at once (201 with tokens) and a taken email answers 409.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "REGISTRATION_REVEALS_ACCOUNTS=true: signed in; the refresh token is also set as an httpOnly cookie", body = TokenResponse),
        (status = 202, description = "Default: the same answer for a new and a taken email; sign in next", body = RegisterAccepted),
        (status = 403, description = "Registration is closed (REGISTRATION=closed)", body = ErrorEnvelope),
        (status = 404, description = "Accounts are off (AUTH_MODE=off)", body = ErrorEnvelope),
        (status = 409, description = "REGISTRATION_REVEALS_ACCOUNTS=true only: the email is taken", body = ErrorEnvelope),
        (status = 422, description = "Invalid email, password (under 10 characters, only whitespace, the email, or a commonly used password) or name", body = ErrorEnvelope),
    ))]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> AppResult<Response> {
    accounts_on(&state)?;
    if state.auth.args.registration == Registration::Closed {
        return Err(AppError::detailed(
            StatusCode::FORBIDDEN,
            "REGISTRATION_CLOSED",
            "Registration is closed: ask an administrator for an account",
        ));
    }
    let created = new_account(
        &state,
        &body.email,
        body.password,
        body.display_name.as_deref(),
        NewRole::FirstIsAdmin,
    )
    .await;
    if state.auth.args.registration_reveals_accounts {
        let pair = start_sign_in(&state, &created?, &headers).await?;
        return Ok(signed_in(&state, StatusCode::CREATED, pair));
    }
    match created {
        Ok(_) => {}
        // Taken: the same answer as a new account (the password was hashed either way, so
        // the time taken does not tell either).
        Err(AppError::Conflict(_)) => {
            tracing::info!("registration for an email that already has an account");
        }
        Err(e) => return Err(e),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(RegisterAccepted {
            message: REGISTER_ACCEPTED,
        }),
    )
        .into_response())
}

/// Signs in with email and password. A wrong password, an unknown email and a locked account
/// all get the same answer.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh token is also set as an httpOnly cookie", body = TokenResponse),
        (status = 401, description = "Wrong email or password (also: unknown email, locked account)", body = ErrorEnvelope),
        (status = 403, description = "Right password, but an admin disabled the account: `ACCOUNT_DISABLED`", body = ErrorEnvelope),
        (status = 404, description = "Accounts are off", body = ErrorEnvelope),
        (status = 422, description = "Missing email or password", body = ErrorEnvelope),
    ))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<LoginRequest>,
) -> AppResult<Response> {
    accounts_on(&state)?;
    let account = repo::credentials(&state.db, body.email.trim()).await?;
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    // Always one argon2 verification, whether or not the account exists or is locked.
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&body.password, stored.as_deref()))
            .await
            .map_err(|e| AppError::internal(format!("password check: {e}")))?;
    let Some(account) = account else {
        return Err(wrong_credentials());
    };
    if account.locked {
        return Err(wrong_credentials());
    }
    if !matches {
        let args = &state.auth.args;
        repo::record_failure(
            &state.db,
            account.id,
            args.login_max_failures,
            args.login_lockout_secs,
        )
        .await?;
        return Err(wrong_credentials());
    }
    if account.disabled {
        // Only someone who knows the password learns this.
        return Err(AppError::detailed(
            StatusCode::FORBIDDEN,
            "ACCOUNT_DISABLED",
            "This account is disabled: ask an administrator",
        ));
    }
    repo::record_success(&state.db, account.id).await?;
    let user = repo::user(&state.db, account.id)
        .await?
        .ok_or_else(wrong_credentials)?;
    let pair = start_sign_in(&state, &user, &headers).await?;
    Ok(signed_in(&state, StatusCode::OK, pair))
}

/// Exchanges a refresh token (body, or the cookie when the body has none) for a new pair.
/// Each refresh token works once; presenting one again revokes every token of that sign-in.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair; the cookie is rotated too", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or already used refresh token", body = ErrorEnvelope),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> AppResult<Response> {
    accounts_on(&state)?;
    let token = body
        .refresh_token
        .or_else(|| cookie(&headers, REFRESH_COOKIE))
        .ok_or_else(|| invalid_refresh("No refresh token was sent"))?;
    let grace = state.auth.args.refresh_reuse_grace_secs;
    match repo::use_refresh_token(&state.db, &tokens::digest(&token), grace).await? {
        RefreshUse::Rotated { user, family, .. } => {
            let user = repo::user(&state.db, user)
                .await?
                .ok_or_else(|| invalid_refresh("The account no longer exists"))?;
            let pair = issue_pair(&state, &user, family).await?;
            Ok(signed_in(&state, StatusCode::OK, pair))
        }
        RefreshUse::Reused => {
            tracing::warn!("a used refresh token was presented again; its sign-in is revoked");
            Err(invalid_refresh(
                "This refresh token was already used; sign in again",
            ))
        }
        RefreshUse::Invalid => Err(invalid_refresh(
            "The refresh token is not valid or has expired; sign in again",
        )),
    }
}

/// Signs out: ends the sign-in of the refresh token (body or cookie) and of the access token
/// (`Authorization`), whichever are sent, and clears the cookie. The sign-in's access tokens
/// are refused at once by this gateway and within `SIGN_IN_CHECK_SECS` by every other.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was unknown)")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> AppResult<Response> {
    let mut ended = Vec::new();
    if let Some(token) = body
        .refresh_token
        .or_else(|| cookie(&headers, REFRESH_COOKIE))
    {
        if let Some(found) = repo::refresh_token_sign_in(&state.db, &tokens::digest(&token)).await?
        {
            ended.push(found);
        }
    }
    let claims = state.auth.tokens.as_ref().and_then(|signer| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (_, token) = value.trim().split_once(' ')?;
        signer.check(token.trim()).ok()
    });
    if let Some(claims) = claims {
        ended.push((claims.user, claims.sign_in));
    }
    for (user, sid) in ended {
        sign_ins::revoke(&state.db, user, Revoke::One(sid)).await?;
        state.auth.sign_ins.forget_all(&[sid]);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_refresh_cookie(&state, &mut response);
    Ok(response)
}

/// Clears the refresh-token cookie on `response`.
pub fn clear_refresh_cookie(state: &AppState, response: &mut Response) {
    set_cookie(response, &refresh_cookie(state, "", 0));
}

/// The signed-in account and today's token usage.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The caller's account, with `usage_today`", body = MeOut),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ))]
pub async fn me(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<MeOut>> {
    let account = repo::user(&state.db, user.id)
        .await?
        .ok_or_else(|| AppError::not_found("Account not found"))?;
    let usage_today =
        crate::usage::today(&state.db, &state.usage, user.id, &state.config.quota).await?;
    Ok(Json(MeOut {
        user: account,
        usage_today,
    }))
}

/// `GET /api/v1/auth/me`: the account's fields, plus today's usage (additive).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    #[serde(flatten)]
    pub user: User,
    pub usage_today: crate::usage::UsageToday,
}

/// Creates an API key for scripts: `Authorization: Bearer sk-sable-…` works wherever an access
/// token does. The key is in this answer only.
#[utoipa::path(post, path = "/api/v1/auth/keys", tag = "auth",
    request_body = ApiKeyCreate,
    responses(
        (status = 201, description = "The key, shown once", body = ApiKeyCreated),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 422, description = "Name missing or over 100 characters", body = ErrorEnvelope),
    ))]
pub async fn create_key(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(body): ValidJson<ApiKeyCreate>,
) -> AppResult<(StatusCode, Json<ApiKeyCreated>)> {
    let (key, prefix) = tokens::new_api_key();
    let stored = repo::create_api_key(
        &state.db,
        user.id,
        body.name.trim(),
        &prefix,
        &tokens::digest(&key),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: stored.id,
            name: stored.name,
            prefix: stored.prefix,
            created_at: stored.created_at,
            last_used_at: stored.last_used_at,
            key,
        }),
    ))
}

/// The caller's live API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/auth/keys", tag = "auth",
    responses(
        (status = 200, description = "Keys, newest first", body = Vec<ApiKey>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ))]
pub async fn list_keys(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Vec<ApiKey>>> {
    Ok(Json(repo::list_api_keys(&state.db, user.id).await?))
}

/// Revokes one of the caller's keys at once.
#[utoipa::path(delete, path = "/api/v1/auth/keys/{id}", tag = "auth",
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such key of the caller's", body = ErrorEnvelope),
    ))]
pub async fn revoke_key(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let not_found = || AppError::not_found("API key not found");
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    if repo::revoke_api_key(&state.db, user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// Every account (admins only).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "auth",
    responses(
        (status = 200, description = "Accounts, oldest first", body = Vec<User>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> AppResult<Json<Vec<User>>> {
    Ok(Json(repo::list_users(&state.db).await?))
}

/// Creates an account (admins only; the way in when `REGISTRATION=closed`).
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "auth",
    request_body = AdminUserCreate,
    responses(
        (status = 201, description = "The account", body = User),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 409, description = "The email is taken", body = ErrorEnvelope),
        (status = 422, description = "Invalid email, password or name", body = ErrorEnvelope),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidJson(body): ValidJson<AdminUserCreate>,
) -> AppResult<(StatusCode, Json<User>)> {
    accounts_on(&state)?;
    let role = NewRole::Exactly(body.role.unwrap_or(Role::User));
    let user = new_account(
        &state,
        &body.email,
        body.password,
        body.display_name.as_deref(),
        role,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

// --- helpers ----------------------------------------------------------------------------------

pub(crate) fn accounts_on(state: &AppState) -> AppResult<()> {
    if state.auth.mode == AuthMode::Off {
        return Err(AppError::detailed(
            StatusCode::NOT_FOUND,
            "AUTH_DISABLED",
            "Accounts are off on this server (AUTH_MODE=off): every request acts as the default user",
        ));
    }
    Ok(())
}

pub(crate) fn wrong_credentials() -> AppError {
    AppError::detailed(
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
        "Wrong email or password",
    )
}

fn invalid_refresh(message: &str) -> AppError {
    AppError::detailed(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
}

pub(crate) async fn new_account(
    state: &AppState,
    email: &str,
    password: String,
    display_name: Option<&str>,
    role: NewRole,
) -> AppResult<User> {
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AppError::internal(format!("password hashing: {e}")))?
        .map_err(|e| AppError::internal(format!("password hashing: {e}")))?;
    let display_name = display_name.map(str::trim).filter(|n| !n.is_empty());
    repo::create_user(&state.db, email.trim(), &hash, display_name, role)
        .await?
        .ok_or_else(|| AppError::Conflict("An account with this email already exists".to_owned()))
}

/// A new sign-in (named by the request's User-Agent) and its first pair of tokens.
async fn start_sign_in(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
) -> AppResult<TokenResponse> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let sign_in = sign_ins::create(&state.db, user.id, user_agent).await?;
    issue_pair(state, user, sign_in).await
}

/// A fresh access token and a refresh token of sign-in `family` (the refresh-token family of
/// a sign-in is the sign-in's id).
async fn issue_pair(state: &AppState, user: &User, family: Uuid) -> AppResult<TokenResponse> {
    let tokens = state
        .auth
        .tokens
        .as_ref()
        .ok_or_else(|| AppError::internal("jwt mode without a token signer"))?;
    let access_token = tokens
        .issue(user.id, user.role, family)
        .map_err(|e| AppError::internal(format!("signing an access token: {e}")))?;
    let refresh_token = tokens::random_secret();
    repo::insert_refresh_token(
        &state.db,
        user.id,
        family,
        &tokens::digest(&refresh_token),
        state.auth.args.refresh_token_ttl_secs,
    )
    .await?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        token_type: "bearer",
        expires_in: tokens.ttl_secs(),
        user: user.clone(),
    })
}

fn signed_in(state: &AppState, status: StatusCode, pair: TokenResponse) -> Response {
    let cookie = refresh_cookie(
        state,
        &pair.refresh_token,
        state.auth.args.refresh_token_ttl_secs,
    );
    let mut response = (status, Json(pair)).into_response();
    set_cookie(&mut response, &cookie);
    response
}

fn refresh_cookie(state: &AppState, value: &str, max_age: u64) -> String {
    let secure = if state.auth.args.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    format!("{REFRESH_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sable_refresh=tok; b=2"),
        );
        assert_eq!(cookie(&headers, REFRESH_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn emails_must_look_like_emails() {
        for (email, ok) in [
            ("ada@example.com", true),
            ("ada", false),
            ("@example.com", false),
            ("a b@example.com", false),
            ("a@b@c", false),
        ] {
            let mut check = Checker::new();
            check_email(&mut check, email);
            assert_eq!(check.finish().is_empty(), ok, "{email}");
        }
    }
}
