//! The model, field by field, through the public `parse`.

use base64::Engine;
use sha2::{Digest, Sha256, Sha384, Sha512};
use stowaway_feeds::{EpisodeType, GuidOrigin, HashAlgorithm, Integrity};

use crate::{episode, parse_fixture, parse_str, rss, url_str};

#[test]
fn durations_in_every_form() {
    let cases: &[(&str, Option<u64>)] = &[
        ("3600", Some(3_600_000)),
        ("3600.5", Some(3_600_500)),
        ("  95  ", Some(95_000)),
        ("05:30", Some(330_000)),
        ("75:30", Some(4_530_000)),
        ("1:02:03", Some(3_723_000)),
        ("01:02:03", Some(3_723_000)),
        ("\n 00:45:00 \n", Some(2_700_000)),
        ("1:02:03.250", Some(3_723_250)),
        ("3600 seconds", Some(3_600_000)),
        ("1h 30m", Some(5_400_000)),
        ("-60", None),
        ("0", None),
        ("00:00", None),
        ("1:75", None),
        ("about an hour", None),
        ("99999999999", None),
        ("", None),
    ];
    let items: String = cases
        .iter()
        .enumerate()
        .map(|(i, (raw, _))| {
            format!("<item><title>{i}</title><itunes:duration>{raw}</itunes:duration></item>")
        })
        .collect();
    let feed = parse_str(&rss(&items));
    for (i, (raw, expected)) in cases.iter().enumerate() {
        assert_eq!(
            episode(&feed, &i.to_string()).duration_ms,
            *expected,
            "itunes:duration {raw:?}"
        );
    }
}

#[test]
fn dates_in_every_form() {
    let feed = parse_fixture("edge/odd_dates.rss").unwrap();
    let expected = time::macros::datetime!(2020-07-13 04:00:00 UTC);
    for e in &feed.episodes {
        let wanted = (e.guid != "garbage").then_some(expected);
        assert_eq!(e.published_at, wanted, "pubDate of {}", e.guid);
    }
    assert_eq!(feed.episodes.len(), 11);
}

#[test]
fn guid_fallbacks() {
    let feed = parse_fixture("edge/duplicate_guids.rss").unwrap();
    let bonus = episode(&feed, "No guid, enclosure");
    assert_eq!(bonus.guid, "https://example.com/bonus.mp3");
    assert_eq!(bonus.guid_origin, GuidOrigin::EnclosureUrl);
    let blank = episode(&feed, "Blank guid");
    assert_eq!(blank.guid, "https://example.com/blank.mp3");
    assert_eq!(blank.guid_origin, GuidOrigin::EnclosureUrl);
    let linked = episode(&feed, "No guid, link");
    assert_eq!(linked.guid, "https://example.com/posts/5");
    assert_eq!(linked.guid_origin, GuidOrigin::Link);
    let bare = episode(&feed, "No guid, nothing else");
    assert_eq!(bare.guid_origin, GuidOrigin::ContentHash);
    assert!(
        bare.guid.starts_with("sha256:") && bare.guid.len() == 7 + 32,
        "{}",
        bare.guid
    );

    // The content hash depends on title and date only, so it is stable.
    let again = parse_str(&rss(
        "<item><title>No guid, nothing else</title>\
         <pubDate>Fri, 05 Jan 2024 10:00:00 +0000</pubDate><description>edited</description></item>",
    ));
    assert_eq!(again.episodes[0].guid, bare.guid);
    let other = parse_str(&rss(
        "<item><title>No guid, nothing else</title><pubDate>Sat, 06 Jan 2024 10:00:00 GMT</pubDate></item>",
    ));
    assert_ne!(other.episodes[0].guid, bare.guid);
}

#[test]
fn duplicate_guids_get_distinct_stable_ids() {
    let feed = parse_fixture("edge/duplicate_guids.rss").unwrap();
    let ids: Vec<&str> = feed.episodes.iter().map(|e| e.guid.as_str()).collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "ids are unique: {ids:?}");

    // The earlier-published episode keeps the plain guid; the copy-paste gets a
    // suffix derived from its enclosure URL.
    assert_eq!(episode(&feed, "Episode 2").guid, "ep-2");
    let hash = hex::encode(Sha256::digest(b"https://example.com/3.mp3"));
    assert_eq!(
        episode(&feed, "Episode 3 (copy-paste bug)").guid,
        format!("ep-2#{}", &hash[..12])
    );
    // The same item listed twice (same date): the later one in document order
    // keeps the plain guid.
    let hash = hex::encode(Sha256::digest(b"https://example.com/1.mp3"));
    assert_eq!(feed.episodes[2].guid, format!("ep-1#{}", &hash[..12]));
    assert_eq!(feed.episodes[3].guid, "ep-1");
}

