//! The shared use cases against a real cache (SQLite file and blob
//! directory in a temporary folder). The keyring is the one boundary
//! replaced: [`MemoryKeyring`] stands in for the OS's (the app's and the
//! CLI's end-to-end tests use a real Secret Service on a private D-Bus).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256 as Hasher};
use stowaway_api::{Api, AppSettings, ErrorCode, Filter, ItemRef, Keyring, NetworkShare, Seek};
use stowaway_catalog::{
    Access, Asset, AssetRole, Catalog, Collection, CollectionKind, Item, ItemKind, LibraryInfo,
    Sha256, Subscription, VerifiedCatalog,
};
use stowaway_mirrors::{AccessToken, ClientConfig};
use stowaway_secrets::SecretsError;
use stowaway_store::Store;
use stowaway_sync::Engine;

#[derive(Default)]
struct MemoryKeyring {
    tokens: Mutex<HashMap<String, String>>,
    broken: bool,
}

impl Keyring for MemoryKeyring {
    fn load(&self, library: &str, _: &[String]) -> Result<Option<AccessToken>, SecretsError> {
        let t = self.tokens.lock().unwrap().get(library).cloned();
        Ok(t.map(|t| AccessToken::new(&t).unwrap()))
    }
    fn store(&self, library: &str, token: &AccessToken) -> Result<(), SecretsError> {
        if self.broken {
            return Err(SecretsError::Unavailable("no Secret Service".into()));
        }
        self.tokens
            .lock()
            .unwrap()
            .insert(library.into(), token.expose().to_owned());
        Ok(())
    }
    fn forget(&self, library: &str) -> Result<bool, SecretsError> {
        Ok(self.tokens.lock().unwrap().remove(library).is_some())
    }
}

const KEY: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

fn sha_of(b: &[u8]) -> Sha256 {
    Sha256::from_digest(&Hasher::digest(b).into())
}

fn item(id: &str, kind: ItemKind, published: i64) -> Item {
    Item {
        id: id.into(),
        kind,
        title: format!("Title of {id}"),
        summary: Some(format!("About {id}")),
        notes: None,
        notes_html: None,
        published_at: Some(time::OffsetDateTime::from_unix_timestamp(published).unwrap()),
        duration_ms: Some(60_000),
        season: None,
        number: None,
        explicit: None,
        assets: vec![Asset {
            role: AssetRole::Media,
            sha256: sha_of(id.as_bytes()),
            size: id.len() as u64,
            media_type: "audio/ogg".into(),
            name: None,
            chunks: None,
        }],
    }
}

fn subscription(mirrors: &[&str], access: Access) -> Subscription {
    Subscription {
        stowaway: 1,
        library: "acme".into(),
        title: Some("Acme Coaching".into()),
        public_key: KEY.into(),
        mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
        access,
    }
}

/// A cache subscribed to "acme": a course of 3 lessons and a show of 120
/// episodes (episode n published at minute n: newest first is e119 … e0).
struct Cache {
    dir: tempfile::TempDir,
    api: Api,
    keyring: Arc<MemoryKeyring>,
}

fn cache_with(keyring: MemoryKeyring, access: Access) -> Cache {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    store
        .subscribe(&subscription(&["http://127.0.0.1:9/"], access))
        .unwrap();
    let catalog = Catalog {
        format: 1,
        library: LibraryInfo {
            id: "acme".into(),
            title: "Acme Coaching".into(),
            description: None,
            artwork: None,
        },
        sequence: 1,
        generated_at: time::macros::datetime!(2026-01-01 0:00 UTC),
        expires_at: time::macros::datetime!(2099-01-01 0:00 UTC),
        mirrors: vec![],
        collections: vec![
            Collection {
                id: "course".into(),
                kind: CollectionKind::Course,
                title: "The Course".into(),
                summary: None,
                artwork: None,
                items: (0..3)
                    .map(|n| item(&format!("l{n}"), ItemKind::Lesson, 1_700_000_000 - n * 60))
                    .collect(),
            },
            Collection {
                id: "show".into(),
                kind: CollectionKind::Show,
                title: "The Show".into(),
                summary: None,
                artwork: None,
                items: (0..120)
                    .map(|n| item(&format!("e{n}"), ItemKind::Episode, 1_700_000_000 + n * 60))
                    .collect(),
            },
        ],
    };
    store
        .apply_catalog(
            "acme",
            &VerifiedCatalog::unsigned(&catalog, stowaway_catalog::Limits::default()),
        )
        .unwrap();
    let keyring = Arc::new(keyring);
    let engine = Engine::new(store, ClientConfig::default()).unwrap();
    let api = Api::new(engine, keyring.clone());
    Cache { dir, api, keyring }
}

