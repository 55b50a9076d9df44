//! Stale, hostile and slow-dripping mirrors, against real fault-injecting
//! mirrors on loopback and a real store.
//!
//! A stale or hostile mirror cannot freeze a member at an old catalog: one
//! sync sees the newest catalog any answering mirror serves, the mirrors
//! behind it are marked stale, and the newest is fetched from whoever has
//! it. A mirror that sends a byte now and then cannot hold a sync (and its
//! lock) for ever: every request has a deadline that follows from its size.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stowaway_catalog::Subscription;
use stowaway_mirrors::{ClientConfig, MirrorHealth};
use stowaway_store::Store;
use stowaway_sync::{Engine, SyncEvent, SyncOptions};
use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
use tokio_util::sync::CancellationToken;

/// Publishes again into `root/mirror` with one more episode (the next
/// sequence), signed with the same key.
fn republish(root: &Path, extra: &str) {
    let source = root.join("source");
    let mut toml = std::fs::read_to_string(source.join("library.toml")).unwrap();
    std::fs::write(
        source.join(format!("media/{extra}.ogg")),
        extra.repeat(5000),
    )
    .unwrap();
    toml.push_str(&format!(
        "\n[[collection.item]]\nid = \"{extra}\"\ntitle = \"Episode {extra}\"\nmedia = \"media/{extra}.ogg\"\n"
    ));
    std::fs::write(source.join("library.toml"), toml).unwrap();
    stowaway_publish::build(&stowaway_publish::BuildOptions {
        source,
        out: root.join("mirror"),
        secret_key: root.join("keys/stowaway.key"),
        mirrors: vec![],
        refresh: false,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

async fn catalog_sync(engine: &Engine) -> stowaway_sync::SyncReport {
    engine
        .sync(
            &SyncOptions {
                catalog_only: true,
                ..SyncOptions::default()
            },
            &CancellationToken::new(),
        )
        .await
        .unwrap()
}

fn health(store: &Store, url: &str) -> MirrorHealth {
    let r = store.mirror_records("acme").unwrap();
    let r = r.iter().find(|r| r.url == url).unwrap();
    MirrorHealth::from_stored(r.health.as_deref())
}

/// The member has sequence 1. The first mirror, fast, still serves it (a
/// lagging rsync copy, or a hostile mirror replaying it: it answers
/// "nothing new" at once). The second, slower, serves sequence 2. Before,
/// the first answer ended the check and the member stayed at 1 for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_stale_mirror_does_not_hide_a_newer_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("publisher");
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let fresh = TestMirror::start(root.join("mirror")).unwrap();
    let mut sub = common::publish(&root, "acme", &fresh.url());
    let old = tmp.path().join("old");
    copy_tree(&root.join("mirror"), &old);
    let stale = TestMirror::start(&old).unwrap();
    sub.mirrors = vec![stale.url(), fresh.url()];

    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let r = catalog_sync(&engine).await;
    assert_eq!(r.libraries[0].catalog.as_ref().unwrap().sequence, 1);

    republish(&root, "e3");
    fresh.set_faults(vec![Rule::all(Fault::Delay(Duration::from_millis(250)))]);
    let mut events = engine.events();
    let r = catalog_sync(&engine).await;
    let lib = &r.libraries[0];
    let applied = lib.catalog.as_ref().unwrap();
    assert_eq!((applied.sequence, applied.unchanged), (2, false), "{lib:?}");
    assert_eq!(lib.catalog_mirror.as_deref(), Some(fresh.url().as_str()));
    assert_eq!(applied.diff.added, [("show".to_owned(), "e3".to_owned())]);
    assert_eq!(lib.stale_mirrors, [stale.url()]);
    let h = health(&store, &stale.url());
    assert!(h.is_stale() && h.state(0) == "stale", "{h:?}");
    assert!(!health(&store, &fresh.url()).is_stale());
    let mut saw_stale = false;
    while let Ok(e) = events.try_recv() {
        if let SyncEvent::MirrorStale {
            mirror,
            serves,
            newest,
            ..
        } = e
        {
            assert_eq!(
                (mirror.as_str(), serves, newest),
                (stale.url().as_str(), 1, 2)
            );
            saw_stale = true;
        }
    }
    assert!(saw_stale);

    // The stale mirror never served a catalog body this time: its signature
    // said enough.
    assert!(
        stale
            .requests()
            .iter()
            .filter(|q| q.path == "library.json")
            .count()
            <= 1,
        "{:?}",
        stale.requests()
    );

    // Unchanged now: one signature request per mirror, no catalog body.
    stale.clear_requests();
    fresh.clear_requests();
    let r = catalog_sync(&engine).await;
    assert!(r.libraries[0].catalog.as_ref().unwrap().unchanged);
    for m in [&stale, &fresh] {
        let paths: Vec<String> = m.requests().iter().map(|q| q.path.clone()).collect();
        assert_eq!(paths, ["library.json.minisig"], "{}", m.url());
    }
    // The lagging mirror catches up: no longer stale.
    copy_tree(&root.join("mirror"), &old);
    catalog_sync(&engine).await;
    assert!(!health(&store, &stale.url()).is_stale());
}

/// A mirror that serves an older catalog than the one applied (a rollback,
/// or a copy from before) changes nothing and is marked stale; when every
/// mirror does, the member is told and keeps what they have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_catalog_is_refused_and_its_mirror_marked_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("publisher");
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let fresh = TestMirror::start(root.join("mirror")).unwrap();
    let mut sub = common::publish(&root, "acme", &fresh.url());
    let old = tmp.path().join("old");
    copy_tree(&root.join("mirror"), &old);
    republish(&root, "e3");
    let replay = TestMirror::start(root.join("mirror")).unwrap();
    sub.mirrors = vec![replay.url(), fresh.url()];
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    assert_eq!(
        catalog_sync(&engine).await.libraries[0]
            .catalog
            .as_ref()
            .unwrap()
            .sequence,
        2
    );

    // The first mirror now replays sequence 1 (both its files).
    replay.set_faults(replay_rules(&old));
    let r = catalog_sync(&engine).await;
    let lib = &r.libraries[0];
    assert!(lib.catalog.as_ref().unwrap().unchanged, "{lib:?}");
    assert_eq!(lib.catalog.as_ref().unwrap().sequence, 2);
    assert_eq!(lib.stale_mirrors, [replay.url()]);

    // Every mirror replays it: nothing changes, and the report says why.
    fresh.set_faults(replay_rules(&old));
    let r = catalog_sync(&engine).await;
    let e = r.libraries[0].catalog_error.as_deref().unwrap();
    assert!(e.contains("older catalog") && e.contains("rollback"), "{e}");
    assert_eq!(store.applied_catalog("acme").unwrap().unwrap().sequence, 2);
}

fn replay_rules(old: &Path) -> Vec<Rule> {
    vec![
        Rule::path(
            PathMatch::exact("library.json"),
            Fault::ServeFrom(old.to_owned()),
        ),
        Rule::path(
            PathMatch::exact("library.json.minisig"),
            Fault::ServeFrom(old.to_owned()),
        ),
    ]
}

/// The publisher republished between a member's two requests: the
/// signature said sequence 1, the catalog fetched right after is sequence 2.
/// The catalog's own signature (`signatures/<sha256>.minisig`) matches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_newer_than_its_signature_file_is_matched_by_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("publisher");
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let m = TestMirror::start(root.join("mirror")).unwrap();
    let sub = common::publish(&root, "acme", &m.url());
    let old = tmp.path().join("old");
    copy_tree(&root.join("mirror"), &old);
    republish(&root, "e3");
    // The signature from before the publication, the catalog from after.
    m.set_faults(vec![Rule::path(
        PathMatch::exact("library.json.minisig"),
        Fault::ServeFrom(old.clone()),
    )]);
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let r = catalog_sync(&engine).await;
    let lib = &r.libraries[0];
    assert_eq!(lib.catalog.as_ref().map(|c| c.sequence), Some(2), "{lib:?}");
    assert!(m
        .requests()
        .iter()
        .any(|q| q.path.starts_with("signatures/") && q.status == 200));
}

