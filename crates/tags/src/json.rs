//! Podcasting 2.0 JSON chapters (`<podcast:chapters type="application/json+chapters">`).
//!
//! Format: <https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/examples/chapters/jsonChapters.md>.
//! Lenient per entry, strict about the document: a document that is not
//! JSON, or has no `chapters` array, is an error; an entry that is not an
//! object or whose `startTime` is not a non-negative JSON number is skipped;
//! a field of the wrong type is treated as absent. `location`, `id` and the
//! document's other fields are ignored.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::chapter::{Chapter, ChapterList};
use crate::TagError;

/// Larger JSON chapters documents are refused before parsing.
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// Start and end times above this (about 31,700 years) are treated as junk.
const MAX_SECONDS: f64 = 1e12;

/// Parses a JSON chapters document into chapters sorted by start (at most
/// [`MAX_CHAPTERS`](crate::MAX_CHAPTERS), titles and URLs cleaned as for
/// embedded chapters; see [`Chapter`]).
pub fn parse_chapters_json(bytes: &[u8]) -> Result<Vec<Chapter>, TagError> {
    if bytes.len() > MAX_JSON_BYTES {
        return Err(TagError::ChaptersTooLarge {
            size: bytes.len(),
            limit: MAX_JSON_BYTES,
        });
    }
    // serde_json stops at 128 levels of nesting, so a hostile `location`
    // cannot exhaust the stack.
    let document: Document =
        serde_json::from_slice(bytes).map_err(|e| TagError::ChaptersMalformed {
            message: e.to_string(),
        })?;
    let mut list = ChapterList::default();
    for entry in document.chapters {
        if let Entry::Chapter(raw) = entry {
            if let Some(chapter) = raw.into_chapter() {
                list.push(chapter);
            }
        }
    }
    Ok(list.finish(None))
}

#[derive(Deserialize)]
struct Document {
    chapters: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Chapter(RawChapter),
    Other(IgnoredAny),
}

/// Every field as a bare JSON value, so one of the wrong type drops only
/// itself (or, for `startTime`, its entry), never the document.
#[derive(Deserialize)]
struct RawChapter {
    #[serde(rename = "startTime")]
    start_time: Option<Value>,
    #[serde(rename = "endTime")]
    end_time: Option<Value>,
    title: Option<Value>,
    img: Option<Value>,
    url: Option<Value>,
    toc: Option<Value>,
}

impl RawChapter {
    fn into_chapter(self) -> Option<Chapter> {
        let start_ms = seconds_to_ms(self.start_time.as_ref()?)?;
        let end_ms = self.end_time.as_ref().and_then(seconds_to_ms);
        let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_owned);
        Some(Chapter::cleaned(
            start_ms,
            end_ms,
            text(&self.title).as_deref().unwrap_or(""),
            text(&self.url).as_deref(),
            text(&self.img).as_deref(),
            // Only an explicit `false` makes a chapter silent.
            !matches!(self.toc, Some(Value::Bool(false))),
        ))
    }
}

