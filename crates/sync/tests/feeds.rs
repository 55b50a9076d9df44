//! Podcast feeds through the engine, against real HTTP servers on loopback
//! (the fault-injecting test mirror) and a real store on disk: alternate
//! sources when the enclosure's host is down, integrity and length checks,
//! hashes learned at the first download, conditional GET, transcripts in
//! search, and feeds that break, turn hostile or go away without costing the
//! member anything.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use sha2::Digest;
use stowaway_catalog::Sha256;
use stowaway_mirrors::ClientConfig;
use stowaway_store::Store;
use stowaway_sync::{Engine, SkipReason, Source, SyncOptions, SyncReport};
use stowaway_testmirror::{refused_url, Fault, PathMatch, Rule, TestMirror};
use tokio_util::sync::CancellationToken;

const SIZE: usize = 700 * 1024;

/// Episodes numbered from this one up are large: fetched in segments
/// from several hosts when a digest checks them.
const LARGE_FROM: u8 = 10;
const LARGE: usize = 6 << 20;

fn media(n: u8) -> Vec<u8> {
    let size = if n >= LARGE_FROM { LARGE } else { SIZE };
    (0..size)
        .map(|i| (i as u8).wrapping_mul(n | 1).wrapping_add(n))
        .collect()
}

struct Ep {
    n: u8,
    /// Declared `length` (the real one unless a test lies).
    length: usize,
    /// A `podcast:integrity` sha384 of these bytes.
    integrity: Option<Vec<u8>>,
}

impl Ep {
    fn new(n: u8) -> Ep {
        Ep {
            n,
            length: media(n).len(),
            integrity: Some(media(n)),
        }
    }
}

