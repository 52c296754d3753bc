//! Chunking with text-splitter, sized in tokens (cl100k_base, a close enough count for any
//! current embedding model) with an overlap, Markdown-aware for Markdown, HTML and DOCX. Each
//! chunk keeps its page, heading path and character offsets in the extracted text.

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};
use tiktoken_rs::CoreBPE;

use super::extract::Extracted;

/// Target chunk size in tokens: a passage answers one question and a handful fit a prompt.
pub const CHUNK_TOKENS: usize = 350;
/// Tokens shared by neighbouring chunks, so a sentence cut at a boundary is whole in one.
pub const CHUNK_OVERLAP_TOKENS: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub page: Option<i32>,
    pub heading: Option<String>,
    /// Character (code point) offsets in the extracted text.
    pub char_start: i32,
    pub char_end: i32,
    pub tokens: i32,
}

fn tokenizer() -> &'static CoreBPE {
    tiktoken_rs::cl100k_base_singleton()
}

/// Splits the extracted text into chunks of about [`CHUNK_TOKENS`] tokens.
pub fn chunks(extracted: &Extracted) -> Vec<Chunk> {
    chunks_sized(extracted, CHUNK_TOKENS, CHUNK_OVERLAP_TOKENS)
}

pub fn chunks_sized(extracted: &Extracted, size: usize, overlap: usize) -> Vec<Chunk> {
    let bpe = tokenizer();
    let config = match ChunkConfig::new(size).with_overlap(overlap) {
        Ok(c) => c.with_sizer(bpe),
        Err(_) => ChunkConfig::new(size).with_sizer(bpe),
    };
    let text = extracted.text.as_str();
    let pieces: Vec<(usize, usize, &str)> = if extracted.markdown {
        MarkdownSplitter::new(config)
            .chunk_char_indices(text)
            .map(|c| (c.byte_offset, c.char_offset, c.chunk))
            .collect()
    } else {
        TextSplitter::new(config)
            .chunk_char_indices(text)
            .map(|c| (c.byte_offset, c.char_offset, c.chunk))
            .collect()
    };
    let mut prev_end = 0;
    let mut out = Vec::with_capacity(pieces.len());
    for (byte, chars, chunk) in pieces {
        if chunk.trim().is_empty() {
            continue;
        }
        // A chunk's heading is the one in force where its new text begins (after the overlap
        // it shares with the previous chunk, blank lines and, in Markdown, the heading lines
        // that open it): a chunk that opens a section belongs to it, not to the section its
        // overlap came from, and "# A\n## B\ntext" is under "A > B".
        let end = byte + chunk.len();
        let fresh = byte.max(prev_end).min(end);
        let fresh = first_content(text, fresh, end, extracted.markdown);
        prev_end = end;
        let len = chunk.chars().count();
        out.push(Chunk {
            text: chunk.to_owned(),
            page: extracted.page_at(byte),
            heading: extracted.heading_at(fresh).map(str::to_owned),
            char_start: i32::try_from(chars).unwrap_or(i32::MAX),
            char_end: i32::try_from(chars + len).unwrap_or(i32::MAX),
            tokens: i32::try_from(bpe.encode_ordinary(chunk).len()).unwrap_or(i32::MAX),
        });
    }
    out
}

/// The first byte in `start..end` that is neither whitespace nor (in Markdown) a heading line.
fn first_content(text: &str, start: usize, end: usize, markdown: bool) -> usize {
    let mut at = start;
    loop {
        let Some(rest) = text.get(at..end) else {
            return start;
        };
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if markdown && trimmed.starts_with('#') {
            match trimmed.find('\n') {
                Some(nl) => at += nl + 1,
                None => return at,
            }
        } else {
            return at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_chunks_keep_headings_offsets_and_size() {
        let mut text = String::from("# Guide\n\nIntro.\n\n## Install\n\n");
        for i in 0..200 {
            text.push_str(&format!("Step {i}: run the installer and check the log. "));
        }
        text.push_str("\n\n## Use\n\n");
        for i in 0..100 {
            text.push_str(&format!("Usage {i}: start it with sable run. "));
        }
        let extracted = Extracted::markdown(text.clone());
        let chunks = chunks_sized(&extracted, 100, 20);
        assert!(chunks.len() > 5, "{}", chunks.len());
        for c in &chunks {
            assert!(c.tokens <= 100, "{} tokens", c.tokens);
            let start = usize::try_from(c.char_start).unwrap_or(0);
            let len = usize::try_from(c.char_end - c.char_start).unwrap_or(0);
            let at: String = text.chars().skip(start).take(len).collect();
            assert_eq!(at, c.text);
        }
        let tail: Vec<_> = chunks.iter().rev().take(2).collect();
        assert_eq!(
            chunks.last().and_then(|c| c.heading.as_deref()),
            Some("Guide > Use"),
            "{tail:#?}"
        );
        assert!(chunks
            .iter()
            .any(|c| c.heading.as_deref() == Some("Guide > Install")));
        // Overlap: a later chunk starts before the previous one ends.
        assert!(chunks.windows(2).any(|w| w[1].char_start < w[0].char_end));
    }

    #[test]
    fn a_chunk_opening_with_headings_is_under_the_deepest() {
        let e = Extracted::markdown("# Ops\n\n## Backups\n\nNightly pg_dump.\n".to_owned());
        let chunks = chunks_sized(&e, 100, 10);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading.as_deref(), Some("Ops > Backups"));
    }

    #[test]
    fn pdf_chunks_know_their_page() {
        let mut e = Extracted::default();
        for p in 0..3 {
            e.page_starts.push(e.text.len());
            e.text
                .push_str(&format!("Page {p} says {}.\n\n", "words ".repeat(150)));
        }
        let chunks = chunks_sized(&e, 100, 10);
        assert_eq!(chunks.first().and_then(|c| c.page), Some(1));
        assert_eq!(chunks.last().and_then(|c| c.page), Some(3));
    }
}
