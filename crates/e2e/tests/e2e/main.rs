//! End-to-end: the three services in one process (mock provider), driven through the
//! gateway's public API only.

// Test code fails loudly: unwrap/expect/panic are the assertions here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod chat;
mod chat_background;
mod error_classes;
mod files;
mod grounded;
mod grounded_openai;
mod jobs;
mod knowledge_services;
mod limits;
mod metrics_summary;
mod observability;
mod openai_api;
mod openai_fidelity;
mod providers;
mod quota;
mod replicas;
mod startup;