fn cache() -> Cache {
    cache_with(MemoryKeyring::default(), Access::Public)
}

fn r(collection: &str, item: &str) -> ItemRef {
    ItemRef {
        library: "acme".into(),
        collection: collection.into(),
        item: item.into(),
    }
}

#[test]
fn the_library_page_has_counts_not_items() {
    let c = cache();
    c.api.set_played(&r("course", "l0"), true).unwrap();
    c.api
        .save_position(&r("show", "e5"), 3_000.0, Some(60_000.0))
        .unwrap();
    let page = c.api.library_page().unwrap();
    assert_eq!(page.libraries.len(), 1);
    assert_eq!(page.libraries[0].items, 123);
    assert!(!page.more);
    let counts: Vec<_> = page
        .collections
        .iter()
        .map(|c| (c.id.as_str(), c.items, c.played, c.in_progress))
        .collect();
    assert_eq!(counts, [("course", 3, 1, 0), ("show", 120, 0, 1)]);
    let v = serde_json::to_value(&page).unwrap();
    assert!(
        v["collections"][0].get("items").unwrap().is_number(),
        "a count, never the items"
    );
}

#[test]
fn item_windows_scroll_both_ways_and_jump() {
    let c = cache();
    let first = c
        .api
        .items("acme", "show", Filter::All, Seek::First, 50)
        .unwrap();
    assert_eq!(first.total, 120);
    assert_eq!(first.items[0].id, "e119", "a show lists newest first");
    let next = c
        .api
        .items(
            "acme",
            "show",
            Filter::All,
            Seek::After {
                cursor: first.items[49].cursor,
            },
            50,
        )
        .unwrap();
    assert_eq!(next.items[0].id, "e69");
    let end = c
        .api
        .items("acme", "show", Filter::All, Seek::At { index: 100 }, 50)
        .unwrap();
    assert_eq!(end.items.len(), 20);
    assert_eq!(end.items.last().unwrap().id, "e0");
    let back = c
        .api
        .items(
            "acme",
            "show",
            Filter::All,
            Seek::Before {
                cursor: end.items[0].cursor,
            },
            10,
        )
        .unwrap();
    let ids: Vec<_> = back.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        ["e29", "e28", "e27", "e26", "e25", "e24", "e23", "e22", "e21", "e20"]
    );
    // A course keeps the publisher's order whatever the dates say.
    let course = c
        .api
        .items("acme", "course", Filter::All, Seek::First, 10)
        .unwrap();
    let ids: Vec<_> = course.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["l0", "l1", "l2"]);
    c.api.set_played(&r("show", "e119"), true).unwrap();
    let unplayed = c
        .api
        .items("acme", "show", Filter::Unplayed, Seek::First, 1)
        .unwrap();
    assert_eq!(
        (unplayed.total, unplayed.items[0].id.as_str()),
        (119, "e118")
    );
}

