//! The media server over real loopback HTTP against a real store on disk.

use std::sync::Arc;

use sha2::Digest;
use stowaway_catalog::{
    Asset, AssetRole, Catalog, Collection, CollectionKind, Item, ItemKind, LibraryInfo, Sha256,
    Subscription, VerifiedCatalog,
};
use stowaway_media::MediaServer;
use stowaway_store::{ItemKey, Store};

const AUDIO: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const HTML: &[u8] = b"<script>fetch('/')</script>";
const SCRIPT: &[u8] = b"alert(document.cookie)";
const PDF: &[u8] = b"%PDF-1.4\n%%EOF\n";

fn sha(b: &[u8]) -> Sha256 {
    Sha256::from_digest(&sha2::Sha256::digest(b).into())
}

fn store(dir: &std::path::Path) -> Arc<Store> {
    let store = Store::open(dir).unwrap();
    store
        .subscribe(&Subscription {
            stowaway: 1,
            library: "lib".into(),
            title: None,
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
            mirrors: vec!["https://a.example/".into()],
            access: Default::default(),
        })
        .unwrap();
    let asset = |data: &[u8], role, mt: &str| Asset {
        role,
        sha256: sha(data),
        size: data.len() as u64,
        media_type: mt.into(),
        name: None,
        chunks: None,
    };
    let catalog = Catalog {
        format: 1,
        library: LibraryInfo {
            id: "lib".into(),
            title: "Lib".into(),
            description: None,
            artwork: None,
        },
        sequence: 1,
        generated_at: time::OffsetDateTime::UNIX_EPOCH,
        expires_at: time::OffsetDateTime::UNIX_EPOCH,
        mirrors: vec![],
        collections: vec![Collection {
            id: "show".into(),
            kind: CollectionKind::Show,
            title: "Show".into(),
            summary: None,
            artwork: Some(asset(PNG, AssetRole::Artwork, "image/png")),
            items: vec![Item {
                id: "e1".into(),
                kind: ItemKind::Episode,
                title: "E1".into(),
                summary: None,
                notes: None,
                notes_html: None,
                published_at: None,
                duration_ms: None,
                season: None,
                number: None,
                explicit: None,
                assets: vec![
                    asset(AUDIO, AssetRole::Media, "audio/ogg"),
                    asset(b"WEBVTT\n", AssetRole::Transcript, "text/vtt"),
                    asset(HTML, AssetRole::Attachment, "text/html"),
                    asset(SCRIPT, AssetRole::Attachment, "application/javascript"),
                    asset(PDF, AssetRole::Attachment, "application/pdf"),
                ],
            }],
        }],
    };
    store
        .apply_catalog(
            "lib",
            &VerifiedCatalog::unsigned(&catalog, stowaway_catalog::Limits::default()),
        )
        .unwrap();
    for data in [AUDIO, HTML, SCRIPT, PDF, PNG] {
        let s = sha(data);
        let mut w = store.blobs().begin(&s, data.len() as u64).unwrap();
        w.write(data).unwrap();
        w.finish().unwrap();
        store.mark_blob_present(&s, data.len() as u64).unwrap();
    }
    Arc::new(store)
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a show's cover";

const KEY: ItemKey<'static> = ItemKey {
    library: "lib",
    collection: "show",
    item: "e1",
};