/// An RSS feed whose enclosures are on `primary` and whose alternate
/// enclosures (same file) are on `alternate`; transcripts and chapters on
/// `feed_host`.
fn feed_xml(feed_host: &str, primary: &str, alternate: &str, eps: &[Ep]) -> String {
    let mut items = String::new();
    for e in eps {
        let n = e.n;
        let integrity = e.integrity.as_ref().map_or(String::new(), |bytes| {
            let d = base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(bytes));
            format!(r#"<podcast:integrity type="sri" value="sha384-{d}"/>"#)
        });
        items.push_str(&format!(
            r#"<item>
  <title>Episode {n}: closing &amp; escrow</title>
  <guid isPermaLink="false">deal-room-{n}</guid>
  <pubDate>Mon, 0{n} Jun 2026 09:00:00 +0000</pubDate>
  <description><![CDATA[<p>Show notes {n}</p><script>alert(1)</script><p><a href="https://example.com/n{n}" onclick="x()">Link</a> at 1:02</p>]]></description>
  <itunes:duration>12:0{n}</itunes:duration>
  <itunes:episode>{n}</itunes:episode>
  {explicit}
  <enclosure url="{primary}media/e{n}.mp3" length="{len}" type="audio/mpeg"/>
  <podcast:alternateEnclosure type="audio/mpeg" length="{len}">
    <podcast:source uri="{alternate}media/e{n}.mp3"/>
    {integrity}
  </podcast:alternateEnclosure>
  <podcast:transcript url="{feed_host}tr/e{n}.vtt" type="text/vtt"/>
  <podcast:chapters url="{feed_host}ch/e{n}.json" type="application/json+chapters"/>
</item>
"#,
            len = e.length,
            explicit = if n == 1 {
                "<itunes:explicit>yes</itunes:explicit>"
            } else {
                ""
            },
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel>
<title>The Deal Room</title>
<description>Negotiation for agents</description>
{items}</channel>
</rss>
"#
    )
}

struct Setup {
    tmp: tempfile::TempDir,
    feed: TestMirror,
    alternate: TestMirror,
    engine: Engine,
    library: String,
}

impl Setup {
    /// Feed and transcripts on one server, media on `primary` (another
    /// test mirror, or a dead address) and on the alternate.
    async fn new(primary: Option<&TestMirror>, eps: &[Ep]) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let feed_root = tmp.path().join("feed");
        let alt_root = tmp.path().join("alt");
        let feed = TestMirror::start(&feed_root).unwrap();
        let alternate = TestMirror::start(&alt_root).unwrap();
        for root in [alt_root.as_path()]
            .into_iter()
            .chain(primary.map(|p| p.root()))
        {
            write_media(root, eps);
        }
        std::fs::create_dir_all(feed_root.join("tr")).unwrap();
        std::fs::create_dir_all(feed_root.join("ch")).unwrap();
        for e in eps {
            let word = if e.n == 1 { "flamingo" } else { "pelican" };
            std::fs::write(
                feed_root.join(format!("tr/e{}.vtt", e.n)),
                format!("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Host>The {word} clause\n"),
            )
            .unwrap();
            std::fs::write(
                feed_root.join(format!("ch/e{}.json", e.n)),
                format!(r#"{{"version":"1.2.0","chapters":[{{"startTime":0,"title":"Intro"}},{{"startTime":5,"title":"The {word} chapter"}}]}}"#),
            )
            .unwrap();
        }
        let primary_url = primary.map_or_else(refused_url, |p| p.url());
        write_feed(
            &feed_root.join("feed.xml"),
            &feed_xml(&feed.url(), &primary_url, &alternate.url(), eps),
        );
        let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
        let engine = Engine::new(store, ClientConfig::default()).unwrap();
        let Source::Feed(fetched) = engine
            .read_source(&format!("{}feed.xml", feed.url()))
            .await
            .unwrap()
        else {
            panic!("a feed URL read as a library subscription");
        };
        let subscribed = engine.subscribe_feed(&fetched).unwrap();
        assert!(subscribed.new);
        assert_eq!(subscribed.title, "The Deal Room");
        Setup {
            library: subscribed.library,
            tmp,
            feed,
            alternate,
            engine,
        }
    }

    async fn sync(&self) -> SyncReport {
        let opts = SyncOptions {
            max_rounds: 1,
            ..SyncOptions::default()
        };
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            self.engine.sync(&opts, &CancellationToken::new()),
        )
        .await
        .expect("a sync ends")
        .unwrap()
    }

    fn store(&self) -> &Store {
        self.engine.store()
    }

    /// (item title, downloaded) in the library's order.
    fn items(&self) -> Vec<(String, bool)> {
        self.store()
            .list(Some(&self.library))
            .unwrap()
            .into_iter()
            .flat_map(|c| c.items)
            .map(|i| (i.title, i.downloaded))
            .collect()
    }

    fn stored_files(&self) -> usize {
        files_below(&self.tmp.path().join("member/blobs/sha256"))
    }
}

/// Writes the feed, dated an hour ago: validators of a file changed within
/// the last second are (rightly) not kept by the client.
fn write_feed(path: &Path, xml: &str) {
    std::fs::write(path, xml).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
}

fn write_media(root: &Path, eps: &[Ep]) {
    std::fs::create_dir_all(root.join("media")).unwrap();
    for e in eps {
        std::fs::write(root.join(format!("media/e{}.mp3", e.n)), media(e.n)).unwrap();
    }
}

fn files_below(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                files_below(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test]
async fn alternate_sources_serve_when_the_enclosure_host_is_down() {
    let s = Setup::new(None, &[Ep::new(1), Ep::new(2)]).await;
    assert_eq!(
        s.items(),
        vec![
            ("Episode 2: closing & escrow".to_owned(), false),
            ("Episode 1: closing & escrow".to_owned(), false)
        ],
        "newest first, titles as plain text"
    );
    // The mapping: numbers, durations, explicit flags, notes as text.
    let items = s.store().list(Some(&s.library)).unwrap().remove(0).items;
    assert_eq!(items[1].explicit, Some(true));
    assert_eq!(items[0].explicit, None);
    assert_eq!(items[1].duration_ms, Some(721_000));
    let text = s
        .store()
        .item_text(stowaway_store::ItemKey {
            library: &s.library,
            collection: stowaway_sync::FEED_COLLECTION,
            item: &stowaway_sync::item_id("deal-room-1"),
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        text.notes.as_deref(),
        Some("Show notes 1\n\nLink at 1:02"),
        "sanitised, as text"
    );
    // And as the sanitiser's HTML for the player: the link kept, the script
    // and the handler gone.
    let html = text.notes_html.unwrap();
    assert!(html.contains(r#"href="https://example.com/n1""#), "{html}");
    assert!(
        !html.contains("script") && !html.contains("onclick"),
        "{html}"
    );

    let r = s.sync().await;
    let lib = &r.libraries[0];
    assert!(r.ok(), "{:?}", lib.failed);
    // Two episodes, two transcripts, two chapter files.
    assert_eq!(lib.files_downloaded, 6, "{lib:?}");
    assert!(s.items().iter().all(|(_, d)| *d), "{:?}", s.items());
    assert!(s
        .alternate
        .requests()
        .iter()
        .any(|q| q.path == "media/e1.mp3" && q.status == 200));

    // The hash is learned and recorded; the bytes under it are the episode's.
    let learned = s.store().feed_files(&s.library).unwrap();
    let e1 = Sha256::digest(&media(1));
    let file = learned
        .values()
        .find(|f| f.sha256.as_ref() == Some(&e1))
        .expect("the hash of episode 1 is recorded");
    assert_eq!(file.size, Some(SIZE as u64));
    assert_eq!(
        file.urls.len(),
        2,
        "enclosure and alternate: {:?}",
        file.urls
    );
    assert_eq!(
        std::fs::read(s.store().blobs().path(&e1)).unwrap(),
        media(1)
    );

    // What was said is searchable; the notes are text, the script gone.
    let hits = s.store().search("flamingo", 10).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].title, "Episode 1: closing & escrow");
    assert!(
        hits[0].snippet.contains("[flamingo]"),
        "{}",
        hits[0].snippet
    );

    // The chapters file was read once stored: the player gets its chapters,
    // and their titles are searchable.
    let key = stowaway_store::ItemKey {
        library: &s.library,
        collection: stowaway_sync::FEED_COLLECTION,
        item: &stowaway_sync::item_id("deal-room-1"),
    };
    let info = s
        .store()
        .item_media_info(key)
        .unwrap()
        .expect("read after download");
    assert!(info.from_chapters_file);
    assert!(
        info.chapters.contains("The flamingo chapter"),
        "{}",
        info.chapters
    );
    let hits = s.store().search("chapter", 10).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");

    // The next sync asks conditionally, gets 304, and fetches nothing else.
    s.feed.clear_requests();
    s.alternate.clear_requests();
    let r = s.sync().await;
    assert!(r.ok());
    let feed_req: Vec<_> = s
        .feed
        .requests()
        .into_iter()
        .filter(|q| q.path == "feed.xml")
        .collect();
    assert_eq!(feed_req.len(), 1);
    assert!(
        feed_req[0].header("if-none-match").is_some(),
        "{feed_req:?}"
    );
    assert_eq!(feed_req[0].status, 304);
    assert!(r.libraries[0].catalog.as_ref().unwrap().unchanged);
    assert!(s.alternate.requests().is_empty());
}

#[tokio::test]
async fn bad_bytes_from_one_source_are_caught_and_another_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let primary = TestMirror::start(tmp.path().join("primary")).unwrap();
    // The enclosure's host corrupts every file: same length, other bytes.
    primary.set_faults(vec![Rule::all(Fault::FlipBytes)]);
    let s = Setup::new(Some(&primary), &[Ep::new(1)]).await;
    let r = s.sync().await;
    assert!(r.ok(), "{:?}", r.libraries[0].failed);
    assert!(primary.requests().iter().any(|q| q.path == "media/e1.mp3"));
    assert_eq!(
        std::fs::read(s.store().blobs().path(&Sha256::digest(&media(1)))).unwrap(),
        media(1),
        "the alternate's good copy is the one stored"
    );
}

#[tokio::test]
async fn an_integrity_mismatch_stores_nothing() {
    // The enclosure's host is down and the alternate corrupts episode 1.
    let s = Setup::new(None, &[Ep::new(1), Ep::new(2)]).await;
    s.alternate.set_faults(vec![Rule {
        path: PathMatch::exact("media/e1.mp3"),
        fault: Fault::FlipBytes,
        times: None,
    }]);
    let r = s.sync().await;
    let lib = &r.libraries[0];
    assert_eq!(lib.failed.len(), 1, "{lib:?}");
    assert!(lib.failed[0].0.starts_with("Episode 1"), "{:?}", lib.failed);
    assert!(
        lib.failed[0].1.contains("integrity mismatch"),
        "{:?}",
        lib.failed
    );
    assert_eq!(
        s.items(),
        vec![
            ("Episode 2: closing & escrow".to_owned(), true),
            ("Episode 1: closing & escrow".to_owned(), false)
        ]
    );
    // Episode 2, two transcripts and two chapter files. Nothing of episode
    // 1's media.
    assert_eq!(s.stored_files(), 5);

    // Once the alternate serves the right bytes, the next sync gets it.
    s.alternate.clear_faults();
    assert!(s.sync().await.ok());
    assert!(s.items().iter().all(|(_, d)| *d));
}

#[tokio::test]
async fn declared_lengths_and_learned_hashes_check_every_later_copy() {
    // Real hosts declare wrong lengths (ad insertion, re-encodes, a duration
    // in seconds, 1). Without a digest the length is advice: the file is
    // downloaded, kept, its hash learned, and the difference reported. With
    // a digest, the digest decides. Before, such an episode could never be
    // downloaded.
    let mut lying = Ep::new(1);
    lying.integrity = None;
    lying.length = SIZE + 1;
    let mut honest = Ep::new(2);
    honest.integrity = None;
    let mut one = Ep::new(3);
    one.length = 1; // with a digest
    let s = Setup::new(None, &[lying, honest, one]).await;
    let r = s.sync().await;
    let lib = &r.libraries[0];
    assert!(lib.failed.is_empty(), "{lib:?}");
    assert!(s.items().iter().all(|(_, d)| *d), "{:?}", s.items());
    for n in [1, 3] {
        let sha = Sha256::digest(&media(n));
        assert_eq!(
            std::fs::read(s.store().blobs().path(&sha)).unwrap(),
            media(n)
        );
    }
    let said: Vec<&String> = lib
        .warnings
        .iter()
        .filter(|w| w.contains("the feed says"))
        .collect();
    assert_eq!(said.len(), 2, "{:?}", lib.warnings);
    assert!(said
        .iter()
        .any(|w| w.starts_with("Episode 1") && w.contains(&format!("{}", SIZE + 1))));
    assert!(said
        .iter()
        .any(|w| w.starts_with("Episode 3") && w.contains("integrity")));
    // The learned size is the real one.
    let files = s.store().feed_files(&s.library).unwrap();
    let e1 = Sha256::digest(&media(1));
    let f1 = files
        .values()
        .find(|f| f.sha256.as_ref() == Some(&e1))
        .unwrap();
    assert_eq!(
        (f1.length, f1.size),
        (Some(SIZE as u64 + 1), Some(SIZE as u64))
    );

    // Episode 2's hash is known now. Remove it, have the alternate serve
    // other bytes of the same length: the next copy is refused.
    let e2 = Sha256::digest(&media(2));
    let items = s.store().list(Some(&s.library)).unwrap();
    let item = items[0]
        .items
        .iter()
        .find(|i| i.title.starts_with("Episode 2"))
        .unwrap();
    s.engine
        .remove_download(stowaway_store::ItemKey {
            library: &s.library,
            collection: "episodes",
            item: &item.id,
        })
        .unwrap();
    assert!(!s.store().blobs().path(&e2).exists());
    s.engine
        .want_download(&s.library, "episodes", Some(&item.id))
        .unwrap();
    std::fs::write(s.alternate.root().join("media/e2.mp3"), media(9)).unwrap();
    let r = s.sync().await;
    let failed = &r.libraries[0].failed;
    assert!(
        failed
            .iter()
            .any(|(l, e)| l.starts_with("Episode 2") && e.contains("hash")),
        "{failed:?}"
    );
    assert!(!s.store().blobs().path(&Sha256::digest(&media(9))).exists());
    write_media(s.alternate.root(), &[Ep::new(2)]);
    s.sync().await;
    assert!(s.store().blobs().path(&e2).exists());
}

/// Every way a feed can break or turn hostile: a clear error, and the store
/// exactly as it was (catalog, items, files).
#[tokio::test]
async fn broken_hostile_and_vanished_feeds_change_nothing() {
    let s = Setup::new(None, &[Ep::new(1), Ep::new(2)]).await;
    assert!(s.sync().await.ok());
    let before = (
        s.store().applied_catalog(&s.library).unwrap(),
        s.items(),
        s.stored_files(),
    );
    let feed_path = s.feed.root().join("feed.xml");
    let good = std::fs::read(&feed_path).unwrap();
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{}">{}]><rss version="2.0"><channel><title>&j;</title></channel></rss>"#,
        "x".repeat(10),
        (b'b'..=b'j')
            .map(|c| {
                let prev = (c - 1) as char;
                format!(
                    r#"<!ENTITY {} "{}">"#,
                    c as char,
                    format!("&{prev};").repeat(10)
                )
            })
            .collect::<String>()
    );
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>&x;</title><item><title>t</title></item></channel></rss>"#;
    let deep = format!(
        r#"<rss version="2.0"><channel>{}</channel></rss>"#,
        "<a>".repeat(100_000)
    );
    let truncated = &good[..good.len() * 2 / 3];
    let huge = vec![b' '; 33 << 20];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "billion laughs",
            laughs.into_bytes(),
            "declares XML entities",
        ),
        (
            "external entity",
            xxe.as_bytes().to_vec(),
            "declares XML entities",
        ),
        ("deep nesting", deep.into_bytes(), "deeper"),
        ("truncated", truncated.to_vec(), "truncated"),
        (
            "an HTML page",
            b"<!doctype html><html><body>Moved</body></html>".to_vec(),
            "not a podcast feed",
        ),
        ("more than 32 MiB", huge, "larger than"),
    ];
    for (what, bytes, expect) in cases {
        std::fs::write(&feed_path, &bytes).unwrap();
        let r = s.sync().await;
        let lib = &r.libraries[0];
        let error = lib.catalog_error.as_deref().unwrap_or("");
        assert!(error.contains(expect), "{what}: {error:?}");
        assert_eq!(
            (
                s.store().applied_catalog(&s.library).unwrap(),
                s.items(),
                s.stored_files()
            ),
            before,
            "{what} changed the store"
        );
        assert!(
            !s.items().iter().any(|(t, _)| t.contains("root:")),
            "{what}: a local file leaked into the library"
        );
    }

    // The feed drops episode 1: it stays in the library, playable.
    write_feed(
        &feed_path,
        &feed_xml(
            &s.feed.url(),
            &refused_url(),
            &s.alternate.url(),
            &[Ep::new(2)],
        ),
    );
    let r = s.sync().await;
    assert!(r.ok());
    assert!(
        !r.libraries[0].catalog.as_ref().unwrap().unchanged,
        "the shorter feed was applied"
    );
    assert_eq!(s.items(), before.1);
    // The feed disappears (404): an error, and every episode stays.
    std::fs::remove_file(&feed_path).unwrap();
    let r = s.sync().await;
    let error = r.libraries[0].catalog_error.clone().unwrap_or_default();
    assert!(error.contains("404"), "{error}");
    assert_eq!(s.items(), before.1);
    assert_eq!(s.stored_files(), before.2);
    assert_eq!(
        s.store().feed(&s.library).unwrap().unwrap().last_status,
        Some(404)
    );
}