#[test]
fn item_detail_names_what_plays_next_and_unknown_items_are_not_found() {
    let c = cache();
    let d = c.api.item_detail(&r("course", "l1"), None).unwrap();
    assert_eq!(d.collection_title, "The Course");
    assert_eq!(d.next.unwrap().item, "l2");
    assert_eq!(
        d.media_url, None,
        "nothing is downloaded (and no media server)"
    );
    assert!(c
        .api
        .item_detail(&r("course", "l2"), None)
        .unwrap()
        .next
        .is_none());
    let e = c.api.item_detail(&r("course", "nope"), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = c.api.collection("acme", "nope").unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
}

#[test]
fn search_is_capped_and_typed() {
    let c = cache();
    let hits = c.api.search("title", 10_000).unwrap();
    assert_eq!(hits.len(), stowaway_api::MAX_HITS.min(123));
    assert!(c
        .api
        .search("e11", 5)
        .unwrap()
        .iter()
        .any(|h| h.item_id == "e11"));
}

#[tokio::test]
async fn a_token_is_kept_in_the_keyring_or_for_the_session_and_said_so() {
    let c = cache_with(MemoryKeyring::default(), Access::Token);
    let shown = vec!["http://127.0.0.1:9/".to_owned()];
    let saved = c
        .api
        .set_token("acme", "s3cret-token", &shown)
        .await
        .unwrap();
    assert!(saved.in_keyring && saved.warning.is_none());
    assert_eq!(c.keyring.tokens.lock().unwrap()["acme"], "s3cret-token");
    assert!(c.api.engine().has_access_token("acme"));
    assert!(c.api.forget_token("acme").await.unwrap());
    assert!(!c.api.engine().has_access_token("acme"));
    let e = c
        .api
        .set_token("nope", "s3cret-token", &shown)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);

    let broken = cache_with(
        MemoryKeyring {
            broken: true,
            ..Default::default()
        },
        Access::Token,
    );
    let saved = broken
        .api
        .set_token("acme", "s3cret-token", &shown)
        .await
        .unwrap();
    assert!(!saved.in_keyring);
    assert!(saved.warning.unwrap().contains("only until Stowaway quits"));
    assert!(
        broken.api.engine().has_access_token("acme"),
        "kept for the session"
    );

    // The CLI's way: kept in the keyring, or not at all.
    let cli = cache_with(
        MemoryKeyring {
            broken: true,
            ..Default::default()
        },
        Access::Token,
    );
    let e = cli
        .api
        .store_token("acme", "s3cret-token", &shown)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.library.as_deref()),
        (ErrorCode::Keyring, Some("acme"))
    );
    assert!(!cli.api.engine().has_access_token("acme"));
}

#[tokio::test]
async fn a_subscription_is_confirmed_only_as_shown() {
    let c = cache_with(MemoryKeyring::default(), Access::Token);
    c.api
        .set_token("acme", "s3cret-token", &["http://127.0.0.1:9/".to_owned()])
        .await
        .unwrap();
    // Unshown: refused.
    let file = c.dir.path().join("acme.stowaway");
    let e = c
        .api
        .confirm(file.to_str().unwrap(), None, false)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotPreviewed);
    // An update that adds a mirror to the private library: previewed as
    // such, and confirming forgets the token here and in the keyring.
    let update = subscription(
        &["http://127.0.0.1:9/", "http://127.0.0.1:10/"],
        Access::Public,
    );
    std::fs::write(&file, serde_json::to_vec(&update).unwrap()).unwrap();
    let source = file.to_str().unwrap();
    let p = c.api.preview(source).await.unwrap();
    assert!(p.already_subscribed && p.private && p.access_kept);
    assert_eq!(p.new_mirrors, ["http://127.0.0.1:10/"]);
    // The file changes after the preview: what is confirmed is what was shown.
    let other = subscription(&["http://127.0.0.1:11/"], Access::Public);
    std::fs::write(&file, serde_json::to_vec(&other).unwrap()).unwrap();
    let done = c.api.confirm(source, None, false).await.unwrap();
    assert_eq!(done.library, "acme");
    let mirrors = c.api.engine().store().mirrors("acme").unwrap();
    assert!(mirrors.contains(&"http://127.0.0.1:10/".to_owned()));
    assert!(!mirrors.contains(&"http://127.0.0.1:11/".to_owned()));
    assert!(!c.api.engine().has_access_token("acme"));
    assert!(c.keyring.tokens.lock().unwrap().is_empty());
    assert_eq!(c.api.status().needs_token, ["acme"]);
    // Not a subscription at all.
    std::fs::write(&file, b"{\"hello\": 1}").unwrap();
    let e = c.api.preview(source).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotASubscription, "{e:?}");
}

