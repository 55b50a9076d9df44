//! The publisher tool through its binary and library.

use std::path::Path;
use std::process::Command;

use stowaway_publish::{build, BuildOptions};

fn publish(args: &[&str], password: Option<&str>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stowaway-publish"));
    c.args(args).env_remove("STOWAWAY_KEY_PASSWORD");
    if let Some(p) = password {
        c.env("STOWAWAY_KEY_PASSWORD", p);
    }
    c.output().unwrap()
}

fn source(dir: &Path, media: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("a.ogg"), b"audio bytes").unwrap();
    std::fs::write(
        dir.join("library.toml"),
        format!(
            "[library]\nid = \"lib\"\ntitle = \"Lib\"\n[[collection]]\nid = \"c\"\nkind = \"show\"\ntitle = \"C\"\n\
             [[collection.item]]\nid = \"e1\"\ntitle = \"E1\"\nmedia = \"{media}\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn keygen_never_prints_or_overwrites_the_secret_key() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let out = publish(&["keygen", "--out", keys.to_str().unwrap()], None);
    assert!(out.status.success());
    let secret = std::fs::read_to_string(keys.join("stowaway.key")).unwrap();
    let secret_line = secret.lines().nth(1).unwrap();
    let printed = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(!printed.contains(secret_line));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.join("stowaway.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret key readable by others: {mode:o}");
    }
    let again = publish(&["keygen", "--out", keys.to_str().unwrap()], None);
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read_to_string(keys.join("stowaway.key")).unwrap(),
        secret
    );
}

#[test]
fn an_encrypted_key_needs_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    assert!(publish(
        &["keygen", "--out", keys.to_str().unwrap()],
        Some("hunter2")
    )
    .status
    .success());
    let src = tmp.path().join("src");
    source(&src, "a.ogg");
    let out_dir = tmp.path().join("mirror");
    let key = keys.join("stowaway.key");
    let args = [
        "build",
        "--key",
        key.to_str().unwrap(),
        "--source",
        src.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let no_pw = publish(&args, None);
    assert!(!no_pw.status.success());
    assert!(String::from_utf8_lossy(&no_pw.stderr).contains("STOWAWAY_KEY_PASSWORD"));
    assert!(!publish(&args, Some("wrong")).status.success());
    assert!(
        !out_dir.join("library.json").exists(),
        "nothing published with a bad key"
    );
    let ok = publish(&args, Some("hunter2"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out_dir.join("library.json.minisig").exists());
}

#[test]
fn a_manifest_cannot_publish_files_outside_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    stowaway_publish::keygen(&keys, None).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), b"private").unwrap();
    let src = tmp.path().join("src");
    source(&src, "../secret.txt");
    let out = tmp.path().join("mirror");
    let e = build(&BuildOptions {
        source: src,
        out: out.clone(),
        secret_key: keys.join("stowaway.key"),
        mirrors: vec![],
        refresh: false,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("inside the source folder"),
        "{e:#}"
    );
    assert!(!out.join("library.json").exists());
}

#[test]
fn rebuilding_bumps_the_sequence_only_on_change_or_refresh() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    stowaway_publish::keygen(&keys, None).unwrap();
    let src = tmp.path().join("src");
    source(&src, "a.ogg");
    let opts = |refresh| BuildOptions {
        source: src.clone(),
        out: tmp.path().join("mirror"),
        secret_key: keys.join("stowaway.key"),
        mirrors: vec!["https://m.example/".into()],
        refresh,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    };
    let first = build(&opts(false)).unwrap();
    assert_eq!((first.sequence, first.blobs_copied), (1, 1));
    let same = build(&opts(false)).unwrap();
    assert_eq!(
        (same.sequence, same.changed, same.blobs_copied),
        (1, false, 0)
    );
    let refreshed = build(&opts(true)).unwrap();
    assert_eq!((refreshed.sequence, refreshed.changed), (2, true));
    // Without `expires_in_days`, a catalog is fresh for 7 days (FORMAT.md
    // says why: it bounds how long a freeze goes untold).
    let c: stowaway_catalog::Catalog =
        serde_json::from_slice(&std::fs::read(tmp.path().join("mirror/library.json")).unwrap())
            .unwrap();
    assert_eq!(c.expires_at - c.generated_at, time::Duration::days(7));
}