#[test]
fn identical_items_fall_back_to_a_counter() {
    let item =
        r#"<item><title>x</title><guid>g</guid><enclosure url="https://x.example/g.mp3"/></item>"#;
    let feed = parse_str(&rss(&item.repeat(3)));
    let hash = &hex::encode(Sha256::digest(b"https://x.example/g.mp3"))[..12];
    let ids: Vec<_> = feed.episodes.iter().map(|e| e.guid.clone()).collect();
    assert_eq!(
        ids,
        [format!("g#{hash}"), format!("g#{hash}-2"), "g".to_owned()]
    );
}

#[test]
fn duplicate_ids_do_not_depend_on_position() {
    let a = r#"<item><title>A</title><guid>same</guid><enclosure url="https://x.example/a.mp3"/></item>"#;
    let b = r#"<item><title>B</title><guid>same</guid><enclosure url="https://x.example/b.mp3"/></item>"#;
    let c = r#"<item><title>C</title><guid>same</guid><enclosure url="https://x.example/c.mp3"/></item>"#;
    let first = parse_str(&rss(&format!("{a}{b}{c}")));
    // A new episode arrives on top, and the order of the others changes: the
    // ids of B (still not the keeper) and of A are unchanged.
    let d = r#"<item><title>D</title><guid>same</guid><enclosure url="https://x.example/d.mp3"/></item>"#;
    let second = parse_str(&rss(&format!("{d}{b}{a}{c}")));
    assert_eq!(episode(&first, "A").guid, episode(&second, "A").guid);
    assert_eq!(episode(&first, "B").guid, episode(&second, "B").guid);
    // Undated: the last in document order (the oldest in a newest-first feed)
    // keeps the plain guid.
    assert_eq!(episode(&first, "C").guid, "same");
    assert_eq!(episode(&second, "C").guid, "same");
}

#[test]
fn sri_integrity_on_alternate_enclosures() {
    let feed = parse_fixture("edge/podcasting20.rss").unwrap();
    let ep = &feed.episodes[0];
    assert_eq!(
        ep.alternate_enclosures.len(),
        2,
        "the one without a usable source is dropped"
    );

    let opus = &ep.alternate_enclosures[0];
    assert_eq!(opus.media_type.as_deref(), Some("audio/opus"));
    assert_eq!(opus.length, Some(12_000_000));
    assert_eq!(opus.bitrate, Some(64_000));
    assert_eq!(opus.title.as_deref(), Some("Opus & small"));
    assert_eq!(opus.language.as_deref(), Some("en"));
    assert!(opus.default);
    let sources: Vec<_> = opus.sources.iter().map(|u| u.as_str()).collect();
    assert_eq!(
        sources,
        [
            "https://cdn1.example.com/ep1.opus",
            "https://cdn2.example.com/ep1.opus",
            "https://example.com/podcast/relative/ep1.opus",
        ],
        "ipfs: is outside the URL policy"
    );
    assert_eq!(
        opus.integrity,
        vec![
            Integrity {
                algorithm: HashAlgorithm::Sha256,
                digest: Sha256::digest(b"").to_vec()
            },
            Integrity {
                algorithm: HashAlgorithm::Sha384,
                digest: Sha384::digest(b"").to_vec()
            },
        ],
        "the pgp-signature integrity is ignored"
    );

    let video = &ep.alternate_enclosures[1];
    assert!(!video.default);
    assert_eq!(video.sources.len(), 1);
    assert_eq!(
        video.integrity,
        vec![Integrity {
            algorithm: HashAlgorithm::Sha512,
            digest: Sha512::digest(b"").to_vec()
        }],
        "md5 is not a supported SRI algorithm"
    );
}

