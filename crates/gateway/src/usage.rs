//! Token usage and its cost per user and UTC day, and the optional daily quotas
//! (`QUOTA_TOKENS_PER_DAY`, `QUOTA_USD_PER_DAY`).
//!
//! Usage is what the model service reports for each generation that passes through the
//! gateway (sync, native streams and OpenAI-compatible calls), priced by the model service at
//! the answering model's configured prices (`cost_usd`; on OpenAI answers, whose bytes are the
//! provider's, from the prices it names in `x-sable-price-per-mtok`, counted for the model it names
//! in `x-sable-answered-by`, not the alias asked for). It is added up in memory
//! ([`UsageMeter`], no I/O on the request path: one row per user would otherwise serialise
//! every request of that user) and written once a second, one statement per active user and
//! one per model (`usage_model_daily`, the dashboard's cost by model).
//! The quotas are checked before a generation starts: over one, 429 `QUOTA_EXCEEDED` with
//! `used` and `allowed` in the envelope and the reset time (the next UTC midnight) in
//! `Retry-After` and `X-Quota-Reset`.

use axum::extract::{MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
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

    /// USD a user's answers may cost per UTC day (at the models' prices in the providers
    /// file); 0 = no quota.
    #[arg(long, env = "QUOTA_USD_PER_DAY", default_value_t = 0.0)]
    pub quota_usd_per_day: f64,
}

impl QuotaArgs {
    fn usd(&self) -> Option<f64> {
        (self.quota_usd_per_day.is_finite() && self.quota_usd_per_day > 0.0)
            .then_some(self.quota_usd_per_day)
    }
}

/// Today's usage of one user, as `GET /api/v1/auth/me` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageToday {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub requests: i64,
    /// Additive: what today's answers cost in USD (0 without prices).
    pub cost_usd: f64,
    /// The daily quota in tokens; null when there is none.
    pub quota_tokens: Option<u64>,
    /// Additive: the daily quota in USD; null when there is none.
    pub quota_usd: Option<f64>,
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

/// Usage added up: tokens, requests and cost.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Tally {
    pub prompt: i64,
    pub completion: i64,
    pub requests: i64,
    pub cost_usd: f64,
}

impl Tally {
    fn add(&mut self, usage: Usage, cost_usd: f64) {
        self.prompt += i64::from(usage.prompt_tokens);
        self.completion += i64::from(usage.completion_tokens);
        self.requests += 1;
        self.cost_usd += cost_usd;
    }
}

#[derive(Debug, Default)]
struct Pending {
    users: std::collections::HashMap<Uuid, Tally>,
    models: std::collections::HashMap<String, Tally>,
    /// What a flush is writing now: still counted by readers until it is written, so that a
    /// quota check during a flush does not miss it (it may count it twice for the instant
    /// between the write and this being cleared: erring towards the quota).
    flushing: std::collections::HashMap<Uuid, Tally>,
}

impl Tally {
    fn plus(self, o: Tally) -> Tally {
        Tally {
            prompt: self.prompt + o.prompt,
            completion: self.completion + o.completion,
            requests: self.requests + o.requests,
            cost_usd: self.cost_usd + o.cost_usd,
        }
    }
}

/// Usage not yet written, per user and per model.
#[derive(Debug, Default)]
pub struct UsageMeter {
    pending: std::sync::Mutex<Pending>,
}

/// The longest model name kept for the per-model figures (longer ones are cut).
const MODEL_NAME_MAX: usize = 200;

