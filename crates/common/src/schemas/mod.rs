//! Wire schemas shared by the services (contract §8). Field names and shapes are the
//! contract's; anything beyond it is an optional, additive field.

mod chat;
mod embeddings;
mod files;
mod generate;
mod jobs;
mod knowledge;
pub mod openai;

pub use chat::*;
pub use embeddings::*;
pub use files::*;
pub use generate::*;
pub use jobs::*;
pub use knowledge::*;

/// Limits from the contract (§19.4), inclusive, counted in code points.
pub mod limits {
    pub const PROMPT_MAX_CHARS: usize = 10_000;
    pub const MAX_TOKENS_MIN: i64 = 1;
    pub const MAX_TOKENS_MAX: i64 = 8192;
    pub const TEMPERATURE_MIN: f64 = 0.0;
    pub const TEMPERATURE_MAX: f64 = 2.0;
    /// The reference had no limit (§17.2); 20 000 code points keeps long personas possible.
    pub const SYSTEM_PROMPT_MAX_CHARS: usize = 20_000;
    pub const MODEL_NAME_MAX_CHARS: usize = 200;
    pub const JOB_PROMPTS_MIN: usize = 1;
    pub const JOB_PROMPTS_MAX: usize = 100;
    /// Context turns a client may send inline with a generate request.
    pub const MESSAGES_MAX: usize = 200;
    pub const MESSAGE_CONTENT_MAX_CHARS: usize = 100_000;
    /// Texts in one embeddings request (OpenAI's own limit).
    pub const EMBEDDING_INPUTS_MAX: usize = 2048;
    pub const EMBEDDING_INPUT_MAX_CHARS: usize = 100_000;
}

pub const DEFAULT_MAX_TOKENS: i64 = 1024;
pub const DEFAULT_TEMPERATURE: f64 = 0.7;
