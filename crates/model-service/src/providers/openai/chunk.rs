//! A fast reader for the common shape of a `chat.completion.chunk`: it walks the JSON once,
//! skips every field a [`Delta`] does not need without building anything, and takes the first
//! choice's `delta.content` and `finish_reason`.
//!
//! It answers only when it is sure to agree with the lenient serde shapes in `openai.rs`
//! ([`super::ChatChunk`]): on anything else — a second choice, an `error` that is not null, a
//! duplicate field, an escaped key, a `\u` escape in a skipped string, deep nesting, or JSON
//! it finds malformed — it answers `None` and the caller parses the chunk with serde as
//! before, so errors and their messages are unchanged. Whatever it accepts is valid JSON
//! (strings, numbers and literals are checked as it skips them).
//!
//! Why: serde's derive visits every field of every chunk (id, object, created, model, index,
//! the role…), and the chunk is ~170 bytes of which the token is a few; this was the largest
//! per-token cost of the model service on the provider path (see docs/benchmarks.md,
//! "Performance II").

use super::Delta;

/// Deepest nesting skipped (serde_json's own recursion limit is 128).
const MAX_DEPTH: usize = 128;

/// The [`Delta`] of one chunk, or `None` when serde must decide.
pub(super) fn delta(json: &[u8]) -> Option<Delta> {
    let mut s = Scan { b: json, i: 0 };
    s.ws();
    s.eat(b'{')?;
    let mut delta = Delta::default();
    let (mut seen_choices, mut seen_error) = (false, false);
    s.ws();
    if !s.eat_if(b'}') {
        loop {
            s.ws();
            let key = s.key()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            match key {
                b"choices" => {
                    if std::mem::replace(&mut seen_choices, true) {
                        return None;
                    }
                    delta = s.choices()?;
                }
                b"error" => {
                    if std::mem::replace(&mut seen_error, true) {
                        return None;
                    }
                    // An error object goes to serde (and becomes the stream's error).
                    s.null()?;
                }
                _ => s.skip()?,
            }
            s.ws();
            if s.eat_if(b',') {
                continue;
            }
            s.eat(b'}')?;
            break;
        }
    }
    s.ws();
    (s.i == s.b.len()).then_some(delta)
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.eat_if(c).then_some(())
    }

    fn eat_if(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn null(&mut self) -> Option<()> {
        self.literal(b"null")
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let hit = self.b.get(self.i..self.i + word.len())? == word;
        hit.then(|| self.i += word.len())
    }

    /// An object key without escapes (an escaped key goes to serde). Keys are UTF-8 checked,
    /// as serde does when it reads a field name.
    fn key(&mut self) -> Option<&'a [u8]> {
        match self.string()? {
            Str::Plain(key) if key.is_ascii() || std::str::from_utf8(key).is_ok() => Some(key),
            _ => None,
        }
    }

    /// A string at the cursor: its bytes between the quotes, and whether they hold escapes.
    /// Control characters are refused and escapes checked, as serde_json does for a string it
    /// skips (a `\u` escape needs four hex digits; surrogate pairs are checked by serde where
    /// a string is decoded, see [`text`](Self::text)).
    fn string(&mut self) -> Option<Str<'a>> {
        self.eat(b'"')?;
        let start = self.i;
        // Most strings have no escapes: one tight scan to the closing quote.
        let rest = self.b.get(start..)?;
        let n = special(rest)?;
        if rest[n] == b'"' {
            self.i = start + n + 1;
            return Some(Str::Plain(&rest[..n]));
        }
        self.i = start + n;
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => match self.peek()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                    b'u' => {
                        let hex = self.b.get(self.i + 1..self.i + 5)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.i += 5;
                    }
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => {}
            }
        }
        Some(Str::Escaped(&self.b[start - 1..self.i]))
    }

    /// A string value as text (unescaped when it has escapes; UTF-8 checked).
    fn text(&mut self) -> Option<String> {
        match self.string()? {
            Str::Plain(raw) => std::str::from_utf8(raw).ok().map(str::to_owned),
            Str::Escaped(literal) => serde_json::from_slice::<String>(literal).ok(),
        }
    }

    /// `null` or a string.
    fn optional_text(&mut self) -> Option<Option<String>> {
        if self.null().is_some() {
            return Some(None);
        }
        self.text().map(Some)
    }

    /// `choices`: a list of at most one choice (more go to serde, which checks them all).
    fn choices(&mut self) -> Option<Delta> {
        self.eat(b'[')?;
        self.ws();
        if self.eat_if(b']') {
            return Some(Delta::default());
        }
        let delta = self.choice()?;
        self.ws();
        self.eat(b']')?;
        Some(delta)
    }

    /// One choice: `delta.content` and `finish_reason`, the rest skipped.
    fn choice(&mut self) -> Option<Delta> {
        self.eat(b'{')?;
        let mut out = Delta::default();
        let (mut seen_delta, mut seen_finish) = (false, false);
        self.ws();
        if self.eat_if(b'}') {
            return Some(out);
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            match key {
                b"delta" => {
                    if std::mem::replace(&mut seen_delta, true) {
                        return None;
                    }
                    out.text = self.delta_content()?.unwrap_or_default();
                }
                b"finish_reason" => {
                    if std::mem::replace(&mut seen_finish, true) {
                        return None;
                    }
                    out.finish_reason = self.optional_text()?;
                }
                _ => self.skip()?,
            }
            self.ws();
            if self.eat_if(b',') {
                continue;
            }
            self.eat(b'}')?;
            return Some(out);
        }
    }

    /// `delta`: `null` or an object whose `content` is `null` or a string.
    fn delta_content(&mut self) -> Option<Option<String>> {
        if self.null().is_some() {
            return Some(None);
        }
        self.eat(b'{')?;
        let mut content = None;
        let mut seen = false;
        self.ws();
        if self.eat_if(b'}') {
            return Some(None);
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            if key == b"content" {
                if std::mem::replace(&mut seen, true) {
                    return None;
                }
                content = self.optional_text()?;
            } else {
                self.skip()?;
            }
            self.ws();
            if self.eat_if(b',') {
                continue;
            }
            self.eat(b'}')?;
            return Some(content);
        }
    }

    /// Skips one value, checking it is valid JSON.
    fn skip(&mut self) -> Option<()> {
        // The open containers, innermost in the lowest bit: 1 for an object, 0 for a list.
        let mut objects: u128 = 0;
        let mut depth = 0usize;
        loop {
            // A value.
            self.ws();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    let object = open == b'{';
                    objects = (objects << 1) | u128::from(object);
                    depth += 1;
                    self.ws();
                    if self.eat_if(if object { b'}' } else { b']' }) {
                        objects >>= 1;
                        depth -= 1;
                    } else {
                        if object {
                            self.key_colon()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.null()?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // After a value: close containers, or go on to the next element.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.ws();
                let object = objects & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if object {
                            self.ws();
                            self.key_colon()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.i += 1;
                objects >>= 1;
                depth -= 1;
            }
        }
    }

    /// A key and its colon (inside a skipped object).
    fn key_colon(&mut self) -> Option<()> {
        self.key()?;
        self.ws();
        self.eat(b':')
    }

    /// A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        self.eat_if(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat_if(b'.') {
            self.digit()?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digit()?;
            self.digits();
        }
        Some(())
    }

    fn digit(&mut self) -> Option<()> {
        self.peek()?.is_ascii_digit().then(|| self.i += 1)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }
}

