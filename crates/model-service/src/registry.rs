//! Which model answers a request: the requested one, else the default; then at most one
//! fallback (contract §11). Any model id is accepted (no allow-list); the list served at
//! `GET /api/v1/models` only tells the UI what is configured.

use common::schemas::{ModelInfo, ModelsResponse};

use crate::config::Resolved;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRegistry {
    provider: String,
    default: String,
    fallback: Option<String>,
    extra: Vec<String>,
}

impl ModelRegistry {
    pub fn new(provider: &str, default: &str, fallback: Option<&str>, extra: &[String]) -> Self {
        Self {
            provider: provider.to_owned(),
            default: default.to_owned(),
            fallback: fallback.filter(|f| *f != default).map(str::to_owned),
            extra: extra.to_vec(),
        }
    }

    pub fn from_resolved(resolved: &Resolved) -> Self {
        Self::new(
            resolved.provider_name,
            &resolved.default_model,
            resolved.fallback_model.as_deref(),
            &resolved.extra_models,
        )
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
