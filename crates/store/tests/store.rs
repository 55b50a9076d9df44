//! The store against real SQLite files in a temporary data directory.

use sha2::{Digest, Sha256 as Hasher};
use stowaway_catalog::{
    Asset, AssetRole, Catalog, Collection, CollectionKind, Item, ItemKind, LibraryInfo, Limits,
    Sha256, Subscription, VerifiedCatalog,
};
use stowaway_store::{FsckProblem, Store, StoreError};
use time::macros::datetime;

fn sha_of(b: &[u8]) -> Sha256 {
    Sha256::from_digest(&Hasher::digest(b).into())
}

fn item(id: &str, title: &str, notes: &str, media: &[u8]) -> Item {
    Item {
        id: id.into(),
        kind: ItemKind::Episode,
        title: title.into(),
        summary: None,
        notes: Some(notes.into()),
        notes_html: None,
        published_at: None,
        duration_ms: None,
        season: None,
        number: None,
        explicit: None,
        assets: vec![Asset {
            role: AssetRole::Media,
            sha256: sha_of(media),
            size: media.len() as u64,
            media_type: "audio/ogg".into(),
            name: None,
            chunks: None,
        }],
    }
}

fn verified(sequence: u64, items: Vec<Item>) -> VerifiedCatalog {
    // The store trusts its caller to have verified; tests hand it the catalog directly.
    VerifiedCatalog::unsigned(&catalog(sequence, items), Limits::default())
}

fn catalog(sequence: u64, items: Vec<Item>) -> Catalog {
    Catalog {
        format: 1,
        library: LibraryInfo {
            id: "acme".into(),
            title: "Acme Coaching".into(),
            description: None,
            artwork: None,
        },
        sequence,
        generated_at: datetime!(2026-01-01 0:00 UTC),
        expires_at: datetime!(2099-01-01 0:00 UTC),
        mirrors: vec!["https://learned.example/".into()],
        collections: vec![Collection {
            id: "show".into(),
            kind: CollectionKind::Show,
            title: "The Deal Room".into(),
            summary: None,
            artwork: None,
            items,
        }],
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .subscribe(&Subscription {
            stowaway: 1,
            library: "acme".into(),
            title: None,
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
            mirrors: vec!["https://a.example/".into()],
            access: Default::default(),
        })
        .unwrap();
    (dir, store)
}

fn titles(store: &Store) -> Vec<String> {
    store.list(None).unwrap()[0]
        .items
        .iter()
        .map(|i| i.title.clone())
        .collect()
}

#[test]
fn applies_diffs_and_keeps_search_in_step() {
    let (_dir, store) = open();
    let v1 = verified(
        1,
        vec![
            item(
                "e1",
                "Finding off-market deals",
                "driving for dollars",
                b"one",
            ),
            item("e2", "Escrow explained", "what escrow protects", b"two"),
            item("e3", "Closing day", "the walkthrough", b"three"),
        ],
    );
    let out = store.apply_catalog("acme", &v1).unwrap();
    assert_eq!(out.diff.added.len(), 3);
    assert_eq!(
        titles(&store),
        [
            "Finding off-market deals",
            "Escrow explained",
            "Closing day"
        ]
    );
    assert_eq!(
        store.mirrors("acme").unwrap(),
        ["https://a.example/", "https://learned.example/"]
    );

    let hits = store.search("escro", 10).unwrap();
    assert_eq!(hits.len(), 1, "prefix match on the last word");
    assert_eq!(hits[0].item_id, "e2");
    assert!(hits[0].snippet.contains('['), "{}", hits[0].snippet);
    assert!(store.search("walkthrough", 10).unwrap()[0].item_id == "e3");
    assert!(store.search("nonexistentword", 10).unwrap().is_empty());
    assert!(
        store.search("\"unbalanced", 10).is_ok(),
        "syntax cannot break the query"
    );

    // e2 changed (new title, new media), e3 removed, e4 added, order changed.
    let v2 = verified(
        2,
        vec![
            item("e4", "Negotiation drills", "anchoring and silence", b"four"),
            item(
                "e1",
                "Finding off-market deals",
                "driving for dollars",
                b"one",
            ),
            item(
                "e2",
                "Escrow, step by step",
                "what escrow protects",
                b"two-v2",
            ),
        ],
    );
    let out = store.apply_catalog("acme", &v2).unwrap();
    let key = |i: &str| ("show".to_string(), i.to_string());
    assert_eq!(out.diff.added, [key("e4")]);
    assert_eq!(out.diff.changed, [key("e2")]);
    assert_eq!(out.diff.removed, [key("e3")]);
    assert_eq!(out.previous_sequence, Some(1));
    assert_eq!(
        titles(&store),
        [
            "Negotiation drills",
            "Finding off-market deals",
            "Escrow, step by step"
        ]
    );
    assert!(
        store.search("walkthrough", 10).unwrap().is_empty(),
        "removed item left the index"
    );
    assert_eq!(store.search("step", 10).unwrap()[0].item_id, "e2");
    let wanted: Vec<_> = store
        .wanted_blobs(None)
        .unwrap()
        .into_iter()
        .map(|w| w.sha256)
        .collect();
    assert_eq!(wanted, [sha_of(b"four"), sha_of(b"one"), sha_of(b"two-v2")]);

    // The same catalog again is a no-op.
    assert!(store.apply_catalog("acme", &v2).unwrap().unchanged);
}

#[test]
fn rollback_and_equivocation_change_nothing() {
    let (_dir, store) = open();
    store
        .apply_catalog("acme", &verified(5, vec![item("e1", "Current", "n", b"1")]))
        .unwrap();
    let e = store
        .apply_catalog("acme", &verified(4, vec![item("e1", "Old", "n", b"1")]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Rollback {
                offered: 4,
                applied: 5,
                ..
            }
        ),
        "{e}"
    );
    let e = store
        .apply_catalog("acme", &verified(5, vec![item("e1", "Other", "n", b"1")]))
        .unwrap_err();
    assert_eq!(e.code(), "equivocation");
    assert_eq!(titles(&store), ["Current"]);
    assert_eq!(store.applied_catalog("acme").unwrap().unwrap().sequence, 5);
}

#[test]
fn fsck_finds_and_repairs_corrupt_and_missing_blobs() {
    let (_dir, store) = open();
    store
        .apply_catalog(
            "acme",
            &verified(
                1,
                vec![
                    item("e1", "A", "n", b"alpha"),
                    item("e2", "B", "n", b"beta"),
                ],
            ),
        )
        .unwrap();
    for data in [&b"alpha"[..], b"beta"] {
        let sha = sha_of(data);
        let mut w = store.blobs().begin(&sha, data.len() as u64).unwrap();
        w.write(data).unwrap();
        w.finish().unwrap();
        store.mark_blob_present(&sha, data.len() as u64).unwrap();
    }
    assert!(store.wanted_blobs(None).unwrap().is_empty());
    let clean = store.fsck(false).unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.blobs_checked, 2);

    std::fs::write(store.blobs().path(&sha_of(b"alpha")), b"alphX").unwrap();
    std::fs::remove_file(store.blobs().path(&sha_of(b"beta"))).unwrap();
    let r = store.fsck(false).unwrap();
    assert_eq!(r.problems.len(), 2, "{r:?}");
    assert!(r.problems.iter().any(|p| matches!(p, FsckProblem::Corrupt { sha256, .. } if *sha256 == sha_of(b"alpha").to_string())));
    assert!(r
        .problems
        .iter()
        .any(|p| matches!(p, FsckProblem::Missing { .. })));
    assert!(
        store.wanted_blobs(None).unwrap().is_empty(),
        "report only: nothing changed"
    );

    let r = store.fsck(true).unwrap();
    assert_eq!(r.repaired.len(), 2);
    assert_eq!(
        store.wanted_blobs(None).unwrap().len(),
        2,
        "both will be fetched again"
    );
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn a_verified_blob_the_index_missed_is_adopted() {
    let (_dir, store) = open();
    store
        .apply_catalog("acme", &verified(1, vec![item("e1", "A", "n", b"alpha")]))
        .unwrap();
    let sha = sha_of(b"alpha");
    let mut w = store.blobs().begin(&sha, 5).unwrap();
    w.write(b"alpha").unwrap();
    w.finish().unwrap(); // crash before mark_blob_present
    assert_eq!(store.wanted_blobs(None).unwrap().len(), 1);
    let r = store.fsck(false).unwrap();
    assert!(r.is_clean(), "{r:?}");
    assert!(store.has_blob(&sha).unwrap());
}

#[test]
fn playback_positions_survive_catalog_changes_and_assets_need_verified_blobs() {
    use stowaway_catalog::AssetRole;
    use stowaway_store::ItemKey;
    let (_dir, store) = open();
    store
        .apply_catalog("acme", &verified(1, vec![item("e1", "A", "n", b"alpha")]))
        .unwrap();
    let key = ItemKey {
        library: "acme",
        collection: "show",
        item: "e1",
    };
    assert!(
        store
            .stored_asset(key, AssetRole::Media, 0)
            .unwrap()
            .is_none(),
        "not downloaded yet"
    );
    let sha = sha_of(b"alpha");
    let mut w = store.blobs().begin(&sha, 5).unwrap();
    w.write(b"alpha").unwrap();
    w.finish().unwrap();
    assert!(
        store
            .stored_asset(key, AssetRole::Media, 0)
            .unwrap()
            .is_none(),
        "on disk but not indexed"
    );
    store.mark_blob_present(&sha, 5).unwrap();
    let a = store
        .stored_asset(key, AssetRole::Media, 0)
        .unwrap()
        .unwrap();
    assert_eq!((a.size, a.media_type.as_str()), (5, "audio/ogg"));
    assert_eq!(std::fs::read(&a.path).unwrap(), b"alpha");
    assert!(store
        .stored_asset(key, AssetRole::Media, 1)
        .unwrap()
        .is_none());
    assert!(store
        .stored_asset(key, AssetRole::Attachment, 0)
        .unwrap()
        .is_none());

    store.set_position(key, 61_000, Some(300_000)).unwrap();
    // The publisher changes the item: the position stays.
    store
        .apply_catalog(
            "acme",
            &verified(2, vec![item("e1", "A (fixed)", "n", b"alpha")]),
        )
        .unwrap();
    let p = store.playback(key).unwrap();
    assert_eq!(
        (p.position_ms, p.duration_ms, p.played),
        (61_000, Some(300_000), false)
    );
    assert_eq!(store.list(None).unwrap()[0].items[0].position_ms, 61_000);
    store.set_played(key, true).unwrap();
    let p = store.playback(key).unwrap();
    assert_eq!((p.position_ms, p.played), (0, true));
    assert!(store.list(None).unwrap()[0].items[0].played);
}

fn put(store: &Store, data: &[u8]) {
    let sha = sha_of(data);
    let mut w = store.blobs().begin(&sha, data.len() as u64).unwrap();
    w.write(data).unwrap();
    w.finish().unwrap();
    store.mark_blob_present(&sha, data.len() as u64).unwrap();
}

fn wanted_labels(store: &Store) -> Vec<String> {
    store
        .wanted_blobs(None)
        .unwrap()
        .into_iter()
        .map(|w| w.label)
        .collect()
}

fn key<'a>(item: &'a str) -> stowaway_store::ItemKey<'a> {
    stowaway_store::ItemKey {
        library: "acme",
        collection: "show",
        item,
    }
}

