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
//! only when `system_prompt` is non-empty; cut excerpts end with `…`. The prompt excerpt keeps
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
//! | `[mock:error]` | fails before the first token (stream and whole completion). The error message has two lines, to check that `[ERROR]` events stay on one line. Not retryable; the fallback model is tried and fails the same way. |
//! | `[mock:error-after=N]` | streams N tokens, then fails (no fallback after a token); a whole completion fails. |
//! | `[mock:slow]` | 200 ms before every token, whatever the configured delays. |
//! | `[mock:tokens=N]` | the answer is exactly N tokens (filler words after the usual text), still capped by `max_tokens`: long streams for benchmarks. |

use std::time::Duration;

use async_trait::async_trait;
use common::schemas::Usage;
use futures::StreamExt;

use super::{Completion, Delta, DeltaStream, ErrorKind, Provider, ProviderError, ProviderRequest};

/// Marker prefix `[mock:tokens=N]`: answer with exactly N tokens.
pub const TOKENS_MARKER: &str = "[mock:tokens=";

/// Marker that makes the mock fail before its first token.
pub const ERROR_MARKER: &str = "[mock:error]";
/// Marker prefix `[mock:error-after=N]`: fail after N tokens.
pub const ERROR_AFTER_MARKER: &str = "[mock:error-after=";
/// Marker that makes every token take [`SLOW_TOKEN_DELAY`].
pub const SLOW_MARKER: &str = "[mock:slow]";
pub const SLOW_TOKEN_DELAY: Duration = Duration::from_millis(200);

/// The injected failure's message (two lines on purpose).
pub const INJECTED_ERROR_MESSAGE: &str =
    "mock provider failure requested by [mock:error]\nthis second line must not break SSE framing";

const PROMPT_EXCERPT_CHARS: usize = 200;
const CONTEXT_EXCERPT_CHARS: usize = 60;

#[derive(Debug, Clone, Copy, Default)]
pub struct MockSettings {
    pub first_token_delay: Duration,
    pub token_delay: Duration,
}

#[derive(Debug, Clone)]
pub struct MockProvider {
    settings: MockSettings,
}

/// What the prompt's markers ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Hooks {
    fail_before_first: bool,
    fail_after: Option<usize>,
    slow: bool,
    tokens: Option<usize>,
}

impl Hooks {
    fn parse(prompt: &str) -> Self {
        let number_after = |marker: &str| {
            prompt.find(marker).and_then(|i| {
                let rest = &prompt[i + marker.len()..];
                rest.split(']').next()?.trim().parse().ok()
            })
        };
        Self {
            fail_before_first: prompt.contains(ERROR_MARKER),
            fail_after: number_after(ERROR_AFTER_MARKER),
            slow: prompt.contains(SLOW_MARKER),
            // Bounded so a prompt cannot ask the mock for unbounded memory.
            tokens: number_after(TOKENS_MARKER).map(|n: usize| n.min(100_000)),
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
        Self { settings }
    }

    /// The deterministic answer to `req` (tokens already cut at `max_tokens`).
    pub fn plan(req: &ProviderRequest) -> Plan {
        let mut tokens = tokenize(&answer_text(req));
        if let Some(n) = Hooks::parse(&req.prompt).tokens {
            tokens.truncate(n);
            let filler = ["lorem ", "ipsum ", "dolor ", "sit ", "amet "];
            while tokens.len() < n {
                tokens.push(filler[tokens.len() % filler.len()].to_owned());
            }
        }
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
        if hooks.slow {
            (SLOW_TOKEN_DELAY, SLOW_TOKEN_DELAY)
        } else {
            (self.settings.first_token_delay, self.settings.token_delay)
        }
    }
}

fn injected(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Injected, message)
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &'static str {
        "mock"
    }

    async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError> {
        let hooks = Hooks::parse(&req.prompt);
        if hooks.fail_before_first {
            return Err(injected(INJECTED_ERROR_MESSAGE));
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
        if hooks.fail_before_first {
            return Err(injected(INJECTED_ERROR_MESSAGE));
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
    if let Some(system) = req
        .system_prompt
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
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
