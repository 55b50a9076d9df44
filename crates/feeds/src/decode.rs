//! Bytes → text: which character encoding a feed is in.
//!
//! Order of evidence: a byte-order mark, then UTF-16 without a mark (`<\0?\0`),
//! then the XML declaration's `encoding="…"`, else UTF-8. Labels are looked up
//! with `encoding_rs` (the WHATWG Encoding Standard, so `ISO-8859-1` decodes as
//! its superset windows-1252, as browsers do). Malformed sequences become
//! U+FFFD; nothing here can fail or panic.
//!
//! One repair: a feed that claims (or defaults to) UTF-8 but is not valid UTF-8
//! and contains no valid multi-byte UTF-8 sequence at all was almost certainly
//! written in windows-1252 by a tool that forgot to say so; it is decoded as
//! windows-1252. A feed mixing both keeps U+FFFD for the bad bytes.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

/// Decodes `bytes` to a string, following the evidence above.
pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return decode_as(encoding, &bytes[bom_len..]);
    }
    match bytes {
        [b'<', 0, b'?', 0, ..] => return decode_as(UTF_16LE, bytes),
        [0, b'<', 0, b'?', ..] => return decode_as(UTF_16BE, bytes),
        _ => {}
    }
    let declared = declared_encoding(bytes);
    match declared {
        // An ASCII-compatible document cannot really be UTF-16, whatever it says.
        Some(enc) if enc != UTF_16LE && enc != UTF_16BE && enc != UTF_8 => decode_as(enc, bytes),
        _ => decode_utf8_or_repair(bytes),
    }
}

fn decode_as(encoding: &'static Encoding, bytes: &[u8]) -> String {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        tracing::warn!(
            encoding = encoding.name(),
            "feed has byte sequences invalid in its encoding; replaced with U+FFFD"
        );
    }
    text.into_owned()
}

fn decode_utf8_or_repair(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) if !has_utf8_multibyte(bytes) => {
            tracing::warn!(
                "feed is not valid UTF-8 and has no UTF-8 sequence; decoding it as windows-1252"
            );
            decode_as(WINDOWS_1252, bytes)
        }
        Err(_) => {
            tracing::warn!("feed is not valid UTF-8; invalid bytes replaced with U+FFFD");
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// Whether `bytes` contain at least one well-formed multi-byte UTF-8 sequence.
fn has_utf8_multibyte(bytes: &[u8]) -> bool {
    bytes
        .utf8_chunks()
        .any(|chunk| chunk.valid().len() != chunk.valid().chars().count())
}

/// The encoding named in the XML declaration, if there is one and it is known.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = head[start..].strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = &head[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let rest = trim_ascii_start(rest).strip_prefix(b"=")?;
    let rest = trim_ascii_start(rest);
    let quote = *rest.first().filter(|q| **q == b'"' || **q == b'\'')?;
    let rest = &rest[1..];
    let label = &rest[..rest.iter().position(|b| *b == quote)?];
    let encoding = Encoding::for_label(label);
    if encoding.is_none() {
        tracing::warn!(
            label = %String::from_utf8_lossy(label),
            "unknown encoding in the XML declaration; assuming UTF-8"
        );
    }
    encoding
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode("<a>é</a>".as_bytes()), "<a>é</a>");
        assert_eq!(decode(b"\xEF\xBB\xBF<a>\xC3\xA9</a>"), "<a>é</a>");
    }

    #[test]
    fn declared_latin1_and_windows_1252() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xE9</a>";
        assert!(decode(latin1).ends_with("<a>café</a>"));
        let cp1252 = b"<?xml version='1.0' encoding = 'windows-1252' ?><a>\x93hi\x94</a>";
        assert!(decode(cp1252).ends_with("<a>\u{201C}hi\u{201D}</a>"));
    }

    #[test]
    fn utf16_with_bom_and_without() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>é</a>";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le), text);
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode(&be), text);
    }

    #[test]
    fn undeclared_latin1_is_repaired_and_mixed_garbage_is_replaced() {
        assert_eq!(decode(b"<a>caf\xE9</a>"), "<a>café</a>");
        assert_eq!(decode(b"<a>\xC3\xA9 \xFF</a>"), "<a>é \u{FFFD}</a>");
    }

    #[test]
    fn declaration_claiming_utf16_on_ascii_bytes_is_ignored() {
        assert_eq!(
            decode(b"<?xml version=\"1.0\" encoding=\"utf-16\"?><a/>"),
            "<?xml version=\"1.0\" encoding=\"utf-16\"?><a/>"
        );
    }
}
