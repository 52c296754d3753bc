//! Plain text: UTF-8 (with or without a byte-order mark) and UTF-16 LE/BE with a byte-order
//! mark. Anything else that is not valid UTF-8 is refused rather than guessed at.

use super::ExtractError;

pub fn decode(bytes: &[u8]) -> Result<String, ExtractError> {
    let text = match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest)?,
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => utf8(bytes)?,
    };
    // Text with NULs is a binary file with a text name.
    if text.contains('\0') {
        return Err(ExtractError::new(
            "The file is not text (it contains binary data)",
        ));
    }
    Ok(text.replace("\r\n", "\n"))
}

fn utf8(bytes: &[u8]) -> Result<String, ExtractError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        ExtractError::new("The file is not valid UTF-8 text (UTF-16 needs a byte-order mark)")
    })
}

fn utf16(bytes: &[u8], word: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|p| word([p[0], p[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_a_bom_is_read_in_both_byte_orders() {
        let text = "Grüße, 世界\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(decode(&le).as_deref(), Ok(text));
        assert_eq!(decode(&be).as_deref(), Ok(text));
    }

    #[test]
    fn utf8_boms_and_crlf_are_dropped_and_binary_refused() {
        assert_eq!(decode(b"\xEF\xBB\xBFa\r\nb").as_deref(), Ok("a\nb"));
        assert!(decode(b"\xFF\x00\x81junk").is_err());
        assert!(decode(b"ab\0cd").is_err());
    }
}
