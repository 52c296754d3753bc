//! Who may use which models. An admin may limit an account, and an owner (or an admin) an API
//! key, to a list of models and aliases (`users.allowed_models`, `api_keys.allowed_models`;
//! NULL = any). A request must pass both lists. What a list permits is read against the model
//! service's registry (`GET /api/v1/models`), asked only for a limited caller:
//! - a listed name (an alias such as `fast`, or a `provider/model` id);
//! - the models an allowed alias names (the same models, named directly);
//! - a bare id whose `provider/id` is permitted;
//! - an alias all of whose models are permitted (e.g. `default` when it names one of them).
//!
//! A request that names no model gets the default when the default is permitted, else the
//! first entry of the list. A refused model is 403 `MODEL_NOT_ALLOWED` with `allowed_models`
//! in the envelope. Model lists (`/api/v1/models`, `/v1/models`) show only what is permitted.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::schemas::{GenerateRequest, ModelsResponse};
use common::{AppError, AppResult};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::state::AppState;
use crate::ttl_cache::TtlCache;

/// The most entries a list may have, and the longest entry.
pub const MAX_ENTRIES: usize = 100;
pub const MAX_ENTRY_CHARS: usize = 200;

/// The alias a request without a model is routed by.
const DEFAULT_ALIAS: &str = "default";

/// What a caller may use: `None` = anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed(pub Option<Vec<String>>);

impl Allowed {
    pub fn is_limited(&self) -> bool {
        self.0.is_some()
    }
}

/// The model lists a gateway remembers, by account and API key (`None`: a token or no key).
pub type ModelListCache = TtlCache<(Uuid, Option<Uuid>), Allowed>;

/// The caller's list: the account's, narrowed by the key's when the request came with one.
/// Read from the database at most once per `SIGN_IN_CHECK_SECS` per caller (a generate would
/// otherwise cost a query); an admin's change through this gateway applies at once.
pub async fn allowed(state: &AppState, user: &CurrentUser) -> Result<Allowed, sqlx::Error> {
    let cache = &state.auth.model_lists;
    let key = (user.id, user.key_id);
    if let Some(allowed) = cache.fresh(&key) {
        return Ok(allowed);
    }
    let allowed = read_allowed(&state.db, user).await?;
    cache.remember(key, allowed.clone());
    Ok(allowed)
}

async fn read_allowed(db: &PgPool, user: &CurrentUser) -> Result<Allowed, sqlx::Error> {
    type Lists = (Option<Vec<String>>, Option<Vec<String>>);
    let row: Option<Lists> = sqlx::query_as(
        "SELECT u.allowed_models, k.allowed_models FROM users u \
         LEFT JOIN api_keys k ON k.id = $2 AND k.user_id = u.id \
         WHERE u.id = $1",
    )
    .bind(user.id)
    .bind(user.key_id)
    .fetch_optional(db)
    .await?;
    let (account, key) = row.unwrap_or_default();
    Ok(Allowed(match (account, key) {
        (Some(a), Some(k)) => Some(k.into_iter().filter(|m| a.contains(m)).collect()),
        (a, k) => k.or(a),
    }))
}

/// The names a list permits, read against the registry (see the module docs).
struct Permitted<'a> {
    names: BTreeSet<String>,
    registry: &'a ModelsResponse,
}

impl<'a> Permitted<'a> {
    fn new(list: &[String], registry: &'a ModelsResponse) -> Self {
        let mut names: BTreeSet<String> = list.iter().map(|s| s.trim().to_owned()).collect();
        for entry in list {
            if let Some(ids) = registry.aliases.get(entry.trim()) {
                names.extend(ids.iter().cloned());
            }
        }
        Self { names, registry }
    }

    fn model(&self, id: &str) -> bool {
        self.names.contains(id)
    }

    fn permits(&self, name: &str) -> bool {
        let name = name.trim();
        if self.names.contains(name) {
            return true;
        }
        if let Some(ids) = self.registry.aliases.get(name) {
            return !ids.is_empty() && ids.iter().all(|id| self.model(id));
        }
        // A bare id: permitted when the model it names (`provider/id`) is.
        self.registry
            .models
            .iter()
            .filter(|m| m.id.strip_prefix(&format!("{}/", m.provider)) == Some(name))
            .any(|m| self.model(&m.id))
    }
}

async fn registry(state: &AppState) -> AppResult<ModelsResponse> {
    state
        .model
        .send_json(state.model.request(Method::GET, "/api/v1/models"))
        .await
}

