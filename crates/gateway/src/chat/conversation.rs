//! Server-side conversations: with `session_id`, the gateway (not the browser) gives the model
//! the session's context and stores both turns, so an answer survives a closed tab.
//!
//! [`begin`] loads the system prompt and earlier turns into the request and stores the user
//! turn. For streams, a [`Recorder`] travels with the relayed stream, collects the answer,
//! and stores it when the stream ends, however it ends: `[DONE]`, `[ERROR]` (then
//! `meta.error = {code, message}`, with whatever text arrived before, even none: a failed turn
//! stays visible after a reload and can be retried), or the client going away (then
//! `meta.stopped = true`, as chat products do).

use std::time::Instant;

use common::schemas::limits::SYSTEM_PROMPT_MAX_CHARS;
use common::schemas::{GenerateRequest, GenerateResponse, Usage};
use common::sse::StreamMeta;
use common::validation::FieldError;
use common::{AppError, AppResult};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::chat::grounding::{self, Grounding};
use crate::chat::repo::{self as chat_repo, AnswerError, AssistantMeta, RepoError};
use crate::chat::session_not_found;
use crate::state::AppState;

/// A generation that belongs to a chat session.
#[derive(Debug)]
pub struct Conversation {
    /// Whose session it is: every write below is scoped by this user.
    user_id: Uuid,
    pub session_id: Uuid,
    /// The stored user turn, returned to the client as `X-User-Message-Id` so it can later
    /// regenerate or edit from it (`replace_from_message_id`).
    pub user_message_id: Uuid,
    /// The model asked for (or "" for the default) until the model service tells us.
    requested_model: String,
    /// Set when this generation continues an assistant message: the answer is appended to it
    /// instead of being stored as a new message.
    continues: Option<Uuid>,
    /// The chat's own knowledge (files and collections it answers from).
    pub knowledge: common::schemas::KnowledgeSettings,
    /// A grounded turn: the sources the model was given (stored in `meta.sources`).
    pub grounding: Option<Grounding>,
}

/// What the model is told after the partial answer when asked to continue it.
pub const CONTINUE_PROMPT: &str =
    "Continue your last answer exactly where it stopped, without repeating anything.";

/// A generation that continues assistant message `message_id` of the session (an answer
/// stopped early, `meta.stopped`, or cut at `max_tokens`, `finish_reason = "length"`). The model
/// gets the session's system prompt, the conversation up to and including that partial answer
/// (as the last assistant turn) and [`CONTINUE_PROMPT`]; the continuation is appended to the
/// same message. 404 for an unknown session or message, 409 for a message that is not a
/// stopped or cut answer.
pub async fn begin_continue(
    state: &AppState,
    user: CurrentUser,
    session_id: Uuid,
    message_id: Uuid,
) -> AppResult<(GenerateRequest, Conversation)> {
    let Some((role, meta, parent)) =
        chat_repo::message_in_session(&state.db, user.id, session_id, message_id).await?
    else {
        return Err(
            if chat_repo::session_exists(&state.db, user.id, session_id).await? {
                AppError::not_found("Message not found in this session")
            } else {
                session_not_found()
            },
        );
    };
    let meta = meta.unwrap_or_default();
    let cut = meta["stopped"] == serde_json::Value::Bool(true) || meta["finish_reason"] == "length";
    if role != common::schemas::Role::Assistant || !cut {
        return Err(AppError::Conflict(
            "Only an answer that was stopped or cut at max_tokens can be continued".to_owned(),
        ));
    }
    let context = chat_repo::load_context_through(
        &state.db,
        user.id,
        session_id,
        Some(message_id),
        state.config.context_budget_chars,
    )
    .await?
    .ok_or_else(session_not_found)?;
    let mut request = GenerateRequest::new(CONTINUE_PROMPT);
    apply_session_settings(&mut request, &context);
    crate::access::check_generate(state, &user, &mut request).await?;
    // A grounded answer goes on from the same sources, so the continuation can cite them.
    let earlier = context
        .turns
        .last()
        .filter(|t| t.role == common::schemas::Role::Assistant)
        .map_or("", |t| t.content.as_str());
    let grounding = grounding::reused(&meta, earlier);
    request.system_prompt = context.system_prompt;
    let grounding = grounding.and_then(|(grounding, block)| {
        let own = request.system_prompt.as_deref().unwrap_or_default();
        let system = if own.trim().is_empty() {
            block
        } else {
            format!("{block}\n\n{own}")
        };
        // Only when it fits the model service's limit (a system prompt grown since may not).
        (system.chars().count() <= SYSTEM_PROMPT_MAX_CHARS).then(|| {
            request.system_prompt = Some(system);
            grounding
        })
    });
    request.messages = Some(context.turns);
    Ok((
        request,
        Conversation {
            user_id: user.id,
            session_id,
            user_message_id: parent.unwrap_or(message_id),
            requested_model: String::new(),
            continues: Some(message_id),
            knowledge: common::schemas::KnowledgeSettings::default(),
            grounding,
        },
    ))
}

