//! Messy but legitimate feeds (`tests/fixtures/edge/`).

use stowaway_feeds::FeedKind;
use url::Url;

use crate::{episode, feed_url, fixture, parse_fixture, parse_str, rss, url_str};

#[test]
fn iso_8859_1_feed() {
    let feed = parse_fixture("edge/latin1.rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Café à la crème"));
    assert_eq!(
        feed.description.as_deref(),
        Some("Émissions en français © 2024")
    );
    assert_eq!(feed.author.as_deref(), Some("François Müller"));
    assert_eq!(feed.episodes[0].title.as_deref(), Some("Épisode 1 : l’été"));
}

#[test]
fn undeclared_latin1_in_a_utf8_labelled_feed_is_repaired() {
    let feed = parse_fixture("edge/wrong_encoding.rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Wrongly labelled: naïve café"));
    assert_eq!(feed.episodes[0].title.as_deref(), Some("Crème brûlée"));
}

#[test]
fn utf16_feed_with_bom() {
    let feed = parse_fixture("edge/utf16.rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("日本語の番組"));
    assert_eq!(feed.episodes[0].title.as_deref(), Some("第1話"));
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    // A UTF-8 feed with one bad byte: the bad sequence becomes U+FFFD.
    let mut bytes = rss("<item><title>ok é ü</title></item>").into_bytes();
    let at = bytes.windows(2).position(|w| w == "é".as_bytes()).unwrap();
    bytes[at + 1] = 0xFF;
    let feed = stowaway_feeds::parse(&bytes, &feed_url()).unwrap();
    assert_eq!(
        feed.episodes[0].title.as_deref(),
        Some("ok \u{FFFD}\u{FFFD} ü")
    );
    // With no valid UTF-8 sequence left at all, it is taken for windows-1252.
    let mut bytes = rss("<item><title>ok é</title></item>").into_bytes();
    let at = bytes.windows(2).position(|w| w == "é".as_bytes()).unwrap();
    bytes[at + 1] = 0xFF;
    let feed = stowaway_feeds::parse(&bytes, &feed_url()).unwrap();
    assert_eq!(feed.episodes[0].title.as_deref(), Some("ok Ãÿ"));
}

#[test]
fn html_in_titles_becomes_plain_text() {
    let feed = parse_fixture("edge/html_titles.rss").unwrap();
    // `&amp;amp;` is an escaped `&amp;`: HTML for "&".
    assert_eq!(feed.title.as_deref(), Some("The Bold Show & Friends"));
    assert_eq!(
        feed.description.as_deref(),
        Some("A show about things. Second paragraph.")
    );
    let titles: Vec<_> = feed
        .episodes
        .iter()
        .map(|e| e.title.as_deref().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Episode 1: Tom & Jerry’s big day",
            "Café — 5 < 6 and a line break",
            "Raw markup inside & title",
        ]
    );
}

