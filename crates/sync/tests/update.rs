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
    assert_eq!(found.version, "0.2.0");
    assert_eq!(found.notes.as_deref(), Some("Stowaway 0.2.0"));
    let order: Vec<&str> = found.sources.iter().map(|(_, u)| u.as_str()).collect();
    assert_eq!(&order[..2], [liar.url().as_str(), honest.url().as_str()]);
    // The manifest the app's updater reads: absolute URLs on one mirror.
    let on: serde_json::Value =
        serde_json::from_str(&found.manifest_on(&honest.url()).unwrap()).unwrap();
    assert_eq!(
        on["platforms"]["linux-x86_64-deb"]["url"],
        format!("{}updates/0.2.0/{DEB}", honest.url())
    );

    // The liar's installer fails its signature: refused, and the honest
    // mirror's is taken.
    let got = engine
        .fetch_update(&found, "linux-x86_64-deb", &pubkey)
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
        .fetch_update(&found, "linux-x86_64-deb", &other)
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
    assert_eq!(
        check_installer(b"the old installer", sig, &pubkey, "0.1.5"),
        Ok(())
    );
    let e = check_installer(b"the old installer", sig, &pubkey, "0.2.0").unwrap_err();
    assert!(e.contains("signed for 0.1.5"), "{e}");
    assert!(check_installer(b"other bytes", sig, &pubkey, "0.1.5").is_err());
}
