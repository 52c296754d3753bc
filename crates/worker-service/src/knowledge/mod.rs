//! Knowledge (issue 23): the worker service owns the `files`, `collections`,
//! `collection_files` and `chunks` tables and the blobs, and runs ingestion as a job kind on
//! its `batch_jobs` queue. The gateway forwards the public API here with the caller's id.
//!
//! - [`store`]: the blob store (object_store: a local directory or S3-compatible);
//! - [`file_repo`]: files and collections SQL; [`ingest_repo`]: ingestion's fenced writes;
//! - [`extract`]: text out of PDF, DOCX, HTML, Markdown, text and CSV;
//! - [`chunk`]: token-sized, overlapping, structure-aware passages;
//! - [`embed`]: vectors through the model service's `POST /embeddings`;
//! - [`ingest`]: the job runner; [`reembed`]: new vectors after a change of embeddings model;
//!   [`file_job`]: the claim, cancel and shutdown skeleton both run in;
//! - [`retrieve`]: hybrid retrieval (full-text rank + [`vector`] similarity, fused by
//!   reciprocal rank fusion).

pub mod chunk;
pub mod embed;
pub mod extract;
pub(crate) mod file_job;
pub mod file_repo;
pub mod ingest;
pub mod ingest_repo;
pub mod reembed;
pub mod retrieve;
pub mod store;
pub mod vector;
