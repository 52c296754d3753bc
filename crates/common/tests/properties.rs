//! Property tests (proptest) for the parsers that read what clients and other services send:
//! the SSE event codec, request-body validation, cursors and ids. Each property runs a bounded
//! number of cases (PROPTEST_CASES, default 256), so this stays fast in `make test`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use common::extract::parse_json_body;
use common::schemas::{
    parse_job_id, ChatMessageCreate, GenerateRequest, JobSubmission, SessionCursor, Usage,
};
use common::sse::{one_line, Event, StreamMeta};
use common::validation::Validate;
use proptest::prelude::*;

/// Splits one encoded event back into its `event:` name and `data:` payload, as an SSE
/// reader does (the framing has no other fields).
fn read_back(bytes: &[u8]) -> (String, String) {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text.strip_suffix("\n\n").unwrap();
    let mut name = "message".to_owned();
    let mut data = Vec::new();
    for line in text.split('\n') {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(d) = line.strip_prefix("data: ") {
            data.push(d);
        } else {
            panic!("unexpected line {line:?} in {text:?}");
        }
    }
    (name, data.join("\n"))
}

fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<String>().prop_map(Event::Token),
        (
            any::<String>(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<String>())
        )
            .prop_map(|(model, p, c, finish_reason)| Event::Meta(StreamMeta {
                model,
                usage: Usage::new(p, c),
                finish_reason,
                cost_usd: None,
            })),
        Just(Event::Done),
        any::<String>().prop_map(Event::Error),
    ]
}

proptest! {
    /// Every event the model service writes is one frame with exactly one data line, and the
    /// relay reads back the same event (errors come back on one line).
    #[test]
    fn sse_events_round_trip_through_the_wire(event in any_event()) {
        let bytes = event.encode();
        let (name, data) = read_back(&bytes);
        prop_assert!(!data.contains('\n'), "one data line: {data:?}");
        let decoded = Event::decode(&name, &data).unwrap();
        match (&event, &decoded) {
            (Event::Error(sent), Event::Error(got)) => prop_assert_eq!(got, &one_line(sent)),
            _ => prop_assert_eq!(&decoded, &event),
        }
    }

    /// Whatever bytes arrive as an event, decoding never panics.
    #[test]
    fn sse_decoding_accepts_any_input(name in any::<String>(), data in any::<String>()) {
        let _ = Event::decode(&name, &data);
    }

    /// `one_line` leaves no control character and no doubled or edge spaces.
    #[test]
    fn one_line_is_one_clean_line(s in any::<String>()) {
        let line = one_line(&s);
        prop_assert!(!line.chars().any(char::is_control));
        prop_assert!(!line.contains("  ") && line.trim() == line);
    }

    /// Request bodies: any bytes give a parsed value or a field-level error, never a panic; and
    /// whatever parses, validation names fields rather than failing.
    #[test]
    fn request_bodies_never_panic(body in any::<Vec<u8>>()) {
        if let Ok(request) = parse_json_body::<GenerateRequest>(&body, true) {
            let _ = request.validate();
        }
        if let Ok(jobs) = parse_json_body::<JobSubmission>(&body, true) {
            let _ = jobs.validate();
        }
        if let Ok(message) = parse_json_body::<ChatMessageCreate>(&body, true) {
            let _ = message.validate();
        }
    }

    /// Generated JSON of roughly the right shape: lengths are counted in code points and
    /// the limits are inclusive (contract §19.4).
    #[test]
    fn prompt_limits_count_code_points(n in 0usize..10_010, c in prop_oneof![Just('a'), Just('é'), Just('😀')]) {
        let body = serde_json::json!({ "prompt": c.to_string().repeat(n) }).to_string();
        let request: GenerateRequest = parse_json_body(body.as_bytes(), true).unwrap();
        let errors = request.validate();
        prop_assert_eq!(errors.is_empty(), (1..=10_000).contains(&n), "{} x {:?}", n, c);
    }

    /// Cursors: any text parses or is refused without panicking, and every cursor the server
    /// hands out parses back to itself.
    #[test]
    fn cursors_parse_or_refuse(s in any::<String>(), secs in 0i64..4_000_000_000, nanos in 0u32..1_000_000_000, id in any::<u128>()) {
        let _ = SessionCursor::parse(&s);
        let cursor = SessionCursor {
            updated_at: chrono::DateTime::from_timestamp(secs, nanos / 1000 * 1000).unwrap(),
            id: Some(uuid::Uuid::from_u128(id)),
        };
        prop_assert_eq!(SessionCursor::parse(&cursor.encode()), Some(cursor));
    }

    /// Job ids: any text is a UUID or a 404-style refusal, never a panic.
    #[test]
    fn job_ids_parse_or_refuse(s in any::<String>()) {
        let _ = parse_job_id(&s);
    }
}
