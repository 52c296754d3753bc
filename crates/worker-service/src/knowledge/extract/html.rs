//! HTML to Markdown-like text (html2text): headings become `#` lines, so the heading paths
//! and the Markdown-aware chunking work as for Markdown. Scripts and styles are dropped.

use super::{text, ExtractError, Extracted};

/// Wide enough that html2text never wraps a line (chunking decides the sizes).
const NO_WRAP: usize = 100_000;

pub fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let source = text::decode(bytes)?;
    let rendered = html2text::config::plain()
        .link_footnotes(false)
        .string_from_read(source.as_bytes(), NO_WRAP)
        .map_err(|e| ExtractError::new(format!("The HTML could not be read: {e}")))?;
    Ok(Extracted::markdown(rendered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_become_paths_and_scripts_vanish() {
        let html = b"<html><head><script>var x = 1;</script><style>p{}</style></head><body>\
            <h1>Manual</h1><p>Intro text.</p><h2>Setup</h2><p>Run the installer.</p></body></html>";
        let e = extract(html).unwrap_or_default();
        assert!(e.text.contains("Run the installer."), "{}", e.text);
        assert!(!e.text.contains("var x"), "{}", e.text);
        let paths: Vec<&str> = e.headings.iter().map(|(_, h)| h.as_str()).collect();
        assert_eq!(paths, ["Manual", "Manual > Setup"]);
    }
}
