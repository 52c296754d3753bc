//! The offline mock provider: deterministic answers, configurable latency, test hooks.
//!
//! # The answer
//!
//! The text is built from the request so that a test can see what the model received:
//!
//! ```text
//! [Mock response from <model>] I was given <n> earlier turn(s); the last (<role>) said: "<first 60 chars>". System prompt: "<first 60 chars>". Simulated response to: <first 200 chars of the prompt>
//! ```
//!
//! The history sentence appears only when `messages` is non-empty, the system-prompt sentence
//! only when `system_prompt` is non-empty; cut excerpts end with `…`.
//!
//! A grounded request (its system prompt starts with `common::grounding`'s block) is answered
//! from its sources: `From your files: "<first 160 chars of passage [1]>" [1].` comes right
//! after the bracketed model tag (or `I could not find this in your files.` when the search
//! found nothing), and the system-prompt sentence shows only the chat's own prompt. The prompt excerpt keeps
//! its quotes, newlines and non-ASCII text, so streams exercise the JSON encoding of tokens.
//!
//! # Tokens
//!
//! The text is split into tokens of one word plus the whitespace that follows it (a single
//! space after the last word), so concatenating the tokens gives the text back (plus that
//! space) and `completion_tokens` is the number of tokens. At most `max_tokens` tokens are
//! produced; when that cuts the answer, `finish_reason` is `length`, otherwise `stop`.
//! `prompt_tokens` is the number of characters of system prompt, earlier turns and prompt,
//! divided by four. The reported model is `<model>-mock`, which contains the requested id.
//!
//! # Latency
//!
//! A stream waits `MOCK_FIRST_TOKEN_DELAY_MS` before the first token and `MOCK_TOKEN_DELAY_MS`
//! before each further one; a whole completion waits as long as the stream would in total.
//! Tokens are produced lazily, one per poll: dropping the stream stops generation.
//!
//! # Test hooks (markers anywhere in the prompt; earlier turns are not inspected)
//!
//! | marker | effect |
//! | --- | --- |
//! | `[mock:error]` | fails before the first token (stream and whole completion) with a failure of no specific class (`INFERENCE_ERROR`, 502, not retryable, no fallback). The error message has two lines, to check that `[ERROR]` events stay on one line. |
//! | `[mock:error-after=N]` | streams N tokens, then fails (no fallback after a token); a whole completion fails. |
//! | `[mock:reject]` | the provider refuses the request: `INVALID_REQUEST`, 400, permanent. |
//! | `[mock:context]` | the prompt is too long for the model: `CONTEXT_TOO_LONG`, 400, permanent. |
//! | `[mock:policy]` | a content-policy refusal: `CONTENT_POLICY`, 400, permanent. |
//! | `[mock:unknown-model]` | the provider does not know the model: `UNKNOWN_MODEL`, 404, permanent; the fallback model is tried (and fails the same way). |
//! | `[mock:auth]` | the provider refuses the key: `PROVIDER_AUTH`, 502, permanent, no fallback. |
//! | `[mock:ratelimit]` | HTTP 429 with `Retry-After: 1`: `RATE_LIMITED`, retried after the delay, no fallback; the service answers 429 with `Retry-After`. |
//! | `[mock:overloaded]` | HTTP 503: `PROVIDER_OVERLOADED`, retried, then the fallback model. |
//! | `[mock:timeout]` | the provider does not answer in time: `PROVIDER_TIMEOUT`, 504, retried, then the fallback (reported at once, without waiting for the deadline). |
//! | `[mock:network]` | the connection to the provider fails: `PROVIDER_UNREACHABLE`, 502, retried, no fallback. |
//! | `[mock:flaky=N]` | the first N calls with this exact prompt, counted per model, fail as `[mock:overloaded]`; later ones answer. `[mock:flaky=N:ratelimit]` (or any class marker name above) fails with that class instead. For retry tests. |
//! | `[mock:delay=MS]` | waits MS milliseconds (at most 60 000) before the first token or the whole answer, whatever the configured delays: slow prompts for cancel and timeout tests. |
//! | `[mock:slow]` | 200 ms before every token, whatever the configured delays. |
//! | `[mock:tokens=N]` | the answer is exactly N tokens (filler words after the usual text), still capped by `max_tokens`: long streams for benchmarks. |
//!
//! Every class marker fails before the first token, for streams and whole completions alike;
//! a stream reports it as `data: [ERROR] <CODE>: <message>`.
//!
//! # Embeddings
//!
//! Models whose id contains `embed` (the default is [`EMBEDDINGS_MODEL`]) embed texts into
//! [`mock_embeddings::DIMENSIONS`] floats, deterministically, texts sharing words being close
//! (see [`mock_embeddings`]); other models refuse with `INVALID_REQUEST`. A call waits
//! `MOCK_FIRST_TOKEN_DELAY_MS` once; the markers above work in any input (`[mock:flaky=N]`
//! counted per batch of inputs and model). `prompt_tokens` is each input's characters divided by
//! four (at least 1), summed.
//!
//! OpenAI chat requests (`/v1/chat/completions`, forwarded whole) are answered by [`chat`]:
//! tools, structured output, `stop`, `n`, `seed`, logprobs and image parts, with the same
//! text and markers.

