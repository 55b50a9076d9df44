//! The whole journey: publish → serve (nginx + file://) → subscribe → sync →
//! list/search → servers gone → still list, search, fsck → corruption found.

use stowaway_tests::{all_blobs_verify, copy_dir, file_url, Member, Nginx, Publisher};

#[test]
fn publish_serve_subscribe_sync_then_work_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let mut publisher = Publisher::new(&tmp.path().join("publisher"));
    let built = publisher.build();
    assert!(built.stdout.contains("sequence 1"), "{}", built.stdout);
    assert_eq!(publisher.mirror_blobs().len(), 7);

    // Two independent mirrors: nginx over HTTP, and a copy on a "USB stick".
    let usb = tmp.path().join("usb");
    copy_dir(&publisher.mirror, &usb);
    let nginx = Nginx::start(&publisher.mirror);
    let sub = publisher.subscription(&[nginx.url(), file_url(&usb)]);
    let sub_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sub).unwrap()).unwrap();
    assert_eq!(
        sub_json["library"], "acme",
        "library id read from the verified catalog"
    );

    // The subscription is handed out as a URL on the mirror itself.
    std::fs::copy(&sub, publisher.mirror.join("member.stowaway")).unwrap();
    let sub_url = format!("{}member.stowaway", nginx.url());
    let member = Member::new(&tmp.path().join("member"));
    let s = member.json(&["subscribe", &sub_url]);
    assert_eq!(s["new"], true);
    assert_eq!(s["catalog"]["sequence"], 1);

    let r = member.json(&["sync"]);
    assert_eq!(r["ok"], true, "{r}");
    let lib = &r["libraries"][0];
    assert_eq!(lib["files_downloaded"], 7);
    assert_eq!(lib["catalog_mirror"], nginx.url());
    let items = member.items();
    assert_eq!(items.len(), 5);
    assert!(
        items.iter().all(|(_, _, downloaded)| *downloaded),
        "{items:?}"
    );
    assert_eq!(all_blobs_verify(&member), 7);

    let hits = member.json(&["search", "escrow"]);
    assert_eq!(hits[0]["item_id"], "l1", "{hits}");
    let hits = member.json(&["search", "negotiation"]);
    assert_eq!(hits.as_array().unwrap().len(), 2);

    // Human output is there too.
    let list = member.run(&["list"]).success();
    assert!(
        list.stdout.contains("Your First Deal") && list.stdout.contains("3 lessons, 3 downloaded"),
        "{}",
        list.stdout
    );

    // A second sync with nothing new costs no downloads.
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["catalog"]["unchanged"], true);
    assert_eq!(r["libraries"][0]["files_downloaded"], 0);

    // The publisher adds an episode: sequence 2, only the new blob copied.
    publisher.write_manifest(3);
    let built = publisher.build();
    assert!(
        built.stdout.contains("sequence 2") && built.stdout.contains("(1 new"),
        "{}",
        built.stdout
    );
    assert!(publisher.build().stdout.contains("unchanged at sequence 2"));
    let r = member.json(&["sync"]);
    assert_eq!(
        r["libraries"][0]["catalog"]["diff"]["added"][0][1], "ep3",
        "{r}"
    );
    assert_eq!(r["libraries"][0]["files_downloaded"], 1);

    // nginx goes away: the USB copy (still at sequence 1) cannot roll us back,
    // and everything cached keeps working.
    drop(nginx);
    let r = member.run(&["sync", "--json"]).failure().json();
    let err = r["libraries"][0]["catalog_error"].as_str().unwrap();
    assert!(err.contains("rollback"), "{err}");
    assert_eq!(member.items().len(), 6);
    assert_eq!(member.json(&["search", "escrow"])[0]["item_id"], "l1");
    let st = member.json(&["status"]);
    assert_eq!(st["libraries"][0]["sequence"], 2);
    assert_eq!(st["libraries"][0]["last_sync_ok"], false);
    assert_eq!(
        member.json(&["fsck"])["problems"].as_array().unwrap().len(),
        0
    );

    // Every mirror gone: a clear failure, nothing lost.
    std::fs::remove_dir_all(&usb).unwrap();
    let r = member.run(&["sync"]).failure();
    assert!(
        r.stdout.contains("no mirror gave a valid catalog"),
        "{}",
        r.stdout
    );
    assert_eq!(member.items().len(), 6);

    // A blob corrupted on disk is found by fsck, and repaired.
    let victim = stowaway_tests::files_below(&member.blob_dir())[0].clone();
    let mut data = std::fs::read(&victim).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&victim, data).unwrap();
    let r = member.run(&["fsck", "--json"]).failure().json();
    assert_eq!(r["problems"][0]["kind"], "corrupt", "{r}");
    assert_eq!(
        r["problems"][0]["sha256"],
        victim.file_name().unwrap().to_str().unwrap()
    );
    let r = member.run(&["fsck", "--repair"]).success();
    assert!(r.stdout.contains("repaired"), "{}", r.stdout);
    assert!(!victim.exists());
    assert_eq!(
        member.items().iter().filter(|i| !i.2).count(),
        1,
        "one item lost its file and is no longer downloaded"
    );

    // The mirror returns: the next sync fetches just that blob again.
    let nginx = Nginx::start(&publisher.mirror);
    let sub = publisher.subscription(&[nginx.url()]);
    member.json(&["subscribe", sub.to_str().unwrap()]);
    let r = member.json(&["sync"]);
    assert_eq!(r["libraries"][0]["files_downloaded"], 1, "{r}");
    assert!(member
        .run(&["fsck"])
        .success()
        .stdout
        .contains("all blobs verify"));
    assert_eq!(all_blobs_verify(&member), 8);
}

