//! The SSE wire format shared by the model service (which writes generation events) and the
//! gateway relay (which reads and forwards them), contract §6:
//!
//! ```text
//! data: <token as a JSON string literal>\n\n     (per token)
//! event: meta\ndata: {"model",…}\n\n             (internal: only when the gateway asks)
//! data: [DONE]\n\n                                (normal end)
//! data: [ERROR] <message on one line>\n\n         (failure; no [DONE] follows)
//! ```
//!
//! [`Event`] is the one type for these events: [`Event::encode_into`] writes them and
//! [`Event::decode`] reads them back, so the framing lives here only.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::schemas::Usage;

pub const CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

/// Most events written in one chunk when several are ready at once (by the model service and
/// by the relay alike). A lone event is never held back waiting for others.
pub const MAX_EVENTS_PER_WRITE: usize = 64;

/// The `event:` name of the internal metadata event.
const META_EVENT: &str = "meta";

/// Metadata sent just before `[DONE]`: what answered and how much. Internal to Sable — the
/// gateway asks for it (header [`crate::schemas::STREAM_META_HEADER`]) to store the answer's
/// metadata and never forwards it; public streams keep the contract's bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub model: String,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// What the answer cost in USD at the model's configured prices (with a providers file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// One event of a generation stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One token of text (framed as a JSON string literal, so newlines and spaces survive).
    Token(String),
    Meta(StreamMeta),
    Done,
    /// The failure message (may span lines; framing flattens it to one line).
    Error(String),
}

impl Event {
    /// Appends this event's bytes to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) {
        match self {
            Self::Token(token) => {
                // Straight into the buffer: no intermediate String per token (the hot path of
                // every stream). Serialising a &str cannot fail.
                out.reserve(token.len() + 10);
                out.put_slice(b"data: ");
                if needs_escape(token.as_bytes()) {
                    let _ = serde_json::to_writer((&mut *out).writer(), token);
                } else {
                    // What serde_json writes for a string without anything to escape.
                    out.put_u8(b'"');
                    out.put_slice(token.as_bytes());
                    out.put_u8(b'"');
                }
                out.put_slice(b"\n\n");
            }
            Self::Meta(meta) => {
                let json = serde_json::to_string(meta).unwrap_or_else(|_| "{}".to_owned());
                out.put_slice(b"event: ");
                out.put_slice(META_EVENT.as_bytes());
                out.put_slice(b"\n");
                put_data(out, &json);
            }
            Self::Done => put_data(out, "[DONE]"),
            Self::Error(message) => put_data(out, &format!("[ERROR] {}", one_line(message))),
        }
    }

    /// This event's bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_into(&mut out);
        out.freeze()
    }

    /// Reads one parsed SSE event (its `event:` name and `data:`) back into an [`Event`].
    /// A token whose data is not a JSON string is kept as raw text (a lenient reader of other
    /// servers' streams); a meta event that does not parse is `None` (it is optional).
    pub fn decode(event: &str, data: &str) -> Option<Self> {
        Self::decode_raw(RawEvent {
            event: event.as_bytes(),
            data: data.as_bytes(),
        })
    }

    /// [`decode`](Self::decode) of an event as [`SseReader`] hands it out (bytes; text that is
    /// not UTF-8 is read lossily).
    pub fn decode_raw(raw: RawEvent<'_>) -> Option<Self> {
        let data = raw.data;
        if raw.event == META_EVENT.as_bytes() {
            return serde_json::from_slice(data).ok().map(Self::Meta);
        }
        if data == b"[DONE]" {
            return Some(Self::Done);
        }
        if let Some(message) = data.strip_prefix(b"[ERROR]") {
            return Some(Self::Error(one_line(&String::from_utf8_lossy(message))));
        }
        // A literal without escapes (most tokens) is its own text.
        if let [b'"', inner @ .., b'"'] = data {
            if !needs_escape(inner) {
                if let Ok(text) = std::str::from_utf8(inner) {
                    return Some(Self::Token(text.to_owned()));
                }
            }
        }
        Some(Self::Token(
            serde_json::from_slice::<String>(data)
                .unwrap_or_else(|_| String::from_utf8_lossy(data).into_owned()),
        ))
    }

    /// True for the events that end a stream (`[DONE]`, `[ERROR]`).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Error(_))
    }
}

