//! The member decides what is kept offline, through the CLI: per-collection
//! rules (all / new / off), downloading an item or a whole course, removing a
//! download, a storage budget, pausing. Against nginx on loopback.

use stowaway_tests::{Member, Nginx, Publisher};

fn downloaded(member: &Member) -> Vec<String> {
    member
        .items()
        .into_iter()
        .filter(|(_, _, d)| *d)
        .map(|(_, i, _)| i)
        .collect()
}

#[test]
fn rules_requests_removal_budget_and_pause() {
    let tmp = tempfile::tempdir().unwrap();
    let mut publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let nginx = Nginx::start(&publisher.mirror);
    let sub = publisher.subscription(&[nginx.url()]);
    let member = Member::new(&tmp.path().join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);

    // The show downloads only new episodes; the course only on request.
    member.json(&["auto-download", "acme/deal-room", "new"]);
    member.json(&["auto-download", "acme/first-deal", "off"]);
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 0, "{r}");
    assert!(downloaded(&member).is_empty());
    let list = member.json(&["list"]);
    assert_eq!(list[0]["download_mode"], "off");
    assert_eq!(list[1]["download_mode"], "new");

    // One lesson now.
    let r = member.json(&["download", "acme/first-deal/l2"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 1, "{r}");
    assert_eq!(downloaded(&member), ["l2"]);

    // A new episode arrives and is fetched on its own; older ones are not.
    publisher.write_manifest(3);
    publisher.build();
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 1, "{r}");
    assert_eq!(downloaded(&member), ["l2", "ep3"]);

    // The whole course: the two other lessons with transcript and workbook.
    let r = member.json(&["download", "acme/first-deal"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 4, "{r}");
    assert_eq!(downloaded(&member), ["l1", "l2", "l3", "ep3"]);

    // Removing a lesson frees its 700 kB, and a sync does not bring it back.
    let r = member.json(&["remove", "acme/first-deal/l2"]);
    assert_eq!(r["freed"]["bytes"], 700_000, "{r}");
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 0, "{r}");
    assert_eq!(downloaded(&member), ["l1", "l3", "ep3"]);

    // A budget just above what is stored: switching the show to "all"
    // queues two episodes, one fits.
    let stored = member.json(&["downloads"])["storage"]["bytes_stored"]
        .as_u64()
        .unwrap();
    let budget = (stored + 201_500).to_string();
    member.json(&["budget", &budget]);
    member.json(&["auto-download", "acme/deal-room", "all"]);
    let r = member.json(&["sync"]);
    let lib = &r["libraries"][0];
    assert_eq!(
        (
            lib["files_downloaded"].as_u64(),
            lib["deferred_files"].as_u64()
        ),
        (Some(1), Some(1)),
        "{r}"
    );
    let d = member.json(&["downloads"]);
    assert_eq!(d["queue"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["storage"]["budget"].as_u64(), Some(stored + 201_500));
    let human = member.run(&["sync"]).success().stdout;
    assert!(human.contains("storage budget is reached"), "{human}");

    // Paused: the sync refreshes the catalog only; resumed: it downloads.
    member.json(&["budget", "none"]);
    member.json(&["pause"]);
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["paused"], true, "{r}");
    assert_eq!(r["libraries"][0]["files_downloaded"], 0);
    assert_eq!(member.json(&["downloads"])["storage"]["paused"], true);
    member.json(&["resume"]);
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 1, "{r}");

    // Bad targets are clear errors.
    let e = member.run(&["download", "acme/nope"]).failure();
    assert!(e.stderr.contains("no such collection"), "{}", e.stderr);
    let e = member.run(&["remove", "acme/first-deal"]).failure();
    assert!(e.stderr.contains("LIBRARY/COLLECTION/ITEM"), "{}", e.stderr);
    let e = member.run(&["budget", "lots"]).failure();
    assert!(e.stderr.contains("not a size"), "{}", e.stderr);
}

