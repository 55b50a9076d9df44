//! The app's own updates from the mirrors of the member's libraries, against
//! real loopback mirrors: a dead and a black-holed mirror cost nothing while
//! others answer, a tampered installer is refused and the next mirror's is
//! taken, and only an installer signed for the version offered, with the
//! app's update key, newer than the running app, is ever offered.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stowaway_mirrors::ClientConfig;
use stowaway_store::Store;
use stowaway_sync::{check_installer, Engine};
use stowaway_testmirror::{refused_url, Fault, PathMatch, Rule, TestMirror};

const DEB: &str = "Stowaway_0.2.0_amd64.deb";

/// An update key pair in `dir`; the public key as the app's config holds it
/// (base64 of the .pub file's text).
fn update_key(dir: &Path) -> (std::path::PathBuf, String) {
    use base64::Engine as _;
    let k = stowaway_publish::keygen(dir, None).unwrap();
    let text = std::fs::read_to_string(&k.public_key).unwrap();
    (
        k.secret_key,
        base64::engine::general_purpose::STANDARD.encode(text),
    )
}

fn release(mirror: &Path, key: &Path, version: &str, installer: &Path) {
    stowaway_publish::release(&stowaway_publish::ReleaseOptions {
        out: mirror.to_owned(),
        secret_key: key.to_owned(),
        version: version.into(),
        notes: Some(format!("Stowaway {version}")),
        bundles: vec![(None, installer.to_owned())],
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_comes_from_whichever_mirror_serves_a_checked_installer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let dead = refused_url();
    let black = TestMirror::start(root.join("mirror")).unwrap();
    let liar = TestMirror::start(root.join("mirror")).unwrap();
    let honest = TestMirror::start(root.join("mirror")).unwrap();
    let mut sub = common::publish(root, "acme", &dead);
    sub.mirrors.extend([black.url(), liar.url(), honest.url()]);
    let (key, pubkey) = update_key(&root.join("update-key"));
    let installer = root.join(DEB);
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&installer, &bytes).unwrap();
    release(&root.join("mirror"), &key, "0.2.0", &installer);
    black.set_faults(vec![Rule::all(Fault::BlackHole)]);
    liar.set_faults(vec![Rule::path(
        PathMatch::exact(format!("updates/0.2.0/{DEB}")),
        Fault::FlipBytes,
    )]);
    // The honest mirror answers a moment after the liar: the liar's
    // installer is the first one tried.
    honest.set_faults(vec![Rule::path(
        PathMatch::exact("updates/latest.json"),
        Fault::Delay(Duration::from_millis(150)),
    )]);
    let store = Arc::new(Store::open(&root.join("member")).unwrap());
    let engine = Engine::new(store, ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();

    // Found while the first mirror refuses and the second never answers:
    // not after the check's deadline (15 s), but once two have answered.
    let t = Instant::now();
    let found = engine
        .find_update("0.1.0")
        .await
        .unwrap()
        .expect("0.2.0 is offered");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(found.offers.len(), 1, "one manifest, served by two mirrors");
    let offer = &found.offers[0];
    assert_eq!(offer.version(), "0.2.0");
    assert_eq!(offer.manifest.notes.as_deref(), Some("Stowaway 0.2.0"));
    let order: Vec<&str> = offer.mirrors.iter().map(|(_, u)| u.as_str()).collect();
    assert_eq!(order, [liar.url().as_str(), honest.url().as_str()]);
    // The manifest the app's updater reads: absolute URLs on its first mirror.
    let on = offer.manifest_json().unwrap();
    assert_eq!(
        on["platforms"]["linux-x86_64-deb"]["url"],
        format!("{}updates/0.2.0/{DEB}", liar.url())
    );

    // The liar's installer fails its signature: refused, and the honest
    // mirror's is taken.
    let got = engine
        .fetch_update(&found, offer, "linux-x86_64-deb", &pubkey)
        .await
        .unwrap();
    assert_eq!(got.bytes, bytes);
    assert_eq!(got.mirror, honest.url());
    assert!(
        got.refused
            .iter()
            .any(|r| r.starts_with(&liar.url()) && r.contains("refused")),
        "{:?}",
        got.refused
    );

    // With another key (a release the app's publisher did not sign),
    // nothing is taken.
    let (_, other) = update_key(&root.join("other-key"));
    let e = engine
        .fetch_update(&found, offer, "linux-x86_64-deb", &other)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("refused"), "{e}");

    // Nothing newer than the running app is offered.
    assert!(engine.find_update("0.2.0").await.unwrap().is_none());
    assert!(engine.find_update("1.0.0").await.unwrap().is_none());
}

/// A mirror serving an older installer, validly signed for its own version,
/// as the newer release: refused, whatever the manifest says.
#[test]
fn an_older_signed_installer_cannot_pose_as_a_newer_release() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, pubkey) = update_key(&tmp.path().join("key"));
    let old = tmp.path().join("Stowaway_0.1.5_amd64.deb");
    std::fs::write(&old, b"the old installer").unwrap();
    release(&tmp.path().join("mirror"), &key, "0.1.5", &old);
    let m: stowaway_catalog::UpdateManifest = serde_json::from_slice(
        &std::fs::read(tmp.path().join("mirror/updates/latest.json")).unwrap(),
    )
    .unwrap();
    let sig = &m.platforms["linux-x86_64-deb"].signature;
    let name = Some("Stowaway_0.1.5_amd64.deb");
    assert_eq!(
        check_installer(b"the old installer", sig, &pubkey, "0.1.5", name),
        Ok(())
    );
    let e = check_installer(b"the old installer", sig, &pubkey, "0.2.0", name).unwrap_err();
    assert!(e.contains("signed for 0.1.5"), "{e}");
    assert!(check_installer(b"other bytes", sig, &pubkey, "0.1.5", name).is_err());
    // Another platform's installer, signed, posing as this one's.
    let e = check_installer(
        b"the old installer",
        sig,
        &pubkey,
        "0.1.5",
        Some("Stowaway-0.1.5-1.x86_64.rpm"),
    )
    .unwrap_err();
    assert!(
        e.contains("the signature is for Stowaway_0.1.5_amd64.deb"),
        "{e}"
    );
}