/// Bytes of two responses are joined only when a hash checks the whole
/// file: with an integrity digest the next source continues with Range;
/// with nothing but a length the download starts over (a server inserting
/// other ads each time would otherwise be spliced into a file that passes).
#[tokio::test]
async fn only_files_a_hash_will_check_are_resumed_across_sources() {
    for with_integrity in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let primary = TestMirror::start(tmp.path().join("primary")).unwrap();
        primary.set_faults(vec![Rule {
            path: PathMatch::exact("media/e1.mp3"),
            fault: Fault::DropAfter(300_000),
            times: None,
        }]);
        let mut ep = Ep::new(1);
        if !with_integrity {
            ep.integrity = None;
        }
        let s = Setup::new(Some(&primary), &[ep]).await;
        let r = s.sync().await;
        assert!(r.ok(), "{:?}", r.libraries[0].failed);
        assert!(primary.requests().iter().any(|q| q.path == "media/e1.mp3"));
        let from_alternate: Vec<_> = s
            .alternate
            .requests()
            .into_iter()
            .filter(|q| q.path == "media/e1.mp3")
            .collect();
        assert_eq!(from_alternate.len(), 1, "{from_alternate:?}");
        let range = from_alternate[0].range.clone();
        if with_integrity {
            assert!(
                range
                    .as_deref()
                    .is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-"),
                "continued where the first source stopped: {range:?}"
            );
        } else {
            assert_eq!(range, None, "started over");
        }
        assert_eq!(
            std::fs::read(s.store().blobs().path(&Sha256::digest(&media(1)))).unwrap(),
            media(1)
        );
    }
}