impl UsageMeter {
    /// Counts one generation of `model` (cheap: a short lock, no I/O). `cost_usd`: what the
    /// model service priced it at (`None`: unpriced).
    pub fn add(&self, user: Uuid, model: &str, usage: Usage, cost_usd: Option<f64>) {
        let cost = cost_usd
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or(0.0);
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.users.entry(user).or_default().add(usage, cost);
        // The first MODEL_NAME_MAX characters, copied only the first time a model is seen.
        let model = model.trim();
        let model = model
            .char_indices()
            .nth(MODEL_NAME_MAX)
            .map_or(model, |(end, _)| &model[..end]);
        if model.is_empty() {
            return;
        }
        match pending.models.get_mut(model) {
            Some(tally) => tally.add(usage, cost),
            None => pending
                .models
                .entry(model.to_owned())
                .or_default()
                .add(usage, cost),
        }
    }

    /// What `user` used since the last flush.
    fn pending(&self, user: Uuid) -> Tally {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let unwritten = pending.users.get(&user).copied().unwrap_or_default();
        unwritten.plus(pending.flushing.get(&user).copied().unwrap_or_default())
    }

    /// What each model was used for since the last flush (all users).
    fn pending_models(&self) -> Vec<(String, Tally)> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending
            .models
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Writes what was counted since the last flush (one statement per user and per model).
    pub async fn flush(&self, db: &PgPool) {
        let lock = || {
            self.pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let (users, models) = {
            let mut pending = lock();
            let users = std::mem::take(&mut pending.users);
            pending.flushing.clone_from(&users);
            (users, std::mem::take(&mut pending.models))
        };
        for (user, tally) in users {
            record(db, user, tally).await;
        }
        lock().flushing.clear();
        for (model, tally) in models {
            record_model(db, &model, tally).await;
        }
    }
}

/// Adds usage to the user's day.
async fn record(db: &PgPool, user: Uuid, t: Tally) {
    let result = sqlx::query(
        "INSERT INTO usage_daily (user_id, day, prompt_tokens, completion_tokens, requests, cost_usd) \
         VALUES ($1, (now() AT TIME ZONE 'utc')::date, $2, $3, $4, $5) \
         ON CONFLICT (user_id, day) DO UPDATE SET \
             prompt_tokens = usage_daily.prompt_tokens + EXCLUDED.prompt_tokens, \
             completion_tokens = usage_daily.completion_tokens + EXCLUDED.completion_tokens, \
             requests = usage_daily.requests + EXCLUDED.requests, \
             cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd",
    )
    .bind(user)
    .bind(t.prompt)
    .bind(t.completion)
    .bind(t.requests)
    .bind(t.cost_usd)
    .execute(db)
    .await;
    if let Err(e) = result {
        // Losing one count must not fail an answer the user already has.
        tracing::warn!(error = %e, "could not record token usage");
    }
}

/// Adds usage to the model's day.
async fn record_model(db: &PgPool, model: &str, t: Tally) {
    let result = sqlx::query(
        "INSERT INTO usage_model_daily (day, model, prompt_tokens, completion_tokens, requests, cost_usd) \
         VALUES ((now() AT TIME ZONE 'utc')::date, $1, $2, $3, $4, $5) \
         ON CONFLICT (day, model) DO UPDATE SET \
             prompt_tokens = usage_model_daily.prompt_tokens + EXCLUDED.prompt_tokens, \
             completion_tokens = usage_model_daily.completion_tokens + EXCLUDED.completion_tokens, \
             requests = usage_model_daily.requests + EXCLUDED.requests, \
             cost_usd = usage_model_daily.cost_usd + EXCLUDED.cost_usd",
    )
    .bind(model)
    .bind(t.prompt)
    .bind(t.completion)
    .bind(t.requests)
    .bind(t.cost_usd)
    .execute(db)
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record usage by model");
    }
}

/// Today's usage per model (all users), written and pending, most expensive first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ModelUsage {
    pub model: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
}

