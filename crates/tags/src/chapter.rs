//! The chapter model and the one place where chapters are cleaned and bounded.
//!
//! Every reader (ID3v2, MP4, Vorbis comments, JSON) builds chapters with
//! [`Chapter::cleaned`] and hands them to a [`ChapterList`]; nothing else
//! creates a `Chapter`, so the limits below hold for every source.

use serde::Serialize;
use url::Url;

/// At most this many chapters are returned (the first ones by start time).
pub const MAX_CHAPTERS: usize = 1_000;
/// Titles are cut to this many characters (after control characters are removed).
pub const MAX_TITLE_CHARS: usize = 500;
/// Longer URLs (`url`, `image`) are dropped, not cut.
pub const MAX_URL_LEN: usize = 2_000;

/// What a media file says about itself, as far as the player needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MediaInfo {
    /// The real duration from the media (`None` if the file does not say).
    pub duration_ms: Option<u64>,
    /// Embedded chapters, sorted by start, at most [`MAX_CHAPTERS`].
    pub chapters: Vec<Chapter>,
}

/// One chapter, from a media file or a JSON chapters document.
///
/// Invariants of every chapter this crate returns: `title` has no control or
/// bidirectional-override characters and at most [`MAX_TITLE_CHARS`]
/// characters; `url` and `image` are absolute `http`/`https` URLs of at most
/// [`MAX_URL_LEN`] bytes; `end_ms`, when set, is after `start_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chapter {
    pub start_ms: u64,
    /// The end as the source states it; `None` means "until the next
    /// chapter" (MP4 and Vorbis comment chapters never state an end).
    pub end_ms: Option<u64>,
    /// May be empty: untitled chapters (often image-only ones) are kept.
    pub title: String,
    pub url: Option<String>,
    pub image: Option<String>,
    /// `false` for Podcasting 2.0 "silent" chapters: not shown in the chapter
    /// list, but still used for the current-chapter display. Embedded
    /// chapters are always `true`.
    pub toc: bool,
}

impl Chapter {
    /// Builds a chapter from untrusted parts, enforcing the invariants.
    pub(crate) fn cleaned(
        start_ms: u64,
        end_ms: Option<u64>,
        title: &str,
        url: Option<&str>,
        image: Option<&str>,
        toc: bool,
    ) -> Chapter {
        Chapter {
            start_ms,
            end_ms: end_ms.filter(|end| *end > start_ms),
            title: clean_title(title),
            url: url.and_then(clean_url),
            image: image.and_then(clean_url),
            toc,
        }
    }
}

/// Collects chapters in source order and yields at most [`MAX_CHAPTERS`],
/// stably sorted by start (chapters with the same start keep source order).
///
/// Memory stays bounded however many chapters a file holds: whenever twice
/// the limit is buffered, the list is sorted and cut back to the limit (a
/// chapter cut then can never be among the first `MAX_CHAPTERS` later).
#[derive(Debug, Default)]
pub(crate) struct ChapterList {
    items: Vec<Chapter>,
}