/// The feed variants of the stall and trickle drills: an enclosure host
/// that stops sending mid-file, or sends a trickle, does not hold the
/// episode. The download moves to the alternate source and, the file having
/// an integrity digest, continues there from where it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalling_or_trickling_enclosure_host_is_left_for_the_alternate() {
    for fault in [
        Fault::StallAfter(200_000),
        Fault::Trickle {
            bytes_per_sec: 20_000,
        },
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let primary = TestMirror::start(tmp.path().join("primary")).unwrap();
        primary.set_faults(vec![Rule {
            path: PathMatch::exact("media/e1.mp3"),
            fault: fault.clone(),
            times: None,
        }]);
        let s = Setup::new(Some(&primary), &[Ep::new(1)]).await;
        let r = s.sync().await;
        assert!(r.ok(), "{fault}: {:?}", r.libraries[0].failed);
        assert_eq!(
            std::fs::read(s.store().blobs().path(&Sha256::digest(&media(1)))).unwrap(),
            media(1)
        );
        // The enclosure's host was asked first and sent part of the file;
        // the alternate sent the rest, continuing with Range.
        assert!(primary.requests().iter().any(|q| q.path == "media/e1.mp3"));
        let sent_by_primary = primary.bytes_sent();
        assert!(
            sent_by_primary > 0 && sent_by_primary < SIZE as u64 / 2,
            "{fault}: the slow host sent {sent_by_primary} of {SIZE} bytes"
        );
        let from_alternate: Vec<_> = s
            .alternate
            .requests()
            .into_iter()
            .filter(|q| q.path == "media/e1.mp3")
            .collect();
        assert_eq!(from_alternate.len(), 1, "{fault}: {from_alternate:?}");
        assert!(
            from_alternate[0]
                .range
                .as_deref()
                .is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-"),
            "{fault}: continued where the first host stopped: {:?}",
            from_alternate[0].range
        );
        // The episode's bytes once, and its small transcript and chapters.
        let received = r.libraries[0].bytes_received;
        assert!(
            (SIZE as u64..SIZE as u64 + 4096).contains(&received),
            "{fault}: {received} bytes received for a {SIZE}-byte episode"
        );
    }
}

/// A publisher moving its files (a new CDN, a tracking prefix) changes
/// nothing the member has: the files are known by episode, not by address.
#[tokio::test]
async fn moved_files_keep_what_was_downloaded() {
    let s = Setup::new(None, &[Ep::new(1), Ep::new(2)]).await;
    assert!(s.sync().await.ok());
    let files = s.stored_files();
    // Same files, now behind a tracking prefix on the alternate's host.
    let moved = format!("{}track/?u=", s.alternate.url());
    write_feed(
        &s.feed.root().join("feed.xml"),
        &feed_xml(
            &s.feed.url(),
            &moved,
            &s.alternate.url(),
            &[Ep::new(1), Ep::new(2)],
        ),
    );
    s.alternate.clear_requests();
    let r = s.sync().await;
    assert!(r.ok(), "{:?}", r.libraries[0]);
    assert_eq!(r.libraries[0].files_downloaded, 0);
    assert_eq!(r.libraries[0].garbage_bytes, 0);
    assert!(s.alternate.requests().is_empty());
    assert!(s.items().iter().all(|(_, d)| *d));
    assert_eq!(s.stored_files(), files);
}

/// With no digest in the feed, the enclosure's own address may replace a
/// file (the publisher re-uploaded it): learned anew. An alternate serving
/// other bytes is still refused (see the test above).
#[tokio::test]
async fn the_publishers_own_copy_may_change_without_a_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let primary = TestMirror::start(tmp.path().join("primary")).unwrap();
    let mut ep = Ep::new(1);
    ep.integrity = None;
    let s = Setup::new(Some(&primary), &[ep]).await;
    assert!(s.sync().await.ok());
    let first = Sha256::digest(&media(1));
    assert!(s.store().blobs().path(&first).exists());
    // Re-uploaded: same length, other bytes, at the same address.
    let mut v2 = media(1);
    v2[10] ^= 1;
    std::fs::write(primary.root().join("media/e1.mp3"), &v2).unwrap();
    let id = stowaway_sync::item_id("deal-room-1");
    let key = stowaway_store::ItemKey {
        library: &s.library,
        collection: stowaway_sync::FEED_COLLECTION,
        item: &id,
    };
    s.engine.remove_download(key).unwrap();
    s.engine
        .want_download(&s.library, stowaway_sync::FEED_COLLECTION, Some(&id))
        .unwrap();
    let r = s.sync().await;
    assert!(r.ok(), "{:?}", r.libraries[0].failed);
    let second = Sha256::digest(&v2);
    assert_eq!(std::fs::read(s.store().blobs().path(&second)).unwrap(), v2);
    let learned = s.store().feed_files(&s.library).unwrap();
    assert!(learned.values().any(|f| f.sha256.as_ref() == Some(&second)));
    assert!(s.items().iter().all(|(_, d)| *d));
}