/// A network share among a subscription's mirrors is shown in the preview;
/// confirmed without the member's say-so it is kept but never used (the
/// mirrors list says so, and the next preview asks again); allowed, it is
/// not asked about again and is no longer "not allowed" (here, on Linux,
/// it is a mirror this computer cannot open, and says why).
#[tokio::test]
async fn a_network_share_is_used_only_when_the_member_allows_it() {
    let c = cache_with(MemoryKeyring::default(), Access::Public);
    let share = "file://fileserver/share/acme/";
    let file = c.dir.path().join("acme.stowaway");
    let update = subscription(&["http://127.0.0.1:9/", share], Access::Public);
    std::fs::write(&file, serde_json::to_vec(&update).unwrap()).unwrap();
    let source = file.to_str().unwrap();
    let state = |c: &Cache| -> (String, Option<String>) {
        let m = c.api.mirrors(Some("acme")).unwrap();
        let m = m
            .iter()
            .find(|m| m.url == share)
            .expect("the share is listed");
        (m.state.clone(), m.last_error.clone())
    };

    let shown = [NetworkShare {
        url: share.into(),
        host: "fileserver".into(),
    }];
    let p = c.api.preview(source).await.unwrap();
    assert_eq!(p.network_shares, shown);
    c.api.confirm(source, None, false).await.unwrap();
    assert_eq!(state(&c).0, "not_allowed");
    let p = c.api.preview(source).await.unwrap();
    assert_eq!(p.network_shares, shown, "asked again");

    c.api.confirm(source, None, true).await.unwrap();
    assert!(c
        .api
        .preview(source)
        .await
        .unwrap()
        .network_shares
        .is_empty());
    let (st, why) = state(&c);
    if cfg!(windows) {
        assert_ne!(st, "not_allowed");
    } else {
        assert_eq!(st, "unusable");
        assert!(why.unwrap().contains("opened on Windows only"));
    }
    // Confirming allows only the shares the preview named: one allowed
    // before it (so not named) and dropped by an update meanwhile comes
    // back not allowed.
    let p = c.api.preview(source).await.unwrap();
    assert!(p.network_shares.is_empty());
    c.api
        .subscribe_library(&subscription(&["http://127.0.0.1:9/"], Access::Public), &[])
        .await
        .unwrap();
    c.api.confirm(source, None, true).await.unwrap();
    assert_eq!(state(&c).0, "not_allowed");

    // Every mirror a share the member did not allow: refused, with why.
    let only = subscription(&["file://other/share/acme/"], Access::Public);
    std::fs::write(&file, serde_json::to_vec(&only).unwrap()).unwrap();
    c.api.preview(source).await.unwrap();
    let e = c.api.confirm(source, None, false).await.unwrap_err();
    assert!(e.message.contains("network share"), "{e:?}");
}