mod chat;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use common::schemas::Usage;
use futures::StreamExt;

use super::{
    mock_embeddings, Completion, Delta, DeltaStream, Embeddings, ErrorKind, Provider,
    ProviderError, ProviderRequest,
};

/// Marker prefix `[mock:tokens=N]`: answer with exactly N tokens.
pub const TOKENS_MARKER: &str = "[mock:tokens=";

/// Marker that makes the mock fail before its first token.
pub const ERROR_MARKER: &str = "[mock:error]";
/// Marker prefix `[mock:error-after=N]`: fail after N tokens.
pub const ERROR_AFTER_MARKER: &str = "[mock:error-after=";
/// Marker that makes every token take [`SLOW_TOKEN_DELAY`].
pub const SLOW_MARKER: &str = "[mock:slow]";
pub const SLOW_TOKEN_DELAY: Duration = Duration::from_millis(200);

/// Marker prefix `[mock:flaky=N]` / `[mock:flaky=N:<class>]`: fail the first N calls.
pub const FLAKY_MARKER: &str = "[mock:flaky=";
/// Marker prefix `[mock:delay=MS]`: wait MS before the first token.
pub const DELAY_MARKER: &str = "[mock:delay=";
/// Longest `[mock:delay=MS]` honoured.
pub const MAX_MARKER_DELAY: Duration = Duration::from_secs(60);
/// The `Retry-After` the mock sends with `[mock:ratelimit]`.
pub const RATE_LIMIT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The class markers: `[mock:<name>]` fails with that class before the first token.
const CLASS_MARKERS: &[(&str, ErrorKind, &str)] = &[
    ("reject", ErrorKind::InvalidRequest, "provider returned HTTP 400 Bad Request: the mock was asked to reject this prompt"),
    ("context", ErrorKind::ContextTooLong, "provider returned HTTP 400 Bad Request: this prompt exceeds the model's maximum context length (mock)"),
    ("policy", ErrorKind::ContentPolicy, "provider returned HTTP 400 Bad Request: the prompt was refused by the content policy (mock)"),
    ("unknown-model", ErrorKind::UnknownModel, "provider returned HTTP 404 Not Found: the model does not exist (mock)"),
    ("auth", ErrorKind::Auth, "provider returned HTTP 401 Unauthorized"),
    ("ratelimit", ErrorKind::RateLimited, "provider returned HTTP 429 Too Many Requests (mock)"),
    ("overloaded", ErrorKind::Overloaded, "provider returned HTTP 503 Service Unavailable (mock)"),
    ("timeout", ErrorKind::Timeout, "provider timed out (mock)"),
    ("network", ErrorKind::Network, "could not connect to the provider (mock)"),
];