/// Loads the session's context into `request` and stores the user turn. Without
/// `session_id` nothing happens and the request is the reference's single-turn request.
pub async fn begin(
    state: &AppState,
    user: CurrentUser,
    request: &mut GenerateRequest,
) -> AppResult<Option<Conversation>> {
    let Some(raw) = request.session_id.as_deref() else {
        return Ok(None);
    };
    let session_id = Uuid::parse_str(raw.trim()).map_err(|_| {
        AppError::validation(FieldError::new(
            "uuid_parsing",
            &["body", "session_id"],
            "Input should be a valid UUID",
        ))
    })?;
    if let Some(raw) = request.replace_from_message_id.take() {
        let message_id = Uuid::parse_str(raw.trim()).map_err(|_| {
            AppError::validation(FieldError::new(
                "uuid_parsing",
                &["body", "replace_from_message_id"],
                "Input should be a valid UUID",
            ))
        })?;
        if !chat_repo::rewind_to_parent_of(&state.db, user.id, session_id, message_id).await? {
            return Err(AppError::not_found("Message not found in this session"));
        }
    }
    let context = chat_repo::load_context(
        &state.db,
        user.id,
        session_id,
        state.config.context_budget_chars,
    )
    .await?
    .ok_or_else(session_not_found)?;
    apply_session_settings(request, &context);
    // The session's own model is checked too, before anything is stored.
    crate::access::check_generate(state, &user, request).await?;
    if request.system_prompt.as_deref().is_none_or(str::is_empty) {
        request.system_prompt = context.system_prompt;
    }
    request.messages = Some(context.turns);
    let user_message_id =
        chat_repo::store_user_turn(&state.db, user.id, session_id, &request.prompt)
            .await?
            .ok_or_else(session_not_found)?;
    Ok(Some(Conversation {
        user_id: user.id,
        session_id,
        user_message_id,
        requested_model: request.requested_model().unwrap_or_default().to_owned(),
        continues: None,
        knowledge: context.knowledge,
        grounding: None,
    }))
}

/// The chat's own model, temperature and max_tokens apply where the request does not set them:
/// no (or an empty) model, and the contract's defaults for temperature (0.7) and max_tokens
/// (1024) — a request that sends exactly the default counts as not setting it.
fn apply_session_settings(request: &mut GenerateRequest, context: &chat_repo::SessionContext) {
    if request.requested_model().is_none() {
        if let Some(model) = &context.model {
            request.model = Some(model.clone());
        }
    }
    if let Some(t) = context.temperature {
        if request.temperature == common::schemas::DEFAULT_TEMPERATURE {
            request.temperature = t;
        }
    }
    if let Some(n) = context.max_tokens {
        if request.max_tokens == common::schemas::DEFAULT_MAX_TOKENS {
            request.max_tokens = n;
        }
    }
}

/// A conversation whose context the client sends itself (OpenAI-compatible clients send the
/// whole history every time): stores only `prompt` as the user turn now, and the answer when
/// the recorder finishes. The session's knowledge still applies: the chat shows what it
/// answers from, and its stored answers are grounded in that. 404 envelope when the session
/// is not the caller's.
pub async fn attach(
    state: &AppState,
    user: CurrentUser,
    session_id: Uuid,
    prompt: &str,
    requested_model: &str,
) -> AppResult<Conversation> {
    let knowledge = chat_repo::session_knowledge(&state.db, user.id, session_id)
        .await?
        .ok_or_else(session_not_found)?;
    let user_message_id = chat_repo::store_user_turn(&state.db, user.id, session_id, prompt)
        .await?
        .ok_or_else(session_not_found)?;
    Ok(Conversation {
        user_id: user.id,
        session_id,
        user_message_id,
        requested_model: requested_model.to_owned(),
        continues: None,
        knowledge,
        grounding: None,
    })
}