#[tokio::test]
async fn serves_stored_media_by_item_with_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let server = MediaServer::start(store(dir.path()), &["tauri://localhost"])
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = server.asset_url(KEY, AssetRole::Media, 0);

    let r = client
        .get(&url)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "other origins get no CORS"
    );
    let r = client
        .get(&url)
        .header("Origin", "tauri://localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "tauri://localhost"
    );
    assert_eq!(r.bytes().await.unwrap(), AUDIO);

    let r = client
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 10-19/{}", AUDIO.len())
    );
    assert_eq!(r.bytes().await.unwrap(), &AUDIO[10..20]);

    let r = client
        .get(&url)
        .header("Range", "bytes=-6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), &AUDIO[AUDIO.len() - 6..]);

    let r = client
        .get(&url)
        .header("Range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    let r = client.head(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], AUDIO.len().to_string());
}

#[tokio::test]
async fn serves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let server = MediaServer::start(store(dir.path()), &[]).await.unwrap();
    assert!(server.addr().ip().is_loopback());
    let client = reqwest::Client::new();
    let get = |u: String| {
        let c = client.clone();
        async move { c.get(u).send().await.unwrap().status().as_u16() }
    };
    let base = server.base_url();
    let port = server.addr().port();
    // Wrong or missing token.
    assert_eq!(
        get(format!("http://127.0.0.1:{port}/lib/show/e1/media/0")).await,
        404
    );
    assert_eq!(
        get(format!(
            "http://127.0.0.1:{port}/{}/lib/show/e1/media/0",
            "0".repeat(48)
        ))
        .await,
        404
    );
    // The transcript is in the catalog but not downloaded: not served.
    assert_eq!(
        get(server.asset_url(KEY, AssetRole::Transcript, 0)).await,
        404
    );
    // Unknown items, roles, indexes and path tricks.
    for path in [
        "lib/show/e2/media/0",
        "lib/show/e1/media/1",
        "lib/show/e1/secrets/0",
        "lib/show/../../stowaway.db/media/0",
        "lib/show/..%2F..%2Fstowaway.db/media/0",
        "lib/show/e1/media/-1",
        "blobs/sha256/ab/cd",
    ] {
        assert_eq!(get(format!("{base}{path}")).await, 404, "{path}");
    }
    let r = client
        .post(server.asset_url(KEY, AssetRole::Media, 0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    drop(server);
    // Stopped with its owner.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(client
        .get(format!("{base}lib/show/e1/media/0"))
        .send()
        .await
        .is_err());
}

/// Whatever a catalog or feed declares, this origin sends only media,
/// images, PDF and plain text, with nosniff and a sandboxing CSP on every
/// response: an attachment declared `text/html` is never a page on
/// 127.0.0.1 (before, the declared type went out as it was).
#[tokio::test]
async fn declared_types_are_held_to_media_images_pdf_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = MediaServer::start(store(dir.path()), &[]).await.unwrap();
    let client = reqwest::Client::new();
    let at = |i| server.asset_url(KEY, AssetRole::Attachment, i);
    for (url, served, body) in [
        (at(0), "text/plain; charset=utf-8", HTML),
        (at(1), "application/octet-stream", SCRIPT),
        (at(2), "application/pdf", PDF),
        (
            server.asset_url(KEY, AssetRole::Media, 0),
            "audio/ogg",
            AUDIO,
        ),
    ] {
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["content-type"], served, "{url}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            r.headers()["content-security-policy"],
            "default-src 'none'; sandbox"
        );
        assert_eq!(r.bytes().await.unwrap(), body);
    }
    // Errors too.
    let r = client
        .get(format!("{}nothing", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers().contains_key("content-security-policy"));
    for (declared, served) in [
        ("video/mp4", "video/mp4"),
        ("IMAGE/PNG", "image/png"),
        ("text/vtt", "text/plain; charset=utf-8"),
        ("application/json+chapters", "text/plain; charset=utf-8"),
        ("text/html; charset=utf-8", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("image/svg+xml", "image/svg+xml"),
        ("nonsense", "application/octet-stream"),
    ] {
        assert_eq!(stowaway_media::served_type(declared), served, "{declared}");
    }
}

/// Artwork is served by hash, and only a stored file the index knows as
/// artwork: the hash of the audio, stored too, is not served there.
#[tokio::test]
async fn artwork_by_hash_and_nothing_else_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let server = MediaServer::start(store(dir.path()), &[]).await.unwrap();
    let r = reqwest::get(server.art_url(&sha(PNG))).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    for other in [AUDIO, PDF, b"never stored".as_slice()] {
        let r = reqwest::get(server.art_url(&sha(other))).await.unwrap();
        assert_eq!(r.status(), 404, "{:?}", std::str::from_utf8(other));
    }
    let bad = format!("{}art/../../etc/passwd", server.base_url());
    assert_eq!(reqwest::get(bad).await.unwrap().status(), 404);
    let wrong_token = server.art_url(&sha(PNG)).replace(
        &server.base_url(),
        &format!("http://{}/nottoken/", server.addr()),
    );
    assert_eq!(reqwest::get(wrong_token).await.unwrap().status(), 404);
}

