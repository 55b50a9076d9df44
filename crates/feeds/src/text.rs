//! Text cleaning: HTML → plain text for titles and summaries, and sanitised
//! HTML for show notes.
//!
//! Plain text comes from `html5ever`'s tokenizer (the HTML standard's, so every
//! named entity and every malformed tag is handled as a browser would): tags are
//! dropped, block-level tags separate words, `script`/`style` content is
//! skipped, whitespace is collapsed. Show notes go through `ammonia` with a
//! small allowlist: see [`Sanitizer`].

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use ammonia::{Builder, UrlRelative};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::TokenizerResult;
use url::Url;

/// Tags allowed in show notes: structure, emphasis, lists, links, quotes,
/// code, simple tables. No images (remote content and tracking pixels), no
/// media, no forms, no styling.
const NOTE_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "cite",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "ins",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Tags removed together with everything inside them.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "iframe", "noscript", "object", "template", "svg", "math", "title",
    "textarea", "select",
];

/// Tags whose start or end separates words in plain text.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Collapses every run of whitespace to one space and trims the ends.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// HTML (or text that may contain some) → one line of plain text: tags
/// stripped, entities decoded, whitespace collapsed.
pub(crate) fn plain_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    let sink = TextSink::default();
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(html));
    while let TokenizerResult::Script(()) = tokenizer.feed(&queue) {}
    tokenizer.end();
    collapse_whitespace(&tokenizer.sink.out.into_inner())
}

/// Plain text cut to `max_chars`; `None` when nothing is left.
pub(crate) fn title(raw: &str, max_chars: usize) -> Option<String> {
    non_empty(cut(plain_text(raw), max_chars, false))
}

/// Plain text cut at a word boundary to `max_chars`; `None` when nothing is
/// left.
pub(crate) fn summary(raw: &str, max_chars: usize) -> Option<String> {
    non_empty(cut(plain_text(raw), max_chars, true))
}

pub(crate) fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// HTML (or plain text) → plain text in paragraphs: block-level tags
/// separate paragraphs (a blank line between them), `<br>` breaks a line,
/// whitespace inside a line is collapsed. For show notes where HTML must not
/// be rendered, and for transcripts.
pub fn html_to_paragraphs(html: &str) -> String {
    let text = if html.contains(['<', '&']) {
        let sink = TextSink {
            paragraphs: true,
            ..TextSink::default()
        };
        let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
        let queue = BufferQueue::default();
        queue.push_back(StrTendril::from_slice(html));
        while let TokenizerResult::Script(()) = tokenizer.feed(&queue) {}
        tokenizer.end();
        tokenizer.sink.out.into_inner()
    } else {
        html.replace("\r\n", "\n").replace("\n\n", "\u{2029}")
    };
    let mut paragraphs = Vec::new();
    for block in text.split('\u{2029}') {
        let lines: Vec<String> = block
            .split('\n')
            .map(collapse_whitespace)
            .filter(|l| !l.is_empty())
            .collect();
        if !lines.is_empty() {
            paragraphs.push(lines.join("\n"));
        }
    }
    paragraphs.join("\n\n")
}

/// Cuts `text` to at most `max_chars` characters, ending with `…` when cut;
/// `at_word` backs off to the last space if there is one in the last fifth.
fn cut(text: String, max_chars: usize, at_word: bool) -> String {
    if max_chars == 0 {
        return String::new();
    }
    let Some((end, _)) = text.char_indices().nth(max_chars) else {
        return text;
    };
    // Room for the ellipsis.
    let end = text[..end].char_indices().last().map_or(0, |(i, _)| i);
    let mut kept = &text[..end];
    if at_word {
        if let Some(space) = kept.rfind(' ') {
            if kept[..space].chars().count() * 5 >= max_chars * 4 {
                kept = &kept[..space];
            }
        }
    }
    format!("{}…", kept.trim_end())
}