#[test]
fn download_rules_decide_what_is_wanted() {
    use stowaway_store::DownloadMode;
    let (_dir, store) = open();
    let e = |n: u32| {
        item(
            &format!("e{n}"),
            &format!("E{n}"),
            "n",
            format!("media {n}").as_bytes(),
        )
    };
    store
        .apply_catalog("acme", &verified(1, vec![e(1), e(2)]))
        .unwrap();
    assert_eq!(wanted_labels(&store), ["E1", "E2"], "default: all");
    assert_eq!(
        store.download_mode("acme", "show").unwrap(),
        DownloadMode::All
    );

    // New episodes only: what was there stops being queued, what arrives is.
    store
        .set_download_mode("acme", "show", DownloadMode::New)
        .unwrap();
    assert!(wanted_labels(&store).is_empty());
    store
        .apply_catalog("acme", &verified(2, vec![e(1), e(2), e(3)]))
        .unwrap();
    assert_eq!(wanted_labels(&store), ["E3"]);
    let listed = store.list(None).unwrap();
    assert_eq!(listed[0].download_mode, DownloadMode::New);
    let wanted: Vec<bool> = listed[0].items.iter().map(|i| i.wanted).collect();
    assert_eq!(wanted, [false, false, true]);

    // Off: only what the member asks for, and that goes first.
    store
        .set_download_mode("acme", "show", DownloadMode::Off)
        .unwrap();
    assert!(
        wanted_labels(&store).is_empty(),
        "off stops what the rule had queued"
    );
    store.want_download("acme", "show", Some("e1")).unwrap();
    let w = store.wanted_blobs(None).unwrap();
    assert_eq!(
        (w.len(), w[0].label.as_str(), w[0].explicit),
        (1, "E1", true)
    );
    // Back to "new": what that rule had queued comes back, after E1.
    store
        .set_download_mode("acme", "show", DownloadMode::New)
        .unwrap();
    let w = store.wanted_blobs(None).unwrap();
    assert_eq!((w[1].label.as_str(), w[1].explicit), ("E3", false));
    store
        .set_download_mode("acme", "show", DownloadMode::Off)
        .unwrap();
    assert_eq!(
        store.want_download("acme", "show", None).unwrap(),
        3,
        "the whole collection"
    );
    assert_eq!(wanted_labels(&store), ["E1", "E2", "E3"]);

    let q = store.download_queue(None).unwrap();
    assert_eq!(q.len(), 3);
    assert!(q.iter().all(|q| q.explicit && q.blobs.len() == 1));
    assert_eq!(q[0].bytes_missing, "media 1".len() as u64);

    // Unknown targets are a clear error, nothing changes.
    assert!(matches!(
        store.want_download("acme", "show", Some("nope")),
        Err(StoreError::UnknownItem(_))
    ));
    assert!(matches!(
        store.set_download_mode("acme", "nope", DownloadMode::All),
        Err(StoreError::UnknownItem(_))
    ));
}