impl ChapterList {
    pub(crate) fn push(&mut self, chapter: Chapter) {
        self.items.push(chapter);
        if self.items.len() >= 2 * MAX_CHAPTERS {
            self.compact();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Drops chapters that start after a known duration (and caps ends at
    /// it), then sorts and cuts to [`MAX_CHAPTERS`].
    pub(crate) fn finish(mut self, duration_ms: Option<u64>) -> Vec<Chapter> {
        if let Some(duration) = duration_ms {
            self.items.retain(|c| c.start_ms <= duration);
            for chapter in &mut self.items {
                chapter.end_ms = chapter
                    .end_ms
                    .map(|end| end.min(duration))
                    .filter(|end| *end > chapter.start_ms);
            }
        }
        self.compact();
        self.items
    }

    fn compact(&mut self) {
        // `sort_by_key` is stable: equal starts keep their source order.
        self.items.sort_by_key(|c| c.start_ms);
        self.items.truncate(MAX_CHAPTERS);
    }
}

/// Removes control characters (tabs and line breaks become spaces) and the
/// bidirectional embedding/override/isolate controls (which can make a title
/// display as something else), collapses runs of whitespace, trims, and cuts
/// to [`MAX_TITLE_CHARS`] characters.
pub(crate) fn clean_title(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_bidi_control(c) || c == '\u{feff}' {
            continue;
        }
        if pending_space {
            if chars + 1 >= MAX_TITLE_CHARS {
                break;
            }
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        if chars >= MAX_TITLE_CHARS {
            break;
        }
        out.push(c);
        chars += 1;
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Keeps a URL only if it is an absolute `http`/`https` URL of at most
/// [`MAX_URL_LEN`] bytes (before and after normalisation). `data:`,
/// `javascript:`, `file:` and relative URLs are dropped.
pub(crate) fn clean_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    let url: String = url.into();
    (url.len() <= MAX_URL_LEN).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start_ms: u64, title: &str) -> Chapter {
        Chapter::cleaned(start_ms, None, title, None, None, true)
    }

    #[test]
    fn titles_lose_controls_and_bidi_overrides_and_are_cut() {
        let cases: &[(&str, &str)] = &[
            ("  Intro  ", "Intro"),
            ("Line\none\r\n\ttwo", "Line one two"),
            ("bell\u{7}\u{0}null", "bellnull"),
            ("evil\u{202e}txt.exe", "eviltxt.exe"),
            ("\u{feff}BOM", "BOM"),
            ("Ünïcode 日本", "Ünïcode 日本"),
            ("", ""),
            ("\u{1b}[31m", "[31m"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_title(raw), *want, "{raw:?}");
        }
        let long = "é".repeat(MAX_TITLE_CHARS + 10);
        assert_eq!(clean_title(&long).chars().count(), MAX_TITLE_CHARS);
        let spaced = "a ".repeat(MAX_TITLE_CHARS);
        let cut = clean_title(&spaced);
        assert!(cut.chars().count() <= MAX_TITLE_CHARS && !cut.ends_with(' '));
    }

    #[test]
    fn only_short_absolute_http_urls_are_kept() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        let cases: &[(&str, Option<&str>)] = &[
            ("https://example.com/a", Some("https://example.com/a")),
            (" http://example.com ", Some("http://example.com/")),
            ("HTTPS://Example.COM/x", Some("https://example.com/x")),
            ("javascript:alert(1)", None),
            ("data:image/png;base64,AAAA", None),
            ("file:///etc/passwd", None),
            ("ftp://example.com/a", None),
            ("/relative/path", None),
            ("https://", None),
            ("", None),
            (&long, None),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_url(raw).as_deref(), *want, "{raw:?}");
        }
    }

    #[test]
    fn the_list_sorts_stably_drops_past_the_end_and_caps() {
        let mut list = ChapterList::default();
        list.push(at(5_000, "b"));
        list.push(at(0, "a"));
        list.push(at(5_000, "c"));
        list.push(at(40_000, "past the end"));
        list.push(Chapter::cleaned(
            1_000,
            Some(90_000),
            "long",
            None,
            None,
            true,
        ));
        let got = list.finish(Some(30_000));
        let titles: Vec<_> = got.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["a", "long", "b", "c"]);
        assert_eq!(got[1].end_ms, Some(30_000));

        let mut list = ChapterList::default();
        for i in (0..5_000u64).rev() {
            list.push(at(i, &i.to_string()));
        }
        let got = list.finish(None);
        assert_eq!(got.len(), MAX_CHAPTERS);
        assert!(got.iter().enumerate().all(|(i, c)| c.start_ms == i as u64));
    }

    #[test]
    fn an_end_not_after_the_start_is_dropped() {
        assert_eq!(
            Chapter::cleaned(10, Some(10), "", None, None, true).end_ms,
            None
        );
        assert_eq!(
            Chapter::cleaned(10, Some(5), "", None, None, true).end_ms,
            None
        );
        assert_eq!(
            Chapter::cleaned(10, Some(11), "", None, None, true).end_ms,
            Some(11)
        );
    }
}
