//! What a model can do, and what an OpenAI chat request needs of it.
//!
//! | capability | a request needs it when it has |
//! | --- | --- |
//! | `chat` | always (every chat request) |
//! | `vision` | an `image_url` content part |
//! | `tools` | `tools` or `functions`, or a `tool`/`function` message, or an assistant message with `tool_calls` |
//! | `json` | `response_format` of type `json_object` or `json_schema` |
//! | `embeddings` | (not a chat capability; listed so model lists can say it) |
//!
//! A request whose model lacks one is refused with 400 before any provider is called, and a
//! fallback is only tried when its model covers the request ([`Capabilities::missing`]).
//!
//! Where a route's capabilities come from is [`of_route`], the one lookup: with a providers
//! file, the model's `capabilities` there (an unlisted model is taken to have them all); without
//! one, the `MODEL_CAPABILITIES` setting (`model=chat,tools;other=chat,vision`), a model it does
//! not list being taken to have them all (Sable forwards and the provider decides).

use std::collections::HashMap;

use axum::http::StatusCode;
use common::AppError;
use serde_json::{json, Value};

pub use crate::registry::capability::Capability;

fn bit(c: Capability) -> u8 {
    1 << (c as u8)
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities(u8);

impl Capabilities {
    pub fn all() -> Self {
        Capability::ALL.into_iter().fold(Self(0), Self::with)
    }

    #[must_use]
    pub fn with(self, c: Capability) -> Self {
        Self(self.0 | bit(c))
    }

    pub fn has(self, c: Capability) -> bool {
        self.0 & bit(c) != 0
    }

    pub fn from_list(list: &[Capability]) -> Self {
        list.iter().fold(Self(0), |set, c| set.with(*c))
    }

    /// The first capability of `needed` this set lacks (with the request parameter that needs
    /// it), if any.
    pub fn missing(self, needed: &[Need]) -> Option<&Need> {
        needed.iter().find(|n| !self.has(n.capability))
    }
}

/// One capability a request needs, and the parameter that makes it need it (for the error's
/// `param`, e.g. `messages.1.content.0` or `tools`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub capability: Capability,
    pub param: String,
}

/// What an OpenAI chat-completions request needs of its model.
pub fn needs(body: &Value) -> Vec<Need> {
    let mut needs = vec![Need {
        capability: Capability::Chat,
        param: "messages".to_owned(),
    }];
    let mut push = |capability: Capability, param: String| {
        if !needs.iter().any(|n| n.capability == capability) {
            needs.push(Need { capability, param });
        }
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, message) in messages.iter().enumerate() {
        if let Some(parts) = message.get("content").and_then(Value::as_array) {
            if let Some(j) = parts
                .iter()
                .position(|p| p.get("type").and_then(Value::as_str) == Some("image_url"))
            {
                push(Capability::Vision, format!("messages.{i}.content.{j}"));
            }
        }
        let role = message.get("role").and_then(Value::as_str);
        if matches!(role, Some("tool" | "function")) {
            push(Capability::Tools, format!("messages.{i}.role"));
        }
        if message
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty())
        {
            push(Capability::Tools, format!("messages.{i}.tool_calls"));
        }
    }
    for key in ["tools", "functions"] {
        if body
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty())
        {
            push(Capability::Tools, key.to_owned());
        }
    }
    let format = body
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str);
    if matches!(format, Some("json_object" | "json_schema")) {
        push(Capability::Json, "response_format".to_owned());
    }
    needs
}

/// Capabilities per model id.
#[derive(Debug, Clone, Default)]
pub struct CapabilityTable {
    models: HashMap<String, Capabilities>,
}

impl CapabilityTable {
    /// `model=cap,cap;model=cap` (spaces allowed). Fails with a sentence naming the entry.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut models = HashMap::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((model, caps)) = entry.rsplit_once('=') else {
                return Err(format!(
                    "MODEL_CAPABILITIES entry `{entry}` is not `model=capability,…`"
                ));
            };
            let mut set = Capabilities::default();
            for name in caps.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                let c = Capability::parse(name).ok_or_else(|| {
                    format!(
                        "MODEL_CAPABILITIES entry `{entry}`: unknown capability `{name}` (chat, embeddings, vision, tools, json)"
                    )
                })?;
                set = set.with(c);
            }
            models.insert(model.trim().to_owned(), set);
        }
        Ok(Self { models })
    }

    /// The capabilities of `model`: the one lookup (see the module docs).
    pub fn of(&self, model: &str) -> Capabilities {
        self.models
            .get(model.trim())
            .copied()
            .unwrap_or_else(Capabilities::all)
    }
}

/// What `route` can do (see the module docs).
pub fn of_route(
    table: &CapabilityTable,
    registry: &crate::registry::Registry,
    route: &crate::registry::Route,
) -> Capabilities {
    if registry.is_single() || !route.model.listed {
        table.of(route.model_id())
    } else {
        Capabilities::from_list(&route.model.config.capabilities)
    }
}

/// The 400 for a request its model cannot serve: OpenAI's `invalid_request_error` once the
/// gateway renders it, with `param` naming what needs the capability and the code
/// `model_lacks_capability`.
pub fn refusal(model: &str, need: &Need) -> AppError {
    let capability = need.capability.as_str();
    let message = format!(
        "The model `{model}` does not support `{capability}`, which this request needs (`{}`)",
        need.param
    );
    let mut loc = vec![Value::from("body")];
    loc.extend(need.param.split('.').map(|p| match p.parse::<u64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(p),
    }));
    AppError::Upstream {
        status: StatusCode::BAD_REQUEST,
        code: "MODEL_LACKS_CAPABILITY".to_owned(),
        message: message.clone(),
        detail: Some(json!([{ "loc": loc, "msg": message, "type": "missing_capability" }])),
        retryable: Some(false),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_need_what_their_fields_use() {
        let plain = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(needs(&plain).len(), 1);
        let rich = json!({
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "u"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "r"}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}}
        });
        let got: Vec<_> = needs(&rich)
            .into_iter()
            .map(|n| (n.capability, n.param))
            .collect();
        assert_eq!(
            got,
            [
                (Capability::Chat, "messages".to_owned()),
                (Capability::Vision, "messages.0.content.1".to_owned()),
                (Capability::Tools, "messages.1.role".to_owned()),
                (Capability::Json, "response_format".to_owned()),
            ]
        );
        let text = json!({"messages": [], "response_format": {"type": "text"}});
        assert_eq!(needs(&text).len(), 1);
    }

    #[test]
    fn the_table_lists_some_models_and_assumes_all_for_the_rest() {
        let t = CapabilityTable::parse("small=chat, json; org/vis = chat,vision").unwrap();
        assert!(t.of("small").has(Capability::Json));
        assert!(!t.of("small").has(Capability::Tools));
        assert!(t.of("org/vis").has(Capability::Vision));
        assert_eq!(t.of("other"), Capabilities::all());
        let need = needs(&json!({"messages": [], "tools": [{}]}));
        assert_eq!(
            t.of("small").missing(&need).map(|n| n.capability),
            Some(Capability::Tools)
        );
        assert!(CapabilityTable::parse("x=chat,telepathy")
            .unwrap_err()
            .contains("telepathy"));
        assert!(CapabilityTable::parse("nonsense").is_err());
        let e = refusal("small", &need[1]);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.to_string().contains("small") && e.to_string().contains("tools"));
    }
}