/// The failure of the class marker `name` (`reject`, `ratelimit`, …).
fn class_failure(name: &str) -> Option<ProviderError> {
    let (_, kind, message) = CLASS_MARKERS.iter().find(|(n, _, _)| *n == name)?;
    let mut error = ProviderError::new(*kind, *message);
    if *kind == ErrorKind::RateLimited {
        error.retry_after = Some(RATE_LIMIT_RETRY_AFTER);
    }
    Some(error)
}

/// The mock's embeddings model (the `embeddings` alias without other configuration).
pub const EMBEDDINGS_MODEL: &str = "mock-embed";

/// Most distinct `[mock:flaky]` prompts remembered (the counts are forgotten beyond it).
const MAX_FLAKY_ENTRIES: usize = 10_000;

/// The injected failure's message (two lines on purpose).
pub const INJECTED_ERROR_MESSAGE: &str =
    "mock provider failure requested by [mock:error]\nthis second line must not break SSE framing";

const PROMPT_EXCERPT_CHARS: usize = 200;
const CONTEXT_EXCERPT_CHARS: usize = 60;
/// How much of the top passage a grounded mock answer quotes.
const GROUNDED_EXCERPT_CHARS: usize = 160;

#[derive(Debug, Clone, Copy, Default)]
pub struct MockSettings {
    pub first_token_delay: Duration,
    pub token_delay: Duration,
}

#[derive(Debug)]
pub struct MockProvider {
    settings: MockSettings,
    /// Calls so far per (prompt, model) of prompts carrying `[mock:flaky=N]`.
    flaky_calls: Mutex<HashMap<(String, String), u32>>,
}

/// What the prompt's markers ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Hooks {
    fail_before_first: bool,
    fail_after: Option<usize>,
    /// A class marker: fail with this class before the first token.
    class: Option<&'static str>,
    /// `[mock:flaky=N(:class)]`: the first N calls fail with the class.
    flaky: Option<(u32, &'static str)>,
    delay: Option<Duration>,
    slow: bool,
    tokens: Option<usize>,
}

impl Hooks {
    fn parse(prompt: &str) -> Self {
        fn number_after<T: std::str::FromStr>(prompt: &str, marker: &str) -> Option<T> {
            prompt.find(marker).and_then(|i| {
                let rest = &prompt[i + marker.len()..];
                rest.split(']').next()?.trim().parse().ok()
            })
        }
        let flaky = prompt.find(FLAKY_MARKER).and_then(|i| {
            let spec = prompt[i + FLAKY_MARKER.len()..].split(']').next()?;
            let (times, class) = spec.split_once(':').unwrap_or((spec, "overloaded"));
            let (name, _, _) = CLASS_MARKERS.iter().find(|(n, _, _)| *n == class.trim())?;
            Some((times.trim().parse().ok()?, *name))
        });
        Self {
            fail_before_first: prompt.contains(ERROR_MARKER),
            fail_after: number_after(prompt, ERROR_AFTER_MARKER),
            class: CLASS_MARKERS
                .iter()
                .map(|(name, _, _)| *name)
                .find(|name| prompt.contains(&format!("[mock:{name}]"))),
            flaky,
            delay: number_after(prompt, DELAY_MARKER)
                .map(|ms: u64| Duration::from_millis(ms).min(MAX_MARKER_DELAY)),
            slow: prompt.contains(SLOW_MARKER),
            // Bounded so a prompt cannot ask the mock for unbounded memory.
            tokens: number_after(prompt, TOKENS_MARKER).map(|n: usize| n.min(100_000)),
        }
    }
}

