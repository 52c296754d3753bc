//! Search snippets that are safe to render as HTML.
//!
//! `ts_headline` copies the message text verbatim around its highlight markers, so a message
//! containing `<script>` would reach the browser as markup. Instead Postgres marks matches with
//! two private-use characters (stripped from the message beforehand, so a message cannot forge
//! them); here the text is HTML-escaped and only then are the markers turned into
//! `<mark>`/`</mark>`, the only tags a snippet can contain.

/// Marks the start of a match in `ts_headline` output (U+E000, private use).
pub const START: char = '\u{E000}';
/// Marks the end of a match (U+E001, private use).
pub const STOP: char = '\u{E001}';

/// Both markers, for `translate(content, MARKERS, '')`, which removes them from the message.
pub fn markers() -> String {
    [START, STOP].iter().collect()
}

/// The `ts_headline` options: our markers, and up to two short fragments of context.
pub fn headline_options() -> String {
    format!(
        "StartSel=\"{START}\", StopSel=\"{STOP}\", MaxFragments=2, MaxWords=30, MinWords=12, \
         FragmentDelimiter=\" … \""
    )
}

/// Escapes `raw` for HTML and turns the markers into `<mark>` tags.
pub fn render(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 32);
    for c in raw.chars() {
        match c {
            START => out.push_str("<mark>"),
            STOP => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_messages_is_escaped_and_matches_are_marked() {
        let raw = format!("<script>alert('x')</script> & {START}deploy{STOP} \"now\"");
        assert_eq!(
            render(&raw),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <mark>deploy</mark> &quot;now&quot;"
        );
    }

    #[test]
    fn options_name_the_markers() {
        let options = headline_options();
        assert!(options.contains(START) && options.contains(STOP));
        assert_eq!(markers().chars().count(), 2);
    }
}
