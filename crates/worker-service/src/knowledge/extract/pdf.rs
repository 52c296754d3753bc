//! PDF (pdf-extract, on lopdf), page by page. A hostile or broken PDF can make the parser
//! panic or loop, so it runs on a blocking thread with panics caught and a time limit: the file
//! fails with a readable error and the worker goes on. A parse that overruns is abandoned (a
//! thread cannot be killed); [`PARSE_SLOTS`] bounds how many such threads can pile up.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{ExtractError, Extracted};

/// PDF parses running at once in this process.
const PARSE_SLOTS: usize = 2;
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(PARSE_SLOTS));

pub async fn extract(bytes: bytes::Bytes, limit: Duration) -> Result<Extracted, ExtractError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(ExtractError::new("The file is not a PDF (no %PDF header)"));
    }
    let Ok(permit) = SLOTS.acquire().await else {
        return Err(ExtractError::new("The PDF reader is unavailable"));
    };
    let task = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(&bytes))
    });
    let pages = match tokio::time::timeout(limit, task).await {
        Err(_) => {
            // The slot stays taken until the runaway parse ends, if it ever does.
            permit.forget();
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "PDF parse overran its time limit; abandoned"
            );
            return Err(ExtractError::new(format!(
                "The PDF took longer than {} s to read and was abandoned (damaged or hostile file?)",
                limit.as_secs()
            )));
        }
        Ok(Err(_)) | Ok(Ok(Err(_))) => {
            return Err(ExtractError::new(
                "The PDF could not be read (the parser failed on it: damaged file?)",
            ))
        }
        Ok(Ok(Ok(Err(e)))) => {
            return Err(ExtractError::new(format!(
                "The PDF could not be read: {}",
                clip(&e.to_string())
            )))
        }
        Ok(Ok(Ok(Ok(pages)))) => pages,
    };
    drop(permit);
    let mut out = Extracted::default();
    for page in pages {
        out.page_starts.push(out.text.len());
        out.text.push_str(page.trim_end());
        out.text.push_str("\n\n");
    }
    Ok(out)
}

fn clip(s: &str) -> String {
    common::text::one_line_clipped(s, 200)
}