/// Collects character tokens, separating block-level tags with spaces (or,
/// in `paragraphs` mode, with line breaks) and skipping the content of
/// `script`, `style` and similar.
#[derive(Default)]
struct TextSink {
    out: RefCell<String>,
    skipping: Cell<bool>,
    paragraphs: bool,
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::CharacterTokens(text) if !self.skipping.get() => {
                let mut out = self.out.borrow_mut();
                if self.paragraphs {
                    // Line breaks in HTML source are spaces; only tags break lines.
                    out.extend(text.chars().map(|c| if c == '\n' { ' ' } else { c }));
                } else {
                    out.push_str(&text);
                }
            }
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                if BLOCK_TAGS.contains(&name) {
                    let sep = match (self.paragraphs, name) {
                        (false, _) => ' ',
                        (true, "br") => '\n',
                        (true, _) => '\u{2029}',
                    };
                    self.out.borrow_mut().push(sep);
                }
                if DROPPED_WITH_CONTENT.contains(&name) {
                    match tag.kind {
                        TagKind::StartTag if !tag.self_closing => {
                            self.skipping.set(true);
                            return TokenSinkResult::RawData(RawKind::Rawtext);
                        }
                        TagKind::EndTag => self.skipping.set(false),
                        TagKind::StartTag => {}
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Sanitises show notes with `ammonia`.
///
/// Kept: the tags in `NOTE_TAGS` (paragraphs, line breaks, emphasis, lists,
/// headings, links, quotes, code, simple tables) and, on links, `href` and
/// `title` only. Links may use `http`, `https` and `mailto` (relative links
/// are made absolute against the feed URL or `xml:base`) and get
/// `rel="noopener noreferrer nofollow"`. Everything else goes: `script`,
/// `style`, `iframe` and similar with their content, other tags keeping their
/// text, every other attribute (so every `on…` event handler and `style`), and
/// `javascript:`/`data:` URLs.
pub(crate) struct Sanitizer {
    base: Url,
    builder: Builder<'static>,
}

impl Sanitizer {
    pub(crate) fn new(base: &Url) -> Self {
        Sanitizer {
            base: base.clone(),
            builder: note_builder(base),
        }
    }

    /// Sanitised HTML notes from `source` (HTML, or plain text which becomes
    /// escaped paragraphs); `None` when nothing visible is left.
    pub(crate) fn notes(&self, source: &str, base: &Url) -> Option<String> {
        let html = if looks_like_html(source) {
            std::borrow::Cow::Borrowed(source)
        } else {
            std::borrow::Cow::Owned(text_to_html(source))
        };
        let cleaned = if *base == self.base {
            self.builder.clean(&html).to_string()
        } else {
            note_builder(base).clean(&html).to_string()
        };
        let cleaned = cleaned.trim();
        (!plain_text(cleaned).is_empty()).then(|| cleaned.to_owned())
    }
}

fn note_builder(base: &Url) -> Builder<'static> {
    let mut builder = Builder::empty();
    builder
        .tags(NOTE_TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .tag_attributes(
            [("a", ["href", "title"].into_iter().collect::<HashSet<_>>())]
                .into_iter()
                .collect(),
        )
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true)
        .url_relative(UrlRelative::RewriteWithBase(base.clone()));
    builder
}

/// Whether `text` has anything that looks like an HTML tag or entity.
fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(2).any(|w| {
        (w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
            || (w[0] == b'&' && (w[1].is_ascii_alphanumeric() || w[1] == b'#'))
    })
}

/// Plain text → HTML: escaped, blank lines separating paragraphs, single line
/// breaks kept as `<br>`.
fn text_to_html(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        let lines: Vec<_> = paragraph.lines().map(str::trim).collect();
        out.push_str(&quick_xml::escape::escape(lines.join("\n").as_str()).replace('\n', "<br>"));
        out.push_str("</p>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_from_html_and_text() {
        assert_eq!(
            html_to_paragraphs("<p>First &amp; <b>bold</b></p><p>Second<br>line</p><script>x()</script><ul><li>a</li><li>b</li></ul>"),
            "First & bold\n\nSecond\nline\n\na\n\nb"
        );
        assert_eq!(
            html_to_paragraphs("one\r\n\r\ntwo  words"),
            "one\n\ntwo words"
        );
        assert_eq!(html_to_paragraphs("  "), "");
    }

    #[test]
    fn plain_text_strips_tags_decodes_entities_and_collapses() {
        let cases = [
            ("  Hello   world ", "Hello world"),
            ("<b>Bold</b> &amp; <i>brave</i>", "Bold & brave"),
            ("Tom &amp;amp; Jerry", "Tom &amp; Jerry"),
            ("caf&eacute; &nbsp;&#8212;&#x2014;", "café —\u{2014}"),
            ("<p>one</p><p>two</p>line<br>break", "one two line break"),
            ("a<script>alert(1)</script>b<style>p{}</style>c", "abc"),
            ("5 < 6 & 7 > 3", "5 < 6 & 7 > 3"),
            ("<h1>This is a <em>test</em></h1>", "This is a test"),
            ("Episode 1: <![CDATA[x]]> y", "Episode 1: y"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(plain_text(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn titles_and_summaries_are_cut() {
        assert_eq!(title("<b>abcdef</b>", 4).as_deref(), Some("abc…"));
        assert_eq!(title(" <br> ", 10), None);
        let long = "word ".repeat(50);
        let s = summary(&long, 22).unwrap();
        assert_eq!(s, "word word word word…");
        assert_eq!(summary("short", 22).as_deref(), Some("short"));
    }

    fn notes(html: &str) -> Option<String> {
        let base = Url::parse("https://example.com/podcast/feed.xml").unwrap();
        Sanitizer::new(&base).notes(html, &base)
    }

    #[test]
    fn sanitiser_removes_scripts_handlers_and_javascript_urls() {
        let dirty = r#"<p onclick="evil()">Hi <script>alert(1)</script><img src=x onerror="alert(2)">
            <a href="javascript:alert(3)">bad</a> <a href="/ep/1" onmouseover="x()">good</a>
            <iframe src="https://evil.example/">frame text</iframe><style>p{}</style>
            <ul><li><em>one</em></li></ul></p>"#;
        let clean = notes(dirty).unwrap();
        for gone in [
            "script",
            "alert",
            "onerror",
            "onclick",
            "onmouseover",
            "javascript",
            "iframe",
            "frame text",
            "style",
            "<img",
        ] {
            assert!(!clean.contains(gone), "{gone:?} survived in {clean}");
        }
        assert!(
            clean.contains(
                r#"<a href="https://example.com/ep/1" rel="noopener noreferrer nofollow">good</a>"#
            ),
            "{clean}"
        );
        assert!(clean.contains("<ul><li><em>one</em></li></ul>"), "{clean}");
        assert!(clean.starts_with("<p>Hi"), "{clean}");
    }

    #[test]
    fn plain_notes_become_paragraphs_and_empty_notes_none() {
        assert_eq!(
            notes("Line one\nline two\n\nA & B < C").as_deref(),
            Some("<p>Line one<br>line two</p><p>A &amp; B &lt; C</p>")
        );
        assert_eq!(notes("  <p> </p><script>x</script> "), None);
        assert_eq!(
            notes(" <h1>This is a <em>test</em></h1> ").as_deref(),
            Some("<h1>This is a <em>test</em></h1>")
        );
    }
}
