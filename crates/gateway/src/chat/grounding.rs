//! Grounded answers (issue 24): for a turn with knowledge (the chat's files and collections,
//! and those the request names), the gateway asks the worker for the passages that answer the
//! user's message (hybrid retrieval, `POST /retrieve`), keeps the best ones within a token
//! budget shared fairly between the files, numbers them, and puts them with the instruction
//! to cite them (`common::grounding`, quoted in ARCHITECTURE.md) in front of the system prompt.
//! The numbered passages become the answer's `meta.sources`; the numbers it cites, `meta.cited`.
//!
//! The ids a request names are checked first (404 unless every one is the caller's); a chat's
//! stored ids were checked when they were set, and one deleted since is skipped.

use std::collections::HashMap;
use std::time::Instant;

use common::grounding;
use common::schemas::limits::SYSTEM_PROMPT_MAX_CHARS;
use common::schemas::{
    GenerateRequest, KnowledgeSettings, Passage, RetrieveRequest, RetrieveResponse, Source, Usage,
    QUERY_MAX_CHARS, SKIP_MISSING_HEADER,
};
use common::AppResult;
use reqwest::Method;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::routes::forward::worker_request;
use crate::state::AppState;

/// Passages asked of the retrieval: enough for several files to each have a few.
const CANDIDATES: i64 = 24;
/// Most sources one answer is given, whatever the budget.
pub const MAX_SOURCES: usize = 8;

/// 404 (`FILE_NOT_FOUND`, `COLLECTION_NOT_FOUND`) unless every id is the caller's. Nothing is
/// asked when there are none.
pub async fn check_owned(
    state: &AppState,
    user_id: Uuid,
    knowledge: &KnowledgeSettings,
) -> AppResult<()> {
    if knowledge.is_empty() {
        return Ok(());
    }
    state
        .worker
        .send(
            state
                .worker
                .request(Method::POST, "/knowledge/check")
                .header(common::schemas::USER_ID_HEADER, user_id.to_string())
                .json(knowledge),
        )
        .await?;
    Ok(())
}

/// The knowledge a request names itself (`file_ids`, `collection_ids`), checked to be the
/// caller's (404 otherwise) and taken out of the request (the model service has no use for
/// it). Call it before anything is stored for the turn.
pub async fn named_by(
    state: &AppState,
    user: &CurrentUser,
    request: &mut GenerateRequest,
) -> AppResult<KnowledgeSettings> {
    let named = request.knowledge();
    request.file_ids = None;
    request.collection_ids = None;
    check_owned(state, user.id, &named).await?;
    Ok(named)
}

/// Grounds a turn when it has knowledge: the request's own (`named`) and, in a session, the
/// chat's. `None` (the request unchanged) without any. The sources go with the conversation,
/// so the stored answer carries them; a failed retrieval is stored as the turn's failure.
pub async fn for_turn(
    state: &AppState,
    user: &CurrentUser,
    named: &KnowledgeSettings,
    conversation: &mut Option<super::conversation::Conversation>,
    request: &mut GenerateRequest,
) -> AppResult<Option<Grounding>> {
    let own = request.system_prompt.as_deref().unwrap_or_default();
    // The grounding and the chat's own system prompt share the model service's limit.
    let room = SYSTEM_PROMPT_MAX_CHARS
        .saturating_sub(own.chars().count() + grounding::INSTRUCTION.len() + 200)
        / 4;
    let turn = Turn {
        query: &request.prompt,
        room_tokens: room,
        route: "chat",
    };
    let Some((grounded, block)) = grounded_turn(state, user, named, conversation, turn).await?
    else {
        return Ok(None);
    };
    request.system_prompt = Some(if own.trim().is_empty() {
        block
    } else {
        format!("{block}\n\n{own}")
    });
    Ok(Some(grounded))
}

/// The turn to ground: the user's message (the query), the tokens of passages the request
/// has room for at most, and the route it came by (a metrics label: `chat` or `api`).
#[derive(Debug, Clone, Copy)]
pub struct Turn<'a> {
    pub query: &'a str,
    pub room_tokens: usize,
    pub route: &'static str,
}