/// A hostile mirror that answers first with a bogus release (a version
/// nothing has, a signature of nothing) costs its own offer only: the
/// honest release is offered beside it, and its installer comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bogus_offer_does_not_hold_back_the_real_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let hostile = TestMirror::start(root.join("mirror")).unwrap();
    let honest = TestMirror::start(root.join("mirror")).unwrap();
    let mut sub = common::publish(root, "acme", &hostile.url());
    sub.mirrors.push(honest.url());
    let (key, pubkey) = update_key(&root.join("update-key"));
    let installer = root.join(DEB);
    std::fs::write(&installer, b"the real 0.2.0").unwrap();
    release(&root.join("mirror"), &key, "0.2.0", &installer);
    // The hostile mirror's own tree: a 9.9.9 whose installer is nowhere.
    let bogus = root.join("bogus");
    std::fs::create_dir_all(bogus.join("updates")).unwrap();
    std::fs::write(
        bogus.join("updates/latest.json"),
        r#"{"version":"9.9.9","pub_date":"2026-12-05T10:00:00Z","platforms":{"linux-x86_64-deb":{"signature":"c2ln","url":"9.9.9/Stowaway_9.9.9_amd64.deb"}}}"#,
    )
    .unwrap();
    hostile.set_faults(vec![Rule::path(
        PathMatch::prefix("updates/"),
        Fault::ServeFrom(bogus),
    )]);
    let store = Arc::new(Store::open(&root.join("member")).unwrap());
    let engine = Engine::new(store, ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    let found = engine.find_update("0.1.0").await.unwrap().unwrap();
    let versions: Vec<&str> = found.offers.iter().map(|o| o.version()).collect();
    assert_eq!(
        versions,
        ["9.9.9", "0.2.0"],
        "newest first, the real one too"
    );
    let bogus = engine
        .fetch_update(&found, &found.offers[0], "linux-x86_64-deb", &pubkey)
        .await;
    assert!(bogus.is_err());
    let real = engine
        .fetch_update(&found, &found.offers[1], "linux-x86_64-deb", &pubkey)
        .await
        .unwrap();
    assert_eq!(real.bytes, b"the real 0.2.0");
    assert_eq!(real.mirror, honest.url());
}
