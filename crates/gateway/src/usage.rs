//! Token usage per user and UTC day, and the optional daily quota (`QUOTA_TOKENS_PER_DAY`).
//!
//! Usage is what the model service reports for each generation that passes through the
//! gateway (sync, native streams and OpenAI-compatible calls). It is added up in memory
//! ([`UsageMeter`], no I/O on the request path: one row per user would otherwise serialise
//! every request of that user) and written once a second, one statement per active user.
//! The quota is checked before a generation starts: over it, 429 `QUOTA_EXCEEDED` with the
//! reset time (the next UTC midnight) in `Retry-After` and `X-Quota-Reset`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, Utc};
use clap::Args;
use common::schemas::Usage;
use common::AppError;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{self, CurrentUser};
use crate::limits::{classify, Class};
use crate::state::AppState;

#[derive(Debug, Clone, Args)]
pub struct QuotaArgs {
    /// Tokens (prompt + completion) a user may use per UTC day; 0 = no quota.
    #[arg(long, env = "QUOTA_TOKENS_PER_DAY", default_value_t = 0)]
    pub quota_tokens_per_day: u64,
}

/// Today's usage of one user, as `GET /api/v1/auth/me` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UsageToday {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub requests: i64,
    /// The daily quota in tokens; null when there is none.
    pub quota_tokens: Option<u64>,
    /// When the day's count starts again (the next UTC midnight).
    pub resets_at: DateTime<Utc>,
}

/// The next UTC midnight.
fn next_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now, |d| d.and_utc())
}

/// Usage not yet written, per user: (prompt tokens, completion tokens, requests).
#[derive(Debug, Default)]
pub struct UsageMeter {
    pending: std::sync::Mutex<std::collections::HashMap<Uuid, (i64, i64, i64)>>,
}

impl UsageMeter {
    /// Counts one generation (cheap: a short lock, no I/O).
    pub fn add(&self, user: Uuid, usage: Usage) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = pending.entry(user).or_default();
        entry.0 += i64::from(usage.prompt_tokens);
        entry.1 += i64::from(usage.completion_tokens);
        entry.2 += 1;
    }

    /// What `user` used since the last flush.
    fn pending(&self, user: Uuid) -> (i64, i64, i64) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.get(&user).copied().unwrap_or_default()
    }

    /// Writes what was counted since the last flush (one statement per user).
    pub async fn flush(&self, db: &PgPool) {
        let taken = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (user, (prompt, completion, requests)) in taken {
            record(db, user, prompt, completion, requests).await;
        }
    }
}

/// Adds usage to the user's day.
async fn record(db: &PgPool, user: Uuid, prompt: i64, completion: i64, requests: i64) {
    let result = sqlx::query(
        "INSERT INTO usage_daily (user_id, day, prompt_tokens, completion_tokens, requests) \
         VALUES ($1, (now() AT TIME ZONE 'utc')::date, $2, $3, $4) \
         ON CONFLICT (user_id, day) DO UPDATE SET \
             prompt_tokens = usage_daily.prompt_tokens + EXCLUDED.prompt_tokens, \
             completion_tokens = usage_daily.completion_tokens + EXCLUDED.completion_tokens, \
             requests = usage_daily.requests + EXCLUDED.requests",
    )
    .bind(user)
    .bind(prompt)
    .bind(completion)
    .bind(requests)
    .execute(db)
    .await;
    if let Err(e) = result {
        // Losing one count must not fail an answer the user already has.
        tracing::warn!(error = %e, "could not record token usage");
    }
}

/// Today's usage: what is written plus what the meter still holds.
pub async fn today(
    db: &PgPool,
    meter: &UsageMeter,
    user: Uuid,
    quota: u64,
) -> Result<UsageToday, sqlx::Error> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT prompt_tokens, completion_tokens, requests FROM usage_daily \
         WHERE user_id = $1 AND day = (now() AT TIME ZONE 'utc')::date",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    let (written_prompt, written_completion, written_requests) = row.unwrap_or_default();
    let (p, c, n) = meter.pending(user);
    let (prompt_tokens, completion_tokens, requests) = (
        written_prompt + p,
        written_completion + c,
        written_requests + n,
    );
    Ok(UsageToday {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
        requests,
        quota_tokens: (quota > 0).then_some(quota),
        resets_at: next_reset(Utc::now()),
    })
}

/// Middleware: refuses a generation (generate, stream, job submission, OpenAI completions)
/// when the caller has used the day's quota. Does nothing without a quota.
pub async fn enforce_quota(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let quota = state.config.quota.quota_tokens_per_day;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let generates = route
        .as_deref()
        .is_some_and(|r| classify(request.method(), r) == Some(Class::Generate));
    if quota == 0 || !generates {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Some(user) = caller(&state, &mut parts).await else {
        // Not signed in: the handler answers 401.
        return next.run(Request::from_parts(parts, body)).await;
    };
    match today(&state.db, &state.usage, user, quota).await {
        Ok(usage) if usage.total_tokens >= i64::try_from(quota).unwrap_or(i64::MAX) => {
            quota_exceeded(&usage)
        }
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => AppError::from(e).into_response(),
    }
}

async fn caller(state: &AppState, parts: &mut Parts) -> Option<Uuid> {
    if let Some(user) = parts.extensions.get::<CurrentUser>() {
        return Some(user.id);
    }
    let user = auth::authenticate(parts, state).await.ok()?;
    parts.extensions.insert(user);
    Some(user.id)
}

fn quota_exceeded(usage: &UsageToday) -> Response {
    let wait = (usage.resets_at - Utc::now()).num_seconds().max(1);
    let mut response = AppError::detailed(
        StatusCode::TOO_MANY_REQUESTS,
        "QUOTA_EXCEEDED",
        format!(
            "Today's token quota ({} tokens) is used up; it resets at {} UTC",
            usage.quota_tokens.unwrap_or(0),
            usage.resets_at.format("%Y-%m-%d %H:%M")
        ),
    )
    .into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        headers.insert("retry-after", v);
    }
    if let Ok(v) = HeaderValue::from_str(&usage.resets_at.to_rfc3339()) {
        headers.insert("x-quota-reset", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_resets_at_the_next_utc_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T23:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next_reset(now).to_rfc3339(), "2026-11-30T00:00:00+00:00");
    }
}
