//! HTTP routes of the model service (contract §7.1, plus `GET /api/v1/models` and `POST /embeddings`).

mod embeddings;
mod health;
mod inference;
mod models;
mod openai_chat;
pub mod providers;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(embeddings::router())
        .merge(inference::router())
        .merge(models::router())
        .merge(openai_chat::router())
        .merge(providers::router())
}
