//! Who is calling. Every handler that touches data takes a [`CurrentUser`]: a JWT access
//! token, a Sable API key (`Authorization: Bearer …` either way) or, only in
//! `AUTH_MODE=off`, the seeded default user. The repositories scope every query by its id.
//!
//! `config` (settings), `password` (argon2id, policy), `tokens` (JWTs, random secrets),
//! `repo` (account SQL), `sign_ins` (revocable logins and their check cache); the HTTP routes
//! are in `crate::routes::auth` and `crate::routes::account`.

pub mod account_data;
pub mod config;
pub mod password;
pub mod repo;
pub mod sign_ins;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::AppError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use self::config::{AuthArgs, AuthMode, Registration};
use self::sign_ins::SignInCache;
use self::tokens::{AccessTokens, TokenProblem, API_KEY_PREFIX};
use crate::state::AppState;

/// The seeded user (contract §5.6, `migrations/20261123000001_initial_schema.sql`):
/// `00000000-0000-0000-0000-000000000001`. Every request acts as this user in `AUTH_MODE=off`.
pub const DEFAULT_USER_ID: Uuid = Uuid::from_u128(1);

/// An account's role (named `UserRole` in the OpenAPI document: `Role` is a chat turn's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = UserRole)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "admin" => Ok(Self::Admin),
            "user" => Ok(Self::User),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// The authentication machinery the gateway's state carries.
#[derive(Debug, Clone)]
pub struct Auth {
    pub mode: AuthMode,
    /// Present in `jwt` mode.
    pub tokens: Option<AccessTokens>,
    pub args: AuthArgs,
    /// Which sign-ins this gateway last found live or revoked (`SIGN_IN_CHECK_SECS`).
    pub sign_ins: std::sync::Arc<SignInCache>,
    /// The model lists this gateway last read per account and key (`SIGN_IN_CHECK_SECS`).
    pub model_lists: std::sync::Arc<crate::access::ModelListCache>,
}

impl Auth {
    /// Fails with one sentence when the settings cannot work (e.g. jwt without a secret).
    pub fn new(args: &AuthArgs) -> Result<Self, String> {
        args.validate()?;
        let tokens = match (args.auth_mode, &args.jwt_secret) {
            (AuthMode::Jwt, Some(secret)) => Some(AccessTokens::new(
                secret.expose().trim(),
                args.access_token_ttl_secs,
            )),
            _ => None,
        };
        Ok(Self {
            mode: args.auth_mode,
            tokens,
            args: args.clone(),
            sign_ins: std::sync::Arc::new(SignInCache::new(std::time::Duration::from_secs(
                args.sign_in_check_secs,
            ))),
            model_lists: std::sync::Arc::new(crate::access::ModelListCache::new(
                std::time::Duration::from_secs(args.sign_in_check_secs),
            )),
        })
    }
}

/// The caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: Uuid,
    pub role: Role,
    /// The API key the request came with, if it came with one (its model list applies too).
    pub key_id: Option<Uuid>,
    /// The sign-in of the access token the request came with (none for API keys and
    /// `AUTH_MODE=off`).
    pub sign_in: Option<Uuid>,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(*user);
        }
        let user = authenticate(parts, state).await.inspect_err(|e| {
            metrics::counter!("auth_failures_total", "kind" => e.kind()).increment(1);
        })?;
        parts.extensions.insert(user);
        Ok(user)
    }
}

/// The bearer credential of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
        .filter(|c| !c.is_empty())
}

