//! The grounding prompt (issue 24): how numbered passages of the user's files are given to the
//! model, and how the citations `[n]` of its answer are read back.
//!
//! The gateway renders it ([`render`]) in front of the chat's own system prompt; the mock
//! provider reads it back ([`read`]) to answer from the top passage offline. It lives here,
//! not in either service, because both must agree on it byte for byte. ARCHITECTURE.md
//! ("Grounded answers") quotes the template.

/// What the model is told when passages were found (followed by the `<sources>` block).
pub const INSTRUCTION: &str = "Answer from the sources below: passages of the user's files, \
found for their latest message and numbered [1], [2], and so on. Cite each statement that uses \
a source with its number in square brackets right after it, like [1] or [2][3]. Cite only the \
numbers listed below; never invent a source, a number or a quotation, and do not cite a source \
that does not support the statement. If the sources do not contain the answer, say that the \
files do not cover it instead of guessing.";

/// What the model is told when the search found nothing.
pub const NOTHING_FOUND: &str = "The user's files were searched for their latest message and \
nothing relevant was found. Say that you could not find this in their files. Do not cite any \
source and do not invent one; if you add anything from general knowledge, say clearly that it \
does not come from their files.";

pub const SOURCES_OPEN: &str = "<sources>";
pub const SOURCES_CLOSE: &str = "</sources>";

/// One passage to number: where it comes from and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passage<'a> {
    pub filename: &'a str,
    pub page: Option<i32>,
    pub heading: Option<&'a str>,
    pub text: &'a str,
}

/// The grounding block for `passages` (numbered from 1 in order), or [`NOTHING_FOUND`] when
/// there are none:
///
/// ```text
/// <INSTRUCTION>
///
/// <sources>
/// [1] report.pdf, page 3, section "Terms > Termination"
/// <passage text>
///
/// [2] notes.md
/// <passage text>
/// </sources>
/// ```
pub fn render(passages: &[Passage<'_>]) -> String {
    if passages.is_empty() {
        return NOTHING_FOUND.to_owned();
    }
    let size: usize = passages.iter().map(|p| p.text.len() + 80).sum();
    let mut out = String::with_capacity(INSTRUCTION.len() + size + 32);
    out.push_str(INSTRUCTION);
    out.push_str("\n\n");
    out.push_str(SOURCES_OPEN);
    for (i, p) in passages.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { "\n\n" });
        out.push_str(&header(i + 1, p));
        out.push('\n');
        out.push_str(p.text.trim());
    }
    out.push('\n');
    out.push_str(SOURCES_CLOSE);
    out
}

/// `[n] file, page p, section "h"`: the line that names a source.
fn header(n: usize, p: &Passage<'_>) -> String {
    let mut line = format!("[{n}] {}", crate::text::one_line(p.filename));
    if let Some(page) = p.page {
        line.push_str(&format!(", page {page}"));
    }
    if let Some(heading) = p
        .heading
        .map(crate::text::one_line)
        .filter(|h| !h.is_empty())
    {
        line.push_str(&format!(", section \"{heading}\""));
    }
    line
}

/// A system prompt read back: the grounding it starts with, and the rest (the chat's own
/// system prompt, possibly empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read<'a> {
    /// Passages were given; the text of `[1]`.
    Sources { first: &'a str, rest: &'a str },
    /// The search found nothing.
    NothingFound { rest: &'a str },
}

/// Reads a system prompt that starts with a grounding block; `None` for any other.
pub fn read(system: &str) -> Option<Read<'_>> {
    if let Some(rest) = system.strip_prefix(NOTHING_FOUND) {
        return Some(Read::NothingFound {
            rest: rest.trim_start(),
        });
    }
    let body = system.strip_prefix(INSTRUCTION)?.trim_start();
    let body = body.strip_prefix(SOURCES_OPEN)?;
    let close = body.find(SOURCES_CLOSE)?;
    let rest = body[close + SOURCES_CLOSE.len()..].trim_start();
    let sources = &body[..close];
    // The first source: its text runs from the line after `[1] …` to the blank line before
    // `[2]` (or to the end of the block).
    let start = sources.find("[1] ")?;
    let text_start = start + sources[start..].find('\n')? + 1;
    let text = &sources[text_start..];
    let end = text.find("\n\n[2] ").unwrap_or(text.len());
    Some(Read::Sources {
        first: text[..end].trim(),
        rest,
    })
}

/// The source numbers an answer cites (`[1]`, `[2][3]`, `[1, 2]`) among `1..=count`, each
/// once, ascending. Numbers out of range (a model's invention, or `[2024]` in a text) are not
/// citations.
pub fn cited(answer: &str, count: usize) -> Vec<u32> {
    let mut found: Vec<u32> = Vec::new();
    let bytes = answer.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'[' {
            i += 1;
            continue;
        }
        // `[` digits (`,` spaces digits)* `]`
        let mut j = i + 1;
        let mut numbers = Vec::new();
        let mut ok = false;
        loop {
            let digits_start = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - digits_start < 4 {
                j += 1;
            }
            if j == digits_start {
                break;
            }
            numbers.push(&answer[digits_start..j]);
            if j < bytes.len() && bytes[j] == b']' {
                ok = true;
                break;
            }
            if j < bytes.len() && bytes[j] == b',' {
                j += 1;
                while j < bytes.len() && bytes[j] == b' ' {
                    j += 1;
                }
                continue;
            }
            break;
        }
        if ok {
            for n in numbers.iter().filter_map(|n| n.parse::<u32>().ok()) {
                if n >= 1 && usize::try_from(n).is_ok_and(|n| n <= count) && !found.contains(&n) {
                    found.push(n);
                }
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    found.sort_unstable();
    found
}

/// Rough token count of a text (4 characters a token, as the mock counts): enough to share a
/// budget between passages without a tokenizer for every model.
pub fn estimated_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage<'a>(filename: &'a str, text: &'a str) -> Passage<'a> {
        Passage {
            filename,
            page: None,
            heading: None,
            text,
        }
    }

    #[test]
    fn a_rendered_block_reads_back_with_its_first_passage_and_the_rest() {
        let block = render(&[
            Passage {
                filename: "contract.pdf",
                page: Some(3),
                heading: Some("Terms > Termination"),
                text: "Either party may terminate\nwith 30 days notice.",
            },
            passage("notes.md", "Other text."),
        ]);
        assert!(block.contains("[1] contract.pdf, page 3, section \"Terms > Termination\"\n"));
        assert!(block.contains("\n\n[2] notes.md\nOther text.\n</sources>"));
        let system = format!("{block}\n\nBe brief.");
        assert_eq!(
            read(&system),
            Some(Read::Sources {
                first: "Either party may terminate\nwith 30 days notice.",
                rest: "Be brief."
            })
        );
        assert_eq!(read("Be brief."), None);
        assert_eq!(read(&render(&[])), Some(Read::NothingFound { rest: "" }));
    }

    #[test]
    fn citations_are_the_listed_numbers_used() {
        assert_eq!(cited("A [1]. B [2][3]. C [1, 3].", 3), vec![1, 2, 3]);
        assert_eq!(
            cited("In [2024] and [4] and [0] and [x]", 3),
            Vec::<u32>::new()
        );
        assert_eq!(cited("see [2", 3), Vec::<u32>::new());
        assert_eq!(cited("[[2]]", 3), vec![2]);
        assert_eq!(cited("no citations", 3), Vec::<u32>::new());
    }
}
