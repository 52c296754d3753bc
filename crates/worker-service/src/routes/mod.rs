//! The worker-service HTTP API, one module per resource.

pub mod collections;
pub mod files;
pub mod health;
pub mod jobs;
pub mod retrieve;
