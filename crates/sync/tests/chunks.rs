//! Files with a chunk list (catalog format 2) are checked chunk by chunk as
//! they arrive: a mirror that sends bad bytes costs the chunk they are in,
//! not the file. Against real (fault-injecting) HTTP mirrors on loopback and
//! a real store on disk.

use std::sync::Arc;

use stowaway_catalog::{blob_path, Catalog, CHUNK_SIZE};
use stowaway_mirrors::ClientConfig;
use stowaway_store::Store;
use stowaway_sync::{Engine, SyncEvent, SyncOptions};
use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
use tokio_util::sync::CancellationToken;

mod common;
use common::{publish, publish_sized, SIZE};

/// Two mirrors, the first of which serves every episode with `fault`;
/// returns what came twice (bytes received beyond the files) and how many
/// bad chunks were reported, all from the liar.
async fn sync_with_a_liar(size: usize, fault: impl Fn(usize, u64) -> Fault) -> (u64, usize) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirror")).unwrap();
    let liar = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let honest = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let mut sub = publish_sized(tmp.path(), "acme", &liar.url(), size);
    sub.mirrors.push(honest.url());
    // The liar serves the catalog and the chunk lists as they are.
    let catalog: Catalog =
        serde_json::from_slice(&std::fs::read(tmp.path().join("mirror/library.json")).unwrap())
            .unwrap();
    let media: Vec<_> = catalog.collections[0]
        .items
        .iter()
        .map(|i| i.assets[0].clone())
        .collect();
    assert!(media
        .iter()
        .all(|a| a.chunks.as_ref().is_some_and(|c| c.size == CHUNK_SIZE)));
    liar.set_faults(
        media
            .iter()
            .enumerate()
            .map(|(i, a)| Rule::path(PathMatch::exact(blob_path(&a.sha256)), fault(i, a.size)))
            .collect(),
    );
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let mut events = engine.events();
    let r = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    let lib = &r.libraries[0];
    assert!(r.ok(), "{:?}", lib.failed);
    for a in &media {
        assert!(store.has_blob(&a.sha256).unwrap(), "{} stored", a.sha256);
    }
    // The liar was caught at a chunk's end.
    let mut bad_chunks = 0;
    while let Ok(e) = events.try_recv() {
        if let SyncEvent::DownloadMirrorFailed { code, mirror, .. } = e {
            if code == "bad_chunk" {
                assert_eq!(mirror, liar.url());
                bad_chunks += 1;
            }
        }
    }
    assert!(bad_chunks >= 1, "a bad chunk was seen");
    (lib.bytes_received - lib.bytes_downloaded, bad_chunks)
}

/// A mirror whose copy of each episode has one damaged byte: each file
/// costs at most the one chunk that holds it, fetched again from the other
/// mirror; the liar's other chunks are good and kept. (The damage is in the
/// first chunk of one episode and the second of the other: streams take
/// chunks from the two mirrors in turn, so the liar serves one of them,
/// whichever mirror goes first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_copy_costs_its_chunk_not_the_file() {
    let (extra, bad_chunks) = sync_with_a_liar(SIZE, |i, size| {
        Fault::CorruptAt(if i == 0 { 100 } else { size / 2 })
    })
    .await;
    assert!(
        bad_chunks <= 2,
        "{bad_chunks} bad chunks for two damaged ones"
    );
    assert!(
        extra <= 2 * CHUNK_SIZE as u64,
        "{extra} bytes fetched again: more than the two damaged chunks"
    );
}

/// A mirror that damages every response (two episodes of 8 MiB): each bad
/// chunk costs itself, and each of the liar's streams (4 per file) at most
/// the chunk it left unfinished when it was caught (finished by the other
/// mirror, it fails as spliced if the liar's part was bad); a whole-file
/// check would throw both files away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_mirror_costs_the_chunks_in_flight_not_the_file() {
    let size = 8 << 20;
    let (extra, bad_chunks) = sync_with_a_liar(size, |_, _| Fault::FlipBytes).await;
    // A chunk per liar stream: 4 per file, two files.
    assert!(
        extra <= 8 * CHUNK_SIZE as u64 + (256 << 10),
        "{extra} bytes fetched again ({bad_chunks} bad chunks blamed): more than a chunk per stream"
    );
    assert!(
        bad_chunks <= 8,
        "{bad_chunks} bad chunks: the liar was not left"
    );
}

