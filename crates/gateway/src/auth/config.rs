//! Account settings (flattened into the gateway's `Config`).

use clap::{Args, ValueEnum};
use common::config::Secret;
use serde::Serialize;
use utoipa::ToSchema;

/// Minimum length of `JWT_SECRET`: HS256 needs at least 256 bits of key.
pub const MIN_SECRET_CHARS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Accounts: every data request needs a bearer access token or API key.
    Jwt,
    /// One implicit user (the seeded default user) for everything: local experiments and
    /// clients written for the reference API. Never expose this mode to a network.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone may create an account (the first one becomes the admin).
    Open,
    /// Only an admin creates accounts (`POST /api/v1/admin/users`).
    Closed,
}

#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// `jwt` (accounts; the default) or `off` (single user, never on a network).
    #[arg(long, env = "AUTH_MODE", value_enum, default_value = "jwt")]
    pub auth_mode: AuthMode,

    /// Secret that signs access tokens (HS256), at least 32 characters; required when
    /// AUTH_MODE=jwt. `make run` generates one into `.data/`.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Lifetime of a refresh token (and its cookie), in seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,

    /// `open` (anyone may register) or `closed` (only an admin creates accounts).
    #[arg(long, env = "REGISTRATION", value_enum, default_value = "open")]
    pub registration: Registration,

    /// Seconds after its first use during which a refresh token presented again (a reload
    /// that cancelled a refresh in flight, two tabs) gets another successor instead of
    /// revoking its sign-in; after that a reuse is treated as theft. 0 = never.
    #[arg(long, env = "REFRESH_REUSE_GRACE_SECS", default_value_t = 10)]
    pub refresh_reuse_grace_secs: u64,

    /// Failed logins of one account within 15 minutes that lock it.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,

    /// Seconds a locked account refuses logins.
    #[arg(long, env = "LOGIN_LOCKOUT_SECS", default_value_t = 900)]
    pub login_lockout_secs: u64,

    /// Mark the refresh-token cookie `Secure` (set it when the UI is served over HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,

    /// Seconds a gateway trusts what it last read about a sign-in and about a caller's model
    /// lists: an access token of a sign-in ended on another replica is refused, and a model
    /// list an admin changed there is in force, within this time (on this one, at once).
    /// Requests within it cost no query.
    #[arg(long, env = "SIGN_IN_CHECK_SECS", default_value_t = 5)]
    pub sign_in_check_secs: u64,

    /// `true`: registering an email that has an account answers 409, and a new account is
    /// signed in at once (201 with tokens) — which tells anyone whether an email has an
    /// account here. Default `false`: both answer the same 202, and the client then signs in.
    #[arg(
        long,
        env = "REGISTRATION_REVEALS_ACCOUNTS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub registration_reveals_accounts: bool,

    /// Lifetime of an admin-issued password-reset link, in seconds.
    #[arg(long, env = "PASSWORD_RESET_TTL_SECS", default_value_t = 24 * 3600)]
    pub password_reset_ttl_secs: u64,
}

impl AuthArgs {
    /// Checks the settings that cannot work; the message is one sentence saying what to do.
    pub fn validate(&self) -> Result<(), String> {
        if self.auth_mode == AuthMode::Off {
            return Ok(());
        }
        match &self.jwt_secret {
            None => Err("AUTH_MODE=jwt needs JWT_SECRET: set it to a random string of at least 32 characters (e.g. `openssl rand -base64 48`), or set AUTH_MODE=off for a single-user local install".to_owned()),
            Some(s) if s.expose().trim().chars().count() < MIN_SECRET_CHARS => Err(format!(
                "JWT_SECRET is too short: use a random string of at least {MIN_SECRET_CHARS} characters (e.g. `openssl rand -base64 48`)"
            )),
            Some(_) if self.access_token_ttl_secs == 0 || self.refresh_token_ttl_secs == 0 => {
                Err("ACCESS_TOKEN_TTL_SECS and REFRESH_TOKEN_TTL_SECS must be positive".to_owned())
            }
            Some(_) => Ok(()),
        }
    }
}