/// [`for_turn`] for any kind of request: the sources and the grounding block to give the
/// model (the caller puts it where its kind of request takes a system prompt), or `None`
/// without knowledge.
pub async fn grounded_turn(
    state: &AppState,
    user: &CurrentUser,
    named: &KnowledgeSettings,
    conversation: &mut Option<super::conversation::Conversation>,
    turn: Turn<'_>,
) -> AppResult<Option<(Grounding, String)>> {
    let knowledge = match conversation.as_ref() {
        Some(c) => c.knowledge.union(named),
        None => named.clone(),
    };
    if knowledge.is_empty() {
        return Ok(None);
    }
    match ground(state, user, &knowledge, turn).await {
        Ok((grounding, block)) => {
            if let Some(c) = conversation.as_mut() {
                c.grounding = Some(grounding.clone());
            }
            Ok(Some((grounding, block)))
        }
        Err(e) => {
            if let Some(c) = conversation.take() {
                let failed = Err(common::AppError::Upstream {
                    status: e.status(),
                    code: e.code().to_owned(),
                    message: e.public_message(),
                    detail: None,
                    retryable: e.retryable(),
                    retry_after: None,
                });
                c.finish_sync(state, &failed).await;
            }
            Err(e)
        }
    }
}

/// The sources of one grounded turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grounding {
    pub sources: Vec<Source>,
    /// For a continuation: the text of the answer it continues (whose citations count too).
    pub continues: String,
}

/// The grounding of an answer being continued (`…/continue`): the same sources it was given
/// (its `meta.sources`, snippets as they were, numbered as before), so the continuation can
/// cite them and `[n]` still means what it meant in `earlier`, the text it continues. Not
/// retrieved again: a new search could number other passages. The block for the model, or
/// `None` for an answer without sources.
pub fn reused(meta: &serde_json::Value, earlier: &str) -> Option<(Grounding, String)> {
    let sources: Vec<Source> = serde_json::from_value(meta.get("sources")?.clone()).ok()?;
    let numbered: Vec<grounding::Passage<'_>> = sources
        .iter()
        .map(|s| grounding::Passage {
            filename: &s.filename,
            page: s.page,
            heading: s.heading.as_deref(),
            text: &s.snippet,
        })
        .collect();
    let block = grounding::render(&numbered);
    Some((
        Grounding {
            sources,
            continues: earlier.to_owned(),
        },
        block,
    ))
}

impl Grounding {
    /// The `event: meta` of a stream that asked for it: `{"sources": [...]}` on one line.
    pub fn meta_json(&self) -> String {
        serde_json::json!({ "sources": self.sources }).to_string()
    }

    /// The numbers `answer` (after the text it continues, if any) cites among these sources.
    pub fn cited(&self, answer: &str) -> Vec<u32> {
        if self.continues.is_empty() {
            grounding::cited(answer, self.sources.len())
        } else {
            grounding::cited(&format!("{}{answer}", self.continues), self.sources.len())
        }
    }
}

/// Retrieves passages for the turn's query from `knowledge` and keeps the best within the
/// budget: the sources, and the grounding block that numbers them for the model
/// (`common::grounding`). The retrieval and the query's embedding count towards the caller's
/// usage. Stored knowledge may name files deleted since: those are skipped, not an error.
pub async fn ground(
    state: &AppState,
    user: &CurrentUser,
    knowledge: &KnowledgeSettings,
    turn: Turn<'_>,
) -> AppResult<(Grounding, String)> {
    let started = Instant::now();
    let query: String = turn.query.trim().chars().take(QUERY_MAX_CHARS).collect();
    let retrieval = RetrieveRequest {
        query,
        collection_ids: Some(knowledge.collection_ids.clone()),
        file_ids: Some(knowledge.file_ids.clone()),
        top_k: Some(CANDIDATES),
    };
    let found: RetrieveResponse = state
        .worker
        .send_json(
            worker_request(state, user, Method::POST, "/retrieve")
                .header(SKIP_MISSING_HEADER, "1")
                .json(&retrieval),
        )
        .await?;
    record_retrieval(state, user.id, &found, started, turn.route);

    let budget = state.config.grounding_budget_tokens.min(turn.room_tokens);
    let chosen = share_budget(found.passages, budget, MAX_SOURCES);
    metrics::counter!("gateway_grounded_answers_total").increment(1);
    metrics::counter!("gateway_grounding_passages_total").increment(chosen.len() as u64);
    state.metrics_window.record_grounding(chosen.len() as u64);

    let numbered: Vec<grounding::Passage<'_>> = chosen
        .iter()
        .map(|p| grounding::Passage {
            filename: &p.filename,
            page: p.page,
            heading: p.heading.as_deref(),
            text: &p.text,
        })
        .collect();
    let block = grounding::render(&numbered);
    let sources = chosen
        .into_iter()
        .zip(1u32..)
        .map(|(p, n)| Source {
            n,
            file_id: p.file_id,
            filename: p.filename,
            chunk_id: p.chunk_id,
            page: p.page,
            heading: p.heading,
            snippet: p.text,
            score: p.score,
            char_start: p.char_start,
            char_end: p.char_end,
            deleted: false,
        })
        .collect();
    Ok((
        Grounding {
            sources,
            continues: String::new(),
        },
        block,
    ))
}

