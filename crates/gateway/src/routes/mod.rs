//! The gateway's routes, one module per resource. Each module exposes `router()` and an
//! `ApiDoc` (utoipa) that `openapi.rs` merges into the published document.

pub mod account;
pub mod auth;
pub mod chat;
pub mod collections;
pub mod embeddings;
pub mod feedback;
pub mod files;
pub mod folders;
pub mod forward;
pub mod generate;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod models;
pub mod openai;
pub mod providers;
pub mod retrieve;
pub mod shares;
pub mod workshop;

use axum::Router;

use crate::state::AppState;

pub fn router(config: &crate::config::Config) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(generate::router())
        .merge(models::router())
        .merge(openai::router())
        .merge(embeddings::router())
        .merge(chat::router())
        .merge(folders::router())
        .merge(shares::router())
        .merge(feedback::router())
        .merge(jobs::router())
        .merge(files::router(&config.files))
        .merge(collections::router())
        .merge(retrieve::router())
        .merge(metrics::router())
        .merge(providers::router())
        .merge(workshop::router())
}