#[tokio::test]
async fn unsubscribing_removes_the_library_and_its_token() {
    let c = cache_with(MemoryKeyring::default(), Access::Token);
    c.api
        .set_token("acme", "s3cret-token", &["http://127.0.0.1:9/".to_owned()])
        .await
        .unwrap();
    let gone = c.api.unsubscribe("acme").await.unwrap();
    assert_eq!(gone.items, 123);
    assert!(c.keyring.tokens.lock().unwrap().is_empty());
    assert!(c.api.library_page().unwrap().collections.is_empty());
    assert_eq!(
        c.api.unsubscribe("acme").await.unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn downloads_mirrors_and_settings() {
    let c = cache();
    let v = c.api.downloads().unwrap();
    assert_eq!(
        v.queue.len(),
        123,
        "every item is wanted by the default rule"
    );
    assert_eq!(v.more, 0);
    c.api
        .set_download_mode("acme", "show", stowaway_api::DownloadMode::Off)
        .unwrap();
    c.api.remove_download(&r("course", "l0")).unwrap();
    assert_eq!(c.api.downloads().unwrap().queue.len(), 2);
    c.api.set_downloads_paused(true).unwrap();
    assert!(c.api.status().paused && c.api.downloads().unwrap().usage.paused);
    let m = c.api.mirrors(None).unwrap();
    assert_eq!((m.len(), m[0].state.as_str()), (1, "unknown"));
    assert_eq!(
        c.api.mirrors(Some("nope")).unwrap_err().code,
        ErrorCode::NotFound
    );
    let bad = AppSettings {
        storage_budget: Some(0),
        ..c.api.settings().unwrap()
    };
    assert_eq!(
        c.api.set_settings(&bad).unwrap_err().code,
        ErrorCode::Invalid
    );
}

/// What the CLI's `status`, `list`, `budget` and `download` read and do,
/// from the same use cases as the app.
#[test]
fn libraries_budget_and_partial_downloads() {
    let c = cache();
    let libs = c.api.libraries().unwrap();
    assert_eq!(libs.len(), 1);
    let l = &libs[0];
    assert_eq!((l.id.as_str(), l.items, l.collections), ("acme", 123, 2));
    assert_eq!((l.blobs_wanted, l.blobs_stored), (123, 0), "{l:?}");
    assert_eq!(c.api.library("acme").unwrap().title, "Acme Coaching");
    let e = c.api.library("nope").unwrap_err();
    assert_eq!(
        (e.code, e.detail.as_str()),
        (ErrorCode::NotFound, "unknown_library")
    );

    assert!(c.api.partial_downloads().unwrap().is_empty());
    c.api.set_storage_budget(Some(5_000)).unwrap();
    assert_eq!(c.api.downloads().unwrap().usage.budget, Some(5_000));
    c.api.set_storage_budget(None).unwrap();
    assert_eq!(c.api.downloads().unwrap().usage.budget, None);

    // Off, then one item asked for: the queue holds just it.
    c.api
        .set_download_mode("acme", "show", stowaway_api::DownloadMode::Off)
        .unwrap();
    c.api
        .set_download_mode("acme", "course", "off".parse().unwrap())
        .unwrap();
    assert!(c.api.downloads().unwrap().queue.is_empty());
    assert_eq!(c.api.download("acme", "show", Some("e7")).unwrap(), 1);
    let q = c.api.downloads().unwrap().queue;
    assert_eq!(
        q.iter().map(|q| q.item_id.as_str()).collect::<Vec<_>>(),
        ["e7"]
    );
    assert!("sometimes".parse::<stowaway_api::DownloadMode>().is_err());
}

/// What plays next: the queue first (never the item playing), else a
/// course's next lesson; a show does not go on to older episodes by itself.
/// "Continue" is on the library page; the player gets its collection's speed,
/// else the default, kept across a reopen of the cache.
#[test]
fn up_next_continue_listening_and_speed() {
    use stowaway_api::QueuePlace;
    let c = cache();
    let next = |cur: Option<&ItemRef>| {
        c.api
            .up_next(cur)
            .unwrap()
            .map(|u| (u.item.item, u.queued, u.playable))
    };
    assert_eq!(
        next(Some(&r("course", "l0"))),
        Some(("l1".into(), false, false)),
        "a course goes on in order"
    );
    assert_eq!(next(Some(&r("course", "l2"))), None, "the course's end");
    assert_eq!(
        next(Some(&r("show", "e5"))),
        None,
        "a show stops unless something is queued"
    );
    assert_eq!(next(None), None);
    c.api.queue_add(&r("show", "e7"), QueuePlace::End).unwrap();
    c.api.queue_add(&r("show", "e3"), QueuePlace::Next).unwrap();
    assert_eq!(
        next(Some(&r("course", "l0"))),
        Some(("e3".into(), true, false)),
        "the queue comes first"
    );
    assert_eq!(
        next(Some(&r("show", "e3"))),
        Some(("e7".into(), true, false)),
        "never the item playing"
    );
    let q: Vec<String> = c
        .api
        .queue()
        .unwrap()
        .into_iter()
        .map(|s| s.item.id)
        .collect();
    assert_eq!(q, ["e3", "e7"]);
    assert!(c.api.queue_move(&r("show", "e7"), 0).unwrap());
    assert!(c.api.queue_remove(&r("show", "e3")).unwrap());
    assert_eq!(c.api.queue_clear().unwrap(), 1);
    assert_eq!(
        c.api
            .queue_add(&r("show", "nope"), QueuePlace::End)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );

    assert!(c.api.library_page().unwrap().continue_listening.is_empty());
    c.api
        .save_position(&r("show", "e9"), 12_000.0, Some(60_000.0))
        .unwrap();
    let page = c.api.library_page().unwrap();
    let shelf = &page.continue_listening;
    assert_eq!(
        (
            shelf.len(),
            shelf[0].item.id.as_str(),
            shelf[0].collection_title.as_str(),
            shelf[0].course
        ),
        (1, "e9", "The Show", false)
    );
    assert_eq!(
        c.api.mark_earlier_played(&r("show", "e9")).unwrap(),
        9,
        "e0–e8 were published before e9"
    );

    let d = c.api.item_detail(&r("show", "e9"), None).unwrap();
    assert_eq!((d.speed, d.collection_speed), (1.0, false));
    let s = AppSettings {
        default_speed: 1.25,
        ..c.api.settings().unwrap()
    };
    c.api.set_settings(&s).unwrap();
    c.api
        .set_collection_speed("acme", "course", Some(1.75))
        .unwrap();
    assert_eq!(
        c.api.item_detail(&r("show", "e9"), None).unwrap().speed,
        1.25,
        "the default"
    );
    // Reopened: both kept.
    let again = Api::open(c.dir.path(), Arc::new(MemoryKeyring::default())).unwrap();
    let d = again.item_detail(&r("course", "l1"), None).unwrap();
    assert_eq!((d.speed, d.collection_speed), (1.75, true));
    assert_eq!(again.settings().unwrap().default_speed, 1.25);
    assert_eq!(
        again
            .set_collection_speed("acme", "course", Some(9.0))
            .unwrap_err()
            .code,
        ErrorCode::Invalid
    );
    // Pinned: the item itself, or through its collection.
    again.pin("acme", "course", Some("l1")).unwrap();
    let d = again.item_detail(&r("course", "l1"), None).unwrap();
    assert!(d.pinned && d.pinned_itself);
    again.unpin("acme", "course", Some("l1")).unwrap();
    again.pin("acme", "course", None).unwrap();
    let d = again.item_detail(&r("course", "l1"), None).unwrap();
    assert!(d.pinned && !d.pinned_itself);
}

/// The library's catalog is now one show with one episode (sequence 2).
fn replace_show(store: &Store, ep: Item) {
    let catalog = Catalog {
        format: 1,
        library: LibraryInfo {
            id: "acme".into(),
            title: "Acme Coaching".into(),
            description: None,
            artwork: None,
        },
        sequence: 2,
        generated_at: time::macros::datetime!(2026-01-02 0:00 UTC),
        expires_at: time::macros::datetime!(2099-01-01 0:00 UTC),
        mirrors: vec![],
        collections: vec![Collection {
            id: "show".into(),
            kind: CollectionKind::Show,
            title: "The Show".into(),
            summary: None,
            artwork: None,
            items: vec![ep],
        }],
    };
    store
        .apply_catalog(
            "acme",
            &VerifiedCatalog::unsigned(&catalog, stowaway_catalog::Limits::default()),
        )
        .unwrap();
}

/// Stores `bytes` as a verified blob.
fn put(store: &Store, bytes: &[u8]) {
    let sha = sha_of(bytes);
    let mut w = store.blobs().begin(&sha, bytes.len() as u64).unwrap();
    w.write(bytes).unwrap();
    w.finish().unwrap();
    store.mark_blob_present(&sha, bytes.len() as u64).unwrap();
}

/// An MP3 with chapters in its ID3 tag and no duration in the catalog (made
/// by ffmpeg here): once stored, the player gets its embedded chapters and
/// the list and the player its real duration.
#[test]
fn embedded_chapters_and_the_real_duration_of_a_stored_mp3() {
    let c = cache();
    let dir = c.dir.path().join("ffmpeg");
    std::fs::create_dir_all(&dir).unwrap();
    let meta = dir.join("ch.ffmeta");
    std::fs::write(
        &meta,
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=4000\ntitle=Opening offer\n\
         [CHAPTER]\nTIMEBASE=1/1000\nSTART=4000\nEND=8000\ntitle=Counter and close\n",
    )
    .unwrap();
    let mp3 = dir.join("e.mp3");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
        ])
        .args(["-i", "sine=frequency=440:duration=8", "-i"])
        .arg(&meta)
        .args([
            "-map",
            "0:a",
            "-map_metadata",
            "1",
            "-map_chapters",
            "1",
            "-ac",
            "1",
        ])
        .args(["-c:a", "libmp3lame", "-b:a", "32k", "-id3v2_version", "3"])
        .arg(&mp3)
        .output()
        .expect("ffmpeg (Debian package ffmpeg; scripts/setup installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&mp3).unwrap();

    // A library whose one episode is this file, with no duration given.
    let store = c.api.engine().store();
    let mut ep = item("mp3", ItemKind::Episode, 1_800_000_000);
    ep.duration_ms = None;
    ep.assets[0] = Asset {
        role: AssetRole::Media,
        sha256: sha_of(&bytes),
        size: bytes.len() as u64,
        media_type: "audio/mpeg".into(),
        name: None,
        chunks: None,
    };
    replace_show(store, ep);
    let none = c.api.chapters(&r("show", "mp3")).unwrap();
    assert_eq!(
        (none.chapters.len(), none.source),
        (0, stowaway_api::ChapterSource::None),
        "not stored yet"
    );
    put(store, &bytes);

    let got = c.api.chapters(&r("show", "mp3")).unwrap();
    assert_eq!(got.source, stowaway_api::ChapterSource::Embedded);
    let titles: Vec<(&str, u64)> = got
        .chapters
        .iter()
        .map(|c| (c.title.as_str(), c.start_ms))
        .collect();
    assert_eq!(titles, [("Opening offer", 0), ("Counter and close", 4000)]);
    let dur = got.duration_ms.expect("the real duration");
    assert!(dur.abs_diff(8000) < 150, "{dur}");
    let detail = c.api.item_detail(&r("show", "mp3"), None).unwrap();
    assert!(
        detail.duration_ms.is_some_and(|d| d.abs_diff(8000) < 150),
        "{:?}",
        detail.duration_ms
    );
    let window = c
        .api
        .items(
            "acme",
            "show",
            stowaway_api::Filter::All,
            stowaway_api::Seek::First,
            5,
        )
        .unwrap();
    assert!(window.items[0]
        .duration_ms
        .is_some_and(|d| d.abs_diff(8000) < 150));
    // And the chapter titles are found by search.
    assert!(c
        .api
        .search("counter", 10)
        .unwrap()
        .iter()
        .any(|h| h.item_id == "mp3"));
}

/// A chapter's image comes to the page as a data: URL, fetched from the
/// address the item's chapters name and nowhere else, and only as a raster
/// image.
#[tokio::test]
async fn chapter_images_only_as_named_and_only_images() {
    let c = cache();
    let site = c.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let png = b"\x89PNG\r\n\x1a\n a chapter's picture".to_vec();
    std::fs::write(site.join("ch1.png"), &png).unwrap();
    std::fs::write(
        site.join("ch2.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .unwrap();
    let server = stowaway_testmirror::TestMirror::start(&site).unwrap();
    let chapters = format!(
        r#"{{"version":"1.2.0","chapters":[{{"startTime":0,"title":"One","img":"{0}ch1.png"}},{{"startTime":5,"title":"Two","img":"{0}ch2.svg"}}]}}"#,
        server.url()
    )
    .into_bytes();
    let store = c.api.engine().store();
    let mut ep = item("pics", ItemKind::Episode, 1_800_000_000);
    ep.assets.push(Asset {
        role: AssetRole::Chapters,
        sha256: sha_of(&chapters),
        size: chapters.len() as u64,
        media_type: "application/json+chapters".into(),
        name: None,
        chunks: None,
    });
    replace_show(store, ep);
    put(store, &chapters);

    let item = r("show", "pics");
    let data = c
        .api
        .chapter_image(&item, &format!("{}ch1.png", server.url()))
        .await
        .unwrap();
    assert!(data.starts_with("data:image/png;base64,"), "{data}");
    let svg = c
        .api
        .chapter_image(&item, &format!("{}ch2.svg", server.url()))
        .await
        .unwrap_err();
    assert_eq!(svg.code, ErrorCode::Invalid, "{svg:?}");
    // An address the chapters do not name is never fetched.
    let asked = server.requests().len();
    let other = c
        .api
        .chapter_image(&item, &format!("{}ch1.png?x", server.url()))
        .await
        .unwrap_err();
    assert_eq!(other.code, ErrorCode::Invalid);
    assert_eq!(server.requests().len(), asked);
    // Asked again: from memory, no request.
    c.api
        .chapter_image(&item, &format!("{}ch1.png", server.url()))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), asked);
}