/// `[mock:tokens=N]` in `prompt`: exactly N tokens, the answer's first ones and then filler
/// words (the native path and the OpenAI passthrough answer the same length).
pub(super) fn fit_to_tokens_marker(tokens: &mut Vec<String>, prompt: &str) {
    if let Some(n) = Hooks::parse(prompt).tokens {
        tokens.truncate(n);
        let filler = ["lorem ", "ipsum ", "dolor ", "sit ", "amet "];
        while tokens.len() < n {
            tokens.push(filler[tokens.len() % filler.len()].to_owned());
        }
    }
}

/// The planned answer for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub tokens: Vec<String>,
    pub finish_reason: &'static str,
    pub usage: Usage,
    pub model: String,
}

impl MockProvider {
    pub fn new(settings: MockSettings) -> Self {
        Self {
            settings,
            flaky_calls: Mutex::new(HashMap::new()),
        }
    }

    /// The failure the markers ask for before the first token, if any (counting the call
    /// for `[mock:flaky]`).
    fn failure_before_first(&self, hooks: Hooks, req: &ProviderRequest) -> Option<ProviderError> {
        if hooks.fail_before_first {
            return Some(injected(INJECTED_ERROR_MESSAGE));
        }
        if let Some(name) = hooks.class {
            return class_failure(name);
        }
        let (times, name) = hooks.flaky?;
        let mut calls = self
            .flaky_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if calls.len() >= MAX_FLAKY_ENTRIES {
            calls.clear();
        }
        let n = calls
            .entry((req.prompt.clone(), req.model.clone()))
            .or_insert(0);
        *n += 1;
        (*n <= times).then(|| class_failure(name)).flatten()
    }

    /// The deterministic answer to `req` (tokens already cut at `max_tokens`).
    pub fn plan(req: &ProviderRequest) -> Plan {
        let mut tokens = tokenize(&answer_text(req));
        fit_to_tokens_marker(&mut tokens, &req.prompt);
        let limit = usize::try_from(req.max_tokens).unwrap_or(usize::MAX).max(1);
        let finish_reason = if tokens.len() > limit {
            tokens.truncate(limit);
            "length"
        } else {
            "stop"
        };
        let prompt_tokens = u32::try_from(req.input_chars() / 4).unwrap_or(u32::MAX);
        let completion_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        Plan {
            tokens,
            finish_reason,
            usage: Usage::new(prompt_tokens, completion_tokens),
            model: format!("{}-mock", req.model),
        }
    }

    fn delays(&self, hooks: Hooks) -> (Duration, Duration) {
        let (first, each) = if hooks.slow {
            (SLOW_TOKEN_DELAY, SLOW_TOKEN_DELAY)
        } else {
            (self.settings.first_token_delay, self.settings.token_delay)
        };
        (hooks.delay.unwrap_or(first), each)
    }
}

