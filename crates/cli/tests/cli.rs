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
