//! What a search box's text becomes before `websearch_to_tsquery` reads it.
//!
//! Postgres builds a query tree on a fixed stack: a run of 32 or more negations (`-`, with
//! nothing but punctuation or spaces between them, as in fifty `-` or `-!-!-!…`) makes it fail
//! with "tsquery stack too small" (an internal error, SQLSTATE XX000), which would be a 500 for
//! a harmless typo. A run of negations before one word is collapsed into one `-`: a search for
//! `--word` or `- - word` means "without word" as a person reads it, and the tree stays flat.

/// `q` with every run of `-` that has no letter or digit between them reduced to its first.
pub fn websearch_input(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    // A `-` was kept and no letter or digit has come since.
    let mut negating = false;
    for c in q.chars() {
        if c == '-' {
            if negating {
                continue;
            }
            negating = true;
        } else if c.is_alphanumeric() {
            negating = false;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::websearch_input;

    #[test]
    fn runs_of_negations_collapse_and_words_are_kept() {
        assert_eq!(websearch_input(&"-".repeat(50)), "-");
        assert_eq!(websearch_input("- - - word"), "-   word");
        assert_eq!(websearch_input("-!-!-!x"), "-!!!x");
        assert_eq!(websearch_input("rust -async"), "rust -async");
        assert_eq!(websearch_input("e-mail -spam -ham"), "e-mail -spam -ham");
        assert_eq!(
            websearch_input("\"state-of-the-art\""),
            "\"state-of-the-art\""
        );
    }
}
