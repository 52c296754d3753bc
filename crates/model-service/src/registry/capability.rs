//! What a model can do. Routing refuses a request whose model lacks what it needs (an
//! embeddings call to a chat-only model); the lists tell clients what each model offers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Chat completions.
    Chat,
    /// Embeddings.
    Embeddings,
    /// Images in chat messages.
    Vision,
    /// Tool (function) calls.
    Tools,
    /// JSON mode / structured output.
    Json,
}

impl Capability {
    pub const ALL: [Capability; 5] = [
        Self::Chat,
        Self::Embeddings,
        Self::Vision,
        Self::Tools,
        Self::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
            Self::Vision => "vision",
            Self::Tools => "tools",
            Self::Json => "json",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The names, for error messages: `chat, embeddings, vision, tools, json`.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// What a model is assumed to do when nothing says otherwise: embeddings models are
    /// recognised by their id (`text-embedding-3-small`, `nomic-embed-text`, `mock-embed`).
    pub fn guess(id: &str) -> Vec<Capability> {
        if id.to_lowercase().contains("embed") {
            vec![Self::Embeddings]
        } else {
            vec![Self::Chat]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.as_str()), Some(c));
        }
        assert_eq!(Capability::parse("audio"), None);
        assert_eq!(
            Capability::guess("nomic-embed-text"),
            [Capability::Embeddings]
        );
        assert_eq!(Capability::guess("gpt-4o"), [Capability::Chat]);
    }
}
