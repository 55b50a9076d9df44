//! Hostile and non-feed input: a clear error or a safe result, never a panic,
//! a stack overflow, a hang or a read of a local file.

use std::time::{Duration, Instant};

use stowaway_feeds::{FeedError, Limits};

use crate::{feed_url, fixture, parse_fixture, rss};

fn code(result: Result<stowaway_feeds::Feed, FeedError>) -> &'static str {
    match result {
        Ok(feed) => panic!("expected an error, parsed {} episodes", feed.episodes.len()),
        Err(err) => err.code(),
    }
}

/// Asserts `f` finishes well within `limit` (generous for debug builds on a
/// busy CI machine; the point is "no exponential blow-up").
fn quick<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    let elapsed = start.elapsed();
    assert!(elapsed < limit, "took {elapsed:?}");
    value
}

#[test]
fn billion_laughs_is_refused_unexpanded() {
    let result = quick(Duration::from_secs(5), || {
        parse_fixture("hostile/billion_laughs.xml")
    });
    assert_eq!(code(result), "feed_declares_entities");
}

#[test]
fn external_entities_are_refused_never_read() {
    for name in ["hostile/xxe.xml", "hostile/xxe_parameter.xml"] {
        let result = parse_fixture(name);
        if let Err(e) = &result {
            assert!(
                !e.to_string().contains("root:"),
                "{name}: /etc/passwd leaked"
            );
        }
        assert_eq!(code(result), "feed_declares_entities", "{name}");
    }
}

/// A DOCTYPE that only names a DTD (as RSS 0.91 feeds do) is not refused,
/// and an undeclared entity stays literal text.
#[test]
fn a_plain_doctype_is_fine() {
    let xml = br#"<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old &amp; &nbsp;gold &lol9;</title>
<item><title>One</title><enclosure url="https://a.example/1.mp3" type="audio/mpeg" length="10"/></item></channel></rss>"#;
    let feed =
        stowaway_feeds::parse(xml, &url::Url::parse("https://a.example/feed").unwrap()).unwrap();
    assert_eq!(feed.title.as_deref(), Some("Old & gold &lol9;"));
    assert_eq!(feed.episodes.len(), 1);
}

