//! The member's control over downloads while they run: pause stops the files
//! in flight and keeps their partial bytes; resume continues them; removing
//! an item stops its download and it is not fetched again. Against a real
//! (fault-injecting) HTTP mirror on loopback and a real store on disk.

use std::sync::Arc;
use std::time::Duration;

use stowaway_mirrors::ClientConfig;
use stowaway_store::{ItemKey, Store};
use stowaway_sync::{Engine, SyncEvent, SyncOptions};
use stowaway_testmirror::{Fault, Rule, TestMirror};
use tokio_util::sync::CancellationToken;

mod common;
use common::{publish, SIZE};

struct Setup {
    _tmp: tempfile::TempDir,
    mirror: TestMirror,
    engine: Engine,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirror")).unwrap();
    let mirror = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let sub = publish(tmp.path(), "acme", &mirror.url());
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store, ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    Setup {
        _tmp: tmp,
        mirror,
        engine,
    }
}

/// Blobs trickle at 400 kB/s: slow enough that a pause or removal lands
/// mid-file.
fn slow_blobs(mirror: &TestMirror) {
    mirror.set_faults(vec![Rule::path(
        stowaway_testmirror::PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: 400_000,
        },
    )]);
}

async fn sync(engine: &Engine) -> stowaway_sync::SyncReport {
    engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap()
}

/// Starts a sync and waits until `bytes` of some file have arrived.
async fn sync_until_bytes(
    engine: &Engine,
    bytes: u64,
) -> tokio::task::JoinHandle<stowaway_sync::SyncReport> {
    let mut events = engine.events();
    let e = engine.clone();
    let task = tokio::spawn(async move {
        e.sync(&SyncOptions::default(), &CancellationToken::new())
            .await
            .unwrap()
    });
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(SyncEvent::DownloadProgress { bytes: b, .. }) = events.recv().await {
                if b >= bytes {
                    return;
                }
            }
        }
    })
    .await
    .expect("download progress");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_downloads_in_flight_and_resume_continues_them() {
    let s = setup();
    slow_blobs(&s.mirror);
    let task = sync_until_bytes(&s.engine, 100_000).await;
    s.engine.set_downloads_paused(true).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the sync ends promptly after a pause")
        .unwrap();
    let lib = &report.libraries[0];
    assert_eq!(lib.files_downloaded, 0, "{lib:?}");
    assert_eq!(
        lib.cancelled, 2,
        "both files stop (in flight or queued): {lib:?}"
    );
    assert!(lib.failed.is_empty(), "a pause is not a failure: {lib:?}");
    assert!(lib.ok());
    let partial: u64 = s
        .engine
        .store()
        .partials()
        .unwrap()
        .iter()
        .map(|p| p.bytes)
        .sum();
    assert!(partial >= 100_000, "partial bytes kept: {partial}");

    // While paused, a sync refreshes the catalog only.
    let r = sync(&s.engine).await;
    assert!(r.libraries[0].paused);
    assert_eq!(r.libraries[0].files_downloaded, 0);
    assert_eq!(s.engine.store().storage_usage().unwrap().files_queued, 2);

    // Resume: the files continue from their partial bytes.
    s.mirror.clear_faults();
    s.mirror.clear_requests();
    s.engine.set_downloads_paused(false).unwrap();
    let r = sync(&s.engine).await;
    let lib = &r.libraries[0];
    assert!(lib.ok(), "{lib:?}");
    assert_eq!(lib.files_downloaded, 2);
    assert!(lib.files_resumed >= 1, "{lib:?}");
    assert_eq!(
        lib.bytes_received,
        2 * SIZE as u64 - partial,
        "nothing fetched twice"
    );
    assert!(s
        .mirror
        .requests()
        .iter()
        .any(|r| r.header("range").is_some_and(|v| v.starts_with("bytes="))));
    assert!(s.engine.store().fsck(false).unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_item_stops_its_download_and_keeps_it_away() {
    let s = setup();
    slow_blobs(&s.mirror);
    let task = sync_until_bytes(&s.engine, 100_000).await;
    let freed = s
        .engine
        .remove_download(ItemKey {
            library: "acme",
            collection: "show",
            item: "e1",
        })
        .unwrap();
    assert_eq!(freed.items, 1);
    s.mirror.clear_faults();
    let report = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the sync finishes")
        .unwrap();
    let lib = &report.libraries[0];
    assert!(lib.ok(), "{lib:?}");
    assert_eq!(lib.cancelled, 1, "{lib:?}");
    assert_eq!(lib.files_downloaded, 1, "e2 still downloads: {lib:?}");
    assert!(
        s.engine.store().partials().unwrap().is_empty(),
        "e1's partial is gone"
    );
    let items = &s.engine.store().list(None).unwrap()[0].items;
    assert_eq!(
        items
            .iter()
            .map(|i| (i.id.as_str(), i.downloaded, i.wanted))
            .collect::<Vec<_>>(),
        [("e1", false, false), ("e2", true, true)]
    );
    // The next sync leaves it alone; asking for it brings it back.
    let r = sync(&s.engine).await;
    assert_eq!(r.libraries[0].files_downloaded, 0);
    s.engine.want_download("acme", "show", Some("e1")).unwrap();
    let r = sync(&s.engine).await;
    assert_eq!(r.libraries[0].files_downloaded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_budget_defers_automatic_downloads_but_not_requested_ones() {
    let s = setup();
    s.engine
        .store()
        .set_storage_budget(Some(SIZE as u64 + 1000))
        .unwrap();
    let r = sync(&s.engine).await;
    let lib = &r.libraries[0];
    assert!(lib.ok(), "{lib:?}");
    assert_eq!(
        (lib.files_downloaded, lib.deferred_files),
        (1, 1),
        "{lib:?}"
    );
    // Finishing the first episode lets the next sync evict it for the second.
    s.engine
        .store()
        .set_played(
            ItemKey {
                library: "acme",
                collection: "show",
                item: "e1",
            },
            true,
        )
        .unwrap();
    let r = sync(&s.engine).await;
    let lib = &r.libraries[0];
    assert_eq!(
        (lib.files_downloaded, lib.deferred_files),
        (1, 0),
        "{lib:?}"
    );
    assert_eq!(lib.evicted_bytes, SIZE as u64);
    let u = s.engine.store().storage_usage().unwrap();
    assert!(u.bytes_stored <= SIZE as u64 + 1000, "{u:?}");
    // What the member asks for is fetched even past the budget.
    s.engine.want_download("acme", "show", Some("e1")).unwrap();
    let r = sync(&s.engine).await;
    assert_eq!(r.libraries[0].files_downloaded, 1);
    assert_eq!(
        s.engine.store().storage_usage().unwrap().bytes_stored,
        2 * SIZE as u64
    );
}