#[test]
fn removing_a_download_frees_its_files_unless_another_item_uses_them() {
    let (_dir, store) = open();
    // e2 and e3 share their media file.
    store
        .apply_catalog(
            "acme",
            &verified(
                1,
                vec![
                    item("e1", "A", "n", b"alpha"),
                    item("e2", "B", "n", b"shared"),
                    item("e3", "C", "n", b"shared"),
                ],
            ),
        )
        .unwrap();
    for d in [&b"alpha"[..], b"shared"] {
        put(&store, d);
    }
    let before = store.storage_usage().unwrap();
    assert_eq!(before.bytes_stored, 11);

    let f = store.remove_download(key("e1")).unwrap();
    assert_eq!((f.items, f.blobs, f.bytes), (1, 1, 5));
    assert!(!store.blobs().path(&sha_of(b"alpha")).exists());
    assert!(wanted_labels(&store).is_empty(), "removed stays removed");

    let f = store.remove_download(key("e2")).unwrap();
    assert_eq!(f.blobs, 0, "e3 still uses it");
    assert!(store.has_blob(&sha_of(b"shared")).unwrap());
    let f = store.remove_download(key("e3")).unwrap();
    assert_eq!((f.blobs, f.bytes), (1, 6));
    assert_eq!(store.storage_usage().unwrap().bytes_stored, 0);
    assert!(store.fsck(false).unwrap().is_clean());

    // Asking again brings it back into the queue.
    store.want_download("acme", "show", Some("e1")).unwrap();
    assert_eq!(wanted_labels(&store), ["A"]);
    assert!(matches!(
        store.remove_download(key("zz")),
        Err(StoreError::UnknownItem(_))
    ));
}

#[test]
fn eviction_takes_played_automatic_downloads_oldest_first_and_gc_drops_orphans() {
    let (_dir, store) = open();
    store
        .apply_catalog(
            "acme",
            &verified(
                1,
                vec![
                    item("e1", "A", "n", b"one-----"),
                    item("e2", "B", "n", b"two-----"),
                    item("e3", "C", "n", b"three---"),
                ],
            ),
        )
        .unwrap();
    for d in [&b"one-----"[..], b"two-----", b"three---"] {
        put(&store, d);
    }
    store.want_download("acme", "show", Some("e1")).unwrap(); // explicit: never evicted
    store.set_played(key("e1"), true).unwrap();
    store.set_played(key("e2"), true).unwrap();
    let f = store.evict_played(1).unwrap();
    assert_eq!((f.items, f.bytes), (1, 8));
    assert!(store.has_blob(&sha_of(b"one-----")).unwrap());
    assert!(!store.has_blob(&sha_of(b"two-----")).unwrap());
    assert!(
        store.has_blob(&sha_of(b"three---")).unwrap(),
        "unplayed stays"
    );
    assert_eq!(
        store.evict_played(100).unwrap().bytes,
        0,
        "nothing else qualifies"
    );
    assert!(
        wanted_labels(&store).is_empty(),
        "an evicted item is not fetched again"
    );

    // The publisher drops e3: its file is garbage.
    store
        .apply_catalog(
            "acme",
            &verified(2, vec![item("e1", "A", "n", b"one-----")]),
        )
        .unwrap();
    let g = store.collect_garbage().unwrap();
    assert_eq!((g.blobs, g.bytes), (1, 8));
    assert!(!store.blobs().path(&sha_of(b"three---")).exists());
    assert!(store.has_blob(&sha_of(b"one-----")).unwrap());
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn settings_budget_and_pause_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.storage_budget().unwrap(), None);
        store.set_storage_budget(Some(5_000_000_000)).unwrap();
        store.set_downloads_paused(true).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let u = store.storage_usage().unwrap();
    assert_eq!((u.budget, u.paused), (Some(5_000_000_000), true));
    store.set_storage_budget(None).unwrap();
    store.set_downloads_paused(false).unwrap();
    let u = store.storage_usage().unwrap();
    assert_eq!((u.budget, u.paused), (None, false));
}

/// Unsubscribing removes the library's rows in one transaction (items,
/// search, playback, choices, mirrors) and every file no other library
/// uses; a file another library shares stays. The copy of its subscription
/// beside the index goes too.
#[test]
fn unsubscribe_removes_the_library_and_only_its_own_files() {
    let (dir, store) = open();
    store
        .apply_catalog(
            "acme",
            &verified(
                1,
                vec![
                    item("e1", "Negotiation", "escrow", b"only acme"),
                    item("e2", "Shared", "n", b"both"),
                ],
            ),
        )
        .unwrap();
    let mut beta = catalog(1, vec![item("b1", "Beta one", "n", b"both")]);
    beta.library.id = "beta".into();
    let beta = VerifiedCatalog::unsigned(&beta, Limits::default());
    store
        .subscribe(&Subscription {
            stowaway: 1,
            library: "beta".into(),
            title: None,
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
            mirrors: vec!["https://b.example/".into()],
            access: Default::default(),
        })
        .unwrap();
    store.apply_catalog("beta", &beta).unwrap();
    for d in [&b"only acme"[..], b"both"] {
        put(&store, d);
    }
    store.set_position(key("e1"), 1000, Some(5000)).unwrap();
    assert!(dir.path().join("subscriptions/acme.stowaway").exists());

    let gone = store.unsubscribe("acme").unwrap();
    assert_eq!((gone.items, gone.blobs, gone.bytes), (2, 1, 9));
    assert!(!store.blobs().path(&sha_of(b"only acme")).exists());
    assert!(
        store.has_blob(&sha_of(b"both")).unwrap(),
        "beta still uses it"
    );
    assert!(store.blobs().path(&sha_of(b"both")).exists());
    assert_eq!(
        store
            .libraries()
            .unwrap()
            .iter()
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>(),
        ["beta"]
    );
    assert!(store.search("escrow", 10).unwrap().is_empty());
    assert!(store.mirror_records("acme").unwrap().is_empty());
    assert!(matches!(store.playback(key("e1")), Ok(p) if p.position_ms == 0));
    assert!(!dir.path().join("subscriptions/acme.stowaway").exists());
    assert!(dir.path().join("subscriptions/beta.stowaway").exists());
    assert!(store.fsck(false).unwrap().is_clean());
    assert!(matches!(
        store.unsubscribe("acme"),
        Err(StoreError::UnknownLibrary(_))
    ));
    // Subscribing again starts from nothing.
    store
        .subscribe(&Subscription {
            stowaway: 1,
            library: "acme".into(),
            title: None,
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
            mirrors: vec!["https://a.example/".into()],
            access: Default::default(),
        })
        .unwrap();
    assert_eq!(store.applied_catalog("acme").unwrap(), None);
}