/// About the bytes `events` take once encoded (exact for tokens without escapes): the
/// capacity of the buffer a batch is written into, so that it is allocated once instead of
/// grown event by event.
pub fn encoded_len_hint(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| match e {
            Event::Token(token) => token.len() + 10,
            Event::Meta(_) => 160,
            Event::Done => 14,
            Event::Error(message) => message.len() + 16,
        })
        .sum()
}

/// A public `event: meta` (a stream that asked for it with `?meta=1`): `data` is one line of
/// JSON, e.g. `{"sources":[…]}` before the first token of a grounded answer. Clients of the
/// contract's framing never ask for it, so their streams keep the contract's bytes.
pub fn meta_event(json: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(json.len() + 20);
    out.put_slice(b"event: ");
    out.put_slice(META_EVENT.as_bytes());
    out.put_slice(b"\n");
    put_data(&mut out, &one_line(json));
    out.freeze()
}

/// Whether a JSON string literal of `text` needs escapes: exactly the bytes serde_json
/// escapes (control characters, `"` and `\\`).
fn needs_escape(text: &[u8]) -> bool {
    text.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn put_data(out: &mut BytesMut, data: &str) {
    out.reserve(data.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(data.as_bytes());
    out.put_slice(b"\n\n");
}

/// One event read by [`SseReader`]: its `event:` name (empty when it had none, i.e. a
/// `message`) and its `data` (`data:` lines joined with `\n`). Borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub event: &'a [u8],
    pub data: &'a [u8],
}

/// An incremental SSE parser: feed it the body's chunks with [`push`](Self::push), take the
/// complete events with [`next_event`](Self::next_event). The WHATWG line rules: `\n`,
/// `\r\n` or `\r` line ends, `data:` lines joined with `\n`, one optional space after the
/// colon, comments and unknown fields ignored, an event without data not dispatched.
///
/// Why not `eventsource-stream`: it allocates a `String` per event and field, and after every
/// event copies the rest of its buffer to the front — quadratic in the bytes buffered, which
/// is exactly the case of a fast upstream writing dozens of events per read (it cost the
/// model service 17,900 instructions per token, and the gateway relay the same). This reader
/// keeps one buffer, consumes lines by moving an offset, and compacts only between reads.
///
/// Memory is bounded: an event (or a line) still incomplete after a read may hold at most
/// [`MAX_EVENT_BYTES`] (or the reader's own [`with_limit`](Self::with_limit)); past that,
/// [`push`](Self::push) refuses the chunk, so an upstream that never ends its line cannot grow
/// the buffer without end.
#[derive(Debug)]
pub struct SseReader {
    buf: Vec<u8>,
    /// A chunk read where it lies ([`push_bytes`](Self::push_bytes) while nothing was
    /// pending), instead of `buf`: no copy. Released once all of it is read.
    shared: Option<Bytes>,
    /// Most bytes an incomplete event (its data so far and its unfinished line) may hold.
    limit: usize,
    /// Start of the first line not yet read.
    start: usize,
    name: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    /// An event was handed out: its name is cleared before the next one is read.
    dispatched: bool,
}

/// The largest event an [`SseReader`] buffers by default: far above any token or OpenAI chunk
/// (tool-call arguments and logprobs included), far below what would hurt a service.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// [`SseReader::push`]: the event being read has grown past the reader's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an SSE event is larger than {limit} bytes")]
pub struct EventTooLarge {
    pub limit: usize,
}

impl Default for SseReader {
    fn default() -> Self {
        Self::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseReader {
    /// A reader that refuses an event larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            shared: None,
            limit,
            start: 0,
            name: Vec::new(),
            data: Vec::new(),
            has_data: false,
            dispatched: false,
        }
    }

    /// Appends the next chunk of the body. Call [`next_event`](Self::next_event) until it
    /// answers `None` between pushes; then what is left is one incomplete event, and when it
    /// already exceeds the limit the chunk is refused and the stream should end.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), EventTooLarge> {
        self.check_limit()?;
        if let Some(shared) = self.shared.take() {
            // The unread end of a chunk read in place moves to the buffer, before this one.
            self.buf.clear();
            self.buf.extend_from_slice(&shared[self.start..]);
            self.start = 0;
        } else if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.len() / 2 {
            // Compacting only when more than half is consumed keeps copies linear.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    /// [`push`](Self::push) of a chunk the reader may keep: when nothing is pending (the
    /// usual case: the previous chunks ended on an event's end) it is read where it lies,
    /// without copying it into the buffer.
    pub fn push_bytes(&mut self, chunk: Bytes) -> Result<(), EventTooLarge> {
        if self.start < self.filled() {
            return self.push(&chunk);
        }
        self.check_limit()?;
        self.buf.clear();
        self.start = 0;
        self.shared = Some(chunk);
        Ok(())
    }

    /// Bytes read so far and not yet released (the unread part starts at `start`).
    fn filled(&self) -> usize {
        self.shared.as_ref().map_or(self.buf.len(), Bytes::len)
    }

    fn check_limit(&self) -> Result<(), EventTooLarge> {
        let pending = self.filled() - self.start + if self.has_data { self.data.len() } else { 0 };
        if pending > self.limit {
            return Err(EventTooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// The next complete event, if one is buffered. `eof`: the body has ended, so a last line
    /// without its line end (and an event without its blank line) counts.
    pub fn next_event(&mut self, eof: bool) -> Option<RawEvent<'_>> {
        if std::mem::take(&mut self.dispatched) {
            self.name.clear();
        }
        loop {
            let all = source(&self.shared, &self.buf);
            let rest = &all[self.start..];
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                if !eof {
                    self.release();
                    return None;
                }
                if !rest.is_empty() {
                    let (start, len) = (self.start, rest.len());
                    self.start = all.len();
                    self.line(start, len);
                }
                return self.dispatch();
            };
            let terminator = match (rest[end], rest.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                // A `\r` at the end of what has arrived may be half of a `\r\n`.
                (b'\r', None) if !eof => return None,
                _ => 1,
            };
            let start = self.start;
            let next = start + end + terminator;
            // The common case, one `data:` line and the blank line that ends its event: the
            // data is handed out as a slice of the buffer, without copying it.
            if !self.has_data && end > 5 && rest.starts_with(b"data:") {
                if let Some(blank) = blank_line(&all[next..], eof) {
                    self.start = next + blank;
                    self.dispatched = true;
                    let value = &source(&self.shared, &self.buf)[start + 5..start + end];
                    return Some(RawEvent {
                        event: &self.name,
                        data: value.strip_prefix(b" ").unwrap_or(value),
                    });
                }
            }
            self.start = next;
            if end == 0 {
                if self.has_data {
                    return self.dispatch();
                }
                self.name.clear();
            } else {
                self.line(start, end);
            }
        }
    }

    /// One non-empty line of `len` bytes at `start` in the buffer.
    fn line(&mut self, start: usize, len: usize) {
        let line = &source(&self.shared, &self.buf)[start..start + len];
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                } else {
                    self.data.clear();
                    self.has_data = true;
                }
                self.data.extend_from_slice(value);
            }
            b"event" => {
                self.name.clear();
                self.name.extend_from_slice(value);
            }
            _ => {}
        }
    }

    /// Drops a chunk read in place once all of it is read (it holds the HTTP body's buffer).
    fn release(&mut self) {
        if self.shared.as_ref().is_some_and(|b| self.start == b.len()) {
            self.shared = None;
            self.start = 0;
        }
    }

    /// Ends the current event: returned when it had data.
    fn dispatch(&mut self) -> Option<RawEvent<'_>> {
        if !std::mem::take(&mut self.has_data) {
            self.name.clear();
            return None;
        }
        // The name is cleared when the next event is read (it is borrowed until then).
        self.dispatched = true;
        Some(RawEvent {
            event: &self.name,
            data: &self.data,
        })
    }
}

