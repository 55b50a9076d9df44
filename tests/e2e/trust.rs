//! Catalogs that must be refused: forged, signed by another key, rolled back.
//! Each is refused with a clear error and changes nothing in the store.

use stowaway_tests::{copy_dir, file_url, run, Member, Publisher};

struct Fixture {
    _tmp: tempfile::TempDir,
    publisher: Publisher,
    member: Member,
}

fn synced() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let sub = publisher.subscription(&[file_url(&publisher.mirror)]);
    let member = Member::new(&tmp.path().join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);
    assert_eq!(member.json(&["sync"])["ok"], true);
    Fixture {
        _tmp: tmp,
        publisher,
        member,
    }
}

/// Everything the member can observe of the store.
fn snapshot(m: &Member) -> (serde_json::Value, serde_json::Value, u64) {
    let list = m.json(&["list"]);
    let status = m.json(&["status"])["libraries"][0]["sequence"].clone();
    let blobs = stowaway_tests::files_below(&m.blob_dir()).len() as u64;
    (list, status, blobs)
}

fn refused(f: &Fixture, expect: &str) {
    let before = snapshot(&f.member);
    let r = f.member.run(&["sync", "--json"]).failure().json();
    let err = r["libraries"][0]["catalog_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(err.contains(expect), "expected {expect:?} in {err:?}");
    assert_eq!(snapshot(&f.member), before, "the store changed");
}

#[test]
fn forged_catalog_is_refused() {
    // The publisher publishes sequence 2; the mirror alters its catalog.
    let mut f = synced();
    f.publisher.write_manifest(3);
    f.publisher.build();
    let path = f.publisher.mirror.join("library.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let forged = text.replace("Finding deals", "Wire your deposit here");
    assert_ne!(forged, text);
    std::fs::write(&path, forged).unwrap();
    refused(&f, "does not verify");
}

#[test]
fn catalog_signed_by_another_key_is_refused() {
    let f = synced();
    let other = f.publisher.root.join("other-keys");
    run(
        "stowaway-publish",
        &["keygen", "--out", other.to_str().unwrap()],
    )
    .success();
    // The attacker's catalog is a newer sequence with extra content.
    let evil = f.publisher.root.join("evil-mirror");
    copy_dir(&f.publisher.mirror, &evil);
    let mut p = Publisher::new(&f.publisher.root.join("evil-src"));
    p.write_manifest(4);
    p.build_with(&other.join("stowaway.key"), &evil).success();
    copy_dir(&evil, &f.publisher.mirror);
    refused(&f, "does not verify");
}

#[test]
fn rolled_back_catalog_is_refused() {
    let mut f = synced();
    let old = f.publisher.root.join("seq1");
    copy_dir(&f.publisher.mirror, &old);
    f.publisher.write_manifest(3);
    f.publisher.build();
    assert_eq!(
        f.member.json(&["sync"])["libraries"][0]["catalog"]["sequence"],
        2
    );
    // A mirror (or an attacker) serves the old, validly signed catalog again.
    for name in ["library.json", "library.json.minisig"] {
        std::fs::copy(old.join(name), f.publisher.mirror.join(name)).unwrap();
    }
    refused(&f, "rollback");
}

#[test]
fn garbage_signature_is_refused() {
    let mut f = synced();
    f.publisher.write_manifest(3);
    f.publisher.build();
    std::fs::write(
        f.publisher.mirror.join("library.json.minisig"),
        "not a signature",
    )
    .unwrap();
    refused(&f, "signature");
}

/// Unchanged: one request per mirror, for the signature file (a few hundred
/// bytes, whose trusted comment names the sequence); no catalog body.
#[test]
fn an_unchanged_catalog_costs_one_request() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let mirror = stowaway_testmirror::TestMirror::start(&publisher.mirror).unwrap();
    let sub = publisher.subscription(&[mirror.url()]);
    let member = Member::new(&tmp.path().join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);
    assert_eq!(member.json(&["sync"])["ok"], true);
    mirror.clear_requests();
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["catalog"]["unchanged"], true);
    let reqs = mirror.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].path, "library.json.minisig");
    assert_eq!(reqs[0].status, 200);
}

#[test]
fn a_catalog_republished_within_the_same_second_is_not_missed() {
    // nginx's ETag is the modification time in whole seconds plus the size:
    // a republication of the same size in the same second keeps the ETag.
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let nginx = stowaway_tests::Nginx::start(&publisher.mirror);
    let sub = publisher.subscription(&[nginx.url()]);
    let member = Member::new(&tmp.path().join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);
    let refresh = |p: &Publisher| {
        run(
            "stowaway-publish",
            &[
                "build",
                "--refresh",
                "--key",
                p.keys.join("stowaway.key").to_str().unwrap(),
                "--source",
                p.source.to_str().unwrap(),
                "--out",
                p.mirror.to_str().unwrap(),
            ],
        )
        .success()
    };
    refresh(&publisher);
    assert_eq!(
        member.json(&["sync"])["libraries"][0]["catalog"]["sequence"],
        2
    );
    refresh(&publisher);
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["catalog"]["sequence"], 3, "{r}");
}

#[test]
fn an_absurdly_large_catalog_is_refused_without_reading_it() {
    // A newer sequence is announced; its catalog is 80 MiB.
    let mut f = synced();
    f.publisher.write_manifest(3);
    f.publisher.build();
    let path = f.publisher.mirror.join("library.json");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(80 << 20).unwrap(); // 80 MiB of zeros, over the 64 MiB limit
    refused(&f, "larger than the limit");
}