/// The cache is the member's alone: directories 0700, files 0600, an
/// existing cache tightened when opened.
#[cfg(unix)]
#[test]
fn the_cache_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = Store::open(&data).unwrap();
    store
        .subscribe(&Subscription {
            stowaway: 1,
            library: "acme".into(),
            title: None,
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
            mirrors: vec!["https://a.example/".into()],
            access: Default::default(),
        })
        .unwrap();
    store
        .apply_catalog("acme", &verified(1, vec![item("e1", "A", "n", b"alpha")]))
        .unwrap();
    put(&store, b"alpha");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut seen = 0;
    let mut stack = vec![data.clone()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            assert_eq!(mode(&p), 0o700, "{}", p.display());
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            seen += 1;
        }
    }
    assert!(seen >= 3, "the index, a blob, a subscription copy");
}

/// Windows of a show by keyset: newest first, continuing after and before a
/// cursor, jumping to the n-th item, filtered; counts from SQL.
#[test]
fn item_windows_by_keyset() {
    use stowaway_store::{ItemFilter, ItemKey, Seek};
    let (_dir, store) = open();
    // Published out of catalog order, two at the same time (ties by position).
    let items: Vec<Item> = (0..250)
        .map(|n| {
            let mut i = item(
                &format!("e{n}"),
                &format!("Episode {n}"),
                "",
                format!("m{n}").as_bytes(),
            );
            i.published_at = Some(
                time::OffsetDateTime::from_unix_timestamp(
                    1_700_000_000 + ((n * 7919) % 250) as i64 * 60,
                )
                .unwrap(),
            );
            i
        })
        .collect();
    let mut newest_first: Vec<(i64, usize, String)> = items
        .iter()
        .enumerate()
        .map(|(pos, i)| (-i.published_at.unwrap().unix_timestamp(), pos, i.id.clone()))
        .collect();
    newest_first.sort();
    let expected: Vec<String> = newest_first.into_iter().map(|(_, _, id)| id).collect();
    store.apply_catalog("acme", &verified(1, items)).unwrap();
    let ids = |v: &[stowaway_store::ItemView]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();

    let first = store
        .item_window("acme", "show", ItemFilter::All, Seek::First, 100)
        .unwrap();
    assert_eq!(ids(&first), expected[..100]);
    let next = store
        .item_window(
            "acme",
            "show",
            ItemFilter::All,
            Seek::After(first[99].cursor),
            100,
        )
        .unwrap();
    assert_eq!(ids(&next), expected[100..200]);
    let at = store
        .item_window("acme", "show", ItemFilter::All, Seek::At(200), 100)
        .unwrap();
    assert_eq!(ids(&at), expected[200..]);
    let before = store
        .item_window(
            "acme",
            "show",
            ItemFilter::All,
            Seek::Before(at[0].cursor),
            30,
        )
        .unwrap();
    assert_eq!(ids(&before), expected[170..200]);
    assert!(store
        .item_window("acme", "show", ItemFilter::All, Seek::At(250), 10)
        .unwrap()
        .is_empty());
    assert!(store
        .item_window("acme", "nope", ItemFilter::All, Seek::First, 10)
        .unwrap()
        .is_empty());

    // Played and started items, by filter; the counts agree.
    for id in &expected[..10] {
        let key = ItemKey {
            library: "acme",
            collection: "show",
            item: id,
        };
        store.set_played(key, true).unwrap();
    }
    let started = ItemKey {
        library: "acme",
        collection: "show",
        item: &expected[20],
    };
    store.set_position(started, 5_000, Some(60_000)).unwrap();
    let unplayed = store
        .item_window("acme", "show", ItemFilter::Unplayed, Seek::First, 5)
        .unwrap();
    assert_eq!(ids(&unplayed), expected[10..15]);
    assert_eq!(
        store
            .count_items("acme", "show", ItemFilter::Unplayed)
            .unwrap(),
        240
    );
    assert_eq!(
        store
            .count_items("acme", "show", ItemFilter::InProgress)
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_items("acme", "show", ItemFilter::Downloaded)
            .unwrap(),
        0
    );
    let in_progress = store
        .item_window("acme", "show", ItemFilter::InProgress, Seek::First, 5)
        .unwrap();
    assert_eq!(ids(&in_progress), [expected[20].clone()]);

    // What plays next, and the collection's counts.
    let after = ItemKey {
        library: "acme",
        collection: "show",
        item: &expected[41],
    };
    assert_eq!(store.next_item(after).unwrap().unwrap().id, expected[42]);
    let last = ItemKey {
        library: "acme",
        collection: "show",
        item: &expected[249],
    };
    assert!(store.next_item(last).unwrap().is_none());
    let page = store.collection_page(None, None, 10).unwrap();
    assert_eq!(page.len(), 1);
    let c = &page[0];
    assert_eq!(
        (c.items, c.played, c.in_progress, c.downloaded),
        (250, 10, 1, 0)
    );
    // Download rule "all" (the default) wants every item: none left to add.
    assert_eq!(c.not_kept, 0);
    let cursor = stowaway_store::CollectionCursor {
        library: c.library_id.clone(),
        position: c.position,
    };
    assert!(store
        .collection_page(None, Some(&cursor), 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .collection_summary("acme", "show")
            .unwrap()
            .unwrap()
            .items,
        250
    );
}

/// While the last word is one or two letters: items whose title matches
/// come first, then the rest, each in catalog order, and no more than the
/// limit; a longer word is ranked (BM25). And the index is checkpointed
/// after an apply: no write-ahead log is left behind.
#[test]
fn short_prefixes_put_title_matches_first_and_apply_leaves_no_wal() {
    let (dir, store) = open();
    let mut items = Vec::new();
    for n in 0..30u8 {
        // Every 3rd title says "escrow"; every note does.
        let title = if n % 3 == 0 {
            format!("Escrow part {n}")
        } else {
            format!("Closing part {n}")
        };
        items.push(item(&format!("e{n:02}"), &title, "escrow notes", &[n]));
    }
    store.apply_catalog("acme", &verified(1, items)).unwrap();
    let wal = dir.path().join("stowaway.db-wal");
    assert_eq!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()),
        0,
        "the WAL is folded into the index after an apply"
    );
    let ids = |q: &str| -> Vec<String> {
        store
            .search(q, 12)
            .unwrap()
            .into_iter()
            .map(|h| h.item_id)
            .collect()
    };
    let escrow_titles: Vec<String> = (0..30).step_by(3).map(|n| format!("e{n:02}")).collect();
    let closing_titles: Vec<String> = (0..30)
        .filter(|n| n % 3 != 0)
        .map(|n| format!("e{n:02}"))
        .collect();
    for q in ["e", "es"] {
        // The ten titles with "escrow", then the others (by their notes).
        let got = ids(q);
        assert_eq!(got[..10], escrow_titles[..], "{q}: {got:?}");
        assert_eq!(got[10..], ["e01", "e02"], "{q}: {got:?}");
    }
    // No title has both words: the closing parts, by their notes, in order.
    assert_eq!(ids("closing es"), closing_titles[..12], "closing es");
    // A longer word is ranked: a title match outranks notes alone.
    assert!(store.search("escr", 5).unwrap()[0]
        .title
        .starts_with("Escrow"));
}