#[test]
fn not_a_feed() {
    for name in [
        "hostile/html_page.html",
        "hostile/not_xml.json",
        "hostile/empty.xml",
        "hostile/opml.xml",
    ] {
        assert_eq!(code(parse_fixture(name)), "not_a_feed", "{name}");
    }
    let err = parse_fixture("hostile/html_page.html").unwrap_err();
    assert!(err.to_string().contains("HTML page"), "{err}");
    for bytes in [
        &b"   \n\t  "[..],
        b"hello world",
        b"\xEF\xBB\xBF",
        b"<",
        b"<?xml version=\"1.0\"?>",
    ] {
        assert_eq!(
            code(stowaway_feeds::parse(bytes, &feed_url())),
            "not_a_feed",
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn truncated_and_broken_documents() {
    assert_eq!(
        code(parse_fixture("hostile/truncated.rss")),
        "feed_truncated"
    );
    let cut = rss("<item><title>x</title></item>");
    let cut = &cut[..cut.find("</channel>").unwrap()];
    assert_eq!(
        stowaway_feeds::parse(cut.as_bytes(), &feed_url()).unwrap_err(),
        FeedError::Truncated {
            open: "channel".into()
        }
    );
    let never_ends = rss("<item><title>x</title></item><!-- a comment that never ends");
    assert_eq!(
        code(stowaway_feeds::parse(never_ends.as_bytes(), &feed_url())),
        "feed_truncated"
    );
    let broken = rss("<item><title>x</title></item><!x>");
    assert_eq!(
        code(stowaway_feeds::parse(broken.as_bytes(), &feed_url())),
        "malformed_xml"
    );
    // Something readable comes out of the sloppy one, or a clear error: never a panic.
    let _ = parse_fixture("hostile/broken_xml.rss");
    // Not repaired: end tags that do not match, a second document after the root.
    for f in ["hostile/mismatched_tags.rss", "hostile/after_root.rss"] {
        assert_eq!(code(parse_fixture(f)), "malformed_xml", "{f}");
    }
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let depth = 100_000;
    let deep = format!(
        "<rss><channel>{}{}</channel></rss>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let result = quick(Duration::from_secs(5), || {
        stowaway_feeds::parse(deep.as_bytes(), &feed_url())
    });
    assert_eq!(code(result), "feed_too_deep");
    // Unclosed, too.
    let unclosed = "<rss>".to_owned() + &"<x>".repeat(depth);
    assert_eq!(
        code(stowaway_feeds::parse(unclosed.as_bytes(), &feed_url())),
        "feed_too_deep"
    );
    // Nesting inside an item, within the limit, is fine.
    let nested = rss(&format!(
        "<item><title>ok</title><description>{}x{}</description></item>",
        "<div>".repeat(40),
        "</div>".repeat(40)
    ));
    let feed = stowaway_feeds::parse(nested.as_bytes(), &feed_url()).unwrap();
    assert_eq!(feed.episodes[0].summary.as_deref(), Some("x"));
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let limit = Limits::default().max_bytes;
    let mut big = rss("").into_bytes();
    big.resize(limit + 1, b' ');
    let result = quick(Duration::from_millis(500), || {
        stowaway_feeds::parse(&big, &feed_url())
    });
    assert_eq!(
        result.unwrap_err(),
        FeedError::TooLarge {
            size: limit + 1,
            limit
        }
    );
    let mut small = Limits::default();
    small.max_bytes = 100;
    let doc = rss("<item><title>one</title></item>");
    assert_eq!(
        code(stowaway_feeds::parse_with(
            doc.as_bytes(),
            &feed_url(),
            &small
        )),
        "feed_too_large"
    );
}

#[test]
fn episode_and_element_counts_are_bounded() {
    let mut limits = Limits::default();
    limits.max_episodes = 100;
    let items = |n: usize| rss(&"<item><title>x</title></item>".repeat(n));
    let ok = stowaway_feeds::parse_with(items(100).as_bytes(), &feed_url(), &limits).unwrap();
    assert_eq!(ok.episodes.len(), 100);
    assert_eq!(
        stowaway_feeds::parse_with(items(101).as_bytes(), &feed_url(), &limits).unwrap_err(),
        FeedError::TooManyEpisodes {
            count: 101,
            limit: 100
        }
    );

    let mut limits = Limits::default();
    limits.max_elements = 1_000;
    let flood = rss(&format!(
        "<item><title>x</title>{}</item>",
        "<junk/>".repeat(2_000)
    ));
    assert_eq!(
        code(stowaway_feeds::parse_with(
            flood.as_bytes(),
            &feed_url(),
            &limits
        )),
        "feed_too_many_elements"
    );
}

#[test]
fn huge_text_is_cut_not_refused() {
    let huge = "<p>lorem ipsum</p> ".repeat(400_000); // ~7.6 MB of notes
    let xml = rss(&format!(
        "<item><title>{}</title><description><![CDATA[{huge}]]></description></item>",
        "T".repeat(10_000)
    ));
    let feed = quick(Duration::from_secs(30), || {
        stowaway_feeds::parse(xml.as_bytes(), &feed_url())
    })
    .unwrap();
    let episode = &feed.episodes[0];
    assert_eq!(episode.title.as_deref().unwrap().chars().count(), 1_000);
    assert!(episode.summary.as_deref().unwrap().chars().count() <= 500);
    let notes = episode.notes_html.as_deref().unwrap();
    assert!(
        notes.len() <= Limits::default().max_text_bytes + 1_000,
        "{}",
        notes.len()
    );
}

/// A realistic 10,000-episode feed parses, with unique ids, in reasonable time.
#[test]
fn ten_thousand_episodes() {
    let mut items = String::new();
    for i in 0..10_000 {
        items.push_str(&format!(
            r#"<item>
  <title>Episode {i}: &lt;b&gt;a&lt;/b&gt; title &amp; more</title>
  <guid isPermaLink="false">guid-{i}</guid>
  <pubDate>Mon, {day} Jul 2020 04:{min:02}:00 GMT</pubDate>
  <link>https://example.com/episodes/{i}</link>
  <description><![CDATA[<p>Notes for <em>episode {i}</em> with <a href="/x/{i}">a link</a>.</p>]]></description>
  <itunes:duration>{h}:{min:02}:{sec:02}</itunes:duration>
  <itunes:episode>{i}</itunes:episode>
  <enclosure url="media/{i}.mp3" type="audio/mpeg" length="{len}"/>
</item>
"#,
            day = 1 + i % 28,
            h = i % 3,
            min = i % 60,
            sec = (i * 7) % 60,
            len = 1_000_000 + i,
        ));
    }
    let xml = rss(&items);
    let start = Instant::now();
    let feed = stowaway_feeds::parse(xml.as_bytes(), &feed_url()).unwrap();
    let elapsed = start.elapsed();
    println!(
        "10,000 episodes ({} MB) parsed in {elapsed:?}",
        xml.len() / 1_000_000
    );
    assert_eq!(feed.episodes.len(), 10_000);
    let ids: std::collections::HashSet<_> = feed.episodes.iter().map(|e| &e.guid).collect();
    assert_eq!(ids.len(), 10_000);
    let last = &feed.episodes[9_999];
    assert_eq!(last.title.as_deref(), Some("Episode 9999: a title & more"));
    assert_eq!(last.number, Some(9_999));
    assert_eq!(
        last.enclosure.as_ref().unwrap().url.as_str(),
        "https://example.com/podcast/media/9999.mp3"
    );
    // Generous for an unoptimised build on a shared machine.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

/// Every prefix of a valid feed, and byte-level corruptions of it, give a
/// result or an error: never a panic.
#[test]
fn cut_and_corrupted_input_never_panics() {
    let bytes = fixture("edge/podcasting20.rss");
    for end in 0..bytes.len() {
        let _ = stowaway_feeds::parse(&bytes[..end], &feed_url());
    }
    // A deterministic pseudo-random walk of byte flips.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2_000 {
        let mut corrupted = bytes.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % corrupted.len() as u64) as usize;
            corrupted[at] = (state >> 32) as u8;
        }
        let _ = stowaway_feeds::parse(&corrupted, &feed_url());
    }
}