/// The index of the first `"`, `\\` or control character in `rest`, eight bytes at a time
/// (the tail padded with a byte that is none of them).
fn special(rest: &[u8]) -> Option<usize> {
    let mut words = rest.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        if let Some(i) = first_special(bytes) {
            return Some(at + i);
        }
        at += 8;
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return None;
    }
    let mut bytes = [b'a'; 8];
    bytes[..tail.len()].copy_from_slice(tail);
    first_special(bytes).map(|i| at + i)
}

/// [`special`] in one word, with the bit tricks of "Bit Twiddling Hacks" (`haszero` for `"`
/// and `\\`, `hasless` for control characters). A detector may flag a byte after a true match
/// (a borrow), never one before it, so the lowest flagged byte is the first match.
fn first_special(bytes: [u8; 8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * 0x20;
    let x = u64::from_le_bytes(bytes);
    let quote = x ^ QUOTES;
    let backslash = x ^ BACKSLASHES;
    let found = (quote.wrapping_sub(ONES) & !quote
        | backslash.wrapping_sub(ONES) & !backslash
        | x.wrapping_sub(SPACES) & !x)
        & HIGHS;
    (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
}

enum Str<'a> {
    /// The bytes between the quotes (no escapes).
    Plain(&'a [u8]),
    /// The whole literal, quotes included (it has escapes).
    Escaped(&'a [u8]),
}

#[cfg(test)]
mod tests {
    use super::super::{chunk_delta, ChatChunk};
    use super::*;

    /// What the serde path makes of `json` (`Err` for every failure).
    fn via_serde(json: &[u8]) -> Result<Delta, ()> {
        let chunk: ChatChunk = serde_json::from_slice(json).map_err(|_| ())?;
        chunk_delta(chunk).map_err(|_| ())
    }

    /// The scanner's promise: when it answers, serde answers the same.
    fn agrees(json: &[u8]) -> Option<Delta> {
        let fast = delta(json);
        if let Some(fast) = &fast {
            assert_eq!(
                via_serde(json).as_ref(),
                Ok(fast),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
        fast
    }

    fn openai(delta: &str, finish: &str) -> String {
        format!(
            r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]}}"#
        )
    }

    #[test]
    fn the_common_shapes_are_read_without_serde() {
        let cases = [
            (openai(r#"{"role":"assistant","content":""}"#, "null"), "", None),
            (openai(r#"{"content":"Hello"}"#, "null"), "Hello", None),
            (openai(r#"{"content":" wörld"}"#, "null"), " wörld", None),
            (openai(r#"{"content":"a\nb \"q\" \\ \/ \t"}"#, "null"), "a\nb \"q\" \\ / \t", None),
            (openai(r#"{"content":"\u00e9\ud83d\ude00"}"#, "null"), "é😀", None),
            (openai("{}", r#""stop""#), "", Some("stop")),
            (openai(r#"{"content":null}"#, r#""length""#), "", Some("length")),
            (openai("null", "null"), "", None),
            (
                r#"{"id":"x","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":2,"total_tokens":10,"details":{"a":[1,2.5,-3e+2,true,false,null,{}]}}}"#.to_owned(),
                "",
                None,
            ),
            (r#"{"id":"x"}"#.to_owned(), "", None),
            ("{}".to_owned(), "", None),
            (r#" { "choices" : [ { "delta" : { "content" : "x" } } ] , "error" : null } "#.to_owned(), "x", None),
            (openai(r#"{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\":1}"}}]}"#, "null"), "", None),
        ];
        for (json, text, finish) in cases {
            let got = agrees(json.as_bytes()).unwrap_or_else(|| panic!("fell back on {json}"));
            assert_eq!(got.text, text, "{json}");
            assert_eq!(got.finish_reason.as_deref(), finish, "{json}");
        }
    }

    #[test]
    fn unusual_or_broken_chunks_go_to_serde() {
        let cases = [
            // serde decides (and answers an error or the same delta).
            r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#,
            r#"{"error":{"message":"overloaded"}}"#,
            r#"{"choices":[],"error":"x"}"#,
            r#"{"choices":[],"choices":[]}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"cho\u0069ces":[{"delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"delta":{"content":"\ud800"}}]}"#,
            r#"{"choices":null}"#,
            r#"{"choices":[null]}"#,
            r#"{"choices":[{"delta":"x"}]}"#,
            r#"{"choices":[{"finish_reason":1}]}"#,
            r#"[[],null]"#,
            // Malformed.
            r#"{"id":01,"choices":[]}"#,
            r#"{"id":tru,"choices":[]}"#,
            r#"{"id":"a"  "choices":[]}"#,
            r#"{"id":"a",}"#,
            r#"{"id":[1,]}"#,
            r#"{"id":{"a"}}"#,
            r#"{"id":{"a":1]}"#,
            r#"{"id":"\x"}"#,
            r#"{"id":"\u12"}"#,
            "{\"id\":\"a\u{1}b\"}",
            r#"{"id":1.}"#,
            r#"{"id":-}"#,
            r#"{"id":1e}"#,
            r#"{"choices":[]} x"#,
            r#"{"choices":[]"#,
            "",
        ];
        for json in cases {
            assert_eq!(agrees(json.as_bytes()), None, "{json}");
        }
        let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert_eq!(agrees(deep.as_bytes()), None);
        let fine = format!(r#"{{"x":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        assert!(agrees(fine.as_bytes()).is_some());
    }

    #[test]
    fn special_bytes_are_found_at_every_offset() {
        for len in 0..40 {
            let plain = vec![b'a'; len];
            assert_eq!(special(&plain), None);
            for at in 0..len {
                for c in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut bytes = plain.clone();
                    bytes[at] = c;
                    // Bytes after the first match that would trip a borrow.
                    for after in at + 1..len {
                        bytes[after] = [0x01, b'"', 0x21, 0xff, b'#'][after % 5];
                    }
                    assert_eq!(special(&bytes), Some(at), "{bytes:?}");
                }
            }
        }
        // Bytes next to the special ones are not special.
        for c in [0x20u8, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xa2, 0xdc, 0xff] {
            assert_eq!(special(&[c; 19]), None, "{c:#x}");
        }
    }

    /// Every single-byte deletion or replacement of real chunks: whenever the scanner answers,
    /// serde answers the same.
    #[test]
    fn mutated_chunks_never_disagree_with_serde() {
        let chunks = [
            openai(r#"{"content":"a\"b\u00e9"}"#, "null"),
            openai("{}", r#""stop""#),
            r#"{"id":"x","choices":[],"usage":{"prompt_tokens":8,"list":[1,-2.5e-3,{"a":null}]}}"#
                .to_owned(),
        ];
        let replacements = b"\"\\{}[]:,0-1.eE tfnu\x01\xff";
        for chunk in chunks {
            let bytes = chunk.as_bytes();
            for i in 0..bytes.len() {
                let mut cut = bytes.to_vec();
                cut.remove(i);
                agrees(&cut);
                for &r in replacements {
                    let mut changed = bytes.to_vec();
                    changed[i] = r;
                    agrees(&changed);
                }
            }
        }
    }
}