/// A mirror that only ever sends bad chunks, and no other: the file is
/// given up after a few chunks (not fetched for ever) and nothing is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_liar_is_given_up_after_a_few_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirror")).unwrap();
    let liar = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let sub = publish(tmp.path(), "acme", &liar.url());
    // The first episode's bytes are damaged; its chunk list (a small blob
    // of its own) is served right.
    let catalog: Catalog =
        serde_json::from_slice(&std::fs::read(tmp.path().join("mirror/library.json")).unwrap())
            .unwrap();
    liar.set_faults(vec![Rule::path(
        PathMatch::exact(blob_path(&catalog.collections[0].items[0].assets[0].sha256)),
        Fault::FlipBytes,
    )]);
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        engine.sync(&SyncOptions::default(), &CancellationToken::new()),
    )
    .await
    .expect("the sync ends")
    .unwrap();
    let lib = &r.libraries[0];
    assert_eq!(lib.failed.len(), 1, "{:?}", lib.failed);
    assert!(lib.failed[0].1.contains("chunk"), "{:?}", lib.failed);
    assert!(!store
        .has_blob(&catalog.collections[0].items[0].assets[0].sha256)
        .unwrap());
    // A few chunks' worth, not the file again and again.
    let size = catalog.collections[0].items[0].assets[0].size;
    assert!(
        lib.bytes_received < 2 * size + 8 * CHUNK_SIZE as u64,
        "{} bytes received",
        lib.bytes_received
    );
}

/// Play while it downloads: a player waiting in the middle of a file (the
/// media server's `Store::want`) gets that chunk first. The mirror sends
/// 256 KiB/s per connection, so each 1 MiB chunk takes 4 s; with 16 chunks
/// in four segments of four, chunk 9 would come after chunk 8 (about 8 s
/// in). Asked for, it comes in the first round, before any stream's second
/// chunk, from a stream of its own. (It flaked when it named chunk 13 as a
/// second chunk: when the player's stream takes 9 to 12 before any stream
/// takes 8, the last segment starts at 13.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_a_player_waits_for_comes_first() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirror")).unwrap();
    let mirror = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let sub = publish_sized(tmp.path(), "acme", &mirror.url(), 16 << 20);
    let catalog: Catalog =
        serde_json::from_slice(&std::fs::read(tmp.path().join("mirror/library.json")).unwrap())
            .unwrap();
    let media = catalog.collections[0].items[0].assets[0].clone();
    let other = catalog.collections[0].items[1].assets[0].clone();
    mirror.set_faults(vec![
        Rule::path(
            PathMatch::exact(blob_path(&media.sha256)),
            Fault::Trickle {
                bytes_per_sec: 256 << 10,
            },
        ),
        // The other episode is not part of this test: it waits.
        Rule::path(PathMatch::exact(blob_path(&other.sha256)), Fault::BlackHole),
    ]);
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let cancel = CancellationToken::new();
    let sync = {
        let (engine, cancel) = (engine.clone(), cancel.clone());
        tokio::spawn(async move { engine.sync(&SyncOptions::default(), &cancel).await })
    };
    // The player waits at chunk 9 from the start (as the media server
    // does, every 50 ms, while a request waits).
    let wanted = 9u64 << 20;
    let order = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            store.want(&media.sha256, wanted);
            if let Some(c) = store.blobs().chunks_in(
                &media.sha256,
                media.size,
                true,
                &media.chunks.as_ref().unwrap().sha256,
            ) {
                if c.done[9] {
                    return c.done;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("chunk 9 arrives");
    cancel.cancel();
    let _ = sync.await;
    // In the first round: no stream's second chunk is in (the first two
    // segments are 0-3 and 4-7; where the others start depends on whether
    // the player's stream took 9 before or after a stream took 8), so at
    // most one chunk per stream: four streams and the player's.
    for second in [1, 5] {
        assert!(
            !order[second],
            "chunk {second} came before chunk 9: {order:?}"
        );
    }
    let done = order.iter().filter(|d| **d).count();
    assert!(done <= 5, "{done} chunks came with chunk 9: {order:?}");
    assert!(
        mirror.requests().iter().any(|q| q
            .range
            .as_deref()
            .is_some_and(|r| r.starts_with(&format!("bytes={wanted}-")))),
        "a stream of its own asked for chunk 9"
    );
}

/// Play now: the member plays an episode the sync has not come to (one
/// download at a time, busy with a slow one). Its download starts at once,
/// beside the sync, and is the only one of it (pressing play again starts
/// no second); the media server may wait for it meanwhile (`is_starting`).
/// With downloads paused it is refused, with the code the page shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_now_starts_the_download_beside_a_busy_sync() {
    use stowaway_store::ItemKey;
    use stowaway_sync::PlayNow;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirror")).unwrap();
    let mirror = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let sub = publish_sized(tmp.path(), "acme", &mirror.url(), 8 << 20);
    let catalog: Catalog =
        serde_json::from_slice(&std::fs::read(tmp.path().join("mirror/library.json")).unwrap())
            .unwrap();
    let first = catalog.collections[0].items[0].assets[0].clone();
    let second = catalog.collections[0].items[1].assets[0].clone();
    mirror.set_faults(vec![Rule::path(
        PathMatch::exact(blob_path(&first.sha256)),
        Fault::Trickle {
            bytes_per_sec: 256 << 10,
        },
    )]);
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let key = ItemKey {
        library: "acme",
        collection: "show",
        item: "e2",
    };
    let opts = SyncOptions {
        concurrency: 1,
        ..SyncOptions::default()
    };
    let cancel = CancellationToken::new();
    let sync = {
        let (engine, cancel, opts) = (engine.clone(), cancel.clone(), opts.clone());
        tokio::spawn(async move { engine.sync(&opts, &cancel).await })
    };
    // The sync is on the first episode.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !store.is_arriving(&first.sha256) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the sync starts the first episode");
    assert!(!store.is_starting(&second.sha256));

    store.set_downloads_paused(true).unwrap();
    let paused = engine
        .play_now(key, &opts)
        .err()
        .expect("refused while paused");
    assert_eq!(paused.code(), "paused");
    store.set_downloads_paused(false).unwrap();

    let (state, fetch) = engine.play_now(key, &opts).unwrap();
    assert_eq!(state, PlayNow::Arriving { streams: true });
    let fetch = fetch.expect("its download, to run");
    assert!(
        store.is_starting(&second.sha256),
        "the media server waits for it"
    );
    let (again, none) = engine.play_now(key, &opts).unwrap();
    assert_eq!(again, state);
    assert!(none.is_none(), "one download of it at a time");
    let size = tokio::time::timeout(std::time::Duration::from_secs(20), fetch.run())
        .await
        .expect("it downloads while the sync is still on the first")
        .unwrap();
    assert_eq!(size, second.size);
    assert!(store.has_blob(&second.sha256).unwrap());
    assert!(
        !store.has_blob(&first.sha256).unwrap(),
        "the sync is still busy"
    );
    assert!(!store.is_starting(&second.sha256));
    assert_eq!(engine.play_now(key, &opts).unwrap().0, PlayNow::Stored);
    // The sync, when it comes to it, does not fetch it again.
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), sync)
        .await
        .expect("the sync ends")
        .unwrap()
        .unwrap();
    assert!(r.ok());
    let lib = &r.libraries[0];
    assert_eq!(lib.files_downloaded, 1, "the first episode only");
    assert!(store.has_blob(&first.sha256).unwrap());
    drop(cancel);
}