/// A library published to one test mirror, and a member's engine
/// subscribed to it (`dir/publisher`, `dir/member`).
fn one_mirror(dir: &Path) -> (TestMirror, stowaway_catalog::Subscription, Engine) {
    let root = dir.join("publisher");
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let m = TestMirror::start(root.join("mirror")).unwrap();
    let sub = common::publish(&root, "acme", &m.url());
    let store = Arc::new(Store::open(&dir.join("member")).unwrap());
    let engine = Engine::new(store, ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    (m, sub, engine)
}

/// A byte every half second: never idle for long, never done.
fn drip(path: PathMatch) -> Rule {
    Rule::path(path, Fault::Trickle { bytes_per_sec: 2 })
}

/// The only mirror drips its catalog. Before, the fetch had no overall
/// deadline and the sync (holding `sync.lock`) never ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_catalog_ends_the_check_within_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, sub, engine) = one_mirror(tmp.path());
    let root = tmp.path().join("publisher");
    m.set_faults(vec![drip(PathMatch::exact("library.json"))]);
    let t = std::time::Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(60), catalog_sync(&engine))
        .await
        .expect("the sync ends");
    let e = r.libraries[0].catalog_error.as_deref().unwrap();
    assert!(e.contains("too slow"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());

    // With a second mirror the drip costs a hedge delay, not the deadline.
    let second = TestMirror::start(root.join("mirror")).unwrap();
    let mut both = sub.clone();
    both.mirrors.push(second.url());
    engine.subscribe(&both).unwrap();
    let t = std::time::Instant::now();
    let r = catalog_sync(&engine).await;
    assert_eq!(
        r.libraries[0].catalog_mirror.as_deref(),
        Some(second.url().as_str())
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

/// A file whose only source drips is left with its partial bytes kept for
/// later, instead of holding the sync for ever; the sync says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_file_with_no_other_source_is_left_for_later() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, _, engine) = one_mirror(tmp.path());
    m.set_faults(vec![drip(PathMatch::prefix("blobs/"))]);
    let t = std::time::Instant::now();
    let opts = SyncOptions {
        max_rounds: 1,
        ..SyncOptions::default()
    };
    let r = tokio::time::timeout(
        Duration::from_secs(90),
        engine.sync(&opts, &CancellationToken::new()),
    )
    .await
    .expect("the sync ends")
    .unwrap();
    let lib = &r.libraries[0];
    assert_eq!(lib.failed.len(), 2, "{lib:?}");
    assert!(
        lib.failed.iter().all(|(_, e)| e.contains("too slow")),
        "{lib:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
}

/// A fast mirror serves the newest signature (it is public) but an old
/// library.json, with that old catalog's own signature beside it. It must
/// not win for the sequence it claims: another mirror claiming the same is
/// asked, the member gets the newest, and the liar is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_claiming_a_catalog_it_does_not_serve_does_not_win() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("publisher");
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let honest = TestMirror::start(root.join("mirror")).unwrap();
    let mut sub = common::publish(&root, "acme", &honest.url());
    let old = tmp.path().join("old");
    copy_tree(&root.join("mirror"), &old);
    republish(&root, "e3");
    let liar = TestMirror::start(root.join("mirror")).unwrap();
    liar.set_faults(vec![Rule::path(
        PathMatch::exact("library.json"),
        Fault::ServeFrom(old.clone()),
    )]);
    honest.set_faults(vec![Rule::all(Fault::Delay(Duration::from_millis(200)))]);
    sub.mirrors = vec![liar.url(), honest.url()];
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let r = catalog_sync(&engine).await;
    let lib = &r.libraries[0];
    assert_eq!(lib.catalog.as_ref().map(|c| c.sequence), Some(2), "{lib:?}");
    assert_eq!(lib.catalog_mirror.as_deref(), Some(honest.url().as_str()));
    assert_eq!(lib.stale_mirrors, [liar.url()]);
    assert!(health(&store, &liar.url()).is_stale());
}

/// The first line of a signature file is its untrusted comment: anybody can
/// change it without the key. A mirror that does still says "unchanged"
/// (it is not a newer catalog to fetch, and not a way to be fetched from).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_untrusted_comment_is_not_a_new_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, _, engine) = one_mirror(tmp.path());
    catalog_sync(&engine).await;
    let sig_path = m.root().join("library.json.minisig");
    let text = std::fs::read_to_string(&sig_path).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    std::fs::write(&sig_path, format!("untrusted comment: fetch me!\n{rest}")).unwrap();
    m.clear_requests();
    let r = catalog_sync(&engine).await;
    assert!(r.libraries[0].catalog.as_ref().unwrap().unchanged);
    let paths: Vec<String> = m.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(paths, ["library.json.minisig"]);
}