#[test]
fn sri_values_generated_here_round_trip() {
    let digest = Sha256::digest(b"episode bytes");
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    let xml = rss(&format!(
        r#"<item><title>x</title><podcast:alternateEnclosure type="audio/mpeg">
            <podcast:source uri="https://example.com/x.mp3"/>
            <podcast:integrity type="sri" value="sha256-{b64}"/>
        </podcast:alternateEnclosure></item>"#
    ));
    let feed = parse_str(&xml);
    assert_eq!(
        feed.episodes[0].alternate_enclosures[0].integrity[0].digest,
        digest.to_vec()
    );
}

#[test]
fn chapters_and_transcripts() {
    let feed = parse_fixture("edge/podcasting20.rss").unwrap();
    let ep = &feed.episodes[0];
    let chapters = ep.chapters.as_ref().unwrap();
    assert_eq!(
        chapters.url.as_str(),
        "https://example.com/ep1/chapters.json"
    );
    assert_eq!(
        chapters.media_type.as_deref(),
        Some("application/json+chapters")
    );

    let transcripts: Vec<_> = ep
        .transcripts
        .iter()
        .map(|t| {
            (
                t.url.as_str(),
                t.media_type.as_deref(),
                t.language.as_deref(),
                t.rel.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        transcripts,
        [
            (
                "https://example.com/ep1/transcript.srt",
                Some("application/x-subrip"),
                None,
                Some("captions")
            ),
            (
                "https://example.com/ep1/transcript.vtt",
                Some("text/vtt"),
                Some("es"),
                None
            ),
            (
                "https://example.com/ep1/transcript.json",
                Some("application/json"),
                None,
                None
            ),
            (
                "https://example.com/ep1/transcript.html",
                Some("text/html"),
                None,
                None
            ),
        ],
        "the transcript without a url is dropped"
    );
    assert_eq!(
        feed.podcast_guid.as_deref(),
        Some("c0ffee00-0000-5000-8000-000000000000")
    );
    assert_eq!(
        url_str(&feed.new_feed_url),
        Some("https://new.example.com/feed.xml")
    );
}

#[test]
fn itunes_episode_fields() {
    let feed = parse_str(&rss(
        "<item><title>a</title><itunes:season>3</itunes:season><itunes:episode>12</itunes:episode>\
           <itunes:episodeType>Trailer</itunes:episodeType><itunes:explicit>true</itunes:explicit></item>\
         <item><title>b</title><itunes:season>-1</itunes:season><itunes:episode>one</itunes:episode>\
           <itunes:episodeType>weird</itunes:episodeType><itunes:explicit>maybe</itunes:explicit>\
           <podcast:episode>4</podcast:episode></item>",
    ));
    let a = episode(&feed, "a");
    assert_eq!((a.season, a.number), (Some(3), Some(12)));
    assert_eq!(a.episode_type, Some(EpisodeType::Trailer));
    assert_eq!(a.explicit, Some(true));
    let b = episode(&feed, "b");
    assert_eq!(
        (b.season, b.number),
        (None, Some(4)),
        "podcast:episode is the fallback"
    );
    assert_eq!(b.episode_type, None);
    assert_eq!(b.explicit, None);
}

#[test]
fn summaries_are_short_plain_text() {
    let long = "<p>word</p> ".repeat(400);
    let feed = parse_str(&rss(&format!(
        "<item><title>long</title><description><![CDATA[{long}]]></description></item>"
    )));
    let summary = feed.episodes[0].summary.as_deref().unwrap();
    assert!(summary.chars().count() <= 500, "{}", summary.len());
    assert!(summary.ends_with('…') && !summary.contains('<'));
}

#[test]
fn serialises_to_json() {
    let feed = parse_fixture("edge/podcasting20.rss").unwrap();
    let json = serde_json::to_value(&feed).unwrap();
    assert_eq!(json["kind"], "rss");
    let alt = &json["episodes"][0]["alternate_enclosures"][0];
    assert_eq!(alt["integrity"][0]["algorithm"], "sha256");
    assert_eq!(
        alt["integrity"][0]["digest"],
        hex::encode(Sha256::digest(b""))
    );
    let atom = parse_fixture("edge/atom_podcast.xml").unwrap();
    let json = serde_json::to_value(&atom).unwrap();
    assert_eq!(
        json["episodes"][0]["published_at"],
        "2021-03-04T05:06:07+01:00"
    );
    assert_eq!(json["episodes"][0]["guid_origin"], "feed");
}
