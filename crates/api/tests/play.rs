//! Play now, through the shared use case: an item not downloaded plays at
//! once while it arrives. A real signed library in catalog format 2 on a
//! real loopback mirror that sends 2 MB/s per connection, a real cache, the
//! real media server; the player is an HTTP client asking for ranges as a
//! media element does.

use std::sync::Arc;

use stowaway_api::{Api, ErrorCode, ItemRef, Keyring};
use stowaway_catalog::{blob_path, Catalog};
use stowaway_media::MediaServer;
use stowaway_mirrors::{AccessToken, ClientConfig};
use stowaway_secrets::SecretsError;
use stowaway_store::Store;
use stowaway_sync::{Engine, SyncOptions};
use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
use tokio_util::sync::CancellationToken;

/// No private library here: the keyring is never asked.
struct NoKeyring;

impl Keyring for NoKeyring {
    fn load(&self, _: &str, _: &[String]) -> Result<Option<AccessToken>, SecretsError> {
        Ok(None)
    }
    fn store(&self, _: &str, _: &AccessToken) -> Result<(), SecretsError> {
        Ok(())
    }
    fn forget(&self, _: &str) -> Result<bool, SecretsError> {
        Ok(false)
    }
}

/// A course with one 12 MiB lesson, published in format 2.
fn publish(root: &std::path::Path, url: &str) -> (stowaway_catalog::Subscription, Vec<u8>) {
    let source = root.join("source");
    std::fs::create_dir_all(source.join("media")).unwrap();
    let data: Vec<u8> = (0..12u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(source.join("media/long.ogg"), &data).unwrap();
    std::fs::write(
        source.join("library.toml"),
        "[library]\nid = \"acme\"\ntitle = \"Acme\"\n\n[[collection]]\nid = \"course\"\nkind = \"course\"\ntitle = \"Course\"\n\n[[collection.item]]\nid = \"long\"\ntitle = \"A long lesson\"\nmedia = \"media/long.ogg\"\n",
    )
    .unwrap();
    let keys = stowaway_publish::keygen(&root.join("keys"), None).unwrap();
    stowaway_publish::build(&stowaway_publish::BuildOptions {
        source,
        out: root.join("mirror"),
        secret_key: keys.secret_key,
        mirrors: vec![],
        refresh: false,
        format: 2,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    let sub = stowaway_catalog::Subscription {
        stowaway: 1,
        library: "acme".into(),
        title: None,
        public_key: keys.public_key_base64,
        mirrors: vec![url.to_owned()],
        access: Default::default(),
    };
    (sub, data)
}

/// The first bytes a range request gets, within 10 s.
async fn first_bytes(client: &reqwest::Client, url: &str, from: u64) -> (u16, String, Vec<u8>) {
    let mut r = client
        .get(url)
        .header("Range", format!("bytes={from}-"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let range = r
        .headers()
        .get("content-range")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let piece = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
        .await
        .expect("bytes within 10 s")
        .unwrap()
        .unwrap_or_default();
    (status, range, piece.to_vec())
}

/// An item that is not downloaded (its course downloads only what the
/// member asks for) says it streams and has no media URL; "play" starts
/// its download and gives one, which serves the start and, at once too, a
/// place 60 % in; the file is then stored and kept. Paused downloads refuse
/// it with their own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_now_starts_the_download_and_streams_what_has_a_chunk_list() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirror")).unwrap();
    let mirror = TestMirror::start(tmp.path().join("mirror")).unwrap();
    let (sub, data) = publish(tmp.path(), &mirror.url());
    let catalog: Catalog =
        serde_json::from_slice(&std::fs::read(tmp.path().join("mirror/library.json")).unwrap())
            .unwrap();
    let media = catalog.collections[0].items[0].assets[0].clone();
    assert!(media.chunks.is_some(), "format 2 gives it a chunk list");
    mirror.set_faults(vec![Rule::path(
        PathMatch::exact(blob_path(&media.sha256)),
        Fault::Trickle {
            bytes_per_sec: 2_000_000,
        },
    )]);
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let api = Api::new(engine.clone(), Arc::new(NoKeyring));
    let catalog_only = SyncOptions {
        catalog_only: true,
        ..SyncOptions::default()
    };
    let synced = engine
        .sync(&catalog_only, &CancellationToken::new())
        .await
        .unwrap();
    assert!(synced.ok());
    api.set_download_mode("acme", "course", stowaway_api::DownloadMode::Off)
        .unwrap();
    let server = MediaServer::start(store.clone(), &[]).await.unwrap();
    let item = ItemRef {
        library: "acme".into(),
        collection: "course".into(),
        item: "long".into(),
    };
    let before = api.item_detail(&item, Some(&server)).unwrap();
    assert!(before.streams);
    assert_eq!(before.media_url, None);

    api.set_downloads_paused(true).unwrap();
    let e = api.play_now(&item, Some(&server)).err().expect("paused");
    assert_eq!(e.code, ErrorCode::Paused);
    api.set_downloads_paused(false).unwrap();

    let (detail, fetch) = api.play_now(&item, Some(&server)).unwrap();
    let url = detail.media_url.expect("a media URL while it arrives");
    let fetch = tokio::spawn(fetch.expect("its download").run());
    let client = reqwest::Client::new();
    let (status, range, piece) = first_bytes(&client, &url, 0).await;
    assert_eq!(status, 206);
    assert_eq!(range, format!("bytes 0-{}/{}", data.len() - 1, data.len()));
    assert_eq!(piece, &data[..piece.len()]);
    let at = data.len() as u64 / 5 * 3;
    let (status, _, piece) = first_bytes(&client, &url, at).await;
    assert_eq!(status, 206);
    assert_eq!(piece, &data[at as usize..at as usize + piece.len()]);
    // Reopened meanwhile, the item still has its URL.
    assert_eq!(
        api.item_detail(&item, Some(&server)).unwrap().media_url,
        Some(url.clone())
    );

    let size = tokio::time::timeout(std::time::Duration::from_secs(60), fetch)
        .await
        .expect("the download ends")
        .unwrap()
        .unwrap();
    assert_eq!(size, data.len() as u64);
    assert!(store.has_blob(&media.sha256).unwrap());
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), data);
    // Kept: the member asked for it by playing it.
    let downloads = api.downloads().unwrap();
    assert_eq!(downloads.usage.files_queued, 0);
    let synced = engine
        .sync(&SyncOptions::default(), &CancellationToken::new())
        .await
        .unwrap();
    assert!(store.has_blob(&media.sha256).unwrap(), "{synced:?}");
}

/// A podcast episode that no digest checks plays from the front as its
/// bytes come (as in any podcast app), and is kept once whole; one with a
/// `podcast:integrity` digest plays only once whole and checked. A real RSS
/// feed and its enclosures on a loopback mirror sending 1 MB/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_episode_without_a_digest_plays_from_the_front_as_it_comes() {
    use base64::Engine as _;
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("host");
    std::fs::create_dir_all(root.join("media")).unwrap();
    let data = |n: u32| -> Vec<u8> {
        (0..4u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(n) >> 11) as u8)
            .collect()
    };
    let (plain, checked) = (data(1), data(2));
    std::fs::write(root.join("media/e1.mp3"), &plain).unwrap();
    std::fs::write(root.join("media/e2.mp3"), &checked).unwrap();
    let mirror = TestMirror::start(&root).unwrap();
    let url = mirror.url();
    let sri = base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&checked));
    std::fs::write(
        root.join("feed.xml"),
        format!(
            r#"<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Deal Room</title>
<item><guid>ep-1</guid><title>Plain</title><enclosure url="{url}media/e1.mp3" length="{len}" type="audio/mpeg"/></item>
<item><guid>ep-2</guid><title>Checked</title><enclosure url="{url}media/e2.mp3" length="{len}" type="audio/mpeg"/>
<podcast:alternateEnclosure type="audio/mpeg" length="{len}"><podcast:source uri="{url}media/e2.mp3"/><podcast:integrity type="sri" value="sha384-{sri}"/></podcast:alternateEnclosure></item>
</channel></rss>"#,
            len = plain.len()
        ),
    )
    .unwrap();
    mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("media/"),
        Fault::Trickle {
            bytes_per_sec: 1_000_000,
        },
    )]);
    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    let stowaway_sync::Source::Feed(feed) =
        engine.read_source(&format!("{url}feed.xml")).await.unwrap()
    else {
        panic!("not read as a feed")
    };
    let library = engine.subscribe_feed(&feed).unwrap().library;
    let api = Api::new(engine.clone(), Arc::new(NoKeyring));
    let catalog_only = SyncOptions {
        catalog_only: true,
        ..SyncOptions::default()
    };
    assert!(engine
        .sync(&catalog_only, &CancellationToken::new())
        .await
        .unwrap()
        .ok());
    api.set_download_mode(
        &library,
        stowaway_sync::FEED_COLLECTION,
        stowaway_api::DownloadMode::Off,
    )
    .unwrap();
    let server = MediaServer::start(store.clone(), &[]).await.unwrap();
    let item = |guid: &str| ItemRef {
        library: library.clone(),
        collection: stowaway_sync::FEED_COLLECTION.into(),
        item: stowaway_sync::item_id(guid),
    };
    // Up next says which of them plays at once (the page then streams it).
    for (guid, streams) in [("ep-2", false), ("ep-1", true)] {
        api.queue_clear().unwrap();
        api.queue_add(&item(guid), stowaway_api::QueuePlace::End)
            .unwrap();
        let up = api.up_next(None).unwrap().expect("queued");
        assert!(!up.playable, "{guid} is not downloaded");
        assert_eq!(up.streams, streams, "{guid}");
    }
    api.queue_clear().unwrap();
    let with_digest = api.item_detail(&item("ep-2"), Some(&server)).unwrap();
    assert!(!with_digest.streams, "a digest checks it whole first");
    let (detail, fetch) = api.play_now(&item("ep-2"), Some(&server)).unwrap();
    assert_eq!(detail.media_url, None, "not before it is checked");
    drop(fetch);

    let before = api.item_detail(&item("ep-1"), Some(&server)).unwrap();
    assert!(before.streams);
    assert_eq!(before.media_url, None);
    let (detail, fetch) = api.play_now(&item("ep-1"), Some(&server)).unwrap();
    let url = detail.media_url.expect("a media URL while it comes");
    let fetch = tokio::spawn(fetch.expect("its download").run());
    let client = reqwest::Client::new();
    let mut r = client
        .get(&url)
        .header("Range", "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    // The first mebibyte, as it comes (at 1 MB/s: before the file is whole).
    let mut body = Vec::new();
    while body.len() < 1 << 20 {
        let piece = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
            .await
            .expect("bytes as they come")
            .unwrap()
            .expect("more");
        body.extend_from_slice(&piece);
    }
    assert_eq!(body, &plain[..body.len()]);
    assert!(
        !store.has_blob(&sha_of(&plain)).unwrap(),
        "played before it was whole"
    );
    // The response follows it to its end, then it is stored under its hash.
    while let Some(piece) = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
        .await
        .expect("bytes as they come")
        .unwrap()
    {
        body.extend_from_slice(&piece);
    }
    assert_eq!(body, plain);
    let size = tokio::time::timeout(std::time::Duration::from_secs(30), fetch)
        .await
        .expect("the download ends")
        .unwrap()
        .unwrap();
    assert_eq!(size, plain.len() as u64);
    assert!(store.has_blob(&sha_of(&plain)).unwrap());
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), plain);
}

/// The SHA-256 of some bytes, as the store names files.
fn sha_of(bytes: &[u8]) -> stowaway_catalog::Sha256 {
    use sha2::Digest;
    stowaway_catalog::Sha256::from_digest(&sha2::Sha256::digest(bytes).into())
}
