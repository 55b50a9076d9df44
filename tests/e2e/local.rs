//! What is on the member's own machine: files they name that are not what
//! they seem (a FIFO), a reader that goes away (`| head`), and an index that
//! is broken, through the `stowaway` binary.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stowaway_tests::{all_blobs_verify, bin, file_url, Member, Publisher};

fn mkfifo(path: &std::path::Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// A FIFO named like a `.stowaway` file, an OPML file or a file:// mirror's
/// signature would block `open` until a writer came: for ever. Each is
/// refused at once as not a regular file. Before, each hung.
#[test]
fn a_fifo_is_refused_as_a_subscription_an_opml_file_and_a_mirror_file() {
    let tmp = tempfile::tempdir().unwrap();
    let member = Member::new(&tmp.path().join("member"));
    let sub = tmp.path().join("gift.stowaway");
    mkfifo(&sub);
    let t = Instant::now();
    let r = member.run(&["subscribe", sub.to_str().unwrap()]).failure();
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    let opml = tmp.path().join("podcasts.opml");
    mkfifo(&opml);
    let r = member
        .run(&["opml", "import", opml.to_str().unwrap()])
        .failure();
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);

    // A folder mirror whose signature file is a FIFO.
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let usb = tmp.path().join("usb");
    stowaway_tests::copy_dir(&publisher.mirror, &usb);
    let sub = publisher.subscription(&[file_url(&usb)]);
    std::fs::remove_file(usb.join("library.json.minisig")).unwrap();
    mkfifo(&usb.join("library.json.minisig"));
    let r = member.json(&["subscribe", sub.to_str().unwrap()]);
    assert!(r["catalog_error"].is_string(), "{r}");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// `stowaway list | head -1`: the reader closes the pipe; the CLI ends
/// quietly instead of panicking with a backtrace (exit 101).
#[test]
fn a_closed_standard_output_ends_the_cli_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let member = Member::new(&tmp.path().join("member"));
    let sub = publisher.subscription(&[file_url(&publisher.mirror)]);
    member.json(&["subscribe", sub.to_str().unwrap()]);
    for args in [&["list"][..], &["list", "--json"], &["status"]] {
        let mut child = Command::new(bin("stowaway"))
            .arg("--data-dir")
            .arg(&member.data)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first line
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// An index overwritten with garbage: every command says what is wrong and
/// how to fix it; `fsck` says what is broken without touching anything;
/// `fsck --repair` rebuilds the index from the subscription copies, the
/// last verified catalog (verified again) and the files it can re-hash, so
/// the member plays everything again without a network.
#[test]
fn fsck_rebuilds_an_unreadable_index_from_what_it_can_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let usb = tmp.path().join("usb");
    stowaway_tests::copy_dir(&publisher.mirror, &usb);
    let member = Member::new(&tmp.path().join("member"));
    let sub = publisher.subscription(&[file_url(&usb)]);
    member.json(&["subscribe", sub.to_str().unwrap()]);
    assert_eq!(member.json(&["sync"])["ok"], true);
    let before = member.items();
    std::fs::remove_dir_all(&usb).unwrap(); // offline from now on

    let db = member.data.join("stowaway.db");
    std::fs::write(&db, vec![0x5a; 64 * 1024]).unwrap();
    for f in ["stowaway.db-wal", "stowaway.db-shm"] {
        let _ = std::fs::remove_file(member.data.join(f));
    }
    let r = member.run(&["list"]).failure();
    assert!(r.stderr.contains("fsck --repair"), "{}", r.stderr);
    let r = member.run(&["fsck", "--json"]).failure().json();
    assert_eq!(r["database_ok"], false, "{r}");
    assert_eq!(r["files_on_disk"], 7, "{r}");

    let r = member.run(&["fsck", "--repair", "--json"]).success().json();
    assert_eq!(
        r["rebuilt"]["libraries"],
        serde_json::json!(["acme"]),
        "{r}"
    );
    assert_eq!(r["rebuilt"]["catalogs"], 1, "{r}");
    assert_eq!(r["rebuilt"]["blobs"], 7, "{r}");
    assert_eq!(
        member.items(),
        before,
        "everything listed and downloaded again"
    );
    assert_eq!(all_blobs_verify(&member), 7);
    assert_eq!(member.json(&["search", "escrow"])[0]["item_id"], "l1");
    assert!(member.json(&["fsck"])["problems"]
        .as_array()
        .unwrap()
        .is_empty());
    // The broken index is kept aside, not deleted.
    assert!(std::fs::read_dir(&member.data)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-")));
}

/// `fsck --repair` moves files: never while a sync (which may have just
/// stored one) holds the cache. Before, it did not take the sync lock.
#[test]
fn fsck_repair_waits_for_a_running_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let member = Member::new(&tmp.path().join("member"));
    member.run(&["status"]).success();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(member.data.join("sync.lock"))
        .unwrap();
    lock.lock().unwrap(); // what a running sync holds
    let r = member.run(&["fsck", "--repair"]).failure();
    assert!(r.stderr.contains("a sync is running"), "{}", r.stderr);
    member.run(&["fsck"]).success(); // checking alone is fine
    drop(lock);
    member.run(&["fsck", "--repair"]).success();
}

/// A `file://` network share named as a mirror (on Windows, connecting
/// offers that computer the member's credentials) is kept but never used
/// until the member subscribes with `--allow-network-share`: the CLI warns
/// and says how, `mirrors` shows it as not allowed, and the library syncs
/// from its other mirror meanwhile. Allowed, it is no longer "not allowed"
/// (here, off Windows, it is a mirror this computer cannot open, and
/// `mirrors` says why). A subscription whose only mirror is a share the
/// member did not allow is refused whole.
#[test]
fn a_network_share_is_used_only_with_allow_network_share() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let share = "file://fileserver/share/acme/";
    let folder = file_url(&publisher.mirror);
    let with_share = |mirrors: &[&str], name: &str| {
        publisher.subscription_naming(&folder, mirrors, &tmp.path().join(name))
    };
    let share_row = |member: &Member| {
        let rows = member.json(&["mirrors"]);
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["url"] == share)
            .cloned()
            .expect("the share is listed")
    };

    // Only the share: refused, nothing subscribed.
    let member = Member::new(&tmp.path().join("member"));
    let only = with_share(&[share], "only.stowaway");
    let r = member.run(&["subscribe", only.to_str().unwrap()]).failure();
    assert!(
        r.stderr.contains("every mirror") && r.stderr.contains("--allow-network-share"),
        "{}",
        r.stderr
    );
    assert_eq!(member.json(&["status"])["libraries"], serde_json::json!([]));

    // Beside a folder: subscribed and synced from the folder, the share
    // not used.
    let both = with_share(&[&folder, share], "both.stowaway");
    let r = member.run(&["subscribe", both.to_str().unwrap()]).success();
    assert!(
        r.stderr.contains("network share") && r.stderr.contains("--allow-network-share"),
        "{}",
        r.stderr
    );
    assert_eq!(share_row(&member)["state"], "not_allowed");
    member.run(&["sync"]).success();
    assert!(all_blobs_verify(&member) > 0, "synced from the folder");

    // Allowed by the member.
    let r = member
        .run(&["subscribe", "--allow-network-share", both.to_str().unwrap()])
        .success();
    assert!(!r.stderr.contains("--allow-network-share"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "allowed: mirror {share}, a network share on \"fileserver\""
        )),
        "says what it allowed: {}",
        r.stderr
    );
    let row = share_row(&member);
    assert_ne!(row["state"], "not_allowed", "{row}");
    if !cfg!(windows) {
        assert_eq!(row["state"], "unusable", "{row}");
        let note = row["note"].as_str().unwrap();
        assert!(note.contains("opened on Windows only"), "{note}");
    }
    // Not asked about again.
    let r = member.run(&["subscribe", both.to_str().unwrap()]).success();
    assert!(!r.stderr.contains("--allow-network-share"), "{}", r.stderr);
}