fn injected(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Other, message)
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        "mock"
    }

    async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError> {
        let hooks = Hooks::parse(&req.prompt);
        if let Some(e) = self.failure_before_first(hooks, req) {
            return Err(e);
        }
        let plan = Self::plan(req);
        let (first, each) = self.delays(hooks);
        let extra = u32::try_from(plan.tokens.len().saturating_sub(1)).unwrap_or(u32::MAX);
        sleep(first + each.saturating_mul(extra)).await;
        if let Some(n) = hooks.fail_after {
            return Err(injected(format!("mock provider failure after {n} tokens")));
        }
        Ok(Completion {
            text: plan.tokens.concat().trim_end().to_owned(),
            model: plan.model,
            usage: plan.usage,
            finish_reason: Some(plan.finish_reason.to_owned()),
        })
    }

    async fn stream(&self, req: &ProviderRequest) -> Result<DeltaStream, ProviderError> {
        let hooks = Hooks::parse(&req.prompt);
        if let Some(e) = self.failure_before_first(hooks, req) {
            return Err(e);
        }
        let plan = Self::plan(req);
        let (first, each) = self.delays(hooks);
        let stream = async_stream::stream! {
            let count = plan.tokens.len();
            // Token i is due at start + first + i·each: absolute deadlines, so timer
            // granularity does not add up over a long answer as relative sleeps would.
            let start = tokio::time::Instant::now();
            for (i, token) in plan.tokens.into_iter().enumerate() {
                if hooks.fail_after == Some(i) {
                    yield Err(injected(format!("mock provider failure after {i} tokens")));
                    return;
                }
                let due = first + each.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
                if !due.is_zero() {
                    tokio::time::sleep_until(start + due).await;
                }
                let finish_reason = (i + 1 == count).then(|| plan.finish_reason.to_owned());
                yield Ok(Delta { text: token, finish_reason });
            }
            if let Some(n) = hooks.fail_after.filter(|n| *n >= count) {
                yield Err(injected(format!("mock provider failure after {n} tokens")));
            }
        };
        Ok(stream.boxed())
    }

    async fn chat(&self, body: &serde_json::Value) -> Result<bytes::Bytes, ProviderError> {
        self.chat_completion(body).await
    }

    async fn chat_stream(
        &self,
        body: &serde_json::Value,
    ) -> Result<super::ChunkStream, ProviderError> {
        self.chat_chunks(body).await
    }

    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Embeddings, ProviderError> {
        if !model.contains("embed") {
            return Err(ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("provider returned HTTP 400 Bad Request: the model `{model}` does not support embeddings (mock)"),
            ));
        }
        // The markers of every input, and one key per batch for `[mock:flaky]`.
        let joined = ProviderRequest {
            model: model.to_owned(),
            system_prompt: None,
            messages: Vec::new(),
            prompt: inputs.join("\n"),
            max_tokens: 1,
            temperature: 0.0,
        };
        let hooks = Hooks::parse(&joined.prompt);
        if let Some(e) = self.failure_before_first(hooks, &joined) {
            return Err(e);
        }
        sleep(self.delays(hooks).0).await;
        let prompt_tokens = inputs
            .iter()
            .map(|t| {
                u32::try_from(t.chars().count() / 4)
                    .unwrap_or(u32::MAX)
                    .max(1)
            })
            .fold(0u32, u32::saturating_add);
        Ok(Embeddings {
            vectors: inputs.iter().map(|t| mock_embeddings::embed(t)).collect(),
            model: model.to_owned(),
            prompt_tokens,
        })
    }
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// The answer text (see the module docs).
pub fn answer_text(req: &ProviderRequest) -> String {
    let mut text = format!("[Mock response from {}] ", req.model);
    if let Some(last) = req.messages.last() {
        let n = req.messages.len();
        text.push_str(&format!(
            "I was given {n} earlier turn{}; the last ({}) said: \"{}\". ",
            if n == 1 { "" } else { "s" },
            last.role.as_str(),
            excerpt(&last.content, CONTEXT_EXCERPT_CHARS),
        ));
    }
    // A grounded request (`common::grounding`): quote the top passage and cite it, or say
    // that nothing was found; the "System prompt" sentence then shows the chat's own prompt.
    let mut system = req.system_prompt.as_deref();
    match system.and_then(common::grounding::read) {
        Some(common::grounding::Read::Sources { first, rest }) => {
            text.push_str(&format!(
                "From your files: \"{}\" [1]. ",
                excerpt(&common::text::one_line(first), GROUNDED_EXCERPT_CHARS)
            ));
            system = Some(rest);
        }
        Some(common::grounding::Read::NothingFound { rest }) => {
            text.push_str("I could not find this in your files. ");
            system = Some(rest);
        }
        None => {}
    }
    if let Some(system) = system.filter(|s| !s.trim().is_empty()) {
        text.push_str(&format!(
            "System prompt: \"{}\". ",
            excerpt(system, CONTEXT_EXCERPT_CHARS)
        ));
    }
    text.push_str("Simulated response to: ");
    text.push_str(&excerpt(&req.prompt, PROMPT_EXCERPT_CHARS));
    text
}