/// Identifies the caller of a request (no caching, no metrics: see the extractor).
pub(crate) async fn authenticate(
    parts: &Parts,
    state: &AppState,
) -> Result<CurrentUser, AuthError> {
    let auth = &state.auth;
    let Some(tokens) = auth.tokens.as_ref().filter(|_| auth.mode == AuthMode::Jwt) else {
        // AUTH_MODE=off: one implicit user, who also operates the install.
        return Ok(CurrentUser {
            id: DEFAULT_USER_ID,
            role: Role::Admin,
            key_id: None,
            sign_in: None,
        });
    };
    let credential = bearer(parts).ok_or(AuthError::Missing)?;
    if credential.starts_with(API_KEY_PREFIX) {
        return match repo::api_key_owner(&state.db, &tokens::digest(credential)).await {
            Ok(Some((id, role, key))) => Ok(CurrentUser {
                id,
                role,
                key_id: Some(key),
                sign_in: None,
            }),
            Ok(None) => Err(AuthError::BadKey),
            Err(e) => Err(AuthError::Unavailable(e.into())),
        };
    }
    let claims = match tokens.check(credential) {
        Ok(claims) => claims,
        Err(TokenProblem::Expired) => return Err(AuthError::Expired),
        Err(TokenProblem::Invalid) => return Err(AuthError::Invalid),
    };
    if !sign_in_is_live(state, claims.user, claims.sign_in).await? {
        return Err(AuthError::SignedOut);
    }
    Ok(CurrentUser {
        id: claims.user,
        role: claims.role,
        key_id: None,
        sign_in: Some(claims.sign_in),
    })
}

/// Whether the token's sign-in is still live: from the cache when it was checked within
/// `SIGN_IN_CHECK_SECS` (the common case, no query), else from the database.
async fn sign_in_is_live(state: &AppState, user: Uuid, sid: Uuid) -> Result<bool, AuthError> {
    let cache = &state.auth.sign_ins;
    if let Some(live) = cache.fresh(&sid) {
        return Ok(live);
    }
    let live = sign_ins::is_live(&state.db, user, sid)
        .await
        .map_err(|e| AuthError::Unavailable(e.into()))?;
    cache.remember(sid, live);
    Ok(live)
}

/// An admin caller; anyone else gets 403 (after the usual 401 when not signed in).
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub CurrentUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = CurrentUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if user.is_admin() {
            Ok(Self(user))
        } else {
            Err(AppError::detailed(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "This needs an administrator account",
            )
            .into_response())
        }
    }
}

/// Why a request could not be authenticated: 401 with the envelope (code `UNAUTHORIZED`) and
/// `WWW-Authenticate: Bearer` (RFC 6750), or 503 when the database could not be asked.
#[derive(Debug)]
pub enum AuthError {
    Missing,
    Invalid,
    Expired,
    BadKey,
    /// A valid token of a sign-in that was ended (sign-out, revoked, account disabled or gone).
    SignedOut,
    Unavailable(AppError),
}

impl AuthError {
    /// The `kind` label of `auth_failures_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid_token",
            Self::Expired => "expired_token",
            Self::BadKey => "invalid_api_key",
            Self::SignedOut => "signed_out",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (message, challenge) = match self {
            Self::Unavailable(e) => return e.into_response(),
            Self::Missing => (
                "Sign in first: this endpoint needs `Authorization: Bearer <access token or API key>`",
                "Bearer",
            ),
            Self::Invalid => (
                "The access token is not valid",
                "Bearer error=\"invalid_token\"",
            ),
            Self::Expired => (
                "The access token has expired: refresh it or sign in again",
                "Bearer error=\"invalid_token\", error_description=\"expired\"",
            ),
            Self::BadKey => (
                "The API key is not valid or has been revoked",
                "Bearer error=\"invalid_token\"",
            ),
            Self::SignedOut => (
                "This sign-in has ended (signed out, revoked, or the account was disabled): sign in again",
                "Bearer error=\"invalid_token\", error_description=\"signed out\"",
            ),
        };
        let mut response =
            AppError::detailed(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_user_is_the_seeded_one() {
        assert_eq!(
            DEFAULT_USER_ID.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }

    #[test]
    fn bearer_credentials_are_read_leniently() {
        let parts = |value: &str| {
            let (parts, ()) = axum::http::Request::builder()
                .header("authorization", value)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        assert_eq!(bearer(&parts("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&parts("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(&parts("Basic abc")), None);
        assert_eq!(bearer(&parts("Bearer ")), None);
    }
}
