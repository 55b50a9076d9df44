//! A private library through the CLI: its mirror (nginx) wants a bearer
//! token; the member gives it once, it lives in a real OS keyring (GNOME
//! Keyring on a private D-Bus session), never in the cache; without a keyring
//! the environment can carry it.

use stowaway_tests::{run_with, Member, Nginx, Publisher, SecretService};

const TOKEN: &str = "acme-member-0c5e1f77";

#[test]
fn private_library_token_in_the_os_keyring() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let nginx = Nginx::start_private(&publisher.mirror, TOKEN);
    let keyring = SecretService::start();
    let env_owned = keyring.env();
    let env: Vec<(&str, &str)> = env_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // The publisher reads the library id from its own private mirror.
    let key = publisher.public_key();
    let sub = run_with(
        "stowaway-publish",
        &[
            "subscription",
            "--key",
            key.to_str().unwrap(),
            "--mirror",
            &nginx.url(),
            "--private",
        ],
        &[("STOWAWAY_ACCESS_TOKEN", TOKEN)],
        None,
    )
    .success()
    .stdout;
    assert!(sub.contains(r#""access": "token""#), "{sub}");
    assert!(
        !sub.contains(TOKEN),
        "the subscription file never holds the token"
    );
    let sub_path = tmp.path().join("acme.stowaway");
    std::fs::write(&sub_path, &sub).unwrap();

    let member = Member::new(&tmp.path().join("member"));
    let json = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push("--json");
        member.run_with(&a, &env, None)
    };
    let s = json(&["subscribe", sub_path.to_str().unwrap()])
        .success()
        .json();
    assert_eq!(
        (s["private"].as_bool(), s["needs_token"].as_bool()),
        (Some(true), Some(true)),
        "{s}"
    );
    let human = member.run_with(&["sync"], &env, None).failure().stdout;
    assert!(human.contains("stowaway token acme"), "{human}");

    // A wrong token is stored but reported refused; the right one works.
    let r = member
        .run_with(&["token", "acme"], &env, Some("not-it\n"))
        .failure();
    assert!(r.stdout.contains("refused"), "{}", r.stdout);
    let r = member
        .run_with(&["token", "acme"], &env, Some(&format!("{TOKEN}\n")))
        .success();
    assert!(r.stdout.contains("accept"), "{}", r.stdout);
    let r = json(&["sync"]).success().json();
    assert_eq!(r["libraries"][0]["files_downloaded"], 7, "{r}");

    // It is in the real keyring, and nowhere in the cache.
    assert_eq!(keyring.lookup("acme").as_deref(), Some(TOKEN));
    for f in stowaway_tests::files_below(&member.data) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "{} holds the token",
            f.display()
        );
    }

    // Forgotten: the mirror refuses again.
    json(&["token", "acme", "--forget"]).success();
    let r = json(&["sync"]).failure().json();
    assert_eq!(r["libraries"][0]["needs_token"], true, "{r}");
    // Nothing to send to the mirrors: the stable code says to ask for it.
    let r = json(&["token", "acme", "--trust-mirrors"]).failure().json();
    assert_eq!(
        (&r["code"], &r["ok"]),
        (&"needs_token".into(), &false.into()),
        "{r}"
    );

    // No keyring at all: a clear error, and the environment still works.
    let no_bus = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")];
    let r = member
        .run_with(&["token", "acme"], &no_bus, Some(&format!("{TOKEN}\n")))
        .failure();
    assert!(
        r.stderr.contains("no OS keyring is available"),
        "{}",
        r.stderr
    );
    let r = member
        .run_with(
            &["token", "acme", "--json"],
            &no_bus,
            Some(&format!("{TOKEN}\n")),
        )
        .failure()
        .json();
    assert_eq!(r["code"], "keyring", "{r}");
    let r = member
        .run_with(
            &["sync", "--json"],
            &[no_bus[0], ("STOWAWAY_TOKEN_ACME", TOKEN)],
            None,
        )
        .success()
        .json();
    assert!(r["libraries"][0]["catalog_error"].is_null(), "{r}");
}

