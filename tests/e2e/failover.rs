//! Two mirrors where the first fails in different ways: the sync completes from
//! the second and every stored blob verifies.

use stowaway_testmirror::{refused_url, Fault, PathMatch, Rule, TestMirror};
use stowaway_tests::{all_blobs_verify, Member, Nginx, Publisher};

fn setup(tmp: &std::path::Path) -> Publisher {
    let p = Publisher::new(&tmp.join("publisher"));
    p.build();
    p
}

fn sync_all_from_second(
    primary: &str,
    secondary: &Nginx,
    tmp: &std::path::Path,
    publisher: &Publisher,
) -> Member {
    let sub = publisher.subscription(&[secondary.url()]);
    // The member's subscription lists the failing mirror first.
    let mut s: serde_json::Value = serde_json::from_slice(&std::fs::read(&sub).unwrap()).unwrap();
    s["mirrors"] = serde_json::json!([primary, secondary.url()]);
    std::fs::write(&sub, s.to_string()).unwrap();
    let member = Member::new(&tmp.join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);
    let r = member.json(&["sync"]);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["libraries"][0]["files_downloaded"], 7);
    assert!(member.items().iter().all(|i| i.2));
    assert_eq!(all_blobs_verify(&member), 7);
    assert!(member.json(&["fsck"])["problems"]
        .as_array()
        .unwrap()
        .is_empty());
    member
}

#[test]
fn primary_refuses_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = setup(tmp.path());
    let nginx = Nginx::start(&publisher.mirror);
    let member = sync_all_from_second(&refused_url(), &nginx, tmp.path(), &publisher);
    assert_eq!(
        member.json(&["status"])["libraries"][0]["last_sync_mirror"],
        nginx.url()
    );
}

#[test]
fn primary_answers_500() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = setup(tmp.path());
    let nginx = Nginx::start(&publisher.mirror);
    let bad = TestMirror::start(&publisher.mirror).unwrap();
    bad.set_faults(vec![Rule::all(Fault::Status {
        code: 500,
        retry_after: None,
    })]);
    sync_all_from_second(&bad.url(), &nginx, tmp.path(), &publisher);
    assert!(bad
        .requests()
        .iter()
        .any(|r| r.path == "library.json.minisig" && r.status == 500));
}

#[test]
fn primary_serves_corrupted_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = setup(tmp.path());
    let nginx = Nginx::start(&publisher.mirror);
    let bad = TestMirror::start(&publisher.mirror).unwrap();
    // The catalog is fine (so it is used), but every blob has flipped bytes.
    bad.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::FlipBytes,
    )]);
    let member = sync_all_from_second(&bad.url(), &nginx, tmp.path(), &publisher);
    let blob_requests = bad
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("blobs/"))
        .count();
    assert!(blob_requests >= 1, "the lying mirror was tried first");
    assert!(
        blob_requests < 7,
        "after serving bad bytes it is demoted, not asked for every blob ({blob_requests})"
    );
    let health = &member.json(&["mirrors"])[0]["health"];
    assert!(health["bad_bytes"].as_u64().unwrap() >= 1, "{health}");
    assert_eq!(
        member.json(&["status"])["libraries"][0]["last_sync_mirror"],
        bad.url()
    );
}

#[test]
fn primary_truncates_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = setup(tmp.path());
    let nginx = Nginx::start(&publisher.mirror);
    let bad = TestMirror::start(&publisher.mirror).unwrap();
    bad.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Truncate(1000),
    )]);
    sync_all_from_second(&bad.url(), &nginx, tmp.path(), &publisher);
}