/// Over 2,000 rows an apply rebuilds the full-text index once (triggers
/// paused in its transaction): the index must say the same as row by row,
/// and the triggers must be back for the next small apply.
#[test]
fn a_large_apply_reindexes_once_and_search_stays_in_step() {
    let (_dir, store) = open();
    let many = |seq: u64, word: &str| {
        verified(
            seq,
            (0..2_500)
                .map(|n| {
                    item(
                        &format!("e{n}"),
                        &format!("{word} number {n}"),
                        &format!("notes{n}"),
                        format!("media{n}").as_bytes(),
                    )
                })
                .collect(),
        )
    };
    store.apply_catalog("acme", &many(1, "alpha")).unwrap();
    assert_eq!(store.search("alpha", 50).unwrap().len(), 50);
    let hit = store.search("notes2499", 10).unwrap();
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].item_id, "e2499");

    // Every title changes: the old word leaves the index.
    store.apply_catalog("acme", &many(2, "bravo")).unwrap();
    assert!(store.search("alpha", 10).unwrap().is_empty());
    assert_eq!(store.search("bravo", 50).unwrap().len(), 50);

    // A small apply: most items removed, a few left; row by row again.
    let small = verified(3, vec![item("e7", "Charlie only", "notes7", b"media7")]);
    let out = store.apply_catalog("acme", &small).unwrap();
    assert!(
        out.diff.removed.len() >= 2_000,
        "{}",
        out.diff.removed.len()
    );
    assert!(store.search("bravo", 10).unwrap().is_empty());
    assert!(store.search("notes2499", 10).unwrap().is_empty());
    let hit = store.search("charlie", 10).unwrap();
    assert_eq!(hit.len(), 1);
    let small2 = verified(4, vec![item("e7", "Delta now", "notes7", b"media7")]);
    store.apply_catalog("acme", &small2).unwrap();
    assert!(
        store.search("charlie", 10).unwrap().is_empty(),
        "trigger path"
    );
    assert_eq!(store.search("delta", 10).unwrap().len(), 1);
}

/// Pinned ("keep for the trip"): wanted whatever the rule says, first in
/// the queue, never evicted, not removed by accident; unpinning a
/// collection unpins its items.
#[test]
fn pinned_items_are_wanted_first_and_never_evicted() {
    use stowaway_store::DownloadMode;
    let (_dir, store) = open();
    store
        .apply_catalog(
            "acme",
            &verified(
                1,
                vec![
                    item("e1", "A", "n", b"one-----"),
                    item("e2", "B", "n", b"two-----"),
                ],
            ),
        )
        .unwrap();
    store
        .set_download_mode("acme", "show", DownloadMode::Off)
        .unwrap();
    assert!(wanted_labels(&store).is_empty());
    assert!(store.pin("acme", "show", Some("e2")).unwrap());
    assert!(!store.pin("acme", "show", Some("e2")).unwrap(), "once");
    let w = store.wanted_blobs(None).unwrap();
    assert_eq!(
        (w.len(), w[0].label.as_str(), w[0].explicit),
        (1, "B", true)
    );
    assert_eq!(
        store.pin("acme", "show", Some("nope")).unwrap_err().code(),
        "unknown_item"
    );

    put(&store, b"two-----");
    store.set_played(key("e2"), true).unwrap();
    assert_eq!(store.evict_played(100).unwrap().items, 0, "pinned stays");
    let e = store.remove_download(key("e2")).unwrap_err();
    assert_eq!(e.code(), "pinned", "{e}");
    assert!(store.has_blob(&sha_of(b"two-----")).unwrap());

    // The whole show: both items; unpinning the show unpins e2 too.
    store.pin("acme", "show", None).unwrap();
    assert!(store.is_pinned(key("e1")).unwrap());
    assert_eq!(wanted_labels(&store), ["A"]);
    assert!(store.unpin("acme", "show", None).unwrap());
    assert!(!store.is_pinned(key("e2")).unwrap());
    assert!(wanted_labels(&store).is_empty());
    assert_eq!(
        store.evict_played(100).unwrap().items,
        1,
        "no longer pinned"
    );
}

