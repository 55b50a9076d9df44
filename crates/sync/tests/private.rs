//! Private libraries: the access token goes to that library's mirrors and
//! nowhere else, a missing or refused token is reported as such (so the app
//! can ask for one), and the token is never written to the cache.

mod common;

use std::sync::Arc;

use stowaway_catalog::Access;
use stowaway_mirrors::{AccessToken, ClientConfig};
use stowaway_store::Store;
use stowaway_sync::{Engine, SyncOptions};
use stowaway_testmirror::{Fault, Rule, TestMirror};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "member-7f3a9c2e-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_only_to_its_librarys_mirrors() {
    let tmp = tempfile::tempdir().unwrap();
    let (private_root, public_root) = (tmp.path().join("private"), tmp.path().join("public"));
    std::fs::create_dir_all(private_root.join("mirror")).unwrap();
    std::fs::create_dir_all(public_root.join("mirror")).unwrap();
    let private = TestMirror::start(private_root.join("mirror")).unwrap();
    let public = TestMirror::start(public_root.join("mirror")).unwrap();
    let mut sub = common::publish(&private_root, "acme", &private.url());
    sub.access = Access::Token;
    let other = common::publish(&public_root, "other", &public.url());
    private.set_faults(vec![Rule::all(Fault::RequireToken(TOKEN.into()))]);

    let data = tmp.path().join("member");
    let store = Arc::new(Store::open(&data).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    engine.subscribe(&other).unwrap();
    let libs = store.libraries().unwrap();
    assert_eq!(
        libs.iter()
            .map(|l| (l.id.as_str(), l.private))
            .collect::<Vec<_>>(),
        [("acme", true), ("other", false)]
    );
    let sync = || async {
        engine
            .sync(&SyncOptions::default(), &CancellationToken::new())
            .await
            .unwrap()
    };

    // No token: the private library asks for one; the public one syncs.
    let r = sync().await;
    let (acme, oth) = (&r.libraries[0], &r.libraries[1]);
    assert!(acme.needs_token, "{acme:?}");
    let e = acme.catalog_error.as_deref().unwrap();
    assert!(e.contains("needs an access token"), "{e}");
    assert!(oth.ok() && !oth.needs_token, "{oth:?}");
    assert_eq!(oth.files_downloaded, 2);

    // A wrong token: refused, and said so.
    engine.set_access_token("acme", Some(AccessToken::new("wrong").unwrap()));
    let r = sync().await;
    assert!(r.libraries[0].needs_token);
    assert!(r.libraries[0]
        .catalog_error
        .as_deref()
        .unwrap()
        .contains("token was refused"));

    // The right one: everything comes.
    private.clear_requests();
    public.clear_requests();
    engine.set_access_token("acme", Some(AccessToken::new(TOKEN).unwrap()));
    let r = sync().await;
    assert!(r.libraries[0].ok(), "{:?}", r.libraries[0]);
    assert_eq!(r.libraries[0].files_downloaded, 2);
    let sent = private.requests();
    assert!(!sent.is_empty());
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        sent.iter()
            .all(|q| q.header("authorization") == Some(bearer.as_str())),
        "every request to the private mirror carries the token"
    );
    let elsewhere = public.requests();
    assert!(!elsewhere.is_empty(), "the public library was synced too");
    assert!(
        elsewhere
            .iter()
            .all(|q| q.header("authorization").is_none()),
        "no token to another library's mirror"
    );

    // The same subscription again keeps the token; one that adds a mirror
    // (anyone can write one naming this library and its key) drops it.
    assert!(!engine.subscribe(&sub).unwrap().token_dropped);
    assert!(engine.has_access_token("acme"));
    let mut moved = sub.clone();
    moved.mirrors.push("https://collector.example/acme/".into());
    let outcome = engine.subscribe(&moved).unwrap();
    assert!(outcome.token_dropped && !outcome.new);
    assert!(!engine.has_access_token("acme"));

    // Nothing on disk holds the token.
    drop(engine);
    drop(store);
    for f in walk(&data) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "{} contains the token",
            f.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A forged "update" for a private library (its id and public key are in
/// every member's file) that leaves out `"access": "token"` and adds a
/// collector's mirror: the library stays private, the token is dropped, and
/// a token handed back at once (as `STOWAWAY_TOKEN_<LIB>` would) goes only to
/// the mirrors the member confirmed, never to the new one, until the member
/// confirms it for them. Before, the library turned public and the next
/// catalog request sent `Authorization: Bearer` to the collector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_cannot_lower_access_or_hand_the_token_to_new_mirrors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("acme");
    std::fs::create_dir_all(root.join("mirror")).unwrap();
    let private = TestMirror::start(root.join("mirror")).unwrap();
    let mut sub = common::publish(&root, "acme", &private.url());
    sub.access = Access::Token;
    private.set_faults(vec![Rule::all(Fault::RequireToken(TOKEN.into()))]);
    // The collector serves a copy of the mirror, and records what it gets.
    let collector = TestMirror::start(root.join("mirror")).unwrap();

    let store = Arc::new(Store::open(&tmp.path().join("member")).unwrap());
    let engine = Engine::new(store.clone(), ClientConfig::default()).unwrap();
    engine.subscribe(&sub).unwrap();
    engine.set_access_token("acme", Some(AccessToken::new(TOKEN).unwrap()));
    let opts = SyncOptions {
        catalog_only: true,
        ..SyncOptions::default()
    };
    let r = engine.sync(&opts, &CancellationToken::new()).await.unwrap();
    assert!(r.libraries[0].ok(), "{:?}", r.libraries[0]);

    let mut forged = sub.clone();
    forged.access = Access::Public;
    forged.mirrors.insert(0, collector.url());
    let o = engine.subscribe(&forged).unwrap();
    assert!(o.access_kept && o.private && o.token_dropped, "{o:?}");
    assert_eq!(o.mirrors_added, [collector.url()]);
    assert!(store.library("acme").unwrap().private, "still private");
    assert!(!engine.has_access_token("acme"));

    // The token comes back without the member looking at the mirrors.
    engine.set_access_token("acme", Some(AccessToken::new(TOKEN).unwrap()));
    let r = engine.sync(&opts, &CancellationToken::new()).await.unwrap();
    assert!(
        r.libraries[0].catalog_error.is_none(),
        "{:?}",
        r.libraries[0]
    );
    let asked = collector.requests();
    assert!(!asked.is_empty(), "the new mirror was asked");
    assert!(
        asked.iter().all(|q| q.header("authorization").is_none()),
        "no token to a mirror nobody confirmed: {asked:?}"
    );
    assert!(private
        .requests()
        .iter()
        .any(|q| q.header("authorization") == Some(&*format!("Bearer {TOKEN}"))));

    // The member confirms the mirrors (gives the token again): now it goes.
    let shown = engine.store().mirrors("acme").unwrap();
    engine.confirm_token_mirrors("acme", &shown).unwrap();
    collector.clear_requests();
    engine.sync(&opts, &CancellationToken::new()).await.unwrap();
    assert!(collector
        .requests()
        .iter()
        .any(|q| q.header("authorization").is_some()));

    // Removing a mirror is a change too: the token is dropped again.
    let mut fewer = sub.clone();
    fewer.mirrors = vec![collector.url()];
    let o = engine.subscribe(&fewer).unwrap();
    assert!(
        o.token_dropped && o.mirrors_removed == [private.url()],
        "{o:?}"
    );
}
