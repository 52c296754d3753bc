//! What Sable reads of OpenAI chat-completion answers it forwards (`/v1/chat/completions`):
//! the gateway and the model service pass the provider's JSON on unchanged and only look at
//! these few fields (usage for quotas and metrics, text and tool calls for a stored session).
//! Every field is optional, so any OpenAI-compatible server's chunks read.

use serde::Deserialize;
use serde_json::Value;

use super::Usage;

/// One `chat.completion.chunk` of a stream, leniently.
#[derive(Debug, Default, Deserialize)]
pub struct ChunkView {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<ChunkChoiceView>,
    #[serde(default)]
    pub usage: Option<UsageView>,
    /// An error object some servers send inside a stream.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ChunkChoiceView {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<DeltaView>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeltaView {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// Fragments of tool calls, kept as sent.
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
}

/// OpenAI's `usage` object; the details (`prompt_tokens_details`, …) are not read.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct UsageView {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
}

impl UsageView {
    pub fn usage(self) -> Usage {
        Usage::new(self.prompt_tokens, self.completion_tokens)
    }
}

impl ChunkView {
    /// The usage-only chunk that ends a stream asked with `stream_options.include_usage`.
    pub fn is_usage_only(&self) -> bool {
        self.choices.is_empty() && self.usage.is_some()
    }

    /// Whether this chunk carries any of the answer: text, a refusal, a tool call or a
    /// finish reason (a role-only first chunk carries none).
    pub fn carries_answer(&self) -> bool {
        self.choices.iter().any(|c| {
            c.finish_reason.is_some()
                || c.delta.as_ref().is_some_and(|d| {
                    d.content.as_deref().is_some_and(|s| !s.is_empty())
                        || d.refusal.as_deref().is_some_and(|s| !s.is_empty())
                        || d.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
                })
        })
    }
}

/// The usage of a whole `chat.completion` (its JSON bytes), if it has one.
pub fn completion_usage(answer: &[u8]) -> Option<Usage> {
    serde_json::from_slice::<ChunkView>(answer)
        .ok()?
        .usage
        .map(UsageView::usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_are_read_leniently() {
        let role: ChunkView = serde_json::from_value(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
        )
        .unwrap();
        assert!(!role.carries_answer() && !role.is_usage_only());
        let call: ChunkView = serde_json::from_value(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}}]})).unwrap();
        assert!(call.carries_answer());
        let usage: ChunkView = serde_json::from_value(json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "completion_tokens_details": {"reasoning_tokens": 0}}})).unwrap();
        assert!(usage.is_usage_only());
        assert_eq!(usage.usage.unwrap().usage().total_tokens, 7);
        assert_eq!(
            completion_usage(br#"{"choices": [{"message": {}}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}"#),
            Some(Usage::new(1, 2))
        );
        assert_eq!(completion_usage(b"{}"), None);
        assert_eq!(completion_usage(b"not json"), None);
    }
}