fn excerpt(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Splits `text` into word + following-whitespace tokens; the last word gets one space.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
            in_space = false;
        } else {
            in_space = false;
        }
        current.push(c);
    }
    if !current.is_empty() {
        if !current.ends_with(char::is_whitespace) {
            current.push(' ');
        }
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::schemas::{ChatTurn, Role};

    fn req(prompt: &str) -> ProviderRequest {
        ProviderRequest {
            model: "m".into(),
            system_prompt: None,
            messages: vec![],
            prompt: prompt.into(),
            max_tokens: 1024,
            temperature: 0.7,
        }
    }

    #[test]
    fn tokens_are_words_with_their_whitespace() {
        assert_eq!(tokenize("a b"), ["a ", "b "]);
        assert_eq!(
            tokenize("Hi \"there\"\nnew  line"),
            ["Hi ", "\"there\"\n", "new  ", "line "]
        );
        assert_eq!(tokenize(""), Vec::<String>::new());
    }

    #[test]
    fn a_grounded_request_is_answered_from_its_first_source_with_a_citation() {
        let block = common::grounding::render(&[
            common::grounding::Passage {
                filename: "contract.pdf",
                page: Some(2),
                heading: None,
                text: "Either party may terminate\nwith 30 days notice.",
            },
            common::grounding::Passage {
                filename: "notes.md",
                page: None,
                heading: None,
                text: "Unrelated.",
            },
        ]);
        let mut r = req("How can the contract end?");
        r.system_prompt = Some(format!("{block}\n\nBe brief."));
        let text = answer_text(&r);
        assert!(
            text.starts_with("[Mock response from m] From your files: \"Either party may terminate with 30 days notice.\" [1]. System prompt: \"Be brief.\". "),
            "{text}"
        );
        assert_eq!(common::grounding::cited(&text, 2), vec![1]);

        r.system_prompt = Some(common::grounding::render(&[]));
        let text = answer_text(&r);
        assert!(text.starts_with("[Mock response from m] I could not find this in your files. Simulated response to: "), "{text}");
        assert!(common::grounding::cited(&text, 0).is_empty());
    }

    #[test]
    fn answer_mentions_history_and_system_prompt() {
        let mut r = req("now?");
        r.system_prompt = Some("Be brief".into());
        r.messages = vec![
            ChatTurn {
                role: Role::User,
                content: "first".into(),
            },
            ChatTurn {
                role: Role::Assistant,
                content: "second".into(),
            },
        ];
        assert_eq!(
            answer_text(&r),
            "[Mock response from m] I was given 2 earlier turns; the last (assistant) said: \"second\". System prompt: \"Be brief\". Simulated response to: now?"
        );
        assert_eq!(
            answer_text(&req("x")),
            "[Mock response from m] Simulated response to: x"
        );
    }

    #[test]
    fn long_inputs_are_excerpted() {
        let text = answer_text(&req(&"é".repeat(500)));
        assert!(text.ends_with(&format!("{}…", "é".repeat(200))));
    }

    #[test]
    fn tokens_hook_makes_answers_of_exactly_n_tokens() {
        let mut r = req("[mock:tokens=300] go");
        r.max_tokens = 8192;
        assert_eq!(MockProvider::plan(&r).tokens.len(), 300);
        r.max_tokens = 100;
        let plan = MockProvider::plan(&r);
        assert_eq!((plan.tokens.len(), plan.finish_reason), (100, "length"));
        r.prompt = "[mock:tokens=2] a b c d".into();
        r.max_tokens = 8192;
        assert_eq!(MockProvider::plan(&r).tokens.len(), 2);
    }

    #[test]
    fn plan_honours_max_tokens_and_counts_usage() {
        let mut r = req("one two three four five six");
        let plan = MockProvider::plan(&r);
        assert_eq!(plan.finish_reason, "stop");
        assert_eq!(plan.usage.completion_tokens as usize, plan.tokens.len());
        assert_eq!(plan.usage.prompt_tokens, 27 / 4);
        assert_eq!(plan.model, "m-mock");
        r.max_tokens = 2;
        let plan = MockProvider::plan(&r);
        assert_eq!(plan.tokens, ["[Mock ", "response "]);
        assert_eq!(plan.finish_reason, "length");
        assert_eq!(plan.usage.total_tokens, plan.usage.prompt_tokens + 2);
    }

    #[test]
    fn hooks_are_parsed() {
        assert!(Hooks::parse("x [mock:error] y").fail_before_first);
        assert_eq!(Hooks::parse("[mock:error-after=3]").fail_after, Some(3));
        assert!(!Hooks::parse("[mock:error-after=3]").fail_before_first);
        assert!(Hooks::parse("[mock:slow] hi").slow);
        assert_eq!(Hooks::parse("[mock:tokens=256] hi").tokens, Some(256));
        assert_eq!(Hooks::parse("plain"), Hooks::default());
        assert_eq!(Hooks::parse("a [mock:context] b").class, Some("context"));
        assert_eq!(
            Hooks::parse("[mock:flaky=2]").flaky,
            Some((2, "overloaded"))
        );
        assert_eq!(
            Hooks::parse("[mock:flaky=1:ratelimit]").flaky,
            Some((1, "ratelimit"))
        );
        assert_eq!(Hooks::parse("[mock:flaky=1:nonsense]").flaky, None);
        assert_eq!(
            Hooks::parse("[mock:delay=250]").delay,
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            Hooks::parse("[mock:delay=99999999]").delay,
            Some(MAX_MARKER_DELAY)
        );
    }

    #[tokio::test]
    async fn class_markers_fail_with_their_class() {
        let p = MockProvider::new(MockSettings::default());
        for (name, kind, _) in CLASS_MARKERS {
            let r = req(&format!("x [mock:{name}] y"));
            assert_eq!(p.complete(&r).await.unwrap_err().kind, *kind, "{name}");
            assert_eq!(
                p.stream(&r).await.err().map(|e| e.kind),
                Some(*kind),
                "{name}"
            );
        }
        let limited = p.complete(&req("[mock:ratelimit]")).await.unwrap_err();
        assert_eq!(limited.retry_after, Some(RATE_LIMIT_RETRY_AFTER));
    }

    #[tokio::test]
    async fn flaky_prompts_fail_n_times_per_model_then_answer() {
        let p = MockProvider::new(MockSettings::default());
        let mut r = req("[mock:flaky=2] hi");
        for _ in 0..2 {
            assert_eq!(
                p.complete(&r).await.unwrap_err().kind,
                ErrorKind::Overloaded
            );
        }
        assert!(p.complete(&r).await.is_ok());
        r.model = "other".into();
        assert!(p.complete(&r).await.is_err(), "counted per model");
    }

    #[tokio::test]
    async fn stream_yields_the_planned_tokens_then_ends() {
        let p = MockProvider::new(MockSettings::default());
        let r = req("hello world");
        let tokens: Vec<String> = p
            .stream(&r)
            .await
            .unwrap()
            .map(|d| d.unwrap().text)
            .collect()
            .await;
        assert_eq!(tokens, MockProvider::plan(&r).tokens);
        let whole = p.complete(&r).await.unwrap();
        assert_eq!(whole.text, tokens.concat().trim_end());
    }

    #[tokio::test]
    async fn error_after_n_yields_n_tokens_then_an_error() {
        let p = MockProvider::new(MockSettings::default());
        let items: Vec<_> = p
            .stream(&req("[mock:error-after=2] go"))
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        assert!(items[2].is_err());
        assert!(p.complete(&req("[mock:error] go")).await.is_err());
        assert!(p.stream(&req("[mock:error] go")).await.is_err());
    }
}
