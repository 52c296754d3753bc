//! Text out of an uploaded file. Every extractor answers an [`Extracted`]: the text, where each
//! PDF page starts, and where each heading path starts (Markdown, HTML and DOCX are turned
//! into Markdown-like text whose `#` headings carry the structure), or an [`ExtractError`]
//! whose message is what the user reads on the failed file.
//!
//! Hostile input is bounded: PDF parsing runs on a blocking thread under a time limit with
//! panics caught ([`pdf`]); DOCX decompression stops at a cap ([`docx`]); everything runs on
//! at most `FILE_MAX_BYTES` of input.

pub mod csv;
pub mod docx;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod text;

use std::time::Duration;

/// What extraction produced. Offsets are byte offsets into `text`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Extracted {
    pub text: String,
    /// Where page `i + 1` starts (PDF only; empty otherwise).
    pub page_starts: Vec<usize>,
    /// Heading paths (`Guide > Install`) and where they start, in order.
    pub headings: Vec<(usize, String)>,
    /// The text is Markdown (chunked along its structure).
    pub markdown: bool,
}

impl Extracted {
    /// Plain text without structure.
    pub fn plain(text: String) -> Self {
        Self {
            text,
            ..Self::default()
        }
    }

    /// Markdown text with its heading paths.
    pub fn markdown(text: String) -> Self {
        let headings = markdown::heading_paths(&text);
        Self {
            text,
            headings,
            markdown: true,
            ..Self::default()
        }
    }

    /// The page (1-based) the byte offset `at` is on.
    pub fn page_at(&self, at: usize) -> Option<i32> {
        if self.page_starts.is_empty() {
            return None;
        }
        let idx = self.page_starts.partition_point(|&s| s <= at).max(1);
        i32::try_from(idx).ok()
    }

    /// The heading path in force at byte offset `at`.
    pub fn heading_at(&self, at: usize) -> Option<&str> {
        let idx = self.headings.partition_point(|(s, _)| *s <= at);
        idx.checked_sub(1)
            .and_then(|i| self.headings.get(i))
            .map(|(_, h)| h.as_str())
    }
}

/// Why a file yielded no text; the message is shown on the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExtractError(pub String);

impl ExtractError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Limits applied while extracting.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a PDF may take to parse.
    pub pdf_timeout: Duration,
    /// Most bytes a DOCX may decompress to.
    pub docx_max_bytes: u64,
}

/// Extracts the text of `bytes` read as `kind`. Runs the CPU-heavy parsers off the async
/// runtime.
pub async fn extract(
    kind: &str,
    bytes: bytes::Bytes,
    limits: Limits,
) -> Result<Extracted, ExtractError> {
    let extracted = match kind {
        "pdf" => pdf::extract(bytes, limits.pdf_timeout).await?,
        "docx" => blocking(move || docx::extract(&bytes, limits.docx_max_bytes)).await?,
        "html" => blocking(move || html::extract(&bytes)).await?,
        "markdown" => Extracted::markdown(text::decode(&bytes)?),
        "csv" => blocking(move || csv::extract(&bytes)).await?,
        _ => Extracted::plain(text::decode(&bytes)?),
    };
    if extracted.text.trim().is_empty() {
        return Err(if kind == "pdf" {
            ExtractError::new(
                "No text found: the PDF has no text layer (a scanned document?). OCR is not supported.",
            )
        } else {
            ExtractError::new("No text found in the file")
        });
    }
    Ok(extracted)
}

/// Runs `f` on the blocking pool; a panic fails the file instead of the worker.
async fn blocking<F>(f: F) -> Result<Extracted, ExtractError>
where
    F: FnOnce() -> Result<Extracted, ExtractError> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
    })
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(_)) | Err(_) => Err(ExtractError::new(
            "The file could not be read (the parser failed on it)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_headings_are_found_by_offset() {
        let e = Extracted {
            text: "a".repeat(30),
            page_starts: vec![0, 10, 20],
            headings: vec![(5, "A".into()), (15, "A > B".into())],
            markdown: false,
        };
        assert_eq!(e.page_at(0), Some(1));
        assert_eq!(e.page_at(10), Some(2));
        assert_eq!(e.page_at(29), Some(3));
        assert_eq!(e.heading_at(2), None);
        assert_eq!(e.heading_at(5), Some("A"));
        assert_eq!(e.heading_at(25), Some("A > B"));
    }
}