/// A `file://` network share among a subscription's mirrors (on Windows it
/// would connect to that host with the member's credentials) is recorded
/// but not used unless the member allows it; a subscription whose every
/// mirror is one is refused with the reason. Allowed once, it stays
/// allowed while the library lists it. A folder another platform's way is
/// kept.
#[test]
fn a_network_share_is_used_only_if_the_member_allows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sub = common::publish(tmp.path(), "acme", "https://cdn.example/acme/");
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    let share = "file://fileserver/share/acme/".to_owned();
    let only_share = Subscription {
        mirrors: vec![share.clone()],
        ..sub.clone()
    };
    let e = engine.subscribe(&only_share).unwrap_err().to_string();
    assert!(
        e.contains("network share") && e.contains("fileserver"),
        "{e}"
    );
    assert!(store.libraries().unwrap().is_empty(), "nothing subscribed");

    sub.mirrors.push(share.clone());
    engine.subscribe(&sub).unwrap();
    let allowed = |store: &Store| -> Vec<(String, bool)> {
        store
            .mirror_records("acme")
            .unwrap()
            .into_iter()
            .map(|r| (r.url, r.share_ok))
            .collect()
    };
    assert_eq!(
        allowed(&store),
        [
            ("https://cdn.example/acme/".to_owned(), false),
            (share.clone(), false)
        ]
    );
    assert_eq!(engine.shares_not_allowed(&sub).unwrap(), [share.as_str()]);

    // Allowed by the member: only the share named, only a share.
    engine
        .subscribe_allowing(&sub, &[share.clone(), "https://cdn.example/acme/".into()])
        .unwrap();
    assert_eq!(
        allowed(&store),
        [
            ("https://cdn.example/acme/".to_owned(), false),
            (share.clone(), true)
        ]
    );
    assert!(engine.shares_not_allowed(&only_share).unwrap().is_empty());
    // A device, or a share written as a path, is refused whatever the
    // member allows.
    for device in ["file://./UNC/evil/share/", "file:///%5C%5Cevil%5Cshare/"] {
        let s = Subscription {
            mirrors: vec!["https://cdn.example/acme/".into(), device.into()],
            ..sub.clone()
        };
        let e = engine.subscribe_allowing(&s, &[device.into()]).unwrap_err();
        assert!(e.to_string().contains("never used"), "{device}: {e}");
    }
    // An update that does not allow it again keeps it allowed.
    engine.subscribe(&only_share).unwrap();
    assert_eq!(allowed(&store), [(share.clone(), true)]);
    // Dropped by an update, it is asked about again when it comes back.
    let cdn = "https://cdn.example/acme/".to_owned();
    engine
        .subscribe(&Subscription {
            mirrors: vec![cdn.clone()],
            ..sub.clone()
        })
        .unwrap();
    let back = Subscription {
        mirrors: vec![cdn, share.clone()],
        ..sub.clone()
    };
    engine.subscribe(&back).unwrap();
    assert_eq!(engine.shares_not_allowed(&back).unwrap(), [share.as_str()]);

    sub.mirrors.pop();
    sub.mirrors.push("file:///C:/Libraries/acme/".into());
    engine.subscribe(&sub).unwrap();
    assert!(engine.shares_not_allowed(&sub).unwrap().is_empty());
}