pub async fn today_by_model(
    db: &PgPool,
    meter: &UsageMeter,
) -> Result<Vec<ModelUsage>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, i64, f64)> = sqlx::query_as(
        "SELECT model, prompt_tokens, completion_tokens, requests, cost_usd FROM usage_model_daily \
         WHERE day = (now() AT TIME ZONE 'utc')::date",
    )
    .fetch_all(db)
    .await?;
    let mut by_model: std::collections::BTreeMap<String, Tally> = rows
        .into_iter()
        .map(|(model, prompt, completion, requests, cost_usd)| {
            (
                model,
                Tally {
                    prompt,
                    completion,
                    requests,
                    cost_usd,
                },
            )
        })
        .collect();
    for (model, t) in meter.pending_models() {
        let e = by_model.entry(model).or_default();
        e.prompt += t.prompt;
        e.completion += t.completion;
        e.requests += t.requests;
        e.cost_usd += t.cost_usd;
    }
    let mut out: Vec<ModelUsage> = by_model
        .into_iter()
        .map(|(model, t)| ModelUsage {
            model,
            requests: t.requests,
            prompt_tokens: t.prompt,
            completion_tokens: t.completion,
            cost_usd: t.cost_usd,
        })
        .collect();
    out.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.requests.cmp(&a.requests))
    });
    Ok(out)
}

/// The prices an OpenAI-compatible answer of the model service names (`x-sable-price-per-mtok`,
/// with a providers file), to price the usage read from the provider's bytes.
fn price_of(headers: &axum::http::HeaderMap) -> Option<(f64, f64)> {
    headers
        .get(common::schemas::PRICE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(common::schemas::parse_price)
}

/// What the model service's headers say about an OpenAI-compatible answer it relayed (whose
/// bytes are the provider's): the model that answered (`x-sable-answered-by`; the fallback,
/// or an alias's target) and its prices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answered {
    pub model: Option<String>,
    pub price: Option<(f64, f64)>,
}

impl Answered {
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        Self {
            model: headers
                .get(common::schemas::ANSWERED_BY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            price: price_of(headers),
        }
    }

    /// The model the usage is counted for: the one that answered, else (an older model
    /// service) the one requested.
    pub fn model_or<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(requested)
    }
}

/// What `usage` cost at `price` (`None` without one).
pub fn cost_at(price: Option<(f64, f64)>, usage: &Usage) -> Option<f64> {
    price.map(|(i, o)| common::schemas::cost_usd(i, o, usage))
}

