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
}