/// The publisher replaces a downloaded file and says so (a new integrity
/// digest, same episode, same length): what was learned of the old file is
/// forgotten, the episode points at the file again, and the next sync
/// fetches the new bytes (never keeps playing the old ones).
#[tokio::test]
async fn a_replaced_file_with_a_new_digest_is_fetched_again() {
    let s = Setup::new(None, &[Ep::new(1)]).await;
    assert!(s.sync().await.ok());
    let first = Sha256::digest(&media(1));
    assert!(s.store().has_blob(&first).unwrap());
    let mut v2 = media(1);
    v2[10] ^= 1;
    std::fs::write(s.alternate.root().join("media/e1.mp3"), &v2).unwrap();
    let ep = Ep {
        integrity: Some(v2.clone()),
        ..Ep::new(1)
    };
    write_feed(
        &s.feed.root().join("feed.xml"),
        &feed_xml(&s.feed.url(), &refused_url(), &s.alternate.url(), &[ep]),
    );
    let r = s.sync().await;
    assert!(r.ok(), "{:?}", r.libraries[0].failed);
    let second = Sha256::digest(&v2);
    assert!(
        s.store().has_blob(&second).unwrap(),
        "the new file is fetched"
    );
    let learned = s.store().feed_files(&s.library).unwrap();
    assert!(learned.values().any(|f| f.sha256.as_ref() == Some(&second)));
    assert!(s.items().iter().all(|(_, d)| *d));
}

/// A partial file that is already whole (a sync stopped while checking it)
/// is finished without asking any source again.
#[tokio::test]
async fn a_whole_partial_file_is_finished_without_a_request() {
    let s = Setup::new(None, &[Ep::new(1)]).await;
    let key = stowaway_sync::file_key(&s.library, "deal-room-1\nmedia");
    std::fs::write(s.store().blobs().partial_path(&key), media(1)).unwrap();
    let r = s.sync().await;
    assert!(r.ok(), "{:?}", r.libraries[0].failed);
    assert!(
        !s.alternate
            .requests()
            .iter()
            .any(|q| q.path == "media/e1.mp3"),
        "{:?}",
        s.alternate.requests()
    );
    assert_eq!(
        std::fs::read(s.store().blobs().path(&Sha256::digest(&media(1)))).unwrap(),
        media(1)
    );
}

/// A chapters file that keeps coming past the largest a chapters file may
/// be (64 MiB): cut off there, its host asked for it once (it sent what
/// cannot be the file: not a source of it again in this sync, though
/// rounds remain), nothing of it kept on disk, and the episode's media is
/// not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_file_that_keeps_coming_is_cut_off_and_not_asked_again() {
    let s = Setup::new(None, &[Ep::new(1)]).await;
    let huge = s.feed.root().join("ch/e1.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let opts = SyncOptions {
        max_rounds: 3,
        ..SyncOptions::default()
    };
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        s.engine.sync(&opts, &CancellationToken::new()),
    )
    .await
    .expect("a sync ends")
    .unwrap();
    let failed = &r.libraries[0].failed;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]
            .1
            .contains("more bytes than the 67108864 expected"),
        "{failed:?}"
    );
    let asked = s
        .feed
        .requests()
        .iter()
        .filter(|q| q.path == "ch/e1.json")
        .count();
    assert_eq!(asked, 1, "{:?}", s.feed.requests());
    assert_eq!(
        std::fs::read(s.store().blobs().path(&Sha256::digest(&media(1)))).unwrap(),
        media(1)
    );
    let partials: u64 = std::fs::read_dir(s.tmp.path().join("member/blobs/partial"))
        .map(|d| {
            d.flatten()
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(partials, 0, "bytes of the refused file left on disk");
}

/// An enclosure that is gone (404) while an alternate enclosure on the same
/// host serves the file: the alternate is tried (a host's other URL, once
/// every host's first one failed), and no digest being given, the file is
/// stored under the hash learned from it.
#[tokio::test]
async fn an_alternate_on_the_enclosures_own_host_is_tried() {
    let tmp = tempfile::tempdir().unwrap();
    let host = TestMirror::start(tmp.path().join("host")).unwrap();
    write_media(host.root(), &[Ep::new(1)]);
    let url = host.url();
    small_feed(
        host.root(),
        "Same host",
        None,
        &format!(
            r#"<item><guid>g1</guid><title>Episode 1</title><enclosure url="{url}gone/e1.mp3" length="{SIZE}" type="audio/mpeg"/><podcast:alternateEnclosure xmlns:podcast="https://podcastindex.org/namespace/1.0" type="audio/mpeg" length="{SIZE}"><podcast:source uri="{url}media/e1.mp3"/></podcast:alternateEnclosure></item>"#
        ),
    );
    let engine = engine_in(&tmp.path().join("member"));
    subscribe(&engine, &format!("{url}feed.xml")).await;
    let opts = SyncOptions {
        max_rounds: 1,
        ..SyncOptions::default()
    };
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        engine.sync(&opts, &CancellationToken::new()),
    )
    .await
    .expect("a sync ends")
    .unwrap();
    assert!(r.ok(), "{:?}", r.libraries[0].failed);
    let asked: Vec<String> = host.requests().into_iter().map(|q| q.path).collect();
    assert!(asked.iter().any(|p| p == "gone/e1.mp3"), "{asked:?}");
    assert!(asked.iter().any(|p| p == "media/e1.mp3"), "{asked:?}");
    assert_eq!(
        std::fs::read(engine.store().blobs().path(&Sha256::digest(&media(1)))).unwrap(),
        media(1)
    );
}

