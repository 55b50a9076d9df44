//! Signature verification, validation and diff of real signed catalogs.

use std::io::Cursor;

use stowaway_catalog::{
    read_claim, validate_catalog, verify_catalog, verify_catalog_owned, Asset, AssetRole, Catalog,
    CatalogError, Collection, CollectionKind, Item, ItemKind, LibraryInfo, PublicKey, Sha256,
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
        notes_html: None,
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
            chunks: None,
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
    assert_eq!(v.catalog().unwrap(), c);
    assert_eq!(v.head(), &c.head());
    assert_eq!(v.bytes(), &bytes[..]);
    assert_eq!(v.sha256(), &Sha256::digest(&bytes));
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
    let bad_hash = json.replace("\"format\":1", "\"format\":3");
    let e = verify_catalog(
        bad_hash.as_bytes(),
        &sign(&k, bad_hash.as_bytes()),
        &public(&k),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, CatalogError::UnsupportedFormat(3)), "{e}");

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

/// Items read one at a time from the bytes are the items of the whole
/// parse, in order, with their collection and position; the head is the
/// catalog without them.
#[test]
fn items_stream_from_the_bytes_as_the_whole_parse_has_them() {
    let k = key();
    let mut c = catalog((0..50).map(|i| item(&format!("e{i}"), "x")).collect());
    c.collections.push(Collection {
        id: "course".into(),
        kind: CollectionKind::Course,
        title: "Course".into(),
        summary: Some("s".into()),
        artwork: None,
        items: vec![item("l1", "Lesson"), item("l2", "Two")],
    });
    c.collections.push(Collection {
        id: "empty".into(),
        kind: CollectionKind::Course,
        title: "Nothing yet".into(),
        summary: None,
        artwork: None,
        items: vec![],
    });
    let bytes = c.to_canonical_json();
    let v =
        verify_catalog_owned(bytes.clone(), &sign(&k, &bytes), &public(&k), Some("acme")).unwrap();
    let mut seen = Vec::new();
    v.for_each_item(|col, pos, it| -> Result<(), CatalogError> {
        seen.push((col.to_owned(), pos, it));
        Ok(())
    })
    .unwrap();
    let whole: Vec<(String, usize, Item)> = c
        .collections
        .iter()
        .flat_map(|col| {
            col.items
                .iter()
                .enumerate()
                .map(|(p, it)| (col.id.clone(), p, it.clone()))
        })
        .collect();
    assert_eq!(seen, whole);
    let counts: Vec<usize> = v.head().collections.iter().map(|c| c.items).collect();
    assert_eq!(counts, [50, 2, 0]);
    assert_eq!(v.head().item_count(), 52);

    // A caller's error stops the reading and is what comes back.
    let mut n = 0;
    let e = v
        .for_each_item(|_, _, _| {
            n += 1;
            if n == 3 {
                Err(CatalogError::Invalid("enough".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!((n, e.to_string().as_str()), (3, "invalid catalog: enough"));

    // Failed verification hands the bytes back.
    let (e, back) =
        verify_catalog_owned(bytes.clone(), b"junk", &public(&k), Some("acme")).unwrap_err();
    assert_eq!((e.code(), back), ("bad_signature", bytes));
}

/// A signed catalog in another field order than the publisher's (items
/// before the collection's id, collections before the library) reads the
/// same; a duplicate field or an unknown one is refused as JSON.
#[test]
fn any_field_order_reads_the_same_and_duplicates_are_refused() {
    let k = key();
    let c = catalog(vec![item("e1", "One"), item("e2", "Two")]);
    let items = serde_json::to_string(&c.collections[0].items).unwrap();
    let reordered = format!(
        r#"{{"collections":[{{"items":{items},"title":"Show","kind":"show","id":"show"}}],"mirrors":["https://m.example/"],"expires_at":"2026-02-01T00:00:00Z","generated_at":"2026-01-01T00:00:00Z","sequence":1,"library":{{"id":"acme","title":"Acme"}},"format":1}}"#
    );
    let v = verify_catalog(
        reordered.as_bytes(),
        &sign(&k, reordered.as_bytes()),
        &public(&k),
        Some("acme"),
    )
    .unwrap();
    assert_eq!(v.head(), &c.head());
    let mut seen = Vec::new();
    v.for_each_item(|col, pos, it| -> Result<(), CatalogError> {
        seen.push((col.to_owned(), pos, it.id));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [
            ("show".to_owned(), 0, "e1".to_owned()),
            ("show".to_owned(), 1, "e2".to_owned())
        ]
    );
    let signed = |t: &str| verify_catalog(t.as_bytes(), &sign(&k, t.as_bytes()), &public(&k), None);
    let json = String::from_utf8(c.to_canonical_json()).unwrap();
    let twice = json.replacen(r#""sequence":1,"#, r#""sequence":1,"sequence":9,"#, 1);
    assert_eq!(signed(&twice).unwrap_err().code(), "catalog_json");
    let unknown = json.replacen(r#""sequence":1,"#, r#""sequence":1,"extra":true,"#, 1);
    assert_eq!(signed(&unknown).unwrap_err().code(), "catalog_json");
    let dup_item = json.replace(r#""id":"e2""#, r#""id":"e1""#);
    let e = signed(&dup_item).unwrap_err();
    assert_eq!(e.code(), "catalog_invalid", "{e}");
    assert!(e.to_string().contains("duplicate item id"), "{e}");
    // A newer format is said to be one, whatever its items look like.
    let newer = json.replace(r#""format":1"#, r#""format":3"#);
    assert_eq!(signed(&newer).unwrap_err().code(), "unsupported_format");
}

/// The streaming checks and validate_catalog agree on what is wrong.
#[test]
fn streaming_validation_agrees_with_the_whole_catalog_check() {
    let k = key();
    let limits = stowaway_catalog::Limits::default();
    let mut cases = Vec::new();
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].items[0].assets[0].size = u64::MAX;
    cases.push(c);
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].items[0].assets[0].name = Some("../x".into());
    cases.push(c);
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].title = "bell\u{7}".into();
    cases.push(c);
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections.push(c.collections[0].clone());
    cases.push(c);
    let mut c = catalog(vec![item("e1", "One")]);
    c.library.id = "../lib".into();
    cases.push(c);
    let mut c = catalog(vec![item("e1", "One")]);
    c.collections[0].id = "-bad".into();
    cases.push(c);
    for c in cases {
        let whole = validate_catalog(&c, &limits).unwrap_err();
        let bytes = c.to_canonical_json();
        let streamed = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), None).unwrap_err();
        assert_eq!(streamed.to_string(), whole.to_string());
    }
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

/// The format rules (FORMAT.md): this client reads formats 1 and 2; a
/// format-2 catalog's assets may carry chunk lists, checked for their
/// chunk size; a newer format is refused as such, before its items are read
/// (streamed or whole).
#[test]
fn formats_one_and_two_are_read_and_a_newer_one_is_refused() {
    use stowaway_catalog::{Chunks, CHUNK_SIZE};
    let k = key();
    // Format 1, as today's publisher writes it.
    let one = catalog(vec![item("e1", "One")]);
    let bytes = one.to_canonical_json();
    assert!(bytes.starts_with(br#"{"format":1,"#));
    verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), Some("acme")).unwrap();
    // Format 2 with a chunk list on its file.
    let mut two = catalog(vec![item("e1", "One")]);
    two.format = 2;
    two.collections[0].items[0].assets[0].size = 5 << 20;
    two.collections[0].items[0].assets[0].chunks = Some(Chunks {
        size: CHUNK_SIZE,
        sha256: sha('c'),
    });
    let bytes = two.to_canonical_json();
    let v = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), Some("acme")).unwrap();
    assert_eq!(v.catalog().unwrap(), two);
    // A chunk size that is not a power of two in 64 KiB–16 MiB is refused.
    for bad in [1000, 32 << 10, 32 << 20, (1 << 20) + 1] {
        let mut c = two.clone();
        c.collections[0].items[0].assets[0].chunks = Some(Chunks {
            size: bad,
            sha256: sha('c'),
        });
        let bytes = c.to_canonical_json();
        let e = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), Some("acme")).unwrap_err();
        assert!(e.to_string().contains("chunk size"), "{bad}: {e}");
    }
    // More chunks than 2^18 (a list over 8 MiB): refused.
    let mut many = two.clone();
    many.collections[0].items[0].assets[0].size = (1u64 << 18) * (64 << 10) + 1;
    many.collections[0].items[0].assets[0].chunks = Some(Chunks {
        size: 64 << 10,
        sha256: sha('c'),
    });
    let bytes = many.to_canonical_json();
    let e = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), Some("acme")).unwrap_err();
    assert!(e.to_string().contains("chunks"), "{e}");
    // Format 3: refused, saying a newer Stowaway may read it.
    let mut three = one.clone();
    three.format = 3;
    let bytes = three.to_canonical_json();
    let e = verify_catalog(&bytes, &sign(&k, &bytes), &public(&k), Some("acme")).unwrap_err();
    assert!(matches!(e, CatalogError::UnsupportedFormat(3)), "{e}");
    assert!(e.to_string().contains("reads versions 1 to 2"), "{e}");
    assert!(validate_catalog(&three, &Default::default()).is_err());
}

/// A chunk list is exactly one SHA-256 per chunk and hashes to what the
/// catalog says; the chunks tile the file.
#[test]
fn chunk_lists_are_checked_and_tile_the_file() {
    use stowaway_catalog::Chunks;
    let file_size = 2 * 1024 * 1024 + 5;
    let digests: Vec<u8> = (0..3u8).flat_map(|i| [i; 32]).collect();
    let chunks = Chunks {
        size: 1 << 20,
        sha256: Sha256::digest(&digests),
    };
    assert_eq!(chunks.count(file_size), 3);
    assert_eq!(chunks.range(0, file_size), 0..1 << 20);
    assert_eq!(chunks.range(2, file_size), 2 << 20..file_size);
    assert_eq!(chunks.count(0), 0);
    let list = chunks.parse_list(&digests, file_size).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[2], [2u8; 32]);
    assert!(
        chunks.parse_list(&digests[..64], file_size).is_err(),
        "one short"
    );
    let mut other = digests.clone();
    other[0] ^= 1;
    assert!(chunks
        .parse_list(&other, file_size)
        .unwrap_err()
        .contains("does not match"));
}
