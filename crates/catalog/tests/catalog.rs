//! Signature verification, validation and diff of real signed catalogs.

use std::io::Cursor;

use stowaway_catalog::{
    diff, read_claim, verify_catalog, Asset, AssetRole, Catalog, CatalogError, Collection,
    CollectionKind, Item, ItemKind, LibraryInfo, PublicKey, Sha256,
};
use time::macros::datetime;

struct Key {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

fn key() -> Key {
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    Key {
        pk: kp.pk,
        sk: kp.sk,
    }
}

fn sign(k: &Key, bytes: &[u8]) -> Vec<u8> {
    minisign::sign(Some(&k.pk), &k.sk, Cursor::new(bytes), None, None)
        .unwrap()
        .into_string()
        .into_bytes()
}

fn sign_with_comment(k: &Key, bytes: &[u8], comment: &str) -> Vec<u8> {
    minisign::sign(Some(&k.pk), &k.sk, Cursor::new(bytes), Some(comment), None)
        .unwrap()
        .into_string()
        .into_bytes()
}

fn public(k: &Key) -> PublicKey {
    PublicKey::parse(&k.pk.to_base64()).unwrap()
}

fn sha(c: char) -> Sha256 {
    Sha256::parse(&c.to_string().repeat(64)).unwrap()
}

fn item(id: &str, title: &str) -> Item {
    Item {
        id: id.into(),
        kind: ItemKind::Episode,
        title: title.into(),
        summary: None,
        notes: None,
        published_at: None,
        duration_ms: Some(1000),
        season: None,
        number: None,
        explicit: None,
        assets: vec![Asset {
            role: AssetRole::Media,
            sha256: sha('a'),
            size: 10,
            media_type: "audio/ogg".into(),
            name: None,
        }],
    }
}

fn catalog(items: Vec<Item>) -> Catalog {
    Catalog {
        format: 1,
        library: LibraryInfo {
            id: "acme".into(),
            title: "Acme".into(),
            description: None,
            artwork: None,
        },
        sequence: 1,
        generated_at: datetime!(2026-01-01 0:00 UTC),
        expires_at: datetime!(2026-02-01 0:00 UTC),
        mirrors: vec!["https://m.example/".into()],
        collections: vec![Collection {
            id: "show".into(),
            kind: CollectionKind::Show,
            title: "Show".into(),
            summary: None,
            artwork: None,
            items,
        }],
    }
}

#[test]
fn verifies_and_parses_a_signed_catalog() {
    let k = key();
    let c = catalog(vec![item("e1", "One")]);
    let bytes = c.to_canonical_json();
    let v = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), Some("acme")).unwrap();
    assert_eq!(v.catalog, c);
    assert_eq!(v.bytes, bytes);
}

#[test]
fn refuses_forged_foreign_and_wrong_library() {
    let k = key();
    let other = key();
    let bytes = catalog(vec![item("e1", "One")]).to_canonical_json();
    let sig = sign(&k, &bytes);

    // One byte changed after signing.
    let mut forged = bytes.clone();
    let pos = forged.windows(3).position(|w| w == b"One").unwrap();
    forged[pos] = b'X';
    let e = verify_catalog(&forged, &sig, &public(&k), Some("acme")).unwrap_err();
    assert!(matches!(e, CatalogError::SignatureMismatch), "{e}");

    // Signed by another key.
    let e = verify_catalog(&bytes, &sign(&other, &bytes), &public(&k), Some("acme")).unwrap_err();
    assert!(matches!(e, CatalogError::SignatureMismatch), "{e}");

    // Garbage signature.
    let e = verify_catalog(&bytes, b"hello", &public(&k), Some("acme")).unwrap_err();
    assert_eq!(e.code(), "bad_signature");

    // Correctly signed, but for another library.
    let e = verify_catalog(&bytes, &sig, &public(&k), Some("other")).unwrap_err();
    assert!(matches!(e, CatalogError::WrongLibrary { .. }), "{e}");
}

#[test]
fn signed_but_invalid_content_is_refused() {
    let k = key();
    let mut c = catalog(vec![item("e1", "One"), item("e1", "Dup")]);
    let bytes = c.to_canonical_json();
    let e = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), None).unwrap_err();
    assert!(e.to_string().contains("duplicate item id"), "{e}");

    c = catalog(vec![item("../../etc", "Evil")]);
    let bytes = c.to_canonical_json();
    assert!(verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), None).is_err());

    let json = String::from_utf8(catalog(vec![]).to_canonical_json()).unwrap();
    let bad_hash = json.replace("\"format\":1", "\"format\":2");
    let e = verify_catalog(
        bad_hash.as_bytes(),
        &sign(&k, bad_hash.as_bytes()),
        &public(&k),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, CatalogError::UnsupportedFormat(2)), "{e}");

    let unknown = json.replace("\"format\":1", "\"format\":1,\"evil\":true");
    let e = verify_catalog(
        unknown.as_bytes(),
        &sign(&k, unknown.as_bytes()),
        &public(&k),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "catalog_json");
}

