//! worker-service integration tests: the real router and queue on 127.0.0.1:0 against a fresh
//! Postgres database, a fake model service whose behaviour each test controls, and, where a
//! real process matters, the `worker-service` binary itself.

mod api;
mod helpers;
mod queue;
mod recovery;
mod repo;
