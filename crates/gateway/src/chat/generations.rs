//! Server-side generations: a stream that names a `session_id` runs as a task owned by the
//! gateway, not by the HTTP response. The response is only one subscriber; when the client goes
//! away the generation goes on to the end and is stored as usual. Only an explicit stop
//! (`POST /api/v1/chat/sessions/{id}/stop`) or the end of the shutdown grace ends it early;
//! then the partial answer is stored with `meta.stopped = true`.
//!
//! The registry ([`Generations`], in `AppState`) maps a session to its running generation
//! (at most one per session). A [`Generation`] keeps the tokens generated so far and a `watch`
//! channel that ticks on every batch: a subscriber ([`Generation::events`]) keeps a cursor (a
//! token index), sends what is stored past it, then waits for the next tick. So a subscriber
//! that attaches late (`GET /api/v1/chat/sessions/{id}/stream`) first gets everything so far,
//! then the live tokens, and one that is slow never loses tokens (there is no lagging
//! broadcast buffer to overflow: the tokens so far are the answer's text, kept anyway).
//!
//! Bounds: `MAX_BACKGROUND_GENERATIONS_PER_USER` and `MAX_BACKGROUND_GENERATIONS` (429
//! `RATE_LIMITED` over either). The registry lives in one process; with several gateway
//! replicas (`GATEWAY_PEER_URL` set), each generation is also recorded in Postgres so that a
//! resume or stop reaching another replica is forwarded to its owner ([`super::peers`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use common::schemas::GenerateRequest;
use common::sse::Event;
use common::{AppError, AppResult};
use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::chat::conversation::Conversation;
use crate::state::AppState;

/// The limits on background generations (flattened into the gateway's `Config`).
#[derive(Debug, Clone, clap::Args)]
pub struct GenerationArgs {
    /// Most session streams (server-side generations, which go on when the client leaves) one
    /// user may have running at once; one more is refused with 429.
    #[arg(
        long,
        env = "MAX_BACKGROUND_GENERATIONS_PER_USER",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_background_generations_per_user: u32,

    /// Most session streams running at once in this gateway process, all users together.
    #[arg(
        long,
        env = "MAX_BACKGROUND_GENERATIONS",
        default_value_t = 256,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_background_generations: u32,

    /// This replica's URL as the other gateway replicas reach it, e.g. `http://gateway-2:8000`.
    /// Set it on every replica when several run behind one load balancer: a replica asked to
    /// resume or stop an answer that another one generates forwards the request there. `{ip}`
    /// in it is replaced at start-up with the address this host's name resolves to
    /// (`http://{ip}:8000` under `docker compose --scale`). Unset: a single gateway; nothing is
    /// recorded.
    #[arg(long, env = "GATEWAY_PEER_URL")]
    pub peer_url: Option<String>,
}

