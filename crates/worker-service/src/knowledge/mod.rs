//! Knowledge (issue 23): the worker service owns the `files`, `collections`,
//! `collection_files` and `chunks` tables and the blobs, and runs ingestion as a job kind on
//! its `batch_jobs` queue. The gateway forwards the public API here with the caller's id.
//!
//! - [`store`]: the blob store (object_store: a local directory or S3-compatible);
//! - [`file_repo`]: files and collections SQL; [`ingest_repo`]: ingestion's fenced writes;
//! - [`extract`]: text out of PDF, DOCX, HTML, Markdown, text and CSV;
//! - [`chunk`]: token-sized, overlapping, structure-aware passages;
//! - [`ingest`]: the job runner.

pub mod chunk;
pub mod extract;
pub mod file_repo;
pub mod ingest;
pub mod ingest_repo;
pub mod store;
