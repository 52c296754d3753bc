//! CSV: one line per row, each value named by its column (`name: Ada; born: 1815`), so a row
//! is a self-contained passage wherever the chunker cuts.

use super::{text, ExtractError, Extracted};

pub fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let source = text::decode(bytes)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(source.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ExtractError::new(format!("The CSV could not be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut out = String::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            ExtractError::new(format!("The CSV could not be read at row {}: {e}", n + 2))
        })?;
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(i, v)| match headers.get(i).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h}: {}", v.trim()),
                None => v.trim().to_owned(),
            })
            .collect();
        if !fields.is_empty() {
            out.push_str(&fields.join("; "));
            out.push('\n');
        }
    }
    if out.is_empty() && !headers.is_empty() {
        // A header line alone is still text.
        out = headers.join("; ");
    }
    Ok(Extracted::plain(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_name_their_columns() {
        let e =
            extract(b"name,born\nAda Lovelace,1815\n\"Hopper, Grace\",1906\n").unwrap_or_default();
        assert_eq!(
            e.text,
            "name: Ada Lovelace; born: 1815\nname: Hopper, Grace; born: 1906\n"
        );
    }
}