impl GenerationArgs {
    pub fn validate(&self) -> Result<(), String> {
        match self.peer_url.as_deref() {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                Err("GATEWAY_PEER_URL must start with http:// or https://".to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// How long a stop waits for the partial answer to be stored before answering anyway.
const STOP_WAIT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct Progress {
    tokens: Vec<String>,
    /// `[DONE]` or `[ERROR]`, once the answer is stored.
    end: Option<Event>,
}

/// One running generation of a session.
pub struct Generation {
    /// This generation's own id (names its row in `chat_generation_owners`).
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// The stored user turn (set when the generation starts).
    user_message_id: OnceLock<Uuid>,
    /// A grounded answer's public `event: meta` (its sources), for subscribers that ask.
    meta: OnceLock<Bytes>,
    progress: Mutex<Progress>,
    changed: watch::Sender<()>,
    stop: CancellationToken,
}

impl Generation {
    fn new(user_id: Uuid, session_id: Uuid) -> Self {
        Self {
            id: Uuid::new_v4(),
            session_id,
            user_id,
            user_message_id: OnceLock::new(),
            meta: OnceLock::new(),
            progress: Mutex::default(),
            changed: watch::channel(()).0,
            stop: CancellationToken::new(),
        }
    }

    pub fn user_message_id(&self) -> Option<Uuid> {
        self.user_message_id.get().copied()
    }

    /// The `event: meta` with the sources of a grounded answer (`None` when not grounded).
    pub fn meta_event(&self) -> Option<Bytes> {
        self.meta.get().cloned()
    }

    /// Tokens generated so far.
    pub fn token_count(&self) -> usize {
        lock(&self.progress).tokens.len()
    }

    fn push(&self, batch: Vec<Event>) {
        {
            let mut progress = lock(&self.progress);
            for event in batch {
                match event {
                    Event::Token(token) => progress.tokens.push(token),
                    Event::Meta(_) => {}
                    end @ (Event::Done | Event::Error(_)) => {
                        progress.end.get_or_insert(end);
                    }
                }
            }
        }
        self.changed.send_modify(|()| {});
    }

    fn end(&self, event: Event) {
        lock(&self.progress).end.get_or_insert(event);
        self.changed.send_modify(|()| {});
    }

    fn is_finished(&self) -> bool {
        lock(&self.progress).end.is_some()
    }

    /// The events from token index `from` on, in batches: `(Some(index), token)` for each
    /// token, then `(None, end)` for the final `[DONE]`/`[ERROR]`, after which the stream ends.
    pub fn events(
        self: Arc<Self>,
        from: usize,
    ) -> impl Stream<Item = Vec<(Option<usize>, Event)>> + Send + 'static {
        let mut ticks = self.changed.subscribe();
        async_stream::stream! {
            let mut cursor = from;
            loop {
                // Marked seen before reading, so a batch pushed after the read ticks again.
                ticks.borrow_and_update();
                let (tokens, end) = {
                    let progress = lock(&self.progress);
                    let tokens = progress.tokens.get(cursor..).map(<[String]>::to_vec).unwrap_or_default();
                    (tokens, progress.end.clone())
                };
                let mut out: Vec<(Option<usize>, Event)> = Vec::with_capacity(tokens.len() + 1);
                for token in tokens {
                    out.push((Some(cursor), Event::Token(token)));
                    cursor += 1;
                }
                let done = end.is_some();
                if let Some(end) = end {
                    out.push((None, end));
                }
                if !out.is_empty() {
                    yield out;
                }
                if done || ticks.changed().await.is_err() {
                    return;
                }
            }
        }
    }

    async fn finished(&self) {
        let mut ticks = self.changed.subscribe();
        while !self.is_finished() {
            if ticks.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The registry of running generations (one per session).
pub struct Generations {
    running: Mutex<HashMap<Uuid, Arc<Generation>>>,
    /// The other replicas, when there are any (`GATEWAY_PEER_URL`).
    peers: Option<Arc<super::peers::Peers>>,
    per_user: usize,
    total: usize,
    closed: AtomicBool,
}

impl Generations {
    pub fn new(args: &GenerationArgs, peers: Option<super::peers::Peers>) -> Self {
        Self {
            running: Mutex::default(),
            peers: peers.map(Arc::new),
            per_user: usize::try_from(args.max_background_generations_per_user).unwrap_or(4),
            total: usize::try_from(args.max_background_generations).unwrap_or(256),
            closed: AtomicBool::new(false),
        }
    }

    /// The other replicas, when several run (`GATEWAY_PEER_URL`).
    pub fn peers(&self) -> Option<&super::peers::Peers> {
        self.peers.as_deref()
    }

    /// Reserves the session for a new generation: 409 when one is already running in it (on
    /// this replica or, with peers, on another), 429 over the per-user or total bound, 503
    /// while shutting down. The reservation is released when dropped unless
    /// [`Reservation::start`] ran.
    pub async fn reserve(
        self: &Arc<Self>,
        user_id: Uuid,
        session_id: Uuid,
    ) -> AppResult<Reservation> {
        let reservation = self.reserve_here(user_id, session_id)?;
        let (Some(peers), Some(generation)) = (&self.peers, &reservation.generation) else {
            return Ok(reservation);
        };
        match peers.claim(session_id, user_id, generation.id).await {
            Ok(true) => Ok(reservation),
            Ok(false) => Err(already_running()),
            // No such session: the row's foreign key says so before `begin` would.
            Err(e)
                if common::error::Violation::of(&e)
                    == Some(common::error::Violation::ForeignKey) =>
            {
                Err(crate::chat::session_not_found())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The part of [`Self::reserve`] this process decides alone.
    fn reserve_here(self: &Arc<Self>, user_id: Uuid, session_id: Uuid) -> AppResult<Reservation> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(AppError::ServiceUnavailable(
                "The gateway is shutting down; try again shortly".to_owned(),
            ));
        }
        let mut running = lock(&self.running);
        if let Some(other) = running.get(&session_id) {
            // A session has one owner: someone else's generation means the caller's session
            // does not exist (404, as every other route says; nothing is revealed).
            if other.user_id != user_id {
                return Err(crate::chat::session_not_found());
            }
            return Err(already_running());
        }
        let mine = running.values().filter(|g| g.user_id == user_id).count();
        if mine >= self.per_user {
            metrics::counter!("rate_limit_rejections_total", "class" => "background_generations")
                .increment(1);
            return Err(AppError::RateLimited(format!(
                "Too many answers being generated at once (at most {}): wait for one to finish or stop it",
                self.per_user
            )));
        }
        if running.len() >= self.total {
            metrics::counter!("rate_limit_rejections_total", "class" => "background_generations")
                .increment(1);
            return Err(AppError::RateLimited(
                "The server is generating too many answers at once; try again shortly".to_owned(),
            ));
        }
        let generation = Arc::new(Generation::new(user_id, session_id));
        running.insert(session_id, generation.clone());
        Ok(Reservation {
            registry: self.clone(),
            generation: Some(generation),
        })
    }

    /// The ids of the generations running in this process.
    pub fn running_ids(&self) -> Vec<Uuid> {
        lock(&self.running).values().map(|g| g.id).collect()
    }

    /// The caller's running generation in `session_id`, if this process runs one.
    pub fn get(&self, user_id: Uuid, session_id: Uuid) -> Option<Arc<Generation>> {
        lock(&self.running)
            .get(&session_id)
            .filter(|g| g.user_id == user_id)
            .cloned()
    }

    /// How many generations are running.
    pub fn len(&self) -> usize {
        lock(&self.running).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&self, generation: &Arc<Generation>) {
        {
            let mut running = lock(&self.running);
            if running
                .get(&generation.session_id)
                .is_some_and(|g| Arc::ptr_eq(g, generation))
            {
                running.remove(&generation.session_id);
            }
        }
        // Drop cannot wait: the row is forgotten by a task of its own (and, should the runtime
        // be gone, by the next start's heartbeat).
        if let (Some(peers), Ok(runtime)) =
            (self.peers.clone(), tokio::runtime::Handle::try_current())
        {
            let id = generation.id;
            runtime.spawn(async move { peers.release(id).await });
        }
    }

    /// Stops the caller's generation in `session_id`: cancels the model-service request and
    /// waits (bounded) until the partial answer is stored. `false` when nothing runs there.
    pub async fn stop(&self, user_id: Uuid, session_id: Uuid) -> bool {
        let Some(generation) = self.get(user_id, session_id) else {
            return false;
        };
        generation.stop.cancel();
        if tokio::time::timeout(STOP_WAIT, generation.finished())
            .await
            .is_err()
        {
            tracing::warn!(%session_id, "a stopped generation did not finish in time");
        }
        true
    }

    /// At shutdown: refuses new generations, lets the running ones finish for up to `grace`,
    /// then stops the rest (each stores its partial answer as stopped) and waits for that.
    pub async fn shutdown(&self, grace: Duration) {
        self.closed.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + grace;
        while !self.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left: Vec<Arc<Generation>> = lock(&self.running).values().cloned().collect();
        if left.is_empty() {
            return;
        }
        tracing::warn!(
            count = left.len(),
            "grace period over: stopping the answers still being generated"
        );
        for generation in &left {
            generation.stop.cancel();
        }
        for generation in left {
            let _ = tokio::time::timeout(STOP_WAIT, generation.finished()).await;
        }
    }
}

/// With several replicas: when another live replica runs the caller's generation in the
/// session, forwards the request (a resume or a stop) there and returns its answer. `None`
/// when there are no peers, the request was itself forwarded, nothing runs elsewhere, or the
/// owner cannot be reached — the caller then answers from this replica's registry alone.
pub async fn forward_to_owner(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    method: axum::http::Method,
    uri: &axum::extract::OriginalUri,
    headers: &axum::http::HeaderMap,
) -> AppResult<Option<Response>> {
    let Some(peers) = state.generations.peers() else {
        return Ok(None);
    };
    if headers.contains_key(super::peers::HOP_HEADER) {
        return Ok(None);
    }
    let Some(owner) = peers.owner_elsewhere(session_id, user_id).await? else {
        return Ok(None);
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    Ok(peers.forward(&owner, method, path, headers).await)
}

fn already_running() -> AppError {
    AppError::Conflict(
        "An answer is already being generated in this session: stop it or wait for it".to_owned(),
    )
}

/// Keeps this replica's rows in `chat_generation_owners` fresh while the registry lives (the
/// task holds only a weak reference and ends with it). The first beat also clears the rows a
/// previous run of this replica left behind.
pub fn spawn_heartbeat(registry: &Arc<Generations>) {
    if registry.peers.is_none() {
        return;
    }
    let registry = Arc::downgrade(registry);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(super::peers::HEARTBEAT);
        loop {
            tick.tick().await;
            let Some(registry) = registry.upgrade() else {
                break;
            };
            let Some(peers) = registry.peers.clone() else {
                break;
            };
            let running = registry.running_ids();
            drop(registry);
            if let Err(e) = peers.heartbeat(&running).await {
                tracing::warn!(error = %e, "could not refresh this replica's running generations");
            }
        }
    });
}

/// A session reserved for a generation that has not started yet.
pub struct Reservation {
    registry: Arc<Generations>,
    generation: Option<Arc<Generation>>,
}

impl Reservation {
    /// Starts the generation as a task of its own and returns it; subscribe with
    /// [`Generation::events`].
    pub fn start(
        mut self,
        state: AppState,
        request: GenerateRequest,
        conversation: Conversation,
    ) -> Option<Arc<Generation>> {
        let generation = self.generation.take()?;
        let _ = generation.user_message_id.set(conversation.user_message_id);
        if let Some(grounding) = &conversation.grounding {
            let _ = generation
                .meta
                .set(common::sse::meta_event(&grounding.meta_json()));
        }
        let guard = Running {
            registry: self.registry.clone(),
            generation: generation.clone(),
        };
        let request_id = common::request_id::current().unwrap_or_else(common::request_id::generate);
        let stop = generation.stop.clone();
        tokio::spawn(common::request_id::scope(request_id, async move {
            let owner = conversation.user_id();
            let events = crate::relay::upstream_events_until(
                state,
                owner,
                request,
                Some(conversation),
                stop,
            )
            .await;
            futures::pin_mut!(events);
            while let Some(batch) = events.next().await {
                guard.generation.push(batch);
            }
            drop(guard);
        }));
        Some(generation)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(generation) = self.generation.take() {
            generation.end(Event::Error("The generation did not start".to_owned()));
            self.registry.remove(&generation);
        }
    }
}

/// Held by the generation's task: however the task ends (even by a panic or the runtime
/// going away), subscribers get a final event and the session is free again.
struct Running {
    registry: Arc<Generations>,
    generation: Arc<Generation>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.generation
            .end(Event::Error("The generation ended unexpectedly".to_owned()));
        self.registry.remove(&self.generation);
    }
}

/// The SSE response of a subscriber. With `ids`, each token event carries `id: <token index>`
/// (0-based) so a reconnecting client can send `Last-Event-ID`; without, the bytes are
/// exactly the contract's framing (`POST /api/v1/generate/stream`). `prelude` is sent first
/// (the `event: meta` of a subscriber that asked for it).
pub fn sse_response(
    events: impl Stream<Item = Vec<(Option<usize>, Event)>> + Send + 'static,
    ids: bool,
    prelude: Option<Bytes>,
) -> Response {
    let body = events.map(move |batch| {
        let mut out = BytesMut::new();
        for (index, event) in batch {
            if let (true, Some(index)) = (ids, index) {
                out.put_slice(format!("id: {index}\n").as_bytes());
            }
            event.encode_into(&mut out);
        }
        Ok::<Bytes, Infallible>(out.freeze())
    });
    let body = futures::stream::iter(prelude.map(Ok::<Bytes, Infallible>)).chain(body);
    common::sse::response(Body::from_stream(body))
}