/// The bytes a reader reads from: a chunk read in place, or its buffer.
fn source<'a>(shared: &'a Option<Bytes>, buf: &'a [u8]) -> &'a [u8] {
    shared.as_deref().unwrap_or(buf)
}

/// The length of the blank line (`\n`, `\r\n` or `\r`) at the start of `rest`, if there is
/// one and it is complete (a `\r` that ends what has arrived may be half of a `\r\n`, unless
/// the body has ended).
fn blank_line(rest: &[u8], eof: bool) -> Option<usize> {
    match (rest.first(), rest.get(1)) {
        (Some(b'\n'), _) => Some(1),
        (Some(b'\r'), Some(b'\n')) => Some(2),
        (Some(b'\r'), Some(_)) => Some(1),
        (Some(b'\r'), None) if eof => Some(1),
        _ => None,
    }
}

/// A 200 response with the contract's SSE head: event-stream content type, `no-cache`, and
/// `X-Accel-Buffering: no` so nginx does not buffer.
pub fn response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Flattens an `[ERROR]` message so it can never break the framing (§17.2); the one helper
/// lives in [`crate::text`].
pub use crate::text::one_line;

/// One `data: [ERROR] <message>` event.
pub fn error_event(message: &str) -> Bytes {
    Event::Error(message.to_owned()).encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_json_string_literals() {
        assert_eq!(Event::Token("Hi ".into()).encode(), "data: \"Hi \"\n\n");
        assert_eq!(
            Event::Token("\"there\"\n\tx\\".into()).encode(),
            "data: \"\\\"there\\\"\\n\\tx\\\\\"\n\n"
        );
        assert_eq!(Event::Token("é ".into()).encode(), "data: \"é \"\n\n");
    }

    /// The shortcuts for tokens without escapes write and read exactly what serde_json does.
    #[test]
    fn token_shortcuts_match_serde_json() {
        for text in [
            "",
            "Hi",
            " wörld 😀",
            "a\u{7f}b",
            "tab\there",
            "q\"uote",
            "back\\slash",
            "\u{1}",
            "line\n",
        ] {
            let encoded = Event::Token(text.into()).encode();
            let json = serde_json::to_string(text).unwrap();
            assert_eq!(encoded, format!("data: {json}\n\n"), "{text:?}");
            assert_eq!(
                Event::decode_raw(RawEvent {
                    event: b"",
                    data: json.as_bytes()
                }),
                Some(Event::Token(text.into()))
            );
        }
        // Not a JSON string: kept as raw text, as before.
        for raw in [&b"\"a\"b\""[..], b"\"", b"plain", b"\"\xff\""] {
            let expected = serde_json::from_slice::<String>(raw)
                .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned());
            assert_eq!(
                Event::decode_raw(RawEvent {
                    event: b"",
                    data: raw
                }),
                Some(Event::Token(expected))
            );
        }
    }

    #[test]
    fn sentinels_are_not_json_and_errors_stay_on_one_line() {
        assert_eq!(Event::Done.encode(), "data: [DONE]\n\n");
        assert_eq!(
            &error_event("line one\r\nline two\n\nthree")[..],
            b"data: [ERROR] line one line two three\n\n"
        );
    }

    #[test]
    fn meta_is_a_named_event() {
        let meta = StreamMeta {
            model: "m".into(),
            usage: Usage::new(1, 2),
            finish_reason: Some("stop".into()),
            cost_usd: None,
        };
        let bytes = Event::Meta(meta.clone()).encode();
        assert!(bytes.starts_with(b"event: meta\ndata: {"), "{bytes:?}");
        assert!(bytes.ends_with(b"\n\n"));
    }

    #[test]
    fn decode_reads_back_what_encode_writes() {
        let events = [
            Event::Token("a \"b\"\n".into()),
            Event::Meta(StreamMeta {
                model: "m".into(),
                usage: Usage::new(3, 4),
                finish_reason: None,
                cost_usd: None,
            }),
            Event::Done,
            Event::Error("it broke".into()),
        ];
        for event in events {
            let bytes = event.encode();
            let text = std::str::from_utf8(&bytes).unwrap();
            let (name, data) = match text.strip_prefix("event: ") {
                Some(rest) => {
                    let (name, rest) = rest.split_once('\n').unwrap();
                    (name, rest)
                }
                None => ("message", text),
            };
            let data = data.strip_prefix("data: ").unwrap().trim_end_matches('\n');
            assert_eq!(Event::decode(name, data), Some(event));
        }
        assert_eq!(
            Event::decode("message", "not json"),
            Some(Event::Token("not json".into()))
        );
        assert_eq!(Event::decode("meta", "{oops"), None);
    }
    /// Every event of `chunks` read through one [`SseReader`], as `(name, data)`.
    fn read_all(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut reader = SseReader::default();
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            reader.push(chunk).unwrap();
            let eof = i + 1 == chunks.len();
            while let Some(raw) = reader.next_event(eof) {
                out.push((
                    String::from_utf8_lossy(raw.event).into_owned(),
                    String::from_utf8_lossy(raw.data).into_owned(),
                ));
            }
        }
        out
    }

    /// [`read_all`] with chunks handed over as `Bytes` ([`SseReader::push_bytes`]).
    fn read_all_bytes(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut reader = SseReader::default();
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            reader.push_bytes(Bytes::copy_from_slice(chunk)).unwrap();
            let eof = i + 1 == chunks.len();
            while let Some(raw) = reader.next_event(eof) {
                out.push((
                    String::from_utf8_lossy(raw.event).into_owned(),
                    String::from_utf8_lossy(raw.data).into_owned(),
                ));
            }
        }
        out
    }

    #[test]
    fn chunks_read_in_place_give_the_same_events() {
        let body: &[u8] = b"data: a\n\nevent: meta\ndata: {}\r\n\r\ndata: x\ndata: y\n\n: c\n\ndata: z\r\rdata: [DONE]\n\n";
        let expected = read_all(&[body]);
        assert_eq!(expected.len(), 5);
        assert_eq!(read_all_bytes(&[body]), expected);
        for cut in 1..body.len() {
            for second in cut..body.len() {
                assert_eq!(
                    read_all_bytes(&[&body[..cut], &body[cut..second], &body[second..]]),
                    expected,
                    "cuts at {cut} and {second}"
                );
            }
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(read_all_bytes(&bytes), expected);
        // A chunk read in place is released once read; a pending tail is kept.
        let mut reader = SseReader::default();
        reader
            .push_bytes(Bytes::from_static(b"data: 1\n\ndata: 2"))
            .unwrap();
        assert_eq!(reader.next_event(false).map(|e| e.data), Some(&b"1"[..]));
        assert_eq!(reader.next_event(false), None);
        assert!(reader.shared.is_some());
        reader.push_bytes(Bytes::from_static(b"\n\n")).unwrap();
        assert!(reader.shared.is_none());
        assert_eq!(reader.next_event(false).map(|e| e.data), Some(&b"2"[..]));
        assert_eq!(reader.next_event(false), None);
        reader
            .push_bytes(Bytes::from_static(b"data: 3\n\n"))
            .unwrap();
        assert_eq!(reader.next_event(false).map(|e| e.data), Some(&b"3"[..]));
        assert_eq!(reader.next_event(false), None);
        assert!(reader.shared.is_none());
        // The limit holds for chunks read in place too.
        let mut reader = SseReader::with_limit(16);
        reader.push_bytes(Bytes::from(vec![b'x'; 20])).unwrap();
        assert!(reader.next_event(false).is_none());
        assert_eq!(
            reader.push_bytes(Bytes::from_static(b"x")),
            Err(EventTooLarge { limit: 16 })
        );
    }

    #[test]
    fn the_reader_follows_the_line_rules_across_chunk_boundaries() {
        let body: &[u8] = b": comment\n\ndata: {\"a\":1}\n\ndata:x\r\ndata: y\r\n\r\nevent: meta\ndata: {}\n\nevent: lost\n\nid: 7\rdata: z\r\rdata:\n\nevent: meta\ndata:  two spaces\r\n\r\ndata: after\r\rdata: [DONE]\n\n";
        let expected: Vec<(String, String)> = [
            ("", "{\"a\":1}"),
            ("", "x\ny"),
            ("meta", "{}"),
            ("", "z"),
            ("", ""),
            ("meta", " two spaces"),
            ("", "after"),
            ("", "[DONE]"),
        ]
        .iter()
        .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
        .collect();
        assert_eq!(read_all(&[body]), expected);
        // Every split point, including between a `\r` and its `\n`.
        for cut in 1..body.len() {
            assert_eq!(
                read_all(&[&body[..cut], &body[cut..]]),
                expected,
                "cut at {cut}"
            );
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(read_all(&bytes), expected);
        // A last event without its blank line still counts when the body ends.
        let data = |v: Vec<(String, String)>| v.into_iter().map(|(_, d)| d).collect::<Vec<_>>();
        assert_eq!(data(read_all(&[b"data: a\n\ndata: b"])), ["a", "b"]);
        assert_eq!(data(read_all(&[b"data: a\n", b""])), ["a"]);
        assert_eq!(data(read_all(&[b"data: a\r", b""])), ["a"]);
        assert_eq!(data(read_all(&[b"data: a\n\r", b""])), ["a"]);
        // A lone `data:` line is handed out from the buffer; the next event still starts
        // clean, and a `\r` at the end of a read waits for a possible `\n`.
        let mut reader = SseReader::default();
        reader.push(b"data: one\r\n\r").unwrap();
        assert_eq!(reader.next_event(false), None);
        reader.push(b"\ndata: two\n\n").unwrap();
        assert_eq!(reader.next_event(false).map(|e| e.data), Some(&b"one"[..]));
        assert_eq!(reader.next_event(false).map(|e| e.data), Some(&b"two"[..]));
        assert_eq!(reader.next_event(false), None);
        assert!(read_all(&[b"event: meta\n\n", b""]).is_empty());
    }

    /// An upstream that never ends its line (or its event) cannot grow the buffer without
    /// end: past the limit the next chunk is refused; events that end are never refused.
    #[test]
    fn the_reader_refuses_an_event_larger_than_its_limit() {
        let mut reader = SseReader::with_limit(1024);
        reader.push(b"data: ").unwrap();
        reader.push(&[b'x'; 1000]).unwrap();
        assert!(reader.next_event(false).is_none());
        reader.push(&[b'x'; 100]).unwrap();
        assert!(reader.next_event(false).is_none());
        assert_eq!(
            reader.push(b"x"),
            Err(EventTooLarge { limit: 1024 }),
            "an unfinished line over the limit"
        );

        // Many short `data:` lines that never end the event count too.
        let mut reader = SseReader::with_limit(1024);
        let line = [b"data: ".as_slice(), &[b'y'; 100], b"\n"].concat();
        let mut refused = None;
        for i in 0..20 {
            if reader.push(&line).is_err() {
                refused = Some(i);
                break;
            }
            assert!(reader.next_event(false).is_none());
        }
        assert!(matches!(refused, Some(10..=12)), "refused at {refused:?}");

        // Ten thousand events of 500 bytes each, in one stream: all read.
        let mut reader = SseReader::with_limit(1024);
        let event = [b"data: ".as_slice(), &[b'z'; 500], b"\n\n"].concat();
        let mut read = 0;
        for _ in 0..10_000 {
            reader.push(&event).unwrap();
            while reader.next_event(false).is_some() {
                read += 1;
            }
        }
        assert_eq!(read, 10_000);
        assert_eq!(SseReader::default().limit, MAX_EVENT_BYTES);
    }

    #[test]
    fn what_the_reader_reads_decodes_back_into_the_encoded_events() {
        let events = [
            Event::Token("a \"b\"\n".into()),
            Event::Token("é".into()),
            Event::Meta(StreamMeta {
                model: "m".into(),
                usage: Usage::new(3, 4),
                finish_reason: None,
                cost_usd: None,
            }),
            Event::Done,
        ];
        let mut wire = BytesMut::new();
        for event in &events {
            event.encode_into(&mut wire);
        }
        let mut reader = SseReader::default();
        reader.push(&wire).unwrap();
        let mut back = Vec::new();
        while let Some(raw) = reader.next_event(false) {
            back.extend(Event::decode_raw(raw));
        }
        assert_eq!(back, events);
    }
}