/// Through the CLI: a forged update of a private library (no `access`, a
/// collector's mirror first) keeps it private, removes its token from the
/// real keyring, and even a token from `STOWAWAY_TOKEN_ACME` never reaches
/// the collector until the member confirms the mirrors. Unsubscribing then
/// removes the library, its files and its token.
#[test]
fn a_forged_update_gets_no_token_and_unsubscribe_removes_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(&tmp.path().join("publisher"));
    publisher.build();
    let nginx = Nginx::start_private(&publisher.mirror, TOKEN);
    let collector = stowaway_testmirror::TestMirror::start(&publisher.mirror).unwrap();
    let keyring = SecretService::start();
    let env_owned = keyring.env();
    let env: Vec<(&str, &str)> = env_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let key = publisher.public_key();
    let sub = run_with(
        "stowaway-publish",
        &[
            "subscription",
            "--key",
            key.to_str().unwrap(),
            "--mirror",
            &nginx.url(),
            "--private",
        ],
        &[("STOWAWAY_ACCESS_TOKEN", TOKEN)],
        None,
    )
    .success()
    .stdout;
    let sub_path = tmp.path().join("acme.stowaway");
    std::fs::write(&sub_path, &sub).unwrap();
    let member = Member::new(&tmp.path().join("member"));
    member
        .run_with(&["subscribe", sub_path.to_str().unwrap()], &env, None)
        .success();
    member
        .run_with(&["token", "acme"], &env, Some(&format!("{TOKEN}\n")))
        .success();
    assert_eq!(keyring.lookup("acme").as_deref(), Some(TOKEN));

    // The forgery: same id and key (both public), no access, a new mirror.
    let mut forged: serde_json::Value = serde_json::from_str(&sub).unwrap();
    forged.as_object_mut().unwrap().remove("access");
    forged["mirrors"] = serde_json::json!([collector.url(), nginx.url()]);
    let forged_path = tmp.path().join("update.stowaway");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let r = member
        .run_with(&["subscribe", forged_path.to_str().unwrap()], &env, None)
        .success();
    assert!(r.stderr.contains("stays private"), "{}", r.stderr);
    assert!(r.stderr.contains("token was forgotten"), "{}", r.stderr);
    assert_eq!(keyring.lookup("acme"), None, "gone from the keyring");
    let status = member
        .run_with(&["status", "--json"], &env, None)
        .success()
        .json();
    assert_eq!(status["libraries"][0]["private"], true);

    let with_env: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .chain([("STOWAWAY_TOKEN_ACME", TOKEN)])
        .collect();
    collector.clear_requests();
    let r = member.run_with(&["sync", "--json"], &with_env, None).json();
    assert!(r["libraries"][0]["catalog_error"].is_null(), "{r}");
    let asked = collector.requests();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|q| q.header("authorization").is_none()),
        "{asked:?}"
    );
    // Confirmed: now it goes there too.
    member
        .run_with(&["token", "acme", "--trust-mirrors"], &with_env, None)
        .success();
    collector.clear_requests();
    member.run_with(&["sync"], &with_env, None);
    assert!(collector
        .requests()
        .iter()
        .any(|q| q.header("authorization").is_some()));

    // Unsubscribe: library, files, copies and token gone.
    member
        .run_with(&["token", "acme"], &env, Some(&format!("{TOKEN}\n")))
        .success();
    assert!(keyring.lookup("acme").is_some());
    let r = member
        .run_with(&["unsubscribe", "acme"], &env, None)
        .failure();
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    let r = member
        .run_with(&["unsubscribe", "acme", "--yes", "--json"], &env, None)
        .success()
        .json();
    assert_eq!(r["unsubscribed"]["blobs"], 7, "{r}");
    assert_eq!(keyring.lookup("acme"), None);
    assert_eq!(member.json(&["list"]), serde_json::json!([]));
    assert!(stowaway_tests::files_below(&member.blob_dir()).is_empty());
    assert!(stowaway_tests::files_below(&member.data.join("subscriptions")).is_empty());
}