/// A feed server that sends a byte every half second. Before, every sync
/// waited 120 s for it (the document deadline); now its pace gives it up
/// within seconds, and nothing changes.
#[tokio::test]
async fn a_dripping_feed_is_given_up_within_seconds() {
    let s = Setup::new(None, &[Ep::new(1)]).await;
    // Changed since the last fetch (no 304), and now sent a byte at a time.
    let path = s.feed.root().join("feed.xml");
    let xml = std::fs::read_to_string(&path).unwrap();
    write_feed(&path, &format!("{xml}<!-- updated -->\n"));
    s.feed.set_faults(vec![Rule::path(
        PathMatch::exact("feed.xml"),
        Fault::Trickle { bytes_per_sec: 2 },
    )]);
    let before = s.items();
    let t = std::time::Instant::now();
    let r = s
        .engine
        .sync(
            &SyncOptions {
                catalog_only: true,
                ..SyncOptions::default()
            },
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let e = r.libraries[0].catalog_error.as_deref().unwrap();
    assert!(e.contains("too slow"), "{e}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(s.items(), before);
}

/// A feed of `items` (raw `<item>` elements) at `root/feed.xml`, with an
/// optional `itunes:new-feed-url`.
fn small_feed(root: &Path, title: &str, new_url: Option<&str>, items: &str) {
    std::fs::create_dir_all(root).unwrap();
    let moved = new_url.map_or(String::new(), |u| {
        format!("<itunes:new-feed-url>{u}</itunes:new-feed-url>")
    });
    write_feed(
        &root.join("feed.xml"),
        &format!(
            r#"<?xml version="1.0"?><rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>{title}</title>{moved}{items}</channel></rss>"#
        ),
    );
}

fn item(guid: &str, title: &str, enclosure: Option<(&str, Option<&str>)>) -> String {
    let enc = enclosure.map_or(String::new(), |(url, t)| {
        let t = t.map_or(String::new(), |t| format!(r#" type="{t}""#));
        format!(r#"<enclosure url="{url}"{t}/>"#)
    });
    format!("<item><guid>{guid}</guid><title>{title}</title>{enc}</item>")
}

async fn subscribe(engine: &Engine, url: &str) -> stowaway_sync::FeedSubscribed {
    let Source::Feed(f) = engine.read_source(url).await.unwrap() else {
        panic!("not read as a feed")
    };
    engine.subscribe_feed(&f).unwrap()
}

fn engine_in(dir: &Path) -> Engine {
    Engine::new(Arc::new(Store::open(dir).unwrap()), ClientConfig::default()).unwrap()
}

async fn refresh(engine: &Engine) -> stowaway_sync::LibraryReport {
    let opts = SyncOptions {
        catalog_only: true,
        ..SyncOptions::default()
    };
    let mut r = engine.sync(&opts, &CancellationToken::new()).await.unwrap();
    r.libraries.remove(0)
}

/// `subscribe` says what it kept and what it skipped, and why (before, it
/// reported every `<item>` and then kept fewer). The same preview is what
/// the app shows before the member confirms.
#[tokio::test]
async fn subscribing_reports_the_episodes_kept_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let host = TestMirror::start(tmp.path().join("site")).unwrap();
    let u = host.url();
    small_feed(
        host.root(),
        "Sparse Show",
        None,
        &[
            item(
                "a",
                "Playable",
                Some((&format!("{u}a.mp3"), Some("audio/mpeg"))),
            ),
            item("b", "Text only", None),
            // The parser tells a repeated id apart: both are kept.
            item("a", "Same id again", Some((&format!("{u}a2.mp3"), None))),
        ]
        .concat(),
    );
    let engine = engine_in(&tmp.path().join("member"));
    let Source::Feed(f) = engine.read_source(&format!("{u}feed.xml")).await.unwrap() else {
        panic!()
    };
    let preview = f.preview();
    let s = engine.subscribe_feed(&f).unwrap();
    assert_eq!(s.mapped, preview);
    assert_eq!(s.mapped.episodes, 2);
    let why: Vec<(&str, SkipReason)> = s
        .mapped
        .skipped
        .iter()
        .map(|k| (k.title.as_str(), k.reason))
        .collect();
    assert_eq!(why, [("Text only", SkipReason::NoMedia)]);
    let lines = s.mapped.summary();
    assert!(
        lines.iter().any(|l| l.contains("no audio or video file")),
        "{lines:?}"
    );
    assert_eq!(
        engine.store().list(Some(&s.library)).unwrap()[0]
            .items
            .len(),
        2
    );
}

/// No type in the feed: the extension says, or else the file's first bytes
/// once downloaded. Before, anything without a type was called audio/mpeg,
/// an image too.
#[tokio::test]
async fn a_missing_media_type_comes_from_the_extension_or_the_first_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let host = TestMirror::start(tmp.path().join("site")).unwrap();
    let u = host.url();
    let mut mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    mp3.extend(std::iter::repeat_n(0x55u8, 4000));
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0u8; 2000]].concat();
    std::fs::create_dir_all(host.root()).unwrap();
    std::fs::write(host.root().join("talk"), &mp3).unwrap();
    std::fs::write(host.root().join("cover"), &jpeg).unwrap();
    std::fs::write(host.root().join("ep.m4a"), b"not really m4a").unwrap();
    small_feed(
        host.root(),
        "Untyped Show",
        None,
        &[
            item("t", "Talk", Some((&format!("{u}talk"), None))),
            item("c", "Cover", Some((&format!("{u}cover"), None))),
            item(
                "m",
                "Typed by extension",
                Some((&format!("{u}ep.m4a"), None)),
            ),
        ]
        .concat(),
    );
    let engine = engine_in(&tmp.path().join("member"));
    let s = subscribe(&engine, &format!("{u}feed.xml")).await;
    let media_type = |guid: &str| {
        engine
            .store()
            .item_assets(stowaway_store::ItemKey {
                library: &s.library,
                collection: "episodes",
                item: &stowaway_sync::item_id(guid),
            })
            .unwrap()
            .into_iter()
            .find(|a| a.role == "media")
            .unwrap()
            .media_type
    };
    assert_eq!(media_type("t"), "application/octet-stream");
    assert_eq!(
        media_type("c"),
        "application/octet-stream",
        "not audio/mpeg"
    );
    assert_eq!(media_type("m"), "audio/mp4");
    let r = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(r.ok(), "{:?}", r.libraries[0].failed);
    assert_eq!(media_type("t"), "audio/mpeg", "read from the bytes");
    assert_eq!(
        media_type("c"),
        "application/octet-stream",
        "an image is never served as an episode's audio"
    );
    // And it stays so through the next refresh of the (unchanged) feed.
    small_feed(
        host.root(),
        "Untyped Show",
        None,
        &[
            item("t", "Talk", Some((&format!("{u}talk"), None))),
            item("c", "Cover", Some((&format!("{u}cover"), None))),
            item(
                "m",
                "Typed by extension",
                Some((&format!("{u}ep.m4a"), None)),
            ),
            "<!-- touched -->".to_owned(),
        ]
        .concat(),
    );
    refresh(&engine).await;
    assert_eq!(media_type("t"), "audio/mpeg");
}

/// A feed whose episode ids change on every fetch: the episodes are known by
/// their file and title and kept as they were; and one refresh adds at most
/// MAX_NEW_EPISODES_PER_REFRESH new ones, saying so. Before, every fetch
/// added every episode again until the library could not be refreshed.
#[tokio::test]
async fn changing_episode_ids_do_not_grow_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let host = TestMirror::start(tmp.path().join("site")).unwrap();
    let u = host.url();
    // New ids, and a tracking parameter that changes, on every fetch.
    let items = |round: usize, n: usize| -> String {
        (0..n)
            .map(|i| {
                item(
                    &format!("r{round}-{i}"),
                    &format!("Episode {i}"),
                    Some((&format!("{u}e{i}.mp3?fetch={round}"), Some("audio/mpeg"))),
                )
            })
            .collect()
    };
    small_feed(host.root(), "Churn", None, &items(0, 20));
    let engine = engine_in(&tmp.path().join("member"));
    let s = subscribe(&engine, &format!("{u}feed.xml")).await;
    let count = || {
        engine.store().list(Some(&s.library)).unwrap()[0]
            .items
            .len()
    };
    assert_eq!(count(), 20);
    for round in 1..=3 {
        small_feed(host.root(), "Churn", None, &items(round, 20));
        let r = refresh(&engine).await;
        assert!(r.catalog_error.is_none(), "{r:?}");
        assert_eq!(count(), 20, "round {round}");
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("20 episode(s) skipped")),
            "{:?}",
            r.warnings
        );
    }
    // Many genuinely new episodes at once: the newest first, up to the bound.
    let many: String = (0..600)
        .map(|i| {
            item(
                &format!("new-{i}"),
                &format!("New {i}"),
                Some((&format!("{u}n{i}.mp3"), Some("audio/mpeg"))),
            )
        })
        .collect();
    small_feed(host.root(), "Churn", None, &many);
    let r = refresh(&engine).await;
    assert_eq!(count(), 20 + stowaway_sync::MAX_NEW_EPISODES_PER_REFRESH);
    assert!(
        r.warnings.iter().any(
            |w| w.contains("100 episode(s) skipped") && w.contains("more new episodes at once")
        ),
        "{:?}",
        r.warnings
    );
    // The rest come with the next refresh.
    refresh(&engine).await;
    assert_eq!(count(), 620);
}