/// A file that only its own library's chunk list names is checked by that
/// list alone: its whole hash is not taken a second time. When another
/// library then names the same file with no list, the file counts for it
/// only once its whole hash matches: the true copy is adopted without a
/// download; a copy that is not what its hash says (the bytes a hostile
/// library's list could have let in, put there by hand) is fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_one_list_alone_names_is_hashed_whole_once_another_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(a.join("mirror")).unwrap();
    std::fs::create_dir_all(b.join("mirror")).unwrap();
    let mirror_a = TestMirror::start(a.join("mirror")).unwrap();
    let mirror_b = TestMirror::start(b.join("mirror")).unwrap();
    // The same two files, published by "acme" with chunk lists and by
    // "acmf" without.
    let sub_a = common::publish_format(&a, "acme", &mirror_a.url(), SIZE, 2);
    let sub_b = common::publish_format(&b, "acmf", &mirror_b.url(), SIZE, 1);
    let assets = |root: &std::path::Path| -> Vec<stowaway_catalog::Asset> {
        let c: Catalog =
            serde_json::from_slice(&std::fs::read(root.join("mirror/library.json")).unwrap())
                .unwrap();
        c.collections[0]
            .items
            .iter()
            .map(|i| i.assets[0].clone())
            .collect()
    };
    let (files, same) = (assets(&a), assets(&b));
    assert_eq!(
        files.iter().map(|f| &f.sha256).collect::<Vec<_>>(),
        same.iter().map(|f| &f.sha256).collect::<Vec<_>>()
    );
    assert!(files.iter().all(|f| f.chunks.is_some()) && same.iter().all(|f| f.chunks.is_none()));

    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub_a).unwrap();
    let r = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(r.ok());
    for f in &files {
        assert!(store.has_blob(&f.sha256).unwrap());
        assert_eq!(
            store.checked_by_list(&f.sha256).unwrap(),
            f.chunks.as_ref().map(|c| c.sha256.clone()),
            "checked by its list alone"
        );
    }
    // The first file on disk is now other bytes of its length.
    let path = store.blobs().path(&files[0].sha256);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.iter_mut().for_each(|b| *b = b.wrapping_add(1));
    std::fs::write(&path, &bytes).unwrap();

    engine.subscribe(&sub_b).unwrap();
    let r = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(r.ok(), "{r:?}");
    // (Either library's sync may fetch it: both want it.)
    let downloaded: u64 = r.libraries.iter().map(|l| l.bytes_downloaded).sum();
    assert_eq!(
        downloaded, files[0].size,
        "the true copy adopted, the other fetched again"
    );
    for (f, original) in files.iter().zip(1u8..) {
        assert!(store.has_blob(&f.sha256).unwrap());
        assert_eq!(
            store.checked_by_list(&f.sha256).unwrap(),
            None,
            "hashed whole"
        );
        let on_disk = std::fs::read(store.blobs().path(&f.sha256)).unwrap();
        assert_eq!(
            stowaway_catalog::Sha256::digest(&on_disk),
            f.sha256,
            "file {original}"
        );
    }
}
