//! DOCX: the paragraphs of `word/document.xml` (zip + quick-xml), headings (`Heading1`…,
//! `Title`) as `#` lines. A DOCX is a zip, so decompression is capped: the document part is
//! read through a limit that counts the bytes actually inflated (the sizes a zip declares can
//! lie), and a file past it fails as a suspected zip bomb.

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{ExtractError, Extracted};

pub fn extract(bytes: &[u8], max_bytes: u64) -> Result<Extracted, ExtractError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| {
        ExtractError::new("The DOCX could not be opened (it is not a valid zip file)")
    })?;
    let part = archive
        .by_name("word/document.xml")
        .map_err(|_| ExtractError::new("The DOCX has no document body (word/document.xml)"))?;
    let mut xml = Vec::new();
    part.take(max_bytes.saturating_add(1))
        .read_to_end(&mut xml)
        .map_err(|e| ExtractError::new(format!("The DOCX could not be decompressed: {e}")))?;
    if xml.len() as u64 > max_bytes {
        return Err(ExtractError::new(format!(
            "The DOCX decompresses to more than {} MB (a zip bomb?); refused",
            max_bytes / 1_000_000
        )));
    }
    paragraphs(&xml).map(Extracted::markdown)
}

/// The document's text, one paragraph per line, headings prefixed with `#`s.
fn paragraphs(xml: &[u8]) -> Result<String, ExtractError> {
    let mut reader = Reader::from_reader(xml);
    let mut out = String::new();
    let mut para = String::new();
    let mut level: Option<usize> = None;
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ExtractError::new(format!("The DOCX body is not valid XML: {e}")))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tab" => para.push('\t'),
                b"br" | b"cr" => para.push('\n'),
                b"pStyle" => {
                    let style = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == b"val")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        .unwrap_or_default();
                    level = heading_level(&style);
                }
                _ => {}
            },
            Event::Text(t) if in_text => {
                let text = t.decode().map_err(|e| {
                    ExtractError::new(format!("The DOCX body is not valid XML: {e}"))
                })?;
                para.push_str(&text);
            }
            Event::GeneralRef(r) if in_text => {
                let name = String::from_utf8_lossy(&r);
                para.push_str(match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let line = para.trim();
                    if !line.is_empty() {
                        if let Some(n) = level {
                            out.push_str(&"#".repeat(n));
                            out.push(' ');
                        }
                        out.push_str(line);
                        out.push_str("\n\n");
                    }
                    para.clear();
                    level = None;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// `Heading2` → 2, `Title` → 1; other styles are body text.
fn heading_level(style: &str) -> Option<usize> {
    if style.eq_ignore_ascii_case("title") {
        return Some(1);
    }
    let digits = style
        .strip_prefix("Heading")
        .or_else(|| style.strip_prefix("heading"))?;
    digits
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=6).contains(n))
}

#[cfg(test)]
pub mod tests {
    use std::io::Write;

    use super::*;

    /// A minimal DOCX whose body is `document_xml`.
    pub fn docx(document_xml: &str) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let _ = zip.start_file("word/document.xml", options);
        let _ = zip.write_all(document_xml.as_bytes());
        let _ = zip.finish();
        out.into_inner()
    }

    const BODY: &str = r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
        <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Contract</w:t></w:r></w:p>
        <w:p><w:r><w:t xml:space="preserve">Either party may end this </w:t></w:r><w:r><w:t>agreement &amp; leave.</w:t></w:r></w:p>
        </w:body></w:document>"#;

    #[test]
    fn paragraphs_and_headings_are_read() {
        let e = extract(&docx(BODY), 10_000_000).unwrap_or_default();
        assert_eq!(
            e.text,
            "# Contract\n\nEither party may end this agreement & leave.\n\n"
        );
        assert_eq!(e.headings, vec![(0, "Contract".to_owned())]);
    }

    #[test]
    fn a_body_past_the_cap_is_refused_as_a_bomb() {
        let big = format!(
            "<w:document><w:body><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:body></w:document>",
            "a".repeat(2_000_000)
        );
        let bytes = docx(&big);
        assert!(bytes.len() < 100_000, "compresses well: {}", bytes.len());
        let err = extract(&bytes, 1_000_000)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(err.contains("zip bomb"), "{err}");
    }

    #[test]
    fn not_a_zip_is_a_readable_error() {
        let err = extract(b"PK\x03\x04 truncated", 1_000_000)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(err.contains("not a valid zip"), "{err}");
    }
}