/// The podcast feeds beside the catalog, read back by our own feed parser:
/// every mirror is an alternate source, every file carries its SHA-256 as
/// SRI, and the channel and items have what RSS 2.0 and podcast apps need.
#[test]
fn build_writes_podcast_feeds_listing_every_mirror_with_integrity() {
    use stowaway_feeds::HashAlgorithm;
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    stowaway_publish::keygen(&keys, None).unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for (f, bytes) in [
        ("l1.ogg", &b"lesson one audio"[..]),
        ("l2.ogg", b"lesson two audio"),
        ("e1.mp3", b"episode one audio & more"),
        ("l1.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n"),
    ] {
        std::fs::write(src.join(f), bytes).unwrap();
    }
    std::fs::write(
        src.join("library.toml"),
        "[library]\nid = \"acme\"\ntitle = \"Acme <Coaching> & Co\"\n\
         [[collection]]\nid = \"course\"\nkind = \"course\"\ntitle = \"First Deal\"\nsummary = \"From zero to closing\"\n\
         [[collection.item]]\nid = \"l1\"\ntitle = \"Mindset\"\nnotes = \"Escrow <protects> both sides\"\nmedia = \"l1.ogg\"\ntranscript = \"l1.vtt\"\nduration = \"5:00\"\n\
         [[collection.item]]\nid = \"l2\"\ntitle = \"Numbers\"\nmedia = \"l2.ogg\"\n\
         [[collection]]\nid = \"show\"\nkind = \"show\"\ntitle = \"Deal Room\"\n\
         [[collection.item]]\nid = \"e1\"\ntitle = \"Episode 1\"\npublished = \"2026-10-01\"\nmedia = \"e1.mp3\"\n",
    )
    .unwrap();
    let out = tmp.path().join("mirror");
    let mirrors = ["https://a.example/lib/", "http://b.example:8080/lib"];
    let o = build(&BuildOptions {
        source: src.clone(),
        out: out.clone(),
        secret_key: keys.join("stowaway.key"),
        mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
        refresh: false,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    assert_eq!(o.feeds, ["feeds/course.xml", "feeds/show.xml"]);
    let catalog: stowaway_catalog::Catalog =
        serde_json::from_slice(&std::fs::read(out.join("library.json")).unwrap()).unwrap();

    for c in &catalog.collections {
        let xml = std::fs::read(out.join(format!("feeds/{}.xml", c.id))).unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        for ns in [
            r#"xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd""#,
            r#"xmlns:podcast="https://podcastindex.org/namespace/1.0""#,
        ] {
            assert!(text.contains(ns), "{ns} declared");
        }
        let self_url =
            url::Url::parse(&format!("https://a.example/lib/feeds/{}.xml", c.id)).unwrap();
        let feed = stowaway_feeds::parse(&xml, &self_url).unwrap();
        // RSS 2.0: a channel has title, link and description.
        assert_eq!(feed.title.as_deref(), Some(c.title.as_str()));
        assert!(feed.link.is_some() && feed.description.is_some());
        assert!(text.contains("Acme &lt;Coaching&gt; &amp; Co"), "escaped");
        // (Readers treat tag-like text in titles as HTML, as real feeds need.)
        assert_eq!(feed.author.as_deref(), Some("Acme & Co"));
        assert_eq!(feed.episodes.len(), c.items.len());
        for (n, (item, ep)) in c.items.iter().zip(&feed.episodes).enumerate() {
            let media = item.media().unwrap();
            let path = stowaway_catalog::blob_path(&media.sha256);
            assert_eq!(ep.guid, format!("acme/{}/{}", c.id, item.id));
            assert_eq!(ep.title.as_deref(), Some(item.title.as_str()));
            let enc = ep.enclosure.as_ref().expect("an enclosure");
            assert_eq!(enc.url.as_str(), format!("https://a.example/lib/{path}"));
            assert_eq!(enc.length, Some(media.size));
            assert_eq!(enc.media_type.as_deref(), Some(media.media_type.as_str()));
            let alt = &ep.alternate_enclosures[0];
            let sources: Vec<&str> = alt.sources.iter().map(|u| u.as_str()).collect();
            assert_eq!(
                sources,
                [
                    format!("https://a.example/lib/{path}"),
                    format!("http://b.example:8080/lib/{path}")
                ]
            );
            assert_eq!(alt.integrity.len(), 1);
            assert_eq!(alt.integrity[0].algorithm, HashAlgorithm::Sha256);
            assert_eq!(hex::encode(&alt.integrity[0].digest), media.sha256.as_str());
            assert_eq!(
                ep.duration_ms.map(|d| d / 1000),
                item.duration_ms.map(|d| d / 1000)
            );
            assert_eq!(ep.published_at, item.published_at);
            if c.kind == stowaway_catalog::CollectionKind::Course {
                assert_eq!(ep.number, Some(n as u32 + 1), "a course is numbered");
            }
        }
    }
    let course = stowaway_feeds::parse(
        &std::fs::read(out.join("feeds/course.xml")).unwrap(),
        &url::Url::parse("https://a.example/lib/feeds/course.xml").unwrap(),
    )
    .unwrap();
    let l1 = &course.episodes[0];
    assert_eq!(l1.transcripts.len(), 1);
    assert_eq!(l1.transcripts[0].media_type.as_deref(), Some("text/vtt"));
    assert!(l1
        .notes_html
        .as_deref()
        .unwrap()
        .contains("Escrow &lt;protects&gt; both sides"));

    // Without mirror URLs there is nothing absolute to point at: no feeds.
    let out2 = tmp.path().join("mirror2");
    let o = build(&BuildOptions {
        source: src,
        out: out2.clone(),
        secret_key: keys.join("stowaway.key"),
        mirrors: vec![],
        refresh: false,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    assert!(o.feeds.is_empty() && !out2.join("feeds").exists());
}

/// A reader fetching while the publisher publishes never gets a catalog
/// whose signature it cannot find: whatever `library.json` it read, the
/// signature of exactly those bytes is at `signatures/<sha256>.minisig`
/// (written before `library.json` changes). Before, the catalog and its one
/// signature were two renames apart, and a reader between them saw a
/// mismatch.
#[test]
fn readers_never_see_a_catalog_without_its_signature() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use stowaway_catalog::{signature_path, verify_catalog, PublicKey, Sha256};

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    source(&src, "a.ogg");
    let keys = stowaway_publish::keygen(&tmp.path().join("keys"), None).unwrap();
    let key = PublicKey::parse(&keys.public_key_base64).unwrap();
    let out = tmp.path().join("mirror");
    let opts = BuildOptions {
        source: src.clone(),
        out: out.clone(),
        secret_key: keys.secret_key.clone(),
        mirrors: vec![],
        refresh: true,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    };
    build(&opts).unwrap();
    let stop = AtomicBool::new(false);
    let (reads, published) = std::thread::scope(|s| {
        let publisher = s.spawn(|| {
            let mut n = 0;
            while n < 60 {
                build(&opts).unwrap();
                n += 1;
            }
            stop.store(true, Ordering::Relaxed);
            n
        });
        let mut reads = 0;
        while !stop.load(Ordering::Relaxed) || reads < 20 {
            let catalog = std::fs::read(out.join("library.json")).unwrap();
            let sig = std::fs::read(out.join(signature_path(&Sha256::digest(&catalog))))
                .expect("the signature of the catalog just read is there");
            let v = verify_catalog(&catalog, &sig, &key, Some("lib")).expect("they match");
            assert!(v.sequence() >= 1);
            reads += 1;
        }
        (reads, publisher.join().unwrap())
    });
    assert_eq!(published, 60);
    assert!(reads >= 20);
    let last = std::fs::read(out.join("library.json")).unwrap();
    let v = verify_catalog(
        &last,
        &std::fs::read(out.join("library.json.minisig")).unwrap(),
        &key,
        Some("lib"),
    )
    .unwrap();
    assert_eq!(v.sequence(), 61, "every --refresh build is a new sequence");
}

/// `build --format 2` gives each file over 2 MiB a chunk list (1 MiB
/// chunks, the list a blob of its own in the tree) and leaves small files
/// whole; format 1 (the default, what every client reads) has none; a
/// format this publisher does not write is refused.
#[test]
fn format_2_writes_chunk_lists_for_large_files() {
    use sha2::{Digest, Sha256 as Hasher};
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    assert!(publish(&["keygen", "--out", keys.to_str().unwrap()], None)
        .status
        .success());
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let big: Vec<u8> = (0..(5 << 20) + 123).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(src.join("big.ogg"), &big).unwrap();
    std::fs::write(src.join("small.ogg"), b"small").unwrap();
    std::fs::write(
        src.join("library.toml"),
        "[library]\nid = \"lib\"\ntitle = \"Lib\"\n[[collection]]\nid = \"c\"\nkind = \"show\"\ntitle = \"C\"\n\
         [[collection.item]]\nid = \"big\"\ntitle = \"Big\"\nmedia = \"big.ogg\"\n\
         [[collection.item]]\nid = \"small\"\ntitle = \"Small\"\nmedia = \"small.ogg\"\n",
    )
    .unwrap();
    let run = |out: &Path, format: &str| {
        publish(
            &[
                "build",
                "--key",
                keys.join("stowaway.key").to_str().unwrap(),
                "--source",
                src.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--format",
                format,
            ],
            None,
        )
    };
    let read = |out: &Path| -> stowaway_catalog::Catalog {
        serde_json::from_slice(&std::fs::read(out.join("library.json")).unwrap()).unwrap()
    };

    let one = tmp.path().join("one");
    assert!(run(&one, "1").status.success());
    let c = read(&one);
    assert_eq!(c.format, 1);
    assert!(c.collections[0]
        .items
        .iter()
        .all(|i| i.assets[0].chunks.is_none()));

    let two = tmp.path().join("two");
    assert!(run(&two, "2").status.success());
    let c = read(&two);
    assert_eq!(c.format, 2);
    let big_asset = &c.collections[0].items[0].assets[0];
    let small_asset = &c.collections[0].items[1].assets[0];
    assert!(small_asset.chunks.is_none(), "small files stay whole");
    let chunks = big_asset.chunks.clone().expect("a chunk list");
    assert_eq!(chunks.size, 1 << 20);
    let list = std::fs::read(two.join(stowaway_catalog::blob_path(&chunks.sha256))).unwrap();
    let digests = chunks.parse_list(&list, big_asset.size).unwrap();
    assert_eq!(digests.len(), 6);
    for (i, d) in digests.iter().enumerate() {
        let r = chunks.range(i as u64, big.len() as u64);
        let want: [u8; 32] = Hasher::digest(&big[r.start as usize..r.end as usize]).into();
        assert_eq!(d, &want, "chunk {i}");
    }
    assert_eq!(
        big_asset.sha256,
        stowaway_catalog::Sha256::digest(&big),
        "the file's identity"
    );

    let bad = run(&tmp.path().join("three"), "3");
    assert!(!bad.status.success());
}

/// What the app's updater checks of a signature (the same crate Tauri's
/// updater uses): the public key file's text and the manifest's signature,
/// each base64 of the text, over the installer's bytes; then the version
/// the trusted comment signs.
fn updater_accepts(pubkey_file: &Path, signature_b64: &str, bytes: &[u8], version: &str) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pk_text = std::fs::read_to_string(pubkey_file).unwrap();
    let pk = minisign_verify::PublicKey::decode(&pk_text).unwrap();
    let sig_text = String::from_utf8(b64.decode(signature_b64).unwrap()).unwrap();
    let Ok(sig) = minisign_verify::Signature::decode(&sig_text) else {
        return false;
    };
    pk.verify(bytes, &sig, true).is_ok()
        && sig
            .trusted_comment()
            .split('\t')
            .any(|f| f == format!("version:{version}"))
}

#[test]
fn release_signs_each_installer_and_writes_the_manifest_last() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let other = tmp.path().join("other");
    assert!(publish(&["keygen", "--out", keys.to_str().unwrap()], None)
        .status
        .success());
    assert!(publish(&["keygen", "--out", other.to_str().unwrap()], None)
        .status
        .success());
    let built = tmp.path().join("built");
    std::fs::create_dir_all(&built).unwrap();
    let deb = built.join("Stowaway_0.2.0_amd64.deb");
    let rpm = built.join("Stowaway-0.2.0-1.x86_64.rpm");
    let app = built.join("Stowaway.app.tar.gz");
    for (p, bytes) in [
        (&deb, &b"deb bytes"[..]),
        (&rpm, b"rpm bytes"),
        (&app, b"app"),
    ] {
        std::fs::write(p, bytes).unwrap();
    }
    let notes = tmp.path().join("notes.md");
    std::fs::write(&notes, "Faster downloads.").unwrap();
    let mirror = tmp.path().join("mirror");
    let key = keys.join("stowaway.key");
    let release = |version: &str, installers: &[String]| {
        let mut args = vec![
            "release".to_owned(),
            "--key".into(),
            key.to_str().unwrap().into(),
            "--version".into(),
            version.into(),
            "--notes".into(),
            notes.to_str().unwrap().into(),
            "--out".into(),
            mirror.to_str().unwrap().into(),
        ];
        args.extend(installers.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        publish(&args, None)
    };
    let path = |p: &Path| p.to_str().unwrap().to_owned();

    // A macOS bundle's name says no architecture: refused without one, and
    // nothing is written.
    let out = release("0.2.0", &[path(&deb), path(&app)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("darwin-aarch64="));
    assert!(!mirror.join("updates").exists());

    let out = release(
        "0.2.0",
        &[
            path(&deb),
            path(&rpm),
            format!("darwin-aarch64={}", path(&app)),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join("updates/latest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["version"], "0.2.0");
    assert_eq!(manifest["notes"], "Faster downloads.");
    assert!(manifest["pub_date"]
        .as_str()
        .is_some_and(|d| time::OffsetDateTime::parse(
            d,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()));
    let platforms = manifest["platforms"].as_object().unwrap();
    let mut targets: Vec<&str> = platforms.keys().map(String::as_str).collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        ["darwin-aarch64", "linux-x86_64-deb", "linux-x86_64-rpm"]
    );
    for (target, file, bytes) in [
        (
            "linux-x86_64-deb",
            "Stowaway_0.2.0_amd64.deb",
            &b"deb bytes"[..],
        ),
        (
            "linux-x86_64-rpm",
            "Stowaway-0.2.0-1.x86_64.rpm",
            b"rpm bytes",
        ),
        ("darwin-aarch64", "Stowaway.app.tar.gz", b"app"),
    ] {
        let p = &platforms[target];
        assert_eq!(p["url"], format!("0.2.0/{file}"), "relative to updates/");
        assert_eq!(
            std::fs::read(mirror.join("updates/0.2.0").join(file)).unwrap(),
            bytes
        );
        let sig = p["signature"].as_str().unwrap();
        assert!(updater_accepts(
            &keys.join("stowaway.pub"),
            sig,
            bytes,
            "0.2.0"
        ));
        // Not with another key, nor for other bytes, nor as another version.
        assert!(!updater_accepts(
            &other.join("stowaway.pub"),
            sig,
            bytes,
            "0.2.0"
        ));
        assert!(!updater_accepts(
            &keys.join("stowaway.pub"),
            sig,
            b"tampered",
            "0.2.0"
        ));
        assert!(!updater_accepts(
            &keys.join("stowaway.pub"),
            sig,
            bytes,
            "0.3.0"
        ));
    }

    // A release never goes back: an older version is refused and the
    // manifest stays; a newer one replaces it.
    let before = std::fs::read(mirror.join("updates/latest.json")).unwrap();
    let out = release("0.1.9", &[path(&deb)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("never goes back"));
    assert_eq!(
        std::fs::read(mirror.join("updates/latest.json")).unwrap(),
        before
    );
    // An installer that says it is another version is the wrong file.
    let out = release("0.2.1", &[path(&deb)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is version 0.2.0, not 0.2.1"));
    let deb_021 = built.join("Stowaway_0.2.1_amd64.deb");
    std::fs::write(&deb_021, b"deb 0.2.1").unwrap();
    assert!(release("0.2.1", &[path(&deb_021)]).status.success());
    // A version once released is those bytes.
    std::fs::write(&deb_021, b"another deb 0.2.1").unwrap();
    let out = release("0.2.1", &[path(&deb_021)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("was released with another"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join("updates/latest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["version"], "0.2.1");

    // Not a version; two installers for one target.
    assert!(!release("latest", &[path(&deb)]).status.success());
    let out = release("0.2.1", &[path(&deb_021), path(&deb_021)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("two installers for linux-x86_64-deb"));
    // Two installers of one name (each macOS build's bundle, say): one
    // would overwrite the other in the version's folder. Refused before
    // anything is written.
    let x86 = built.join("x86");
    std::fs::create_dir_all(&x86).unwrap();
    std::fs::write(x86.join("Stowaway.app.tar.gz"), b"intel app").unwrap();
    let out = release(
        "0.2.2",
        &[
            format!("darwin-aarch64={}", path(&app)),
            format!("darwin-x86_64={}", path(&x86.join("Stowaway.app.tar.gz"))),
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("two installers named Stowaway.app.tar.gz"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!mirror.join("updates/0.2.2").exists());
}
