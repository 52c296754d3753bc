//! The worker-service HTTP API, one module per resource.

pub mod health;
pub mod jobs;