#[test]
fn bad_subscriptions_and_missing_setup_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let member = Member::new(&tmp.path().join("member"));
    let r = member.run(&["sync"]).failure();
    assert!(r.stderr.contains("no subscriptions yet"), "{}", r.stderr);
    let bad = tmp.path().join("bad.stowaway");
    std::fs::write(
        &bad,
        b"{\"stowaway\":1,\"library\":\"../etc\",\"public_key\":\"x\",\"mirrors\":[]}",
    )
    .unwrap();
    let r = member.run(&["subscribe", bad.to_str().unwrap()]).failure();
    assert!(
        r.stderr.contains("not a Stowaway subscription"),
        "{}",
        r.stderr
    );
    let r = member
        .run(&["subscribe", "/nonexistent/x.stowaway"])
        .failure();
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    assert!(member.json(&["status"])["libraries"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn an_expired_catalog_is_applied_with_a_warning_and_content_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    let manifest = publisher.source.join("library.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("[library]\n", "[library]\nexpires_in_days = 0\n", 1),
    )
    .unwrap();
    publisher.build();
    let sub = publisher.subscription(&[file_url(&publisher.mirror)]);
    let member = Member::new(&tmp.path().join("member"));
    member.json(&["subscribe", sub.to_str().unwrap()]);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // past expires_at (whole seconds)
    let r = member.run(&["sync"]).success();
    assert!(r.stdout.contains("catalog has expired"), "{}", r.stdout);
    assert!(
        member.items().iter().all(|i| i.2),
        "everything downloaded and listed"
    );
    let st = member.json(&["status"]);
    assert_eq!(st["libraries"][0]["expired"], true);
    assert!(member.run(&["status"]).success().stdout.contains("EXPIRED"));
}

/// `list` pages like the app: each collection's counts from the index and a
/// page of its items, never the whole show unless asked (`--all`, read a
/// window at a time); `--from` continues where the page ended.
#[test]
fn list_shows_a_page_of_each_collection_and_continues_from_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::show(&tmp.path().join("publisher"), 45, 10);
    publisher.build();
    let member = Member::new(&tmp.path().join("member"));
    let sub = publisher.subscription(&[file_url(&publisher.mirror)]);
    member.json(&["subscribe", sub.to_str().unwrap()]);

    let text = member.run(&["list"]).success().stdout;
    assert!(
        text.contains("Show: Big Show — 45 episodes, 0 downloaded"),
        "{text}"
    );
    let rows = text
        .lines()
        .filter(|l| l.trim_end().ends_with(|c: char| c.is_ascii_digit()) && l.contains(" e"))
        .count();
    assert_eq!(rows, 20, "{text}");
    assert!(
        text.contains("… 25 more: stowaway list big/show --from 21"),
        "{text}"
    );

    let page = member.json(&["list", "big/show", "--from", "41"]);
    let c = &page[0];
    assert_eq!(
        (
            c["id"].as_str(),
            c["item_count"].as_u64(),
            c["from"].as_u64()
        ),
        (Some("show"), Some(45), Some(41))
    );
    let ids: Vec<&str> = c["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e41", "e42", "e43", "e44", "e45"]);

    let all = member.json(&["list", "--all"]);
    assert_eq!(all[0]["items"].as_array().unwrap().len(), 45);
    assert_eq!(member.items().len(), 45);

    let e = member.run(&["list", "big/nope", "--json"]).failure().json();
    assert_eq!(e["code"], "not_found", "{e}");
    let e = member.run(&["list", "nope", "--json"]).failure().json();
    assert_eq!(
        (&e["code"], &e["detail"]),
        (&"not_found".into(), &"unknown_library".into()),
        "{e}"
    );
}