/// Counts one retrieval: its latency (Prometheus), and the query's embedding tokens plus one
/// request towards the caller's usage and quota. `route` is `chat`, `openai` or `api`.
pub fn record_retrieval(
    state: &AppState,
    user: Uuid,
    found: &RetrieveResponse,
    started: Instant,
    route: &'static str,
) {
    let elapsed = started.elapsed();
    metrics::histogram!("gateway_retrieval_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    state.metrics_window.record_retrieval(elapsed);
    // Retrieval embeds the query: counted as a request of the embeddings model, unpriced.
    state.usage.add(
        user,
        "embeddings",
        found.usage.unwrap_or_else(|| Usage::new(0, 0)),
        None,
    );
}

/// The passages to give the model, best first: taken round robin over the files (each file's
/// best passage, in order of score, then each file's second, …) while they fit `budget`
/// estimated tokens, at most `max` — so one long file that matches everywhere cannot fill the
/// budget alone. A passage that does not fit is skipped, and a shorter one may still fit. The
/// chosen passages are then numbered by score, so `[1]` is the best match.
pub fn share_budget(passages: Vec<Passage>, budget: usize, max: usize) -> Vec<Passage> {
    // Per file, its passages best first; files in the order of their best passage.
    let mut order: Vec<Uuid> = Vec::new();
    let mut by_file: HashMap<Uuid, Vec<Passage>> = HashMap::new();
    let mut ranked = passages;
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    for p in ranked {
        if !by_file.contains_key(&p.file_id) {
            order.push(p.file_id);
        }
        by_file.entry(p.file_id).or_default().push(p);
    }
    for list in by_file.values_mut() {
        list.reverse(); // pop() takes the best
    }
    let mut chosen: Vec<Passage> = Vec::new();
    let mut used = 0usize;
    loop {
        let mut took_any = false;
        for file in &order {
            if chosen.len() >= max {
                break;
            }
            let Some(list) = by_file.get_mut(file) else {
                continue;
            };
            while let Some(p) = list.pop() {
                let cost = grounding::estimated_tokens(&p.text);
                if used + cost <= budget {
                    used += cost;
                    chosen.push(p);
                    took_any = true;
                    break;
                }
            }
        }
        if !took_any || chosen.len() >= max {
            break;
        }
    }
    chosen.sort_by(|a, b| b.score.total_cmp(&a.score));
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(file: u128, score: f64, chars: usize) -> Passage {
        Passage {
            file_id: Uuid::from_u128(file),
            filename: format!("f{file}.txt"),
            chunk_id: Uuid::new_v4(),
            page: None,
            heading: None,
            text: "x".repeat(chars),
            score,
            vector_rank: None,
            text_rank: None,
            char_start: 0,
            char_end: i32::try_from(chars).unwrap_or(0),
        }
    }

    fn files(chosen: &[Passage]) -> Vec<u128> {
        chosen.iter().map(|p| p.file_id.as_u128()).collect()
    }

    #[test]
    fn one_file_that_matches_everywhere_does_not_fill_the_budget_alone() {
        // File 1 has the ten best passages; file 2 and 3 one weaker each. 100 tokens apiece,
        // a 400-token budget: file 1 gets two, the others one each.
        let mut passages: Vec<Passage> = (0..10)
            .map(|i| passage(1, 1.0 - f64::from(i) * 0.01, 400))
            .collect();
        passages.push(passage(2, 0.5, 400));
        passages.push(passage(3, 0.4, 400));
        let chosen = share_budget(passages, 400, 8);
        assert_eq!(files(&chosen), vec![1, 1, 2, 3]);
        // Numbered by score: [1] is the best passage overall.
        assert!(chosen.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn a_passage_too_long_for_what_is_left_is_skipped_for_a_shorter_one() {
        let passages = vec![
            passage(1, 0.9, 400),  // 100 tokens
            passage(2, 0.8, 2000), // 500: never fits
            passage(2, 0.7, 200),  // 50
        ];
        let chosen = share_budget(passages, 200, 8);
        assert_eq!(files(&chosen), vec![1, 2]);
        assert_eq!(chosen[1].text.len(), 200);
    }

    #[test]
    fn at_most_max_sources_and_nothing_from_nothing() {
        let passages = (0..20).map(|i| passage(i, 1.0, 4)).collect();
        assert_eq!(share_budget(passages, 10_000, 8).len(), 8);
        assert!(share_budget(Vec::new(), 1000, 8).is_empty());
    }
}