/// `itunes:new-feed-url` moves the subscription only once the new address
/// served a valid feed of the same show; otherwise the feed stays and the
/// member is told why. Subscribing again to the address that works uses it.
#[tokio::test]
async fn a_new_feed_url_is_followed_only_once_it_serves_the_show() {
    let tmp = tempfile::tempdir().unwrap();
    let old = TestMirror::start(tmp.path().join("old")).unwrap();
    let new = TestMirror::start(tmp.path().join("new")).unwrap();
    let episodes = item(
        "g1",
        "One",
        Some((&format!("{}e1.mp3", old.url()), Some("audio/mpeg"))),
    );
    let old_feed = format!("{}feed.xml", old.url());
    let new_feed = format!("{}feed.xml", new.url());
    small_feed(old.root(), "Moving Show", None, &episodes);
    let engine = engine_in(&tmp.path().join("member"));
    let s = subscribe(&engine, &old_feed).await;
    let at = || engine.store().feed(&s.library).unwrap().unwrap().url;

    // The new address does not answer yet.
    small_feed(old.root(), "Moving Show", Some(&new_feed), &episodes);
    let r = refresh(&engine).await;
    assert_eq!(at(), old_feed);
    assert!(
        r.warnings.iter().any(|w| w.contains("does not answer")),
        "{r:?}"
    );
    // It serves another show.
    small_feed(new.root(), "Somebody Else", None, &item("x", "X", None));
    let r = refresh(&engine).await;
    assert_eq!(at(), old_feed);
    assert!(
        r.warnings.iter().any(|w| w.contains("another show")),
        "{:?}",
        r.warnings
    );
    // It serves this show: followed.
    small_feed(new.root(), "Moving Show", None, &episodes);
    let r = refresh(&engine).await;
    assert!(r.catalog_error.is_none(), "{r:?}");
    assert_eq!(at(), new_feed);

    // The new address dies; the member subscribes again to the old one,
    // which works: that is where the feed is fetched from now.
    drop(new);
    small_feed(old.root(), "Moving Show", None, &episodes);
    let again = subscribe(&engine, &old_feed).await;
    assert!(!again.new);
    assert_eq!(at(), old_feed);
    assert!(refresh(&engine).await.catalog_error.is_none());
}

/// Episodes that declare no length were counted as 0 bytes, so the storage
/// budget let through any number of them (up to 16 GiB each). Now bytes are
/// counted as they arrive: a download the rules started stops when the room
/// is gone, and one the member asked for still comes.
#[tokio::test]
async fn undeclared_lengths_cannot_pass_the_storage_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let host = TestMirror::start(tmp.path().join("site")).unwrap();
    let u = host.url();
    std::fs::create_dir_all(host.root()).unwrap();
    let items: String = (1..=4u8)
        .map(|n| {
            std::fs::write(host.root().join(format!("e{n}.mp3")), media(n)).unwrap();
            item(
                &format!("g{n}"),
                &format!("Episode {n}"),
                Some((&format!("{u}e{n}.mp3"), Some("audio/mpeg"))),
            )
        })
        .collect();
    small_feed(host.root(), "Unsized", None, &items);
    let engine = engine_in(&tmp.path().join("member"));
    let s = subscribe(&engine, &format!("{u}feed.xml")).await;
    let budget = 2 * SIZE as u64 + SIZE as u64 / 2; // room for two and a half
    engine.store().set_storage_budget(Some(budget)).unwrap();
    let r = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    let lib = &r.libraries[0];
    let used = engine.store().storage_usage().unwrap().bytes_stored;
    assert!(used <= budget, "{used} stored, budget {budget}");
    assert_eq!(lib.files_downloaded, 2, "{lib:?}");
    assert_eq!(lib.deferred_files, 2, "{lib:?}");
    assert!(lib.failed.is_empty(), "deferred, not failed: {lib:?}");
    assert!(
        engine.store().partials().unwrap().is_empty(),
        "nothing half-kept"
    );

    // What the member asks for comes anyway.
    let missing = engine.store().list(Some(&s.library)).unwrap()[0]
        .items
        .iter()
        .find(|i| !i.downloaded)
        .unwrap()
        .id
        .clone();
    engine
        .want_download(&s.library, "episodes", Some(&missing))
        .unwrap();
    let r = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.libraries[0].files_downloaded, 1, "{:?}", r.libraries[0]);
}