/// A store whose one item's media (`data`) is not stored: it is arriving.
/// A store whose one item's media (`data`) has a chunk list of `chunk`
/// bytes a chunk in its catalog (format 2), nothing of it stored.
fn arriving_store(dir: &std::path::Path, data: &[u8], chunk: usize) -> Arc<Store> {
    let list: Vec<u8> = data
        .chunks(chunk)
        .flat_map(|c| <[u8; 32]>::from(sha2::Sha256::digest(c)))
        .collect();
    let store = Store::open(dir).unwrap();
    store
        .subscribe(&Subscription {
            stowaway: 1,
            library: "lib".into(),
            title: None,
            public_key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3".into(),
            mirrors: vec!["https://a.example/".into()],
            access: Default::default(),
        })
        .unwrap();
    let item = Item {
        id: "e1".into(),
        kind: ItemKind::Episode,
        title: "E1".into(),
        summary: None,
        notes: None,
        notes_html: None,
        published_at: None,
        duration_ms: None,
        season: None,
        number: None,
        explicit: None,
        assets: vec![Asset {
            role: AssetRole::Media,
            sha256: sha(data),
            size: data.len() as u64,
            media_type: "audio/ogg".into(),
            name: None,
            chunks: Some(stowaway_catalog::Chunks {
                size: chunk as u32,
                sha256: sha(&list),
            }),
        }],
    };
    let catalog = Catalog {
        format: 2,
        library: LibraryInfo {
            id: "lib".into(),
            title: "Lib".into(),
            description: None,
            artwork: None,
        },
        sequence: 1,
        generated_at: time::OffsetDateTime::UNIX_EPOCH,
        expires_at: time::OffsetDateTime::UNIX_EPOCH,
        mirrors: vec![],
        collections: vec![Collection {
            id: "show".into(),
            kind: CollectionKind::Show,
            title: "Show".into(),
            summary: None,
            artwork: None,
            items: vec![item],
        }],
    };
    store
        .apply_catalog(
            "lib",
            &VerifiedCatalog::unsigned(&catalog, stowaway_catalog::Limits::default()),
        )
        .unwrap();
    Arc::new(store)
}

/// Reads a response's body on until `body` holds `want` bytes (each piece
/// within 5 s).
async fn read_to(r: &mut reqwest::Response, body: &mut Vec<u8>, want: usize) {
    while body.len() < want {
        let piece = tokio::time::timeout(std::time::Duration::from_secs(5), r.chunk())
            .await
            .expect("the body goes on")
            .unwrap()
            .expect("not at its end");
        body.extend_from_slice(&piece);
    }
}

