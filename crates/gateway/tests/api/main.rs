//! Gateway integration tests: the real router on 127.0.0.1:0 against a fresh Postgres
//! database; cross-service tests start the model service in the same process.

// Test code fails loudly: unwrap/expect/panic are the assertions here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod background;
mod basics;
mod branches;
mod chat;
mod chat_settings;
mod chat_store;
mod continuation;
mod conversation;
mod db_outage;
mod docs_reader;
mod edge;
mod failed_answers;
mod feedback;
mod folders;
mod generate;
mod helpers;
mod limits_config;
mod migration_backfill;
mod search;
mod session_paging;
mod sharing;
mod titles;
mod workshop;