/// Response header naming the stored user turn.
pub const USER_MESSAGE_ID_HEADER: &str = "x-user-message-id";

impl Conversation {
    /// The user whose session this is.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// The `X-User-Message-Id` header for the response.
    pub fn header(&self) -> (axum::http::HeaderName, axum::http::HeaderValue) {
        (
            axum::http::HeaderName::from_static(USER_MESSAGE_ID_HEADER),
            axum::http::HeaderValue::from_str(&self.user_message_id.to_string())
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
        )
    }

    /// Stores the answer of a non-streaming generation; a failure is stored as an empty
    /// answer with `meta.error` (the client saw the error; a reload shows it too).
    pub async fn finish_sync(self, state: &AppState, result: &AppResult<GenerateResponse>) {
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                if self.continues.is_some() {
                    return;
                }
                let meta = AssistantMeta {
                    model: Some(self.requested_model.clone()).filter(|m| !m.is_empty()),
                    finish_reason: Some("error".to_owned()),
                    error: Some(AnswerError {
                        code: e.code().to_owned(),
                        message: e.public_message(),
                    }),
                    sources: self.grounding.as_ref().map(|g| g.sources.clone()),
                    ..AssistantMeta::default()
                };
                let _ = store_assistant(state, self.target(), "", meta).await;
                return;
            }
        };
        let meta = AssistantMeta {
            model: Some(response.model.clone()),
            latency_ms: response.latency_ms,
            ttft_ms: None,
            usage: Some(response.usage),
            cost_usd: response.cost_usd,
            finish_reason: Some(
                response
                    .finish_reason
                    .clone()
                    .unwrap_or_else(|| "stop".to_owned()),
            ),
            stopped: false,
            error: None,
            sources: self.grounding.as_ref().map(|g| g.sources.clone()),
            cited: self.grounding.as_ref().map(|g| g.cited(&response.text)),
        };
        // A failed save is logged; the client already has its answer.
        let _ = store_assistant(state, self.target(), &response.text, meta).await;
    }

    /// A recorder for a streamed answer; `started` is when the request arrived.
    pub fn recorder(self, state: AppState, started: Instant) -> Recorder {
        Recorder {
            state,
            conversation: self,
            started,
            first_token_at: None,
            text: String::new(),
            tokens: 0,
            meta: None,
            outcome: Outcome::Streaming,
            taken: false,
            request_id: common::request_id::current(),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Streaming,
    Done,
    Failed(AnswerError),
}

/// Collects a streamed answer and stores it when dropped.
pub struct Recorder {
    state: AppState,
    conversation: Conversation,
    started: Instant,
    first_token_at: Option<Instant>,
    text: String,
    tokens: u32,
    meta: Option<StreamMeta>,
    outcome: Outcome,
    /// Set once the answer was handed out for storing.
    taken: bool,
    request_id: Option<String>,
}

impl Recorder {
    pub fn token(&mut self, token: &str) {
        self.first_token_at.get_or_insert_with(Instant::now);
        self.tokens += 1;
        self.text.push_str(token);
    }

    pub fn meta(&mut self, meta: StreamMeta) {
        self.meta = Some(meta);
    }

    fn assistant_meta(&self) -> AssistantMeta {
        let ms = |d: std::time::Duration| (d.as_secs_f64() * 100_000.0).round() / 100.0;
        let meta = self.meta.as_ref();
        let model = meta
            .map(|m| m.model.clone())
            .or_else(|| Some(self.conversation.requested_model.clone()).filter(|m| !m.is_empty()));
        let (stopped, finish_reason, error) = match &self.outcome {
            Outcome::Streaming => (true, "stopped".to_owned(), None),
            Outcome::Failed(error) => (false, "error".to_owned(), Some(error.clone())),
            Outcome::Done => (
                false,
                meta.and_then(|m| m.finish_reason.clone())
                    .unwrap_or_else(|| "stop".to_owned()),
                None,
            ),
        };
        AssistantMeta {
            model,
            latency_ms: ms(self.started.elapsed()),
            ttft_ms: self.first_token_at.map(|t| ms(t - self.started)),
            usage: Some(meta.map_or_else(|| Usage::new(0, self.tokens), |m| m.usage)),
            cost_usd: meta.and_then(|m| m.cost_usd),
            finish_reason: Some(finish_reason),
            stopped,
            error,
            sources: self
                .conversation
                .grounding
                .as_ref()
                .map(|g| g.sources.clone()),
            cited: self
                .conversation
                .grounding
                .as_ref()
                .map(|g| g.cited(&self.text)),
        }
    }
}

impl Recorder {
    /// Records how the stream ended (`Ok` for `[DONE]`, `Err` for `[ERROR]`) and stores the
    /// answer now. The relay awaits this before it sends the final event, so a
    /// client that reloads on `[DONE]` finds the answer saved. `false` when the answer could
    /// not be saved (the relay then ends with `[ERROR]` instead of `[DONE]`).
    pub async fn finish(mut self, outcome: Result<(), AnswerError>) -> bool {
        self.outcome = match outcome {
            Ok(()) => Outcome::Done,
            Err(error) => Outcome::Failed(error),
        };
        let Some((text, meta)) = self.take_answer() else {
            return true;
        };
        let c = &self.conversation;
        store_assistant(&self.state, c.target(), &text, meta)
            .await
            .is_ok()
    }

    /// Stores the answer so far as stopped (`meta.stopped = true`, `finish_reason`
    /// `"stopped"`): an explicit stop or shutdown ended the generation. `false` when it could
    /// not be saved.
    pub async fn finish_stopped(mut self) -> bool {
        self.outcome = Outcome::Streaming;
        let Some((text, meta)) = self.take_answer() else {
            return true;
        };
        let c = &self.conversation;
        store_assistant(&self.state, c.target(), &text, meta)
            .await
            .is_ok()
    }

    /// The answer and its metadata, once; `None` when nothing was produced and nothing
    /// failed. A failure before the first token is still an answer (empty, with `meta.error`),
    /// except for a continuation: the message it continues keeps what it had.
    fn take_answer(&mut self) -> Option<(String, AssistantMeta)> {
        let failed = matches!(self.outcome, Outcome::Failed(_));
        // Once: the drop after `finish` finds nothing left to store.
        if std::mem::replace(&mut self.taken, true)
            || (self.text.is_empty() && !(failed && self.conversation.continues.is_none()))
        {
            return None;
        }
        let meta = self.assistant_meta();
        Some((std::mem::take(&mut self.text), meta))
    }
}

/// A recorder dropped before [`Recorder::store`] ran means the client went away mid-stream:
/// the partial answer is stored in the background, marked `stopped`.
impl Drop for Recorder {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some((text, meta)) = self.take_answer() else {
            return;
        };
        let state = self.state.clone();
        let target = self.conversation.target();
        let request_id = self
            .request_id
            .take()
            .unwrap_or_else(common::request_id::generate);
        // The client may be gone; the answer is stored regardless.
        runtime.spawn(common::request_id::scope(request_id, async move {
            let _ = store_assistant(&state, target, &text, meta).await;
        }));
    }
}

