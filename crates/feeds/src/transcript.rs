//! Transcript files → plain text, for the search index.
//!
//! `podcast:transcript` files come as WebVTT, SRT, the Podcasting 2.0 JSON
//! format (`{"segments":[{"body": …}]}`), HTML or plain text. Timings, cue
//! numbers, `NOTE` blocks and voice tags are dropped; what is left is the
//! spoken text. Unknown or broken input gives whatever text could be read,
//! never an error: a transcript only helps search.

use crate::text::{collapse_whitespace, html_to_paragraphs};

/// Text kept from one transcript (a three-hour episode is about 200 KB).
pub const MAX_TRANSCRIPT_TEXT: usize = 2 << 20;

/// The spoken text of a transcript file, whitespace collapsed, at most
/// [`MAX_TRANSCRIPT_TEXT`] bytes. `media_type` is the declared type, if any;
/// the content decides when it is missing or generic.
pub fn transcript_text(bytes: &[u8], media_type: Option<&str>) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let kind = media_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let head = text.trim_start();
    let out = if kind == "application/json" || head.starts_with('{') {
        json_text(text).unwrap_or_else(|| collapse_whitespace(text))
    } else if kind == "text/vtt"
        || kind == "application/x-subrip"
        || kind == "application/srt"
        || head.starts_with("WEBVTT")
        || text.contains("-->")
    {
        cue_text(text)
    } else if kind == "text/html" || head.starts_with('<') {
        collapse_whitespace(&html_to_paragraphs(text))
    } else {
        collapse_whitespace(text)
    };
    cut(out)
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_TRANSCRIPT_TEXT {
        let end = crate::xml::floor_char_boundary(&text, MAX_TRANSCRIPT_TEXT);
        text.truncate(end);
    }
    text
}

/// WebVTT or SRT: the cue payloads, tags stripped.
fn cue_text(text: &str) -> String {
    let mut out = String::new();
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    for block in normalised.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        let Some(at) = lines.iter().position(|l| l.contains("-->")) else {
            continue; // the header, NOTE, STYLE and REGION blocks
        };
        for line in &lines[at + 1..] {
            let line = strip_tags(line);
            let line = line.trim();
            if !line.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
        }
    }
    collapse_whitespace(&out)
}

/// Drops `<v Speaker>`, `<i>`, `<00:01.000>` and similar cue tags, and
/// decodes the few entities WebVTT allows.
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_tag = false;
    for c in line.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The Podcasting 2.0 JSON transcript: every segment's `body`, in order.
fn json_text(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let segments = value.get("segments")?.as_array()?;
    let mut out = String::new();
    for body in segments.iter().filter_map(|s| s.get("body")?.as_str()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(body);
    }
    Some(collapse_whitespace(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtt_and_srt_keep_only_what_is_said() {
        let vtt = "WEBVTT\n\nNOTE a comment\n\n1\n00:00:00.000 --> 00:00:02.000\n<v Ana>Escrow holds\nthe deposit</v>\n\n00:00:02.000 --> 00:00:04.000 align:start\nuntil &amp; closing\n";
        assert_eq!(
            transcript_text(vtt.as_bytes(), Some("text/vtt")),
            "Escrow holds the deposit until & closing"
        );
        let srt = "1\r\n00:00:00,000 --> 00:00:02,000\r\nFirst line\r\n\r\n2\r\n00:00:02,000 --> 00:00:03,500\r\nSecond\r\n";
        assert_eq!(transcript_text(srt.as_bytes(), None), "First line Second");
    }

    #[test]
    fn json_html_and_text() {
        let json = r#"{"version":"1.0.0","segments":[{"speaker":"A","startTime":0,"endTime":1,"body":"Commission"},{"startTime":1,"endTime":2,"body":"splits"}]}"#;
        assert_eq!(
            transcript_text(json.as_bytes(), Some("application/json")),
            "Commission splits"
        );
        let html = "<html><body><p>Hello <b>there</b></p><script>evil()</script><p>again</p></body></html>";
        assert_eq!(
            transcript_text(html.as_bytes(), Some("text/html")),
            "Hello there again"
        );
        assert_eq!(
            transcript_text(b"\xef\xbb\xbfjust  text\n", Some("text/plain")),
            "just text"
        );
        // Broken JSON is read as text, not refused.
        assert_eq!(transcript_text(b"{ not json", None), "{ not json");
    }

    #[test]
    fn huge_transcripts_are_cut_at_a_character_boundary() {
        let big = "é ".repeat(MAX_TRANSCRIPT_TEXT);
        let text = transcript_text(big.as_bytes(), Some("text/plain"));
        assert!(text.len() <= MAX_TRANSCRIPT_TEXT && text.len() > MAX_TRANSCRIPT_TEXT - 4);
    }
}
