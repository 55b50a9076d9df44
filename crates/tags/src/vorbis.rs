//! Chapters in Vorbis comments (Ogg Opus, Ogg Vorbis, FLAC), as written by
//! ffmpeg and described by the Vorbis chapter extension:
//! `CHAPTER001=00:00:00.000`, `CHAPTER001NAME=Intro`, `CHAPTER001URL=https://…`.
//!
//! Keys are matched case-insensitively, the number may have any width
//! (`CHAPTER1` and `CHAPTER001` are the same chapter; the first value seen
//! wins), and a chapter without a readable start is skipped.

use std::collections::BTreeMap;

use crate::chapter::{Chapter, ChapterList};

/// Distinct chapter numbers looked at; the rest of a hostile comment block
/// is ignored (the list keeps at most `MAX_CHAPTERS` anyway).
const MAX_NUMBERS: usize = 100_000;

#[derive(Default)]
struct Entry<'a> {
    start: Option<&'a str>,
    name: Option<&'a str>,
    url: Option<&'a str>,
}

enum Field {
    Start,
    Name,
    Url,
}

/// Reads the chapter comments among `comments` (key, value) into `list`.
pub(crate) fn chapters<'a>(
    comments: impl Iterator<Item = (&'a str, &'a str)>,
    list: &mut ChapterList,
) {
    let mut entries: BTreeMap<u64, Entry<'a>> = BTreeMap::new();
    for (key, value) in comments {
        let Some((number, field)) = parse_key(key) else {
            continue;
        };
        if entries.len() >= MAX_NUMBERS && !entries.contains_key(&number) {
            continue;
        }
        let entry = entries.entry(number).or_default();
        let slot = match field {
            Field::Start => &mut entry.start,
            Field::Name => &mut entry.name,
            Field::Url => &mut entry.url,
        };
        slot.get_or_insert(value);
    }
    for entry in entries.into_values() {
        let Some(start_ms) = entry.start.and_then(parse_timestamp) else {
            continue;
        };
        list.push(Chapter::cleaned(
            start_ms,
            None,
            entry.name.unwrap_or(""),
            entry.url,
            None,
            true,
        ));
    }
}

/// `CHAPTERnnn`, `CHAPTERnnnNAME` or `CHAPTERnnnURL` (any case).
fn parse_key(key: &str) -> Option<(u64, Field)> {
    let prefix = key.get(..7)?;
    if !prefix.eq_ignore_ascii_case("CHAPTER") {
        return None;
    }
    let rest = &key[7..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let number = rest[..digits].parse().ok()?;
    let field = match &rest[digits..] {
        "" => Field::Start,
        s if s.eq_ignore_ascii_case("NAME") => Field::Name,
        s if s.eq_ignore_ascii_case("URL") => Field::Url,
        _ => return None,
    };
    Some((number, field))
}

/// `HH:MM:SS.mmm` (the spec's form), also `H:MM:SS`, `MM:SS.s` and any
/// number of fraction digits (cut to milliseconds). Minutes and seconds must
/// be below 60 when a larger unit precedes them.
pub(crate) fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let parts: Vec<&str> = whole.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut numbers = [0u64; 3];
    for (slot, part) in numbers[3 - parts.len()..].iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 6 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    let [hours, minutes, seconds] = numbers;
    if seconds >= 60 || (parts.len() == 3 && minutes >= 60) {
        return None;
    }
    let mut ms = ((hours * 60 + minutes) * 60 + seconds) * 1000;
    if let Some(fraction) = fraction {
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut scale = 100;
        for digit in fraction.bytes().take(3) {
            ms += u64::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    Some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let cases: &[(&str, Option<u64>)] = &[
            ("00:00:00.000", Some(0)),
            ("00:00:20.250", Some(20_250)),
            ("01:02:03.4", Some(3_723_400)),
            ("1:02:03", Some(3_723_000)),
            ("02:03.999999", Some(123_999)),
            (" 00:00:01.5 ", Some(1_500)),
            ("100:00:00.000", Some(360_000_000)),
            ("00:60:00", None),
            ("00:00:60", None),
            ("00:00", Some(0)),
            ("12", None),
            ("1:2:3:4", None),
            ("aa:bb:cc", None),
            ("00:00:01.", None),
            ("00:00:01.x", None),
            ("-1:00:00", None),
            ("9999999:00:00", None),
            ("", None),
            ("00:00:0١", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), *want, "{text:?}");
        }
    }

    #[test]
    fn chapter_comments_group_by_number_in_any_case_and_width() {
        let comments = [
            ("TITLE", "Show"),
            ("CHAPTER002", "00:00:20.250"),
            ("chapter002name", "Third"),
            ("CHAPTER000", "00:00:00.000"),
            ("CHAPTER000NAME", "First"),
            ("CHAPTER000URL", "https://example.com/1"),
            ("CHAPTER1", "00:00:10.000"),
            ("CHAPTER001NAME", "Second"),
            ("CHAPTER001NAME", "ignored duplicate"),
            ("CHAPTER001URL", "javascript:alert(1)"),
            ("CHAPTER003NAME", "no start"),
            ("CHAPTER004", "junk"),
            ("CHAPTERX", "00:00:01"),
            ("CHAPTER005EXTRA", "00:00:01"),
            ("CHAPTÉR6", "00:00:01"),
        ];
        let mut list = ChapterList::default();
        chapters(comments.iter().copied(), &mut list);
        let got = list.finish(Some(30_000));
        let summary: Vec<(u64, &str, Option<&str>)> = got
            .iter()
            .map(|c| (c.start_ms, c.title.as_str(), c.url.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (0, "First", Some("https://example.com/1")),
                (10_000, "Second", None),
                (20_250, "Third", None),
            ]
        );
    }
}