fn refused(name: &str, list: &[String]) -> AppError {
    let mut fields = serde_json::Map::new();
    fields.insert("allowed_models".to_owned(), json!(list));
    AppError::WithFields {
        status: StatusCode::FORBIDDEN,
        code: "MODEL_NOT_ALLOWED",
        message: format!(
            "This account or API key may not use the model `{name}`; it may use: {}",
            list.join(", ")
        ),
        fields,
    }
}

/// Checks the model `requested` names (`None`: the default) for the caller. `Ok(None)`: go
/// ahead as asked; `Ok(Some(name))`: the request named no model and the default is not
/// permitted, so `name` (the list's first entry) is used instead.
pub async fn check(
    state: &AppState,
    user: &CurrentUser,
    requested: Option<&str>,
) -> AppResult<Option<String>> {
    let Allowed(Some(list)) = allowed(state, user).await? else {
        return Ok(None);
    };
    let requested = requested.map(str::trim).filter(|m| !m.is_empty());
    let registry = registry(state).await?;
    let permitted = Permitted::new(&list, &registry);
    match requested {
        Some(name) if permitted.permits(name) => Ok(None),
        Some(name) => Err(refused(name, &list)),
        None if permitted.permits(DEFAULT_ALIAS) || permitted.permits(&registry.default) => {
            Ok(None)
        }
        None => match list.first() {
            Some(first) => Ok(Some(first.clone())),
            None => Err(refused(DEFAULT_ALIAS, &list)),
        },
    }
}

/// [`check`] for a native generation request: sets its model when the caller's list decides it.
pub async fn check_generate(
    state: &AppState,
    user: &CurrentUser,
    request: &mut GenerateRequest,
) -> AppResult<()> {
    if let Some(model) = check(state, user, request.requested_model()).await? {
        request.model = Some(model);
    }
    Ok(())
}

/// The registry as the caller may see it: only permitted models and aliases; the default is
/// the first permitted entry when the real one is not permitted.
pub async fn visible_models(
    state: &AppState,
    user: Option<&CurrentUser>,
) -> AppResult<ModelsResponse> {
    let registry = registry(state).await?;
    let Some(user) = user else {
        return Ok(registry);
    };
    let Allowed(Some(list)) = allowed(state, user).await? else {
        return Ok(registry);
    };
    Ok(filter(registry, &list))
}