/// Today's usage: what is written plus what the meter still holds.
pub async fn today(
    db: &PgPool,
    meter: &UsageMeter,
    user: Uuid,
    quota: &QuotaArgs,
) -> Result<UsageToday, sqlx::Error> {
    let row: Option<(i64, i64, i64, f64)> = sqlx::query_as(
        "SELECT prompt_tokens, completion_tokens, requests, cost_usd FROM usage_daily \
         WHERE user_id = $1 AND day = (now() AT TIME ZONE 'utc')::date",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    let (written_prompt, written_completion, written_requests, written_cost) =
        row.unwrap_or_default();
    let t = meter.pending(user);
    let (prompt_tokens, completion_tokens, requests) = (
        written_prompt + t.prompt,
        written_completion + t.completion,
        written_requests + t.requests,
    );
    let tokens = quota.quota_tokens_per_day;
    Ok(UsageToday {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
        requests,
        cost_usd: written_cost + t.cost_usd,
        quota_tokens: (tokens > 0).then_some(tokens),
        quota_usd: quota.usd(),
        resets_at: next_reset(Utc::now()),
    })
}

/// Refuses a generation (generate, stream, job submission, OpenAI completions) when the
/// caller has used the day's quota, else runs `next` (part of [`crate::layers`]). Does
/// nothing without a quota.
pub async fn enforce_quota<F, Fut>(state: &AppState, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let quota = &state.config.quota;
    // The route is looked at only with a quota (no copy of its template per request).
    if (quota.quota_tokens_per_day == 0 && quota.usd().is_none())
        || !generates(request.method(), request.extensions().get::<MatchedPath>())
    {
        return next(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Some(user) = caller(state, &mut parts).await else {
        // Not signed in: the handler answers 401.
        return next(Request::from_parts(parts, body)).await;
    };
    match today(&state.db, &state.usage, user, quota).await {
        Ok(usage) => match spent(&usage) {
            Some(spent) => quota_exceeded(&usage, spent),
            None => next(Request::from_parts(parts, body)).await,
        },
        Err(e) => AppError::from(e).into_response(),
    }
}

fn generates(method: &axum::http::Method, route: Option<&MatchedPath>) -> bool {
    route.is_some_and(|p| classify(method, p.as_str()) == Some(Class::Generate))
}

async fn caller(state: &AppState, parts: &mut Parts) -> Option<Uuid> {
    if let Some(user) = parts.extensions.get::<CurrentUser>() {
        return Some(user.id);
    }
    let user = auth::authenticate(parts, state).await.ok()?;
    parts.extensions.insert(user);
    Some(user.id)
}

/// Which of today's quotas is used up, if one is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Spent {
    Tokens { used: i64, allowed: u64 },
    Usd { used: f64, allowed: f64 },
}

fn spent(usage: &UsageToday) -> Option<Spent> {
    if let Some(allowed) = usage.quota_tokens {
        if usage.total_tokens >= i64::try_from(allowed).unwrap_or(i64::MAX) {
            return Some(Spent::Tokens {
                used: usage.total_tokens,
                allowed,
            });
        }
    }
    match usage.quota_usd {
        Some(allowed) if usage.cost_usd >= allowed => Some(Spent::Usd {
            used: usage.cost_usd,
            allowed,
        }),
        _ => None,
    }
}

fn quota_exceeded(usage: &UsageToday, spent: Spent) -> Response {
    let wait = (usage.resets_at - Utc::now()).num_seconds().max(1);
    let resets = usage.resets_at.format("%Y-%m-%d %H:%M");
    let (message, used, allowed) = match spent {
        Spent::Tokens { used, allowed } => (
            format!("Today's token quota ({allowed} tokens) is used up; it resets at {resets} UTC"),
            serde_json::json!(used),
            serde_json::json!(allowed),
        ),
        Spent::Usd { used, allowed } => (
            format!(
                "Today's cost quota (${allowed:.2}) is used up (${used:.4} spent); it resets at {resets} UTC"
            ),
            serde_json::json!(used),
            serde_json::json!(allowed),
        ),
    };
    let mut fields = serde_json::Map::new();
    fields.insert("used".to_owned(), used);
    fields.insert("allowed".to_owned(), allowed);
    let mut response = AppError::WithFields {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "QUOTA_EXCEEDED",
        message,
        fields,
    }
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

    fn usage(
        tokens: i64,
        cost_usd: f64,
        quota_tokens: Option<u64>,
        quota_usd: Option<f64>,
    ) -> UsageToday {
        UsageToday {
            prompt_tokens: tokens,
            completion_tokens: 0,
            total_tokens: tokens,
            requests: 1,
            cost_usd,
            quota_tokens,
            quota_usd,
            resets_at: Utc::now(),
        }
    }

    #[test]
    fn either_quota_refuses_once_it_is_reached() {
        assert_eq!(spent(&usage(10, 5.0, None, None)), None);
        assert_eq!(spent(&usage(9, 0.0, Some(10), None)), None);
        assert!(matches!(
            spent(&usage(10, 0.0, Some(10), None)),
            Some(Spent::Tokens {
                used: 10,
                allowed: 10
            })
        ));
        assert_eq!(spent(&usage(0, 0.49, None, Some(0.5))), None);
        assert!(matches!(
            spent(&usage(0, 0.5, None, Some(0.5))),
            Some(Spent::Usd { .. })
        ));
    }

    #[test]
    fn the_day_resets_at_the_next_utc_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T23:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next_reset(now).to_rfc3339(), "2026-11-30T00:00:00+00:00");
    }
}
