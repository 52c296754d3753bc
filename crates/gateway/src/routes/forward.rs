//! Forwarding to the worker service on the caller's behalf: the jobs, files, collections and
//! retrieve routes are validating proxies in front of it (ARCHITECTURE.md, "Knowledge").
//!
//! Every request names the caller in `X-Sable-User-Id`: the worker owns its rows by user, so
//! another user's job, file or collection is 404 like a missing one. The routes validate first
//! and build paths and queries from validated, canonical values only (contract §17.2). Worker
//! envelopes (404, 409, 422 …) come back with their status; an unreachable worker is 503
//! (`ServiceClient::send`).

use common::schemas::USER_ID_HEADER;
use common::AppResult;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::state::AppState;

/// A request to the worker service on behalf of `user` (for calls that need more than
/// [`forward`] offers: extra headers, their own error handling).
pub fn worker_request(
    state: &AppState,
    user: &CurrentUser,
    method: Method,
    path: &str,
) -> RequestBuilder {
    state
        .worker
        .request(method, path)
        .header(USER_ID_HEADER, user.id.to_string())
}

/// One call forwarded to the worker: made by [`forward`], given a JSON body or a query if it
/// has one, then sent with [`answer`](Forward::answer) or [`done`](Forward::done).
#[must_use = "a forwarded call does nothing until it is sent (answer or done)"]
pub struct Forward<'a> {
    state: &'a AppState,
    request: RequestBuilder,
}

/// `method path` to the worker on behalf of `user`.
pub fn forward<'a>(
    state: &'a AppState,
    user: &CurrentUser,
    method: Method,
    path: &str,
) -> Forward<'a> {
    Forward {
        state,
        request: worker_request(state, user, method, path),
    }
}

impl Forward<'_> {
    /// Sends `body` as the request's JSON.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        Self {
            request: self.request.json(body),
            ..self
        }
    }

    /// The worker's JSON answer.
    pub async fn answer<T: DeserializeOwned>(self) -> AppResult<T> {
        self.state.worker.send_json(self.request).await
    }

    /// For a call whose answer has no body (204): whether it succeeded.
    pub async fn done(self) -> AppResult<()> {
        self.state.worker.send(self.request).await.map(drop)
    }
}

/// A page of the caller's list at `path` (`limit`, and `before` for the next page): the query
/// is rebuilt from the validated values, so nothing the client sent is forwarded verbatim.
pub async fn page<T: DeserializeOwned>(
    state: &AppState,
    user: &CurrentUser,
    path: &str,
    limit: i64,
    before: Option<Uuid>,
) -> AppResult<T> {
    let mut params: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    if let Some(before) = before {
        params.push(("before", before.to_string()));
    }
    let mut call = forward(state, user, Method::GET, path);
    call.request = call.request.query(&params);
    call.answer().await
}