/// The ready plan lists what is kept offline with each file once, and a
/// stored file is checked again byte by byte: whole (recorded), corrupt or
/// missing (left alone without repair; out of the index with it).
#[test]
fn the_ready_plan_and_reverifying_a_file() {
    use stowaway_store::{DownloadMode, Reverified};
    let (dir, store) = open();
    let mut shared = item("e3", "C", "n", b"one-----");
    shared.assets[0].role = AssetRole::Media;
    store
        .apply_catalog(
            "acme",
            &verified(
                1,
                vec![
                    item("e1", "A", "n", b"one-----"),
                    item("e2", "B", "n", b"two-----"),
                    shared,
                ],
            ),
        )
        .unwrap();
    store
        .set_download_mode("acme", "show", DownloadMode::Off)
        .unwrap();
    store.pin("acme", "show", Some("e1")).unwrap();
    store.pin("acme", "show", Some("e3")).unwrap();
    put(&store, b"one-----");
    let plan = store.ready_plan(Some("acme"), None).unwrap();
    let ids: Vec<_> = plan
        .items
        .iter()
        .map(|i| (i.item_id.as_str(), i.pinned))
        .collect();
    assert_eq!(ids, [("e1", true), ("e3", true)]);
    assert_eq!(plan.files.len(), 1, "a file two items share is one file");
    assert!(plan.files[0].stored);
    assert_eq!(plan.items[1].files, [0]);
    assert!(store
        .ready_plan(Some("acme"), Some("other"))
        .unwrap()
        .items
        .is_empty());

    let one = sha_of(b"one-----");
    assert_eq!(store.reverify(&one, 8, false).unwrap(), Reverified::Whole);
    let path = dir
        .path()
        .join(format!("blobs/sha256/{}/{}", &one.as_str()[..2], one));
    std::fs::write(&path, b"ONE-----").unwrap();
    assert!(matches!(
        store.reverify(&one, 8, false).unwrap(),
        Reverified::Corrupt { size: 8, .. }
    ));
    assert!(store.has_blob(&one).unwrap(), "no repair: nothing changes");
    assert!(matches!(
        store.reverify(&one, 8, true).unwrap(),
        Reverified::Corrupt { .. }
    ));
    assert!(
        !store.has_blob(&one).unwrap() && !path.exists(),
        "set aside"
    );
    assert!(!store.ready_plan(None, None).unwrap().files[0].stored);
    put(&store, b"one-----");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(store.reverify(&one, 8, true).unwrap(), Reverified::Missing);
    assert!(!store.has_blob(&one).unwrap());
}

/// Episode `n` of five, published a day apart (e0 the oldest).
fn dated(n: i64) -> Item {
    let mut i = item(
        &format!("e{n}"),
        &format!("Episode {n}"),
        "",
        format!("m{n}").as_bytes(),
    );
    i.published_at =
        Some(time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + n * 86_400).unwrap());
    i
}

/// The up-next queue keeps the member's order across adds, moves and
/// removals; "continue" lists what is in progress, newest first; marking
/// earlier items played follows the show's order (published before), and a
/// collection's speed is kept and checked.
#[test]
fn queue_in_progress_earlier_played_and_speed() {
    use stowaway_store::{QueueAt, StoreError};
    let (_dir, store) = open();
    let items: Vec<Item> = (0..5).map(dated).collect();
    store.apply_catalog("acme", &verified(1, items)).unwrap();
    let queued = |s: &Store| {
        s.queue()
            .unwrap()
            .iter()
            .map(|q| q.item.id.clone())
            .collect::<Vec<_>>()
    };

    store.queue_add(key("e1"), QueueAt::End).unwrap();
    store.queue_add(key("e2"), QueueAt::End).unwrap();
    store.queue_add(key("e3"), QueueAt::Next).unwrap();
    assert_eq!(queued(&store), ["e3", "e1", "e2"]);
    // Adding a queued item moves it.
    store.queue_add(key("e3"), QueueAt::End).unwrap();
    assert_eq!(queued(&store), ["e1", "e2", "e3"]);
    assert!(store.queue_move(key("e3"), 0).unwrap());
    assert!(store.queue_move(key("e1"), 99).unwrap());
    assert_eq!(queued(&store), ["e3", "e2", "e1"]);
    assert!(!store.queue_move(key("e4"), 0).unwrap(), "not queued");
    assert!(store.queue_remove(key("e2")).unwrap());
    assert_eq!(queued(&store), ["e3", "e1"]);
    let q = store.queue().unwrap();
    assert_eq!(
        (
            q[0].collection_title.as_str(),
            q[0].collection_kind.as_str()
        ),
        ("The Deal Room", "show")
    );
    assert!(matches!(
        store.queue_add(key("nope"), QueueAt::End),
        Err(StoreError::UnknownItem(_))
    ));
    // An item the publisher drops leaves the list; the rest keep their order.
    let fewer: Vec<Item> = (0..5).filter(|n| *n != 3).map(dated).collect();
    store.apply_catalog("acme", &verified(2, fewer)).unwrap();
    assert_eq!(queued(&store), ["e1"]);
    assert_eq!(
        store.queue_clear().unwrap(),
        2,
        "e3's row is kept until cleared"
    );
    assert!(queued(&store).is_empty());

    // In progress, the most recent first; played and untouched ones are not.
    store
        .set_position(key("e1"), 60_000, Some(600_000))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    store.set_position(key("e4"), 30_000, None).unwrap();
    store.set_position(key("e2"), 10_000, None).unwrap();
    store.set_played(key("e2"), true).unwrap();
    let ids: Vec<String> = store
        .in_progress(10)
        .unwrap()
        .into_iter()
        .map(|s| s.item.id)
        .collect();
    assert_eq!(ids, ["e4", "e1"]);

    // Earlier than e2 in a show: e1 and e0 (published before it), not e4.
    assert_eq!(store.mark_earlier_played(key("e2")).unwrap(), 2);
    let played = |id: &str| store.playback(key(id)).unwrap().played;
    assert!(played("e0") && played("e1") && played("e2") && !played("e4"));
    assert_eq!(
        store.playback(key("e1")).unwrap().position_ms,
        0,
        "back to the start"
    );
    assert_eq!(
        store.mark_earlier_played(key("e2")).unwrap(),
        0,
        "nothing left to mark"
    );

    // Speed per collection.
    assert_eq!(store.collection_speed("acme", "show").unwrap(), None);
    store
        .set_collection_speed("acme", "show", Some(1.5))
        .unwrap();
    assert_eq!(store.collection_speed("acme", "show").unwrap(), Some(1.5));
    for bad in [0.1, 3.5, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            store.set_collection_speed("acme", "show", Some(bad)),
            Err(StoreError::OutOfRange(_))
        ));
    }
    assert_eq!(
        store.collection_speed("acme", "show").unwrap(),
        Some(1.5),
        "unchanged by a refusal"
    );
    store.set_collection_speed("acme", "show", None).unwrap();
    assert_eq!(store.collection_speed("acme", "show").unwrap(), None);
    assert!(store
        .set_collection_speed("acme", "nope", Some(1.0))
        .is_err());
}