/// Where a player's request asked the download to fetch first, within 5 s.
async fn wanted_soon(store: &Store, s: &Sha256) -> u64 {
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(at) = store.wanted(s) {
                return at;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the download is asked for the chunk")
}

/// Waits until the download is asked for the chunk at `at` (an earlier
/// want may still be there for a moment).
async fn wanted_at(store: &Store, s: &Sha256, at: u64) {
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while store.wanted(s) != Some(at) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the download is asked for byte {at}"));
}

/// Play while it downloads: the media server serves the chunks of a file
/// still arriving that are checked, never the bytes of an unfinished chunk;
/// a range that starts where nothing is in yet asks the download for that
/// chunk and waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_checked_chunks_of_media_still_arriving_and_asks_for_the_rest() {
    use stowaway_store::Written;
    const C: usize = 65536;
    let data: Vec<u8> = (0..4 * C as u32)
        .map(|i| (i * 13 + i / 977) as u8)
        .collect();
    let digests: Vec<[u8; 32]> = data
        .chunks(C)
        .map(|c| sha2::Sha256::digest(c).into())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = arriving_store(dir.path(), &data, C);
    let s = sha(&data);
    let server = MediaServer::start(store.clone(), &[]).await.unwrap();
    let url = server.asset_url(KEY, AssetRole::Media, 0);
    let client = reqwest::Client::new();
    let get = |range: String| client.get(&url).header("Range", range).send();

    // No download of it on disk, none running: nothing to serve.
    assert_eq!(get("bytes=0-".into()).await.unwrap().status(), 404);
    // A download starting (the player pressed play): the request waits for
    // its first chunk, asking for the chunk it starts in.
    store.set_starting(&s, true);
    let early = tokio::spawn(get(format!("bytes={}-{}", 10, 20)));
    let asked = wanted_soon(&store, &s).await;
    assert_eq!(asked, 10);
    assert!(
        !early.is_finished(),
        "nothing is served before it is checked"
    );

    let mut p = store
        .blobs()
        .open_chunked(&s, data.len() as u64, C as u32, digests.into())
        .unwrap();
    assert_eq!(p.write(0, 0, &data[..C], 1).unwrap(), Written::Checked);
    // Before the download runs, its journal counts only as far as its
    // last mark (as after a crash): not yet.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !early.is_finished(),
        "a record past the last mark is not trusted"
    );
    p.checkpoint().unwrap();
    let r = early.await.unwrap().unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), &data[10..21]);
    store.set_starting(&s, false);
    assert_eq!(
        p.write(2, 0, &data[2 * C..3 * C], 1).unwrap(),
        Written::Checked
    );
    // Chunk 1's first 100 bytes come wrong (they fail when it is whole).
    let wrong = vec![0xAAu8; 100];
    assert_eq!(p.write(1, 0, &wrong, 1).unwrap(), Written::Partial);
    // With no download of it running in this process (after a crash, say),
    // only chunks made durable before the journal's last mark count.
    let size = data.len() as u64;
    let list = store.asset_chunks("lib", &s).unwrap().unwrap().sha256;
    let chunks = |all| store.blobs().chunks_in(&s, size, all, &list).unwrap().done;
    let other_list = stowaway_catalog::Sha256::digest(b"another library's list");
    assert_eq!(chunks(false), [true, false, false, false]);
    assert_eq!(chunks(true), [true, false, true, false]);
    // Chunks checked against one list count for nothing for another.
    assert!(store
        .blobs()
        .chunks_in(&s, size, true, &other_list)
        .is_none());
    store.set_arriving(&s, true);

    // A seek into chunk 2: served at once.
    let r = get(format!("bytes={}-{}", 2 * C + 10, 3 * C - 1))
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), &data[2 * C + 10..3 * C]);

    // From the start: the whole range is answered, and its body follows
    // the download. Chunk 0 goes at once; chunk 1 has 100 unchecked bytes,
    // so the body stops there and the download is asked for that chunk.
    let mut r = get("bytes=0-".into()).await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-{}/{}", 4 * C - 1, 4 * C)
    );
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    let mut body = Vec::new();
    read_to(&mut r, &mut body, C).await;
    assert_eq!(body, &data[..C]);
    wanted_at(&store, &s, C as u64).await;
    // A HEAD meanwhile is answered at once and asks the download nothing.
    let head = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        client
            .head(&url)
            .header("Range", format!("bytes={C}-"))
            .send(),
    )
    .await
    .expect("a HEAD does not wait")
    .unwrap();
    assert_eq!(head.status(), 206);
    assert_eq!(head.headers()["content-length"], (3 * C).to_string());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Chunk 1 fails when whole (never sent), then comes right: the body
    // goes on through chunk 2, and waits at chunk 3.
    assert_eq!(
        p.write(1, 100, &data[C + 100..2 * C], 1).unwrap(),
        Written::Bad { spliced: false }
    );
    assert_eq!(p.write(1, 0, &data[C..2 * C], 2).unwrap(), Written::Checked);
    read_to(&mut r, &mut body, 3 * C).await;
    assert_eq!(body, &data[..3 * C], "no unchecked byte was sent");
    wanted_at(&store, &s, 3 * C as u64).await;
    // The waiting body takes the last chunk once the file is stored.
    let mut h = p.prefix_hasher().unwrap();
    assert_eq!(p.write(3, 0, &data[3 * C..], 1).unwrap(), Written::Checked);
    h.hash_to(p.contiguous()).unwrap();
    p.finish(Some(h)).unwrap();
    store.mark_blob_present(&s, data.len() as u64).unwrap();
    read_to(&mut r, &mut body, 4 * C).await;
    assert_eq!(body, data);
    assert!(r.chunk().await.unwrap().is_none(), "the body ends there");
    // Once stored, it is served whole like any stored file.
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), data);
}