#[test]
fn diff_reports_added_changed_removed() {
    let old = catalog(vec![
        item("e1", "One"),
        item("e2", "Two"),
        item("e3", "Three"),
    ]);
    let new = catalog(vec![
        item("e1", "One"),
        item("e2", "Two (fixed)"),
        item("e4", "Four"),
    ]);
    let d = diff(Some(&old), &new);
    let k = |i: &str| ("show".to_string(), i.to_string());
    assert_eq!(d.added, vec![k("e4")]);
    assert_eq!(d.changed, vec![k("e2")]);
    assert_eq!(d.removed, vec![k("e3")]);
    assert!(d.collections_added.is_empty() && d.collections_removed.is_empty());

    let first = diff(None, &old);
    assert_eq!(first.added.len(), 3);
    assert_eq!(first.collections_added, vec!["show".to_string()]);
    assert!(diff(Some(&old), &old).is_empty());
}

#[test]
fn hostile_catalogs_get_clear_errors() {
    let k = key();
    let signed = |bytes: &[u8]| verify_catalog(bytes, &sign(&k, bytes), &public(&k), None);

    // Absurd size: refused before the signature is even looked at.
    let huge = vec![b' '; stowaway_catalog::MAX_CATALOG_BYTES + 1];
    let e = verify_catalog(&huge, b"", &public(&k), None).unwrap_err();
    assert_eq!(e.code(), "catalog_too_large");

    // Deep nesting, validly signed: the parser's recursion limit, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(signed(deep.as_bytes()).unwrap_err().code(), "catalog_json");

    // An asset claiming an absurd size.
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].items[0].assets[0].size = u64::MAX;
    let e = signed(&c.to_canonical_json()).unwrap_err();
    assert!(e.to_string().contains("asset size"), "{e}");

    // Names that try to be paths, control characters in titles, bad media types.
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].items[0].assets[0].name = Some("../../.bashrc".into());
    assert!(signed(&c.to_canonical_json()).is_err());
    let mut c = catalog(vec![item("e1", "One\u{0007}")]);
    c.collections[0].items[0].title.push('\u{001b}');
    assert!(signed(&c.to_canonical_json()).is_err());
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].items[0].assets[0].media_type = "text/html; <script>".into();
    assert!(signed(&c.to_canonical_json()).is_err());
    let mut c = catalog(vec![item("e1", "One")]);
    c.mirrors = vec!["javascript:alert(1)".into()];
    assert!(signed(&c.to_canonical_json()).is_err());

    // A hash that is not one.
    let json = String::from_utf8(catalog(vec![item("e1", "One")]).to_canonical_json()).unwrap();
    let bad = json.replace(&"a".repeat(64), "../../etc/passwd");
    assert_eq!(signed(bad.as_bytes()).unwrap_err().code(), "catalog_json");

    // Too many items.
    let many: Vec<Item> = (0..200_001).map(|i| item(&format!("e{i}"), "x")).collect();
    let e = signed(&catalog(many).to_canonical_json()).unwrap_err();
    assert!(e.to_string().contains("more than 200000 items"), "{e}");
}

/// A signature file alone says which sequence it signs (the trusted comment,
/// covered by the global signature): a mirror's freshness is known before
/// its catalog is fetched, and no one without the key can claim a sequence.
#[test]
fn a_signature_claims_its_sequence_and_only_the_key_can_make_it_say_so() {
    let k = key();
    let bytes = catalog(vec![item("e1", "One")]).to_canonical_json();
    let sig = sign_with_comment(&k, &bytes, "stowaway library acme sequence 1");
    let claim = read_claim(&sig, &public(&k), "acme").unwrap();
    assert_eq!(claim.sequence, Some(1));
    // The untrusted first line is anybody's to change: not part of what
    // the signature is.
    let text = String::from_utf8(sig.clone()).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    let relabelled = format!("untrusted comment: hello from a mirror\n{rest}");
    let again = read_claim(relabelled.as_bytes(), &public(&k), "acme").unwrap();
    assert_eq!(again.fingerprint, claim.fingerprint);
    assert_ne!(relabelled.as_bytes(), &sig[..]);
    // The same comment checks out against the catalog too.
    verify_catalog(&bytes, &sig, &public(&k), Some("acme")).unwrap();

    // A comment changed after signing (a mirror claiming a newer catalog).
    let text = String::from_utf8(sig.clone()).unwrap();
    let raised = text.replace("sequence 1", "sequence 9").into_bytes();
    let e = read_claim(&raised, &public(&k), "acme").unwrap_err();
    assert!(matches!(e, CatalogError::SignatureMismatch), "{e}");
    // Another key's signature, another library's, garbage.
    let other = key();
    let e = read_claim(
        &sign_with_comment(&other, &bytes, "stowaway library acme sequence 1"),
        &public(&k),
        "acme",
    )
    .unwrap_err();
    assert!(matches!(e, CatalogError::SignatureMismatch), "{e}");
    let e = read_claim(&sig, &public(&k), "other").unwrap_err();
    assert!(matches!(e, CatalogError::WrongLibrary { .. }), "{e}");
    assert_eq!(
        read_claim(b"junk", &public(&k), "acme").unwrap_err().code(),
        "bad_signature"
    );
    // A comment in another form claims nothing.
    let plain = sign_with_comment(&k, &bytes, "timestamp:1\tfile:library.json");
    assert_eq!(
        read_claim(&plain, &public(&k), "acme").unwrap().sequence,
        None
    );

    // A valid signature whose comment names another sequence than the
    // catalog's is refused with the catalog.
    let wrong = sign_with_comment(&k, &bytes, "stowaway library acme sequence 7");
    let e = verify_catalog(&bytes, &wrong, &public(&k), Some("acme")).unwrap_err();
    assert_eq!(e.code(), "catalog_invalid", "{e}");
}
