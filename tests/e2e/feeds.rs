//! Podcast feeds end to end: `stowaway-publish build --mirror A --mirror B`
//! writes standard RSS feeds whose alternate enclosures list every mirror;
//! the member follows them with `stowaway` like any podcast app would, with
//! mirror A down. Real nginx servers on loopback, a real cache on disk.

use stowaway_tests::{files_below, Member, Nginx, Publisher};

#[test]
fn publisher_feeds_followed_with_the_first_mirror_down() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    std::fs::create_dir_all(&publisher.mirror).unwrap();
    // B serves the mirror tree; A (the feeds' first mirror) is down.
    let b = Nginx::start(&publisher.mirror);
    let a_port = stowaway_tests::free_port();
    let a = format!("http://127.0.0.1:{a_port}/");
    stowaway_tests::run(
        "stowaway-publish",
        &[
            "build",
            "--key",
            publisher.keys.join("stowaway.key").to_str().unwrap(),
            "--source",
            publisher.source.to_str().unwrap(),
            "--out",
            publisher.mirror.to_str().unwrap(),
            "--mirror",
            &a,
            "--mirror",
            &b.url(),
        ],
    )
    .success();
    let show_feed = format!("{}feeds/deal-room.xml", b.url());
    let course_feed = format!("{}feeds/first-deal.xml", b.url());

    // The show's old address redirects permanently to B's feed.
    let old_host = Nginx::start_with(
        &tmp.path().join("empty"),
        &format!(
            "location = /show.xml {{ return 301 {show_feed}; }}
             location = /today.xml {{ return 302 {course_feed}; }}"
        ),
    );
    let member = Member::new(&tmp.path().join("member"));
    let s = member.json(&["subscribe", &format!("{}show.xml", old_host.url())]);
    assert_eq!(s["feed"], true, "{s}");
    assert_eq!(s["library"], "the-deal-room", "{s}");
    assert_eq!(s["episodes"], 2, "{s}");
    // A temporary redirect is followed but not recorded: the address asked
    // for is kept.
    let other = Member::new(&tmp.path().join("other-member"));
    let today = format!("{}today.xml", old_host.url());
    let s = other.json(&["subscribe", &today]);
    assert_eq!(s["library"], "your-first-deal", "{s}");
    assert_eq!(
        other.json(&["status"])["libraries"][0]["feed_url"].as_str(),
        Some(today.as_str())
    );
    drop(old_host);
    let status = member.json(&["status"]);
    assert_eq!(
        status["libraries"][0]["feed_url"].as_str(),
        Some(show_feed.as_str()),
        "the permanent move is recorded: {status}"
    );

    // The course's feed arrives through OPML, as from another podcast app.
    let opml = tmp.path().join("subscriptions.opml");
    std::fs::write(
        &opml,
        format!(
            r#"<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
<outline text="Podcasts"><outline type="rss" text="Your First Deal" xmlUrl="{course_feed}"/></outline>
<outline type="rss" text="The Deal Room" xmlUrl="{show_feed}"/></body></opml>"#
        ),
    )
    .unwrap();
    let imported = member.json(&["opml", "import", opml.to_str().unwrap()]);
    assert_eq!(
        imported["new"], 1,
        "the show was already subscribed: {imported}"
    );

    // One lesson's copy on B is corrupted (same length): the feed's
    // integrity digest catches it, and nothing of it is stored. The
    // transcript has one address, on A: it waits for A.
    let lesson2 = std::fs::read(publisher.source.join("media/lesson2.ogg")).unwrap();
    let on_b = files_below(&publisher.mirror.join("blobs"))
        .into_iter()
        .find(|p| std::fs::read(p).unwrap() == lesson2)
        .expect("lesson 2 is on the mirror");
    // A, when it comes back, serves the tree as it was.
    stowaway_tests::copy_dir(&publisher.mirror, &tmp.path().join("mirror-a"));
    let mut bad = lesson2.clone();
    bad[1000] ^= 0xff;
    std::fs::write(&on_b, &bad).unwrap();
    let sync = member.run(&["sync", "--json"]).failure().json();
    let failed: Vec<String> = sync["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["failed"].as_array().unwrap().clone())
        .map(|f| f.to_string())
        .collect();
    assert_eq!(failed.len(), 2, "{sync}");
    assert!(
        failed
            .iter()
            .any(|f| f.contains("Finding deals") && f.contains("integrity mismatch")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|f| f.contains("Mindset (transcript)") && f.contains("refused")),
        "{failed:?}"
    );
    // Every episode downloaded from B but the corrupted one.
    let items = member.items();
    assert_eq!(items.len(), 5, "3 lessons and 2 episodes: {items:?}");
    let missing: Vec<_> = items.iter().filter(|i| !i.2).collect();
    assert_eq!(
        missing.len(),
        2,
        "lesson 2, and lesson 1's transcript: {items:?}"
    );
    assert!(
        !files_below(&member.blob_dir())
            .iter()
            .any(|p| std::fs::read(p).unwrap() == bad),
        "the corrupted copy was not kept"
    );

    // A comes back: the next sync completes, every file byte-identical to
    // the publisher's source.
    let _a = Nginx::start_at(&tmp.path().join("mirror-a"), Some(a_port), "");
    member.run(&["sync"]).success();
    assert!(member.items().iter().all(|i| i.2));
    let stored: Vec<Vec<u8>> = files_below(&member.blob_dir())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for f in [
        "lesson1.ogg",
        "lesson2.ogg",
        "lesson3.ogg",
        "ep1.ogg",
        "ep2.ogg",
        "lesson1.vtt",
    ] {
        let bytes = std::fs::read(publisher.source.join("media").join(f)).unwrap();
        assert!(stored.contains(&bytes), "{f} is stored");
    }
    assert!(!stored.contains(&bad));

    // The transcript's words are searchable, offline.
    let hits = member.json(&["search", "school"]);
    assert_eq!(hits[0]["title"], "Mindset", "{hits}");

    // Export lists both feeds, at their current addresses.
    let exported = member.run(&["opml", "export"]).success().stdout;
    assert!(
        exported.contains(&format!(r#"xmlUrl="{show_feed}""#)),
        "{exported}"
    );
    assert!(
        exported.contains(&format!(r#"xmlUrl="{course_feed}""#)),
        "{exported}"
    );
}