#[test]
fn cdata_escaped_and_raw_notes_are_sanitised() {
    let feed = parse_fixture("edge/cdata.rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("CDATA Show"));

    let one = episode(&feed, "CDATA notes");
    assert_eq!(one.summary.as_deref(), Some("Short summary of one."));
    let notes = one.notes_html.as_deref().unwrap();
    for gone in [
        "<script",
        "document.cookie",
        "onclick",
        "steal",
        "<img",
        "onerror",
        "javascript:",
        "tracker.example",
    ] {
        assert!(!notes.contains(gone), "{gone:?} survived: {notes}");
    }
    assert!(
        notes.contains(
            r#"<a href="https://example.com/links/1" rel="noopener noreferrer nofollow">link</a>"#
        ),
        "{notes}"
    );
    assert!(
        notes.contains("<ul><li>one</li><li>two</li></ul>"),
        "{notes}"
    );

    let two = episode(&feed, "Escaped notes");
    assert_eq!(
        two.notes_html.as_deref(),
        Some("<p>Escaped <em>HTML</em> notes</p>")
    );
    assert_eq!(two.summary.as_deref(), Some("Escaped HTML notes"));

    let three = episode(&feed, "Raw markup notes");
    let notes = three.notes_html.as_deref().unwrap();
    assert!(
        notes.starts_with("<p>Raw <strong>markup</strong><br>"),
        "{notes}"
    );
    assert_eq!(three.summary.as_deref(), Some("Raw markup with a break"));

    let four = episode(&feed, "Plain text notes");
    assert_eq!(
        four.notes_html.as_deref(),
        Some("<p>First line<br>second line</p><p>New paragraph with 1 &lt; 2</p>")
    );
    assert_eq!(
        four.summary.as_deref(),
        Some("First line second line New paragraph with 1 < 2")
    );
}

#[test]
fn relative_urls_resolve_against_the_feed_and_xml_base() {
    let feed = parse_fixture("edge/relative_urls.rss").unwrap();
    assert_eq!(url_str(&feed.link), Some("https://example.com/"));
    assert_eq!(
        url_str(&feed.artwork_url),
        Some("https://example.com/podcast/img/cover.jpg")
    );

    let one = episode(&feed, "Relative to the feed");
    assert_eq!(
        url_str(&one.link),
        Some("https://example.com/podcast/episodes/1.html")
    );
    assert_eq!(
        one.enclosure.as_ref().unwrap().url.as_str(),
        "https://example.com/podcast/media/1.mp3"
    );
    assert_eq!(
        url_str(&one.artwork_url),
        Some("https://example.com/art/1.jpg")
    );
    assert_eq!(
        one.chapters.as_ref().unwrap().url.as_str(),
        "https://example.com/podcast/chapters/1.json"
    );
    assert_eq!(
        one.transcripts[0].url.as_str(),
        "https://example.com/podcast/transcripts/1.vtt"
    );

    let two = episode(&feed, "Relative to xml:base");
    assert_eq!(
        two.enclosure.as_ref().unwrap().url.as_str(),
        "https://cdn.example.net/show/2.mp3"
    );

    let bad = episode(&feed, "Disallowed schemes");
    assert_eq!(bad.link, None, "javascript: link");
    assert_eq!(bad.enclosure, None, "file: enclosure in an https feed");
    assert_eq!(bad.artwork_url, None, "data: image");

    let spaced = episode(&feed, "Whitespace around URLs");
    assert_eq!(
        spaced.enclosure.as_ref().unwrap().url.as_str(),
        "https://example.com/spaced.mp3"
    );
}

#[test]
fn a_file_feed_may_point_at_its_neighbours() {
    let url = Url::parse("file:///media/usb/show/feed.xml").unwrap();
    let xml = rss(r#"<item><title>x</title><enclosure url="1.mp3"/></item>"#);
    let feed = stowaway_feeds::parse(xml.as_bytes(), &url).unwrap();
    assert_eq!(
        feed.episodes[0].enclosure.as_ref().unwrap().url.as_str(),
        "file:///media/usb/show/1.mp3"
    );
}

#[test]
fn items_without_enclosures_are_kept() {
    let feed = parse_fixture("edge/missing_enclosures.rss").unwrap();
    assert_eq!(feed.episodes.len(), 4);
    assert_eq!(episode(&feed, "Text only").enclosure, None);
    assert_eq!(episode(&feed, "Enclosure without url").enclosure, None);

    let audio = episode(&feed, "Cover before audio")
        .enclosure
        .as_ref()
        .unwrap();
    assert_eq!(audio.url.as_str(), "https://example.com/audio.mp3");
    assert_eq!(audio.length, None, "length 0 means unknown");

    let media = episode(&feed, "Media RSS only");
    let video = media.enclosure.as_ref().unwrap();
    assert_eq!(video.url.as_str(), "https://example.com/video.mp4");
    assert_eq!(video.media_type.as_deref(), Some("video/mp4"));
    assert_eq!(video.length, Some(5000));
    assert_eq!(media.duration_ms, Some(61_000));
}

#[test]
fn unusual_default_and_undeclared_prefixes() {
    let feed = parse_fixture("edge/unusual_prefixes.rss").unwrap();
    assert_eq!(
        url_str(&feed.artwork_url),
        Some("https://example.com/cover.jpg")
    );
    assert_eq!(feed.explicit, Some(true));
    assert_eq!(
        feed.podcast_guid.as_deref(),
        Some("917393e3-1b1e-5cef-ace4-edaa54e1f810")
    );

    let one = episode(&feed, "Unusual prefixes");
    assert_eq!(one.duration_ms, Some(3_723_000));
    assert_eq!((one.season, one.number), (Some(2), Some(7)));
    assert_eq!(one.episode_type, Some(stowaway_feeds::EpisodeType::Bonus));
    assert_eq!(
        one.chapters.as_ref().unwrap().url.as_str(),
        "https://example.com/1/chapters.json"
    );

    let two = episode(&feed, "Default namespace");
    assert_eq!(two.duration_ms, Some(2_520_000));
    assert_eq!(
        two.transcripts[0].media_type.as_deref(),
        Some("application/x-subrip")
    );

    let three = episode(&feed, "Undeclared");
    assert_eq!(three.duration_ms, Some(3_600_000));
    assert_eq!(three.explicit, Some(false));
    assert_eq!((three.season, three.number), (Some(4), Some(12)));
    assert_eq!(
        three.transcripts[0].url.as_str(),
        "https://example.com/3.vtt"
    );

    let four = episode(&feed, "Wrong namespace, usual prefix");
    assert_eq!(
        four.duration_ms, None,
        "a declared prefix wins over its usual meaning"
    );
}

#[test]
fn atom_podcast() {
    let feed = parse_fixture("edge/atom_podcast.xml").unwrap();
    assert_eq!(feed.kind, FeedKind::Atom);
    assert_eq!(
        feed.title.as_deref(),
        Some("Atom <Show>"),
        "type=text is literal"
    );
    assert_eq!(feed.description.as_deref(), Some("An Atom podcast"));
    assert_eq!(
        url_str(&feed.link),
        Some("https://atom.example.org/show/index.html")
    );
    assert_eq!(feed.author.as_deref(), Some("Ada Author"));
    assert_eq!(feed.language.as_deref(), Some("en-GB"));
    assert_eq!(
        url_str(&feed.artwork_url),
        Some("https://atom.example.org/show/logo.png")
    );

    let one = &feed.episodes[0];
    assert_eq!(one.guid, "urn:uuid:atom-1");
    assert_eq!(one.title.as_deref(), Some("The first entry"));
    assert_eq!(
        url_str(&one.link),
        Some("https://atom.example.org/show/entries/1")
    );
    let enclosure = one.enclosure.as_ref().unwrap();
    assert_eq!(
        enclosure.url.as_str(),
        "https://atom.example.org/show/media/1.mp3"
    );
    assert_eq!(
        (enclosure.media_type.as_deref(), enclosure.length),
        (Some("audio/mpeg"), Some(1234))
    );
    assert_eq!(
        one.published_at,
        Some(time::macros::datetime!(2021-03-04 04:06:07 UTC)),
        "published wins over updated"
    );
    assert_eq!(
        one.summary.as_deref(),
        Some("Plain summary with a literal <tag>")
    );
    assert_eq!(
        one.notes_html.as_deref(),
        Some(
            r#"<p>Content <a href="https://atom.example.org/show/more" rel="noopener noreferrer nofollow">more</a></p>"#
        )
    );
    assert_eq!(one.duration_ms, Some(600_000));

    let two = &feed.episodes[1];
    assert_eq!(
        two.enclosure.as_ref().unwrap().url.as_str(),
        "https://other.example.org/2.mp3"
    );
    assert_eq!(
        two.published_at,
        Some(time::macros::datetime!(2022-02-02 02:02:02 UTC))
    );
}

#[test]
fn rss_1_0() {
    let feed = parse_fixture("edge/rss1.rdf").unwrap();
    assert_eq!(feed.kind, FeedKind::Rss);
    assert_eq!(feed.title.as_deref(), Some("RSS One"));
    assert_eq!(feed.description.as_deref(), Some("An RSS 1.0 feed"));
    assert_eq!(feed.episodes.len(), 1);
    let first = &feed.episodes[0];
    assert_eq!(first.guid, "https://example.com/1");
    assert!(first.published_at.is_some());
}

#[test]
fn sloppy_markup_is_tolerated() {
    let feed = parse_fixture("edge/sloppy_markup.rss").unwrap();
    assert_eq!(feed.title.as_deref(), Some("Rock & Roll Radio"));
    let ep = &feed.episodes[0];
    assert_eq!(ep.title.as_deref(), Some("Q&A"));
    assert_eq!(ep.summary.as_deref(), Some("Line break & more"));
    let enclosure = ep.enclosure.as_ref().unwrap();
    assert_eq!(enclosure.url.as_str(), "https://example.com/a.mp3?x=1&y=2");
    assert_eq!(enclosure.media_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(enclosure.length, Some(99));
}

#[test]
fn every_edge_fixture_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edge");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let feed = stowaway_feeds::parse(&fixture(&format!("edge/{name}")), &feed_url())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(feed.title.is_some(), "{name}");
        count += 1;
    }
    assert!(count >= 14);
}

#[test]
fn feed_level_fallbacks() {
    let feed = parse_str(
        r#"<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
            <title>t</title><itunes:summary>From summary</itunes:summary>
            <managingEditor>ed@example.com (Ed)</managingEditor>
            <image><url>https://example.com/rss-image.jpg</url></image>
            <itunes:image href="https://example.com/itunes.jpg"/>
          </channel></rss>"#,
    );
    assert_eq!(feed.description.as_deref(), Some("From summary"));
    assert_eq!(feed.author.as_deref(), Some("ed@example.com (Ed)"));
    assert_eq!(
        url_str(&feed.artwork_url),
        Some("https://example.com/itunes.jpg")
    );
}