/// A feed on the internet names hosts on the member's own machine or
/// network (a printer, the router, a cloud metadata address): none of them
/// gets a request, and the member is told why. Before, any feed could make
/// the app GET any loopback or LAN address. ("podcast.example" is pinned to
/// this machine's loopback server and stands for a public host: a public
/// internet host is a boundary the tests cannot run.)
#[tokio::test]
async fn a_public_feed_cannot_send_the_member_to_local_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let site = TestMirror::start(tmp.path().join("site")).unwrap();
    let lan = TestMirror::start(tmp.path().join("lan")).unwrap();
    std::fs::create_dir_all(lan.root()).unwrap();
    std::fs::write(lan.root().join("secret.mp3"), b"router admin page").unwrap();
    let public = format!("http://podcast.example:{}/", site.addr().port());
    let local = lan.url(); // http://127.0.0.1:…/
    let by_name = format!("http://localhost:{}/", lan.addr().port());
    let private_ip = "http://192.168.1.1/admin.mp3";
    small_feed(
        site.root(),
        "Public Show",
        Some(&format!("{local}feed.xml")),
        &[
            item(
                "a",
                "Loopback",
                Some((&format!("{local}secret.mp3"), Some("audio/mpeg"))),
            ),
            item(
                "b",
                "By name",
                Some((&format!("{by_name}secret.mp3"), Some("audio/mpeg"))),
            ),
            item("c", "LAN", Some((private_ip, Some("audio/mpeg")))),
            // On the public host, redirected to this machine.
            item(
                "d",
                "Redirected",
                Some((&format!("{public}hop.mp3"), Some("audio/mpeg"))),
            ),
        ]
        .concat(),
    );
    site.set_faults(vec![Rule::path(
        PathMatch::exact("hop.mp3"),
        Fault::Redirect(format!("{local}secret.mp3")),
    )]);
    let config = ClientConfig {
        pins: vec![("podcast.example".into(), site.addr())],
        ..ClientConfig::default()
    };
    let engine = Engine::new(
        Arc::new(Store::open(&tmp.path().join("member")).unwrap()),
        config,
    )
    .unwrap();
    let s = subscribe(&engine, &format!("{public}feed.xml")).await;
    assert_eq!(s.mapped.episodes, 4);
    // Updated since (the next refresh reads it and its new address).
    let xml = std::fs::read_to_string(site.root().join("feed.xml")).unwrap();
    write_feed(
        &site.root().join("feed.xml"),
        &format!("{xml}<!-- updated -->"),
    );
    let r = engine
        .sync(
            &SyncOptions {
                max_rounds: 1,
                ..SyncOptions::default()
            },
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let lib = &r.libraries[0];
    assert_eq!(lib.files_downloaded, 0, "{lib:?}");
    assert_eq!(lib.failed.len(), 4, "{lib:?}");
    assert!(site
        .requests()
        .iter()
        .any(|q| q.path == "hop.mp3" && q.status == 302));
    assert!(
        lib.failed
            .iter()
            .all(|(_, e)| e.contains("may not point there")),
        "{lib:?}"
    );
    // The feed's new address on loopback is not followed either.
    assert!(
        lib.warnings
            .iter()
            .any(|w| w.contains("may not point there")),
        "{:?}",
        lib.warnings
    );
    assert_eq!(
        engine.store().feed(&s.library).unwrap().unwrap().url,
        format!("{public}feed.xml")
    );
    assert!(lan.requests().is_empty(), "{:?}", lan.requests());

    // The same files behind a feed on the member's own network: fetched.
    small_feed(
        lan.root(),
        "LAN Show",
        None,
        &item(
            "a",
            "Loopback",
            Some((&format!("{local}secret.mp3"), Some("audio/mpeg"))),
        ),
    );
    let s2 = subscribe(&engine, &format!("{local}feed.xml")).await;
    let r = engine
        .sync(
            &SyncOptions {
                library: Some(s2.library.clone()),
                ..SyncOptions::default()
            },
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.libraries[0].files_downloaded, 1, "{:?}", r.libraries[0]);
}

/// Libraries refresh at once, not one after another: while the first
/// feed's host leaves its request unanswered, the second feed (subscribed
/// later, another host) has already been asked. Told by order, not time.
#[tokio::test]
async fn libraries_refresh_at_once_not_one_after_another() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = TestMirror::start(tmp.path().join("slow")).unwrap();
    let quick = TestMirror::start(tmp.path().join("quick")).unwrap();
    for (host, title) in [(&slow, "A Slow Show"), (&quick, "Z Quick Show")] {
        let u = host.url();
        small_feed(
            host.root(),
            title,
            None,
            &item(
                "e1",
                "One",
                Some((&format!("{u}e1.mp3"), Some("audio/mpeg"))),
            ),
        );
    }
    let engine = engine_in(&tmp.path().join("member"));
    subscribe(&engine, &format!("{}feed.xml", slow.url())).await;
    subscribe(&engine, &format!("{}feed.xml", quick.url())).await;
    slow.set_faults(vec![Rule::all(Fault::BlackHole)]);
    quick.clear_requests();
    let e = engine.clone();
    let task = tokio::spawn(async move {
        let opts = SyncOptions {
            catalog_only: true,
            ..SyncOptions::default()
        };
        e.sync(&opts, &CancellationToken::new()).await
    });
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while !quick.requests().iter().any(|r| r.path == "feed.xml") {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the second feed is asked for");
    assert!(
        slow.requests()
            .iter()
            .any(|r| r.path == "feed.xml" && r.status == 0),
        "the first feed's request is out, unanswered"
    );
    assert!(
        !task.is_finished(),
        "the sync still waits for the first feed"
    );
    task.abort();
}

/// A large episode its digest checks, on two hosts: fetched in segments
/// from both at once (each sends part of it, with bounded Ranges), checked
/// whole, stored under its hash, each byte fetched once. When one host
/// serves other bytes, the joined copy fails its digest: nothing of it is
/// kept and no host is blamed for it; the episode then comes from one host
/// at a time, where the liar is caught as the only source of a bad copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_episode_with_a_digest_comes_in_segments_from_every_host() {
    for liar in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let primary = TestMirror::start(tmp.path().join("primary")).unwrap();
        if liar {
            primary.set_faults(vec![Rule {
                path: PathMatch::exact("media/e10.mp3"),
                fault: Fault::FlipBytes,
                times: None,
            }]);
        }
        let s = Setup::new(Some(&primary), &[Ep::new(LARGE_FROM)]).await;
        let r = s.sync().await;
        assert!(r.ok(), "liar {liar}: {:?}", r.libraries[0].failed);
        let want = media(LARGE_FROM);
        assert_eq!(
            std::fs::read(s.store().blobs().path(&Sha256::digest(&want))).unwrap(),
            want,
            "liar {liar}"
        );
        let asked = |m: &TestMirror| -> Vec<Option<String>> {
            m.requests()
                .into_iter()
                .filter(|q| q.path == "media/e10.mp3")
                .map(|q| q.range)
                .collect()
        };
        let (from_primary, from_alternate) = (asked(&primary), asked(&s.alternate));
        // Both hosts were asked for bounded parts of it at once.
        for (host, ranges) in [("primary", &from_primary), ("alternate", &from_alternate)] {
            assert!(
                ranges.iter().any(|r| r
                    .as_deref()
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.split_once('-'))
                    .is_some_and(|(_, end)| !end.is_empty())),
                "liar {liar}: {host} sent a segment: {ranges:?}"
            );
        }
        let received = r.libraries[0].bytes_received;
        if liar {
            // The joined copy, then the liar's whole copy, then the
            // alternate's.
            assert!(
                r.libraries[0]
                    .warnings
                    .iter()
                    .any(|w| w.contains("joined from several hosts")),
                "{:?}",
                r.libraries[0].warnings
            );
            assert!(
                from_primary.iter().any(Option::is_none)
                    || from_primary
                        .iter()
                        .any(|r| r.as_deref() == Some("bytes=0-")),
                "the enclosure's host was asked for the whole file: {from_primary:?}"
            );
        } else {
            assert!(
                (LARGE as u64..LARGE as u64 + 4096).contains(&received),
                "{received} bytes received for a {LARGE}-byte episode"
            );
        }
    }
}