/// Two processes on one cache (the app syncing, the CLI removing): a file
/// the member removes in one stops downloading in the other, and is not kept
/// when it would have finished. Before, the running download did not know
/// and stored it anyway.
#[test]
fn a_removal_in_another_process_stops_the_download() {
    use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::show(&tmp.path().join("publisher"), 2, 3 << 20);
    publisher.build();
    let mirror = TestMirror::start(&publisher.mirror).unwrap();
    mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: 300_000,
        },
    )]);
    let sub = publisher.subscription(&[mirror.url()]);
    let member = Member::new(&tmp.path().join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);
    let sync = std::process::Command::new(stowaway_tests::bin("stowaway"))
        .args([
            "--data-dir",
            member.data.to_str().unwrap(),
            "sync",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Both files are under way, then one is removed from the other process.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while member.json(&["status"])["partial_downloads"]
        .as_array()
        .is_none_or(|p| p.len() < 2)
    {
        assert!(std::time::Instant::now() < deadline, "no downloads started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = member.json(&["remove", "big/show/e1"]);
    assert_eq!(r["freed"]["items"], 1, "{r}");
    let out = sync.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lib = &report["libraries"][0];
    assert_eq!(lib["files_downloaded"], 1, "{report}");
    assert_eq!(lib["cancelled"], 1, "{report}");
    let items = member.items();
    assert_eq!(
        items
            .iter()
            .map(|i| (i.1.as_str(), i.2))
            .collect::<Vec<_>>(),
        [("e1", false), ("e2", true)]
    );
    assert_eq!(stowaway_tests::files_below(&member.blob_dir()).len(), 1);
}

/// Ready for the trip: pin a course, `ready` says what is missing (exit 1),
/// a sync fetches it, `ready` re-hashes every byte and says ready (exit 0);
/// a file damaged on disk makes it not ready and is set aside, so the next
/// sync fetches it again. A pinned lesson is not removed by accident.
#[test]
fn ready_for_the_trip_checks_every_byte_of_what_is_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let member = Member::new(&tmp.path().join("member"));
    let sub = publisher.subscription(&[stowaway_tests::file_url(&publisher.mirror)]);
    member.json(&["subscribe", sub.to_str().unwrap()]);
    member.json(&["auto-download", "acme/first-deal", "off"]);
    member.json(&["auto-download", "acme/deal-room", "off"]);
    let v = member.json(&["ready"]);
    assert_eq!(
        (v["ready"].as_bool(), v["files"].as_u64()),
        (Some(true), Some(0)),
        "{v}"
    );

    let p = member.json(&["pin", "acme/first-deal"]);
    assert_eq!(p["changed"], true);
    let r = member.run(&["ready", "acme"]).failure();
    assert!(
        r.stdout.contains("Not ready: 3 of 3 lessons missing"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("missing: acme/first-deal/l2  Finding deals"),
        "{}",
        r.stdout
    );
    let v = member.run(&["ready", "acme", "--json"]).failure().json();
    assert_eq!(
        (v["missing_items"].as_u64(), v["lessons"].as_u64()),
        (Some(3), Some(3)),
        "{v}"
    );

    // The rule says off, the pin says keep: a sync fetches the course only.
    let s = member.json(&["sync"]);
    assert_eq!(s["libraries"][0]["files_downloaded"], 5, "{s}"); // 3 lessons, a transcript, a workbook
    let r = member.run(&["ready", "acme/first-deal"]).success();
    assert!(r.stdout.starts_with("Ready: 3 lessons, "), "{}", r.stdout);
    assert!(r.stdout.contains("verified just now"), "{}", r.stdout);
    let v = member.json(&["ready", "acme"]);
    assert_eq!(v["bytes_verified"], v["bytes"], "{v}");
    assert!(v["bytes"].as_u64().unwrap() > 1_000_000, "{v}");

    // One byte changed on disk: not ready, the copy set aside, fetched again.
    let largest = stowaway_tests::files_below(&member.blob_dir())
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&largest).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&largest, bytes).unwrap();
    let v = member.run(&["ready", "acme", "--json"]).failure().json();
    assert_eq!(
        (v["damaged"].as_u64(), v["missing_items"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["missing"][0]["item_id"], "l2", "{v}");
    assert!(!largest.exists(), "the damaged copy is set aside");
    let s = member.json(&["sync"]);
    assert_eq!(s["libraries"][0]["files_downloaded"], 1, "{s}");
    member.run(&["ready", "acme"]).success();

    // Pinned: not removed by accident; unpinned, it can be.
    let e = member
        .run(&["remove", "acme/first-deal/l1", "--json"])
        .failure()
        .json();
    assert_eq!(
        (&e["code"], &e["detail"]),
        (&"invalid".into(), &"pinned".into()),
        "{e}"
    );
    member.json(&["unpin", "acme/first-deal"]);
    member.json(&["remove", "acme/first-deal/l1"]);
    let e = member
        .run(&["ready", "acme/nope", "--json"])
        .failure()
        .json();
    assert_eq!(e["code"], "not_found", "{e}");
}