/// Where an answer is stored.
#[derive(Debug, Clone, Copy)]
struct Target {
    user_id: Uuid,
    session_id: Uuid,
    /// The user turn it answers.
    parent: Uuid,
    /// The assistant message it continues, if any.
    continues: Option<Uuid>,
}

impl Conversation {
    fn target(&self) -> Target {
        Target {
            user_id: self.user_id,
            session_id: self.session_id,
            parent: self.user_message_id,
            continues: self.continues,
        }
    }
}

/// Stores an answer (a new message below its user turn, or the continuation appended to the
/// message it continues); a failure (or a session deleted meanwhile) is logged and reported as
/// `Err(())` — the caller decides what the client is told.
async fn store_assistant(
    state: &AppState,
    target: Target,
    text: &str,
    meta: AssistantMeta,
) -> Result<(), ()> {
    let Target {
        user_id,
        session_id,
        parent,
        continues,
    } = target;
    let failed = meta.error.is_some();
    let stored = match continues {
        Some(message_id) => {
            chat_repo::extend_message(&state.db, user_id, session_id, message_id, text, meta).await
        }
        None => {
            chat_repo::store_assistant_reply(&state.db, user_id, session_id, parent, text, meta)
                .await
        }
    };
    match stored {
        Ok(Some(_)) => {
            // A failed first answer gives the model nothing to title the chat from.
            if continues.is_none() && !failed {
                crate::chat::titles::after_answer(state, user_id, session_id);
            }
            Ok(())
        }
        Ok(None) => {
            tracing::warn!(%session_id, "the session was deleted before its answer was stored");
            Err(())
        }
        Err(e) => {
            let e: &RepoError = &e;
            tracing::error!(error = ?e, %session_id, "could not store the assistant turn");
            Err(())
        }
    }
}
