//! worker-service integration tests: the real router and queue on 127.0.0.1:0 against a fresh
//! Postgres database, the real model service in-process (mock provider: each prompt's
//! behaviour is set by its `[mock:…]` markers), and, where a real process matters, the
//! `worker-service` binary itself. There is no hand-written fake model service: the worker
//! meets the statuses, error classes and `retryable` flags it meets in production.

mod api;
mod deleted_owner;
mod helpers;
mod knowledge;
mod queue;
mod recovery;
mod repo;
mod retry_delete;
