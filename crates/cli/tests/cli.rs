//! The `stowaway` binary's contract: data dir selection, exit codes, JSON.

use std::process::Command;

fn stowaway(args: &[&str], env_dir: Option<&std::path::Path>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stowaway"));
    c.args(args).env_remove("STOWAWAY_DATA_DIR");
    if let Some(d) = env_dir {
        c.env("STOWAWAY_DATA_DIR", d);
    }
    c.output().unwrap()
}

#[test]
fn data_dir_from_flag_or_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("flag");
    let out = stowaway(
        &["--data-dir", flag.to_str().unwrap(), "status", "--json"],
        None,
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data_dir"], flag.to_str().unwrap());
    assert!(flag.join("stowaway.db").exists());

    let env = tmp.path().join("env");
    let out = stowaway(&["status", "--json"], Some(&env));
    assert!(out.status.success());
    assert!(env.join("stowaway.db").exists());
}

#[test]
fn errors_exit_1_with_json_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stowaway(
        &["--data-dir", tmp.path().to_str().unwrap(), "--json", "sync"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("no subscriptions"));
}

#[test]
fn search_on_an_empty_cache_is_empty_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stowaway(
        &[
            "--data-dir",
            tmp.path().to_str().unwrap(),
            "search",
            "escrow",
            "--json",
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

/// `--json` failures carry the stable public code (docs/API.md) and the
/// core's finer one; each code the CLI can meet here, through the process.
#[test]
fn json_errors_carry_their_stable_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let d = dir.to_str().unwrap();
    let fail = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--data-dir", d, "--json"];
        all.extend_from_slice(args);
        let out = stowaway(&all, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(v["ok"], false, "{v}");
        assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
        v
    };
    // Usage: nothing to sync, a malformed target.
    assert_eq!(fail(&["sync"])["code"], "invalid");
    assert_eq!(fail(&["remove", "just-a-library"])["code"], "invalid");
    // No such library.
    let v = fail(&["mirrors", "--library", "acme"]);
    assert_eq!(
        (&v["code"], &v["detail"]),
        (&"not_found".into(), &"unknown_library".into()),
        "{v}"
    );
    // Not a subscription (a file that is no JSON at all).
    let junk = tmp.path().join("junk.stowaway");
    std::fs::write(&junk, "<html>surely not</html>").unwrap();
    assert_eq!(
        fail(&["subscribe", junk.to_str().unwrap()])["code"],
        "not_a_subscription"
    );
    // Nothing answers at that address.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{refused}/acme.stowaway");
    assert_eq!(fail(&["subscribe", &url])["code"], "offline");
    // Another sync holds the cache.
    {
        let _held = stowaway_store::Store::lock_sync(&dir).unwrap();
        assert_eq!(fail(&["fsck", "--repair"])["code"], "busy");
    }
    // The index is not a database (and no write-ahead log holds its pages).
    for f in ["stowaway.db-wal", "stowaway.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::write(dir.join("stowaway.db"), vec![b'x'; 8192]).unwrap();
    assert_eq!(fail(&["list"])["code"], "index_corrupt");
    // The data directory cannot be made (a file is in its way).
    let blocked = tmp.path().join("blocked");
    std::fs::write(&blocked, "a file").unwrap();
    let inside = blocked.join("cache");
    let out = stowaway(
        &["--data-dir", inside.to_str().unwrap(), "--json", "status"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "storage", "{v}");
}