/// A JSON number of seconds (integer or float) as milliseconds; strings,
/// negatives and absurdly large values are `None`.
fn seconds_to_ms(value: &Value) -> Option<u64> {
    let seconds = value.as_f64()?;
    if !seconds.is_finite() || !(0.0..=MAX_SECONDS).contains(&seconds) {
        return None;
    }
    // In range by the check above, so the cast neither saturates nor wraps.
    Some((seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_CHAPTERS;

    /// The "More complex example" of the specification, verbatim.
    const SPEC_EXAMPLE: &str = r#"{
  "version": "1.2.0",
  "author": "John Doe",
  "title": "Episode 7 - Making Progress",
  "podcastName": "John's Awesome Podcast",
  "chapters": [
    { "startTime": 0, "title": "Intro" },
    { "startTime": 168, "title": "Hearing Aids" },
    { "startTime": 260, "title": "Progress Report" },
    {
      "startTime": 410,
      "title": "Namespace",
      "img": "https://example.com/images/namepsace_example.jpg",
      "url": "https://github.com/Podcastindex-org/podcast-namespace"
    },
    {
      "startTime": 3990,
      "title": "Just Break Up",
      "img": "https://example.com/images/justbreakuppod.png",
      "url": "https://twitter.com/justbreakuppod"
    },
    {
      "startTime": 4826,
      "img": "https://example.com/images/parisfrance.jpg",
      "toc": false,
      "location": {
        "name": "Eiffel Tower, Paris",
        "geo": "geo:42.3417649,-70.9661596"
      }
    },
    { "startTime": 5510, "title": "The Big Players" },
    { "startTime": 5854, "title": "Spread the Word" },
    { "startTime": 6089, "title": "Outro" }
  ]
}"#;

    fn parse(json: &str) -> Vec<Chapter> {
        parse_chapters_json(json.as_bytes()).expect("parses")
    }

    #[test]
    fn the_spec_example_parses_exactly() {
        let chapters = parse(SPEC_EXAMPLE);
        let summary: Vec<(u64, &str, bool)> = chapters
            .iter()
            .map(|c| (c.start_ms, c.title.as_str(), c.toc))
            .collect();
        assert_eq!(
            summary,
            [
                (0, "Intro", true),
                (168_000, "Hearing Aids", true),
                (260_000, "Progress Report", true),
                (410_000, "Namespace", true),
                (3_990_000, "Just Break Up", true),
                (4_826_000, "", false),
                (5_510_000, "The Big Players", true),
                (5_854_000, "Spread the Word", true),
                (6_089_000, "Outro", true),
            ]
        );
        assert_eq!(
            chapters[3],
            Chapter {
                start_ms: 410_000,
                end_ms: None,
                title: "Namespace".into(),
                url: Some("https://github.com/Podcastindex-org/podcast-namespace".into()),
                image: Some("https://example.com/images/namepsace_example.jpg".into()),
                toc: true,
            }
        );
        assert_eq!(
            chapters[5].image.as_deref(),
            Some("https://example.com/images/parisfrance.jpg")
        );
    }

    #[test]
    fn toc_false_is_kept_and_only_false_means_silent() {
        let chapters = parse(
            r#"{"version":"1.2.0","chapters":[
                {"startTime":1,"toc":false},
                {"startTime":2,"toc":true},
                {"startTime":3,"toc":"false"},
                {"startTime":4,"toc":0},
                {"startTime":5}]}"#,
        );
        let tocs: Vec<bool> = chapters.iter().map(|c| c.toc).collect();
        assert_eq!(tocs, [false, true, true, true, true]);
    }

    #[test]
    fn bad_urls_and_images_are_dropped() {
        let long = format!("https://example.com/{}", "x".repeat(2_000));
        let json = serde_json::json!({"version": "1.2.0", "chapters": [
            {"startTime": 0, "url": "javascript:alert(1)", "img": "data:image/png;base64,AAAA"},
            {"startTime": 1, "url": "/relative", "img": "file:///etc/passwd"},
            {"startTime": 2, "url": long, "img": 42},
            {"startTime": 3, "url": "https://ok.example/a b", "img": "http://ok.example/i.png"},
        ]});
        let chapters = parse(&json.to_string());
        let links: Vec<_> = chapters
            .iter()
            .map(|c| (c.url.as_deref(), c.image.as_deref()))
            .collect();
        assert_eq!(
            links,
            [
                (None, None),
                (None, None),
                (None, None),
                (
                    Some("https://ok.example/a%20b"),
                    Some("http://ok.example/i.png")
                ),
            ]
        );
    }

    #[test]
    fn entries_without_a_numeric_start_are_skipped() {
        let chapters = parse(
            r#"{"version":"1.2.0","chapters":[
                {"startTime":"12","title":"string start"},
                {"title":"no start"},
                {"startTime":null,"title":"null start"},
                {"startTime":-1,"title":"negative"},
                {"startTime":1e300,"title":"absurd"},
                "not an object", 7, null, [],
                {"startTime":12.3456,"endTime":20,"title":"float start"},
                {"startTime":3,"endTime":"x","title":"bad end"},
                {"startTime":4,"endTime":2,"title":"end before start"},
                {"startTime":5,"title":["not","text"]}]}"#,
        );
        let summary: Vec<(u64, Option<u64>, &str)> = chapters
            .iter()
            .map(|c| (c.start_ms, c.end_ms, c.title.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (3_000, None, "bad end"),
                (4_000, None, "end before start"),
                (5_000, None, ""),
                (12_346, Some(20_000), "float start"),
            ]
        );
    }

    #[test]
    fn chapters_are_sorted_stably_and_capped() {
        let mut entries = Vec::new();
        for i in (0..MAX_CHAPTERS as u64 + 500).rev() {
            entries.push(serde_json::json!({"startTime": i, "title": format!("c{i}")}));
        }
        entries.push(serde_json::json!({"startTime": 0, "title": "second at zero"}));
        let json = serde_json::json!({"version": "1.2.0", "chapters": entries});
        let chapters = parse(&json.to_string());
        assert_eq!(chapters.len(), MAX_CHAPTERS);
        assert_eq!(chapters[0].title, "c0");
        assert_eq!(chapters[1].title, "second at zero");
        assert_eq!(chapters[2].start_ms, 1_000);
        assert_eq!(chapters.last().unwrap().start_ms, 998_000);
    }

    #[test]
    fn titles_are_cleaned() {
        let chapters = parse(
            r#"{"version":"1.2.0","chapters":[{"startTime":0,"title":"  a\u0000b\nc\u202e  "}]}"#,
        );
        assert_eq!(chapters[0].title, "ab c");
    }

    #[test]
    fn oversize_input_is_refused_before_parsing() {
        let mut big = br#"{"version":"1.2.0","chapters":[]}"#.to_vec();
        big.resize(MAX_JSON_BYTES + 1, b' ');
        let err = parse_chapters_json(&big).unwrap_err();
        assert_eq!(err.code(), "chapters_too_large");
        // Exactly at the limit is still read.
        big.truncate(MAX_JSON_BYTES);
        assert_eq!(parse_chapters_json(&big).unwrap(), vec![]);
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let deep_location = format!(
            r#"{{"chapters":[{{"startTime":0,"location":{}0{}}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let cases: Vec<&[u8]> = vec![
            b"",
            b"null",
            b"[]",
            b"{}",
            b"{\"chapters\":{}}",
            b"{\"chapters\":\"x\"}",
            b"<rss/>",
            b"{\"chapters\":[",
            b"\xff\xfe{\x00",
            deep_location.as_bytes(),
        ];
        for bytes in cases {
            let err = parse_chapters_json(bytes).unwrap_err();
            assert_eq!(err.code(), "chapters_malformed", "{bytes:?}");
        }
    }
}