fn filter(mut registry: ModelsResponse, list: &[String]) -> ModelsResponse {
    let (models, aliases, default_ok) = {
        let permitted = Permitted::new(list, &registry);
        let models: Vec<_> = registry
            .models
            .iter()
            .filter(|m| permitted.model(&m.id))
            .cloned()
            .collect();
        let aliases: std::collections::BTreeMap<_, _> = registry
            .aliases
            .iter()
            .filter(|(name, _)| permitted.permits(name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (models, aliases, permitted.permits(&registry.default))
    };
    if !default_ok {
        // The list's first entry, as a model id (an alias by its first model).
        let first = list
            .first()
            .map(|f| f.trim().to_owned())
            .unwrap_or_default();
        registry.default = registry
            .aliases
            .get(&first)
            .and_then(|ids| ids.first().cloned())
            .unwrap_or(first);
        if let Some(m) = models.iter().find(|m| m.id == registry.default) {
            registry.provider = m.provider.clone();
        }
    }
    if registry
        .fallback
        .as_ref()
        .is_some_and(|f| !models.iter().any(|m| &m.id == f))
    {
        registry.fallback = None;
    }
    registry.models = models;
    registry.aliases = aliases;
    registry
}

/// Validates a list an admin or owner sets: at most [`MAX_ENTRIES`] non-empty names of at most
/// [`MAX_ENTRY_CHARS`] characters; duplicates dropped, order kept.
pub fn validate_list(list: &[String], field: &[&str]) -> Result<Vec<String>, AppError> {
    use common::validation::FieldError;
    let bad = |message: &str| AppError::validation(FieldError::new("value_error", field, message));
    if list.len() > MAX_ENTRIES {
        return Err(bad("at most 100 models"));
    }
    let mut out: Vec<String> = Vec::new();
    for name in list {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_ENTRY_CHARS {
            return Err(bad(
                "each model must be a non-empty name of at most 200 characters",
            ));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// The entries of `list` the registry does not know: neither an alias, nor a model id
/// (`provider/model`), nor a bare id that names exactly one model. Such a list would permit
/// nothing it names (a typo in an admin's list would silently lock a script out).
fn unknown_names(list: &[String], registry: &ModelsResponse) -> Vec<String> {
    let known = |name: &str| {
        registry.aliases.contains_key(name)
            || registry.models.iter().any(|m| m.id == name)
            || registry
                .models
                .iter()
                .filter(|m| m.id.strip_prefix(&format!("{}/", m.provider)) == Some(name))
                .count()
                == 1
    };
    list.iter()
        .filter(|name| !known(name.trim()))
        .cloned()
        .collect()
}

/// Refuses a list an admin sets when it names a model or alias the registry does not know:
/// 400 `UNKNOWN_MODEL` naming them (in the message and in `unknown_models`).
pub async fn check_known(state: &AppState, list: &[String]) -> AppResult<()> {
    let unknown = unknown_names(list, &registry(state).await?);
    if unknown.is_empty() {
        return Ok(());
    }
    let mut fields = serde_json::Map::new();
    fields.insert("unknown_models".to_owned(), json!(unknown));
    Err(AppError::WithFields {
        status: StatusCode::BAD_REQUEST,
        code: "UNKNOWN_MODEL",
        message: format!(
            "No model or alias is called {}; see GET /api/v1/models",
            unknown
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        fields,
    })
}

/// Sets an account's list (`None`: any model). `false` when there is no such account. This
/// gateway forgets what it remembered of the account's lists (its keys' included) at once.
pub async fn set_user_models(
    state: &AppState,
    user: Uuid,
    models: Option<&[String]>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET allowed_models = $2 WHERE id = $1")
        .bind(user)
        .bind(models)
        .execute(&state.db)
        .await?;
    state.auth.model_lists.forget_where(|(u, _)| *u == user);
    Ok(done.rows_affected() > 0)
}

/// Sets a live API key's list; `owner` restricts it to that user's keys. `false` when there
/// is no such key. This gateway forgets what it remembered of the key's list at once.
pub async fn set_key_models(
    state: &AppState,
    key: Uuid,
    owner: Option<Uuid>,
    models: Option<&[String]>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_keys SET allowed_models = $3 \
         WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)",
    )
    .bind(key)
    .bind(owner)
    .bind(models)
    .execute(&state.db)
    .await?;
    state
        .auth
        .model_lists
        .forget_where(|(_, k)| *k == Some(key));
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::schemas::ModelInfo;

    fn info(id: &str, provider: &str) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            provider: provider.into(),
            provider_kind: Some("openai".into()),
            description: None,
            role: "available".into(),
            capabilities: vec!["chat".into()],
            context_window: None,
            max_output_tokens: None,
            price_input_per_mtok: None,
            price_output_per_mtok: None,
        }
    }

    fn registry() -> ModelsResponse {
        ModelsResponse {
            provider: "big".into(),
            default: "big/strong".into(),
            fallback: None,
            models: vec![info("big/strong", "big"), info("small/quick", "small")],
            aliases: [
                ("default".to_owned(), vec!["big/strong".to_owned()]),
                ("fast".to_owned(), vec!["small/quick".to_owned()]),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn an_alias_permits_its_models_by_any_name_and_nothing_else() {
        let r = registry();
        let p = Permitted::new(&["fast".to_owned()], &r);
        assert!(p.permits("fast"));
        assert!(p.permits("small/quick"));
        assert!(p.permits("quick"));
        assert!(!p.permits("default"));
        assert!(!p.permits("big/strong"));
        assert!(!p.permits("strong"));
    }

    #[test]
    fn the_list_shows_only_permitted_models_with_a_permitted_default() {
        let shown = filter(registry(), &["fast".to_owned()]);
        let ids: Vec<&str> = shown.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["small/quick"]);
        assert_eq!(shown.default, "small/quick");
        assert_eq!(shown.provider, "small");
        assert_eq!(shown.aliases.keys().collect::<Vec<_>>(), ["fast"]);
    }

    #[test]
    fn lists_are_checked_and_deduplicated() {
        let ok = validate_list(&[" fast ".into(), "fast".into(), "a/b".into()], &["body"]);
        assert_eq!(ok.unwrap(), ["fast", "a/b"]);
        assert!(validate_list(&[String::new()], &["body"]).is_err());
        assert!(validate_list(&vec!["m".to_owned(); 101], &["body"]).is_err());
    }

    #[test]
    fn names_the_registry_does_not_know_are_found() {
        let mut r = registry();
        // `strong` is also a model of a second provider: a bare `strong` names no one model.
        r.models.push(info("other/strong", "other"));
        let list: Vec<String> = ["fast", "big/strong", "quick", "strong", "nope", "big/nope"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(unknown_names(&list, &r), ["strong", "nope", "big/nope"]);
        assert!(unknown_names(&["default".to_owned()], &r).is_empty());
    }
}
