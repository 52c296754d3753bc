//! Text for messages: the one "flatten to one line and clip" helper every service uses for
//! what it shows a user (`[ERROR]` events, a job's errors, provider details).

/// `s` with every control character (CR, LF, tab…) replaced by a space, runs of spaces
/// collapsed, trimmed: an `[ERROR]` message can never break the SSE framing (§17.2).
pub fn one_line(s: &str) -> String {
    let replaced: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` cut to at most `max_chars` code points, the last one `…` when anything was cut.
pub fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_owned(),
        Some(_) if max_chars == 0 => String::new(),
        Some(_) => {
            let keep = s
                .char_indices()
                .nth(max_chars - 1)
                .map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..keep])
        }
    }
}

/// [`one_line`], then [`clip`] to `max_chars` code points.
pub fn one_line_clipped(s: &str, max_chars: usize) -> String {
    clip(&one_line(s), max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_then_clips_by_code_points() {
        assert_eq!(one_line(" a\r\n\tb  c \u{0}d "), "a b c d");
        assert_eq!(
            one_line_clipped("line one\nline two", 100),
            "line one line two"
        );
        assert_eq!(one_line_clipped("ab\ncdef", 4), "ab …");
        assert_eq!(clip("héllo wörld", 5), "héll…");
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo", 0), "");
        let long = "ж".repeat(1000);
        assert_eq!(one_line_clipped(&long, 300).chars().count(), 300);
    }
}
