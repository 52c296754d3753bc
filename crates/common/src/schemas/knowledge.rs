//! Knowledge on a chat (issue 24): which files a chat or a request grounds its answers in, and
//! the numbered sources an answer was given (`meta.sources` of a stored answer, the `meta`
//! event of a stream, `sources` of an OpenAI-compatible answer).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::IDS_MAX;
use crate::validation::{Checker, FieldError};

/// The files a chat (or one request) answers from: the named files and every file of the
/// named collections. Both empty: no knowledge, answers are not grounded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KnowledgeSettings {
    #[serde(default)]
    pub collection_ids: Vec<Uuid>,
    #[serde(default)]
    pub file_ids: Vec<Uuid>,
}

impl KnowledgeSettings {
    pub fn is_empty(&self) -> bool {
        self.collection_ids.is_empty() && self.file_ids.is_empty()
    }

    /// Both sets of ids, each without repeats, `other`'s after `self`'s.
    pub fn union(&self, other: &Self) -> Self {
        fn merged(a: &[Uuid], b: &[Uuid]) -> Vec<Uuid> {
            let mut out: Vec<Uuid> = Vec::with_capacity(a.len() + b.len());
            for id in a.iter().chain(b) {
                if !out.contains(id) {
                    out.push(*id);
                }
            }
            out
        }
        Self {
            collection_ids: merged(&self.collection_ids, &other.collection_ids),
            file_ids: merged(&self.file_ids, &other.file_ids),
        }
    }

    /// At most [`IDS_MAX`] ids of each kind; `at` is where the object sits (`["body",
    /// "knowledge"]`, or `["body"]` for top-level fields).
    pub fn check(&self, c: &mut Checker, at: &[&str]) {
        for (name, ids) in [
            ("collection_ids", &self.collection_ids),
            ("file_ids", &self.file_ids),
        ] {
            let mut loc: Vec<serde_json::Value> = at.iter().map(|s| (*s).into()).collect();
            loc.push(name.into());
            c.list_len(loc, ids.len(), 0, IDS_MAX);
        }
    }
}

/// One numbered passage an answer was given, as stored in `meta.sources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    /// The number the model cites it by: `[n]`, 1-based.
    pub n: u32,
    pub file_id: Uuid,
    pub filename: String,
    pub chunk_id: Uuid,
    /// The PDF page the passage starts on (1-based).
    pub page: Option<i32>,
    /// The heading path above the passage, e.g. `Guide > Install`.
    pub heading: Option<String>,
    /// The passage's text exactly as the model was given it (kept so that a citation stays
    /// readable after its file is deleted).
    pub snippet: String,
    /// The retrieval score (reciprocal rank fusion; higher is better).
    pub score: f64,
    /// Character offsets of the passage in the file's extracted text (to highlight it there).
    pub char_start: i32,
    pub char_end: i32,
    /// True once the file was deleted: the snippet is all that is left of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// Validation errors of a knowledge object, or none.
pub fn knowledge_errors(k: &KnowledgeSettings, at: &[&str]) -> Vec<FieldError> {
    let mut c = Checker::new();
    k.check(&mut c, at);
    c.finish()
}
