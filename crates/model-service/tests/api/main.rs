//! model-service integration tests: the real router on 127.0.0.1:0, driven over HTTP.
//! The OpenAI-compatible provider is tested against a fake server started by the tests
//! (`fake_openai`); nothing leaves 127.0.0.1.

// Test support code may fail loudly, like the tests themselves (clippy.toml allows it inside
// #[test] functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod deadline;
mod embeddings;
mod fake_openai;
mod health;
mod helpers;
mod inference;
mod openai;
mod providers;
mod stream;
