//! Which model answers a request: the requested one, else the default; then at most one
//! fallback (contract §11). Any model id is accepted (no allow-list); the list served at
//! `GET /api/v1/models` only tells the UI what is configured.
//!
//! Embeddings never fall back: another model's vectors live in another space, so mixing
//! them would silently corrupt an index. [`ModelRegistry::resolve_embeddings`] names the one
//! model that embeds a request.

use axum::http::StatusCode;
use common::schemas::{ModelInfo, ModelsResponse};
use common::AppError;

use crate::config::Resolved;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRegistry {
    provider: String,
    default: String,
    fallback: Option<String>,
    extra: Vec<String>,
    embeddings: Option<String>,
}

/// The alias that names the embeddings model.
pub const EMBEDDINGS_ALIAS: &str = "embeddings";

impl ModelRegistry {
    pub fn new(provider: &str, default: &str, fallback: Option<&str>, extra: &[String]) -> Self {
        Self {
            provider: provider.to_owned(),
            default: default.to_owned(),
            fallback: fallback.filter(|f| *f != default).map(str::to_owned),
            extra: extra.to_vec(),
            embeddings: None,
        }
    }

    /// With `model` as the `embeddings` alias.
    pub fn with_embeddings(mut self, model: Option<&str>) -> Self {
        self.embeddings = model.map(str::to_owned);
        self
    }

    pub fn from_resolved(resolved: &Resolved) -> Self {
        Self::new(
            resolved.provider_name,
            &resolved.default_model,
            resolved.fallback_model.as_deref(),
            &resolved.extra_models,
        )
        .with_embeddings(resolved.embeddings_model.as_deref())
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn default_model(&self) -> &str {
        &self.default
    }

    pub fn fallback_model(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The model to try first: the requested one (trimmed, `""` meaning none) or the default.
    pub fn resolve(&self, requested: Option<&str>) -> String {
        requested
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(&self.default)
            .to_owned()
    }

    /// The model that embeds a request naming `requested`: none, `""` or `embeddings` mean
    /// the `embeddings` alias; `<provider>/<id>` of this service's provider means `<id>`;
    /// any other id is sent as it is. 400 `NO_EMBEDDINGS_MODEL` when the alias is asked for
    /// and none is configured.
    pub fn resolve_embeddings(&self, requested: Option<&str>) -> Result<String, AppError> {
        let requested = requested.map(str::trim).filter(|m| !m.is_empty());
        match requested {
            None | Some(EMBEDDINGS_ALIAS) => self.embeddings.clone().ok_or_else(|| {
                AppError::detailed(
                    StatusCode::BAD_REQUEST,
                    "NO_EMBEDDINGS_MODEL",
                    format!(
                        "No embeddings model is configured for the {} provider (set EMBEDDINGS_MODEL) and the request names none",
                        self.provider
                    ),
                )
            }),
            Some(id) => Ok(id
                .strip_prefix(self.provider.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|rest| !rest.is_empty())
                .unwrap_or(id)
                .to_owned()),
        }
    }

    /// The models to try in order: the resolved one, then the fallback unless it is the same.
    pub fn candidates(&self, requested: Option<&str>) -> Vec<String> {
        let primary = self.resolve(requested);
        let mut models = vec![primary];
        if let Some(fallback) = &self.fallback {
            if models[0] != *fallback {
                models.push(fallback.clone());
            }
        }
        models
    }

    /// `GET /api/v1/models`: default first, then the fallback, then the extras, no duplicates.
    pub fn models_response(&self) -> ModelsResponse {
        let mut models: Vec<ModelInfo> = Vec::new();
        let mut push = |id: &str, role: &str| {
            if !id.is_empty() && !models.iter().any(|m| m.id == id) {
                models.push(ModelInfo {
                    id: id.to_owned(),
                    provider: self.provider.clone(),
                    description: describe(id).map(str::to_owned),
                    role: role.to_owned(),
                });
            }
        };
        push(&self.default, "default");
        if let Some(fallback) = &self.fallback {
            push(fallback, "fallback");
        }
        for id in &self.extra {
            push(id, "available");
        }
        ModelsResponse {
            provider: self.provider.clone(),
            default: self.default.clone(),
            fallback: self.fallback.clone(),
            models,
        }
    }
}

/// Human descriptions for well-known ids (the reference UI's picker labels, contract §11).
fn describe(id: &str) -> Option<&'static str> {
    Some(match id {
        "llama-3.3-70b-versatile" => "Llama 3.3 70B — Best quality, slower",
        "llama-3.1-8b-instant" => "Llama 3.1 8B — Fast, good quality",
        "mixtral-8x7b-32768" => "Mixtral 8x7B — Balanced speed & quality",
        "openai/gpt-oss-120b" => "GPT-OSS 120B — High-quality, slower",
        "gpt-4o-mini" => "GPT-4o mini — Fast and affordable",
        "llama3.2" => "Llama 3.2 (local, Ollama)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> ModelRegistry {
        ModelRegistry::new(
            "groq",
            "big",
            Some("small"),
            &["big".into(), "other".into()],
        )
    }

    #[test]
    fn requested_model_wins_and_empty_means_default() {
        let r = registry();
        assert_eq!(r.resolve(Some("x")), "x");
        assert_eq!(r.resolve(Some("  ")), "big");
        assert_eq!(r.resolve(Some("")), "big");
        assert_eq!(r.resolve(None), "big");
    }

    #[test]
    fn fallback_follows_unless_it_was_requested() {
        let r = registry();
        assert_eq!(r.candidates(None), ["big", "small"]);
        assert_eq!(r.candidates(Some("x")), ["x", "small"]);
        assert_eq!(r.candidates(Some("small")), ["small"]);
        let none = ModelRegistry::new("openai", "a", None, &[]);
        assert_eq!(none.candidates(None), ["a"]);
        let same = ModelRegistry::new("openai", "a", Some("a"), &[]);
        assert_eq!(same.fallback_model(), None);
    }

    #[test]
    fn embeddings_use_the_alias_unless_a_model_is_named() {
        let r = registry().with_embeddings(Some("e5"));
        assert_eq!(r.resolve_embeddings(None).unwrap(), "e5");
        assert_eq!(r.resolve_embeddings(Some(" embeddings ")).unwrap(), "e5");
        assert_eq!(r.resolve_embeddings(Some("groq/other")).unwrap(), "other");
        assert_eq!(r.resolve_embeddings(Some("openai/x")).unwrap(), "openai/x");
        let none = registry();
        assert_eq!(
            none.resolve_embeddings(None).unwrap_err().code(),
            "NO_EMBEDDINGS_MODEL"
        );
        assert_eq!(none.resolve_embeddings(Some("m")).unwrap(), "m");
    }

    #[test]
    fn models_list_marks_roles_without_duplicates() {
        let list = registry().models_response();
        let ids: Vec<_> = list
            .models
            .iter()
            .map(|m| (m.id.as_str(), m.role.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("big", "default"),
                ("small", "fallback"),
                ("other", "available")
            ]
        );
        assert_eq!(list.default, "big");
        assert_eq!(list.fallback.as_deref(), Some("small"));
        assert!(list.models.iter().all(|m| m.provider == "groq"));
    }
}