/// What was read from a stored file: a chapters file's chapters win over
/// the media's; chapter titles are found by search; the media's duration
/// fills in for an item whose catalog gives none.
#[test]
fn media_info_gives_chapters_search_and_duration() {
    let (_dir, store) = open();
    let mut with_file = item("e1", "Episode one", "", b"media one");
    let chapters_bytes = b"{\"chapters\": []}".to_vec();
    with_file.assets.push(Asset {
        role: AssetRole::Chapters,
        sha256: sha_of(&chapters_bytes),
        size: chapters_bytes.len() as u64,
        media_type: "application/json+chapters".into(),
        name: None,
        chunks: None,
    });
    let embedded = item("e2", "Episode two", "", b"media two");
    store
        .apply_catalog("acme", &verified(1, vec![with_file, embedded]))
        .unwrap();
    put(&store, b"media one");
    put(&store, &chapters_bytes);
    put(&store, b"media two");
    let mut unread: Vec<String> = store
        .unread_media(10)
        .unwrap()
        .into_iter()
        .map(|(_, role, _)| role)
        .collect();
    unread.sort();
    assert_eq!(unread, ["chapters", "media", "media"]);
    assert_eq!(
        store
            .media_role(&sha_of(&chapters_bytes))
            .unwrap()
            .unwrap()
            .0,
        "chapters"
    );

    // e1: chapters from its file; its media's embedded ones are not indexed.
    store
        .set_media_info(&sha_of(&chapters_bytes), None, "[1]", "Negotiating escrow")
        .unwrap();
    store
        .set_media_info(
            &sha_of(b"media one"),
            Some(61_000),
            "[2]",
            "Embedded aardvark",
        )
        .unwrap();
    // e2: chapters embedded in its media.
    store
        .set_media_info(
            &sha_of(b"media two"),
            Some(42_000),
            "[3]",
            "Zeppelin financing",
        )
        .unwrap();
    assert!(store.unread_media(10).unwrap().is_empty());

    let e1 = store.item_media_info(key("e1")).unwrap().unwrap();
    assert_eq!(
        (e1.chapters.as_str(), e1.from_chapters_file, e1.duration_ms),
        ("[1]", true, Some(61_000))
    );
    let e2 = store.item_media_info(key("e2")).unwrap().unwrap();
    assert_eq!(
        (e2.chapters.as_str(), e2.from_chapters_file, e2.duration_ms),
        ("[3]", false, Some(42_000))
    );

    let found = |q: &str| {
        store
            .search(q, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.item_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(found("escrow"), ["e1"]);
    assert_eq!(found("zeppelin"), ["e2"]);
    assert!(
        found("aardvark").is_empty(),
        "a chapters file wins over embedded chapters"
    );
    // The duration read from the media, where the catalog gives none.
    let items = store.list(None).unwrap().remove(0).items;
    let dur: Vec<Option<u64>> = items.iter().map(|i| i.duration_ms).collect();
    assert_eq!(dur, [Some(61_000), Some(42_000)]);

    // An item added later with a file already read (an episode that uses
    // the same media) gets its chapter titles when the catalog is applied.
    let mut e1 = item("e1", "Episode one", "", b"media one");
    e1.assets.push(Asset {
        role: AssetRole::Chapters,
        sha256: sha_of(&chapters_bytes),
        size: chapters_bytes.len() as u64,
        media_type: "application/json+chapters".into(),
        name: None,
        chunks: None,
    });
    let e2 = item("e2", "Episode two", "", b"media two");
    let e3 = item("e3", "Episode three", "", b"media two");
    store
        .apply_catalog("acme", &verified(2, vec![e1, e2, e3]))
        .unwrap();
    let mut z = found("zeppelin");
    z.sort();
    assert_eq!(z, ["e2", "e3"]);
    // A chapters file with no chapters does not hide the media's.
    store
        .set_media_info(&sha_of(&chapters_bytes), None, "[]", "")
        .unwrap();
    let e1 = store.item_media_info(key("e1")).unwrap().unwrap();
    assert_eq!(
        (e1.chapters.as_str(), e1.from_chapters_file),
        ("[2]", false)
    );
    assert_eq!(found("aardvark"), ["e1"]);
    assert!(found("escrow").is_empty());
}

/// Two changes to the queue at once lose neither (each reads and writes
/// the order in one transaction on the writer).
#[test]
fn queue_changes_at_once_lose_nothing() {
    use stowaway_store::QueueAt;
    let (_dir, store) = open();
    let items: Vec<Item> = (0..100)
        .map(|n| {
            item(
                &format!("q{n}"),
                &format!("Q {n}"),
                "",
                format!("q{n}").as_bytes(),
            )
        })
        .collect();
    store.apply_catalog("acme", &verified(1, items)).unwrap();
    let store = std::sync::Arc::new(store);
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in (t..100).step_by(2) {
                    store
                        .queue_add(key(&format!("q{n}")), QueueAt::End)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.queue().unwrap().len(), 100);
}

/// A format-2 catalog's chunk list is kept with its asset; the list itself
/// is kept only once it is exactly the one named (length and hash), and is
/// read back checked.
#[test]
fn chunk_lists_are_kept_only_as_named() {
    use stowaway_catalog::Chunks;
    let (_dir, store) = open();
    let size = (2 << 20) + 10;
    let list: Vec<u8> = (0..3u8).flat_map(|i| [i; 32]).collect();
    let chunks = Chunks {
        size: 1 << 20,
        sha256: Sha256::digest(&list),
    };
    let mut big = item("big", "Big", "", b"big");
    big.assets[0].size = size;
    big.assets[0].chunks = Some(chunks.clone());
    let mut c = catalog(1, vec![big]);
    c.format = 2;
    store
        .apply_catalog("acme", &VerifiedCatalog::unsigned(&c, Limits::default()))
        .unwrap();
    assert_eq!(
        store.asset_chunks("acme", &sha_of(b"big")).unwrap(),
        Some(chunks.clone())
    );
    assert_eq!(
        store.asset_chunks("other", &sha_of(b"big")).unwrap(),
        None,
        "per library"
    );
    assert_eq!(
        store.chunk_list(&chunks, size).unwrap(),
        None,
        "not fetched yet"
    );
    let mut wrong = list.clone();
    wrong[5] ^= 1;
    assert!(matches!(
        store.put_chunk_list(&chunks, size, &wrong),
        Err(StoreError::Unverified(_))
    ));
    assert!(store.put_chunk_list(&chunks, size, &list[..64]).is_err());
    assert_eq!(
        store.chunk_list(&chunks, size).unwrap(),
        None,
        "nothing kept"
    );
    let digests = store.put_chunk_list(&chunks, size, &list).unwrap();
    assert_eq!(digests.len(), 3);
    assert_eq!(
        store.chunk_list(&chunks, size).unwrap(),
        Some(digests.clone())
    );
    // (Stored: what is read is kept only of a recorded file.)
    store.mark_blob_present(&sha_of(b"big"), size).unwrap();
    store
        .set_media_info(&sha_of(b"big"), Some(5_000), "[]", "")
        .unwrap();
    // Still named by a catalog: kept through a collection.
    store.collect_garbage().unwrap();
    assert_eq!(store.chunk_list(&chunks, size).unwrap(), Some(digests));
    assert!(store.item_media_info(key("big")).unwrap().is_some());
    // The publisher drops the file: its list and what was read go with it.
    let mut c = catalog(2, vec![item("other", "Other", "", b"other")]);
    c.format = 2;
    store
        .apply_catalog("acme", &VerifiedCatalog::unsigned(&c, Limits::default()))
        .unwrap();
    store.collect_garbage().unwrap();
    assert_eq!(store.chunk_list(&chunks, size).unwrap(), None);
    let big = item("big", "Big", "", b"big");
    let mut c = catalog(3, vec![big]);
    c.format = 2;
    store
        .apply_catalog("acme", &VerifiedCatalog::unsigned(&c, Limits::default()))
        .unwrap();
    assert!(
        store.item_media_info(key("big")).unwrap().is_none(),
        "what was read went with the file"
    );
}

/// A file checked by its chunk list alone (its whole hash not taken) serves
/// the references that name that list, and no other. A hostile library
/// that signs a list for other bytes under another library's file's hash
/// gets those bytes for its own items only: once anything names the hash
/// otherwise, the file counts only after its whole hash matches.
#[test]
fn a_file_checked_by_its_chunk_list_alone_serves_only_that_list() {
    use stowaway_catalog::Chunks;
    const CHUNK: usize = 1 << 20;
    let (_dir, store) = open();
    for id in ["hostile", "twin"] {
        store
            .subscribe(&Subscription {
                stowaway: 1,
                library: id.into(),
                title: None,
                public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
                mirrors: vec![format!("https://{id}.example/")],
                access: Default::default(),
            })
            .unwrap();
    }
    // Acme's real lesson, and the other bytes the hostile library lists
    // chunk by chunk under its hash.
    let n = 2 * CHUNK + 10;
    let real: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    let other: Vec<u8> = (0..n).map(|i| (i % 241) as u8).collect();
    let sha = sha_of(&real);
    let digests: Vec<[u8; 32]> = other
        .chunks(CHUNK)
        .map(|c| Hasher::digest(c).into())
        .collect();
    let list: Vec<u8> = digests.concat();
    let chunks = Chunks {
        size: CHUNK as u32,
        sha256: Sha256::digest(&list),
    };
    let lesson = |library: &str, sequence: u64, chunks: Option<Chunks>| {
        let mut i = item("lesson", "Lesson", "", &real);
        i.assets[0].chunks = chunks;
        let mut c = catalog(sequence, vec![i]);
        c.library.id = library.into();
        c.format = 2;
        store
            .apply_catalog(library, &VerifiedCatalog::unsigned(&c, Limits::default()))
            .unwrap();
    };
    lesson("hostile", 1, Some(chunks.clone()));
    store.put_chunk_list(&chunks, n as u64, &list).unwrap();
    assert!(store.named_only_with(&sha, &chunks.sha256).unwrap());

    // The hostile library's download: every chunk matches its list.
    let mut p = store
        .blobs()
        .open_chunked(&sha, n as u64, CHUNK as u32, digests.into())
        .unwrap();
    for (i, c) in other.chunks(CHUNK).enumerate() {
        assert_eq!(
            p.write(i, 0, c, 1).unwrap(),
            stowaway_store::Written::Checked
        );
    }
    p.finish(None).unwrap();
    assert_eq!(
        store
            .keep_chunk_checked(&sha, n as u64, &chunks.sha256)
            .unwrap(),
        stowaway_store::ChunkChecked::Kept
    );
    assert!(store.has_blob(&sha).unwrap());
    assert_eq!(
        store.checked_by_list(&sha).unwrap(),
        Some(chunks.sha256.clone())
    );
    store.set_media_info(&sha, Some(1_000), "[]", "").unwrap();
    let hostile_key = stowaway_store::ItemKey {
        library: "hostile",
        collection: "show",
        item: "lesson",
    };
    assert!(store.item_media_info(hostile_key).unwrap().is_some());

    // A library naming the same list gets the same bytes: nothing changes.
    lesson("twin", 1, Some(chunks.clone()));
    assert_eq!(
        store.checked_by_list(&sha).unwrap(),
        Some(chunks.sha256.clone())
    );

    // Acme names the hash with no list: the file is not counted any more
    // (nor what was read from it) until its whole hash is checked.
    lesson("acme", 1, None);
    assert!(
        !store.has_blob(&sha).unwrap(),
        "forgotten when named otherwise"
    );
    assert_eq!(store.checked_by_list(&sha).unwrap(), None);
    assert!(store.item_media_info(hostile_key).unwrap().is_none());
    // What a reader still holding the file reads after that is not kept.
    store.set_media_info(&sha, Some(1_000), "[]", "").unwrap();
    assert!(store.item_media_info(hostile_key).unwrap().is_none());
    assert!(!store.named_only_with(&sha, &chunks.sha256).unwrap());
    // A hostile download that ends now is not recorded either…
    assert_eq!(
        store
            .keep_chunk_checked(&sha, n as u64, &chunks.sha256)
            .unwrap(),
        stowaway_store::ChunkChecked::WholeHashNeeded
    );
    assert!(!store.has_blob(&sha).unwrap());
    // …and its whole hash refuses the bytes, which are deleted.
    assert!(!store.adopt_blob(&sha, n as u64).unwrap());
    assert!(!store.blobs().path(&sha).exists());

    // Acme's real file, checked whole, serves everyone who names it.
    let mut w = store.blobs().begin(&sha, n as u64).unwrap();
    w.write(&real).unwrap();
    w.finish().unwrap();
    assert!(store.keep_blob_if_wanted(&sha, n as u64).unwrap());
    assert_eq!(store.checked_by_list(&sha).unwrap(), None);
    assert_eq!(std::fs::read(store.blobs().path(&sha)).unwrap(), real);
    // A later list-only check never weakens a whole-hash one.
    assert_eq!(
        store
            .keep_chunk_checked(&sha, n as u64, &chunks.sha256)
            .unwrap(),
        stowaway_store::ChunkChecked::WholeHashNeeded
    );
    assert_eq!(store.checked_by_list(&sha).unwrap(), None);
}
