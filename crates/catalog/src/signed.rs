//! Verification of a signed catalog: the signature is checked over the exact
//! bytes served, with the subscribed public key, *before* those bytes are parsed.

use crate::{Catalog, CatalogError, CatalogHead, Item, Limits, Sha256};

/// A catalog larger than this is refused before its signature is even checked.
pub const MAX_CATALOG_BYTES: usize = 64 << 20;
/// A minisign signature file is a few hundred bytes; more is hostile.
pub const MAX_SIGNATURE_BYTES: usize = 4096;

/// A publisher's minisign public key.
#[derive(Clone)]
pub struct PublicKey {
    key: minisign_verify::PublicKey,
    base64: String,
    /// Its key id (8 bytes) and Ed25519 key (32 bytes), for checking a
    /// signature's trusted comment on its own ([`read_claim`]).
    id: [u8; 8],
    ed25519: [u8; 32],
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.base64)
    }
}

impl PublicKey {
    /// Parses the base64 key line (`RW…`) or a whole `minisign.pub` file.
    pub fn parse(text: &str) -> Result<PublicKey, CatalogError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| CatalogError::BadPublicKey("empty".into()))?;
        let key = minisign_verify::PublicKey::from_base64(line)
            .map_err(|e| CatalogError::BadPublicKey(e.to_string()))?;
        let raw = decode_base64(line)
            .filter(|b| b.len() == 42)
            .ok_or_else(|| CatalogError::BadPublicKey("not 42 bytes of base64".into()))?;
        Ok(PublicKey {
            key,
            base64: line.to_owned(),
            id: raw[2..10].try_into().expect("8 bytes"),
            ed25519: raw[10..42].try_into().expect("32 bytes"),
        })
    }

    /// The key in base64, as stored in subscriptions.
    pub fn to_base64(&self) -> &str {
        &self.base64
    }
}

/// A catalog whose signature verified and whose content validated: its
/// exact bytes and its head. The items stay in the bytes until they are
/// written ([`VerifiedCatalog::for_each_item`]): a 100,000-item catalog is
/// never held as values.
#[derive(Clone, Debug)]
pub struct VerifiedCatalog {
    head: CatalogHead,
    bytes: Vec<u8>,
    sha256: Sha256,
    signature: Vec<u8>,
    limits: Limits,
}

impl VerifiedCatalog {
    /// A catalog its caller built and vouches for (a feed's, mapped by the
    /// engine; tests): its canonical bytes, no signature, items read back
    /// under `limits`. Not a verification: only code that made `catalog`
    /// itself may call this.
    pub fn unsigned(catalog: &Catalog, limits: Limits) -> VerifiedCatalog {
        let bytes = catalog.to_canonical_json();
        VerifiedCatalog {
            head: catalog.head(),
            sha256: Sha256::digest(&bytes),
            bytes,
            signature: Vec::new(),
            limits,
        }
    }

    /// Everything but the items.
    pub fn head(&self) -> &CatalogHead {
        &self.head
    }

    pub fn sequence(&self) -> u64 {
        self.head.sequence
    }

    /// The exact signed bytes, kept so the store can persist what was verified.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 of [`bytes`](Self::bytes): two catalogs are the same exactly when these are.
    pub fn sha256(&self) -> &Sha256 {
        &self.sha256
    }

    /// The signature file the bytes verified with (empty when unsigned).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Hands every item to `f` as `(collection id, position in it, item)`,
    /// in catalog order, reading them from the bytes one at a time. An error
    /// of `f` stops the reading and is returned.
    pub fn for_each_item<E: From<CatalogError>>(
        &self,
        mut f: impl FnMut(&str, usize, Item) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stopped = None;
        let mut sink = |c: &str, p: usize, it: Item| match f(c, p, it) {
            Ok(()) => true,
            Err(e) => {
                stopped = Some(e);
                false
            }
        };
        let r = crate::stream::scan(&self.bytes, &self.limits, &mut sink);
        match (r, stopped) {
            (_, Some(e)) => Err(e),
            (Ok(_), None) => Ok(()),
            (Err(e), None) => Err(e
                .unwrap_or_else(|| CatalogError::Invalid("reading stopped".into()))
                .into()),
        }
    }

    /// The whole catalog as values (for small catalogs and tests).
    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        Ok(serde_json::from_slice(&self.bytes)?)
    }
}

pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// What a signature file says of the catalog it signs, before that catalog
/// is fetched: its library and sequence, from the trusted comment
/// (`stowaway library <id> sequence <n>`). minisign's global signature covers
/// the trusted comment, so the claim is the publisher's word even without
/// the catalog; that the catalog itself matches is checked by
/// [`verify_catalog`] when it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureClaim {
    /// `None`: the trusted comment is not in Stowaway's form (the catalog
    /// has to be fetched to learn its sequence).
    pub sequence: Option<u64>,
    /// What the key signed (see [`signature_fingerprint`]): equal for the
    /// same signature whatever its untrusted comment says.
    pub fingerprint: Vec<u8>,
}

/// The signed part of a signature file: the signature, the trusted comment
/// and the global signature, without the untrusted first line (which anyone
/// can change without the key). Two signature files sign the same thing
/// exactly when their fingerprints are equal. `None` if it is not a
/// signature file at all.
pub fn signature_fingerprint(signature: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(signature).ok()?;
    let mut lines = text.lines().skip(1);
    let (sig, comment, global) = (lines.next()?, lines.next()?, lines.next()?);
    Some(format!("{}\n{comment}\n{}", sig.trim(), global.trim()).into_bytes())
}

/// Reads and authenticates the trusted comment of a signature file with
/// `key`: a comment the key did not sign, or one for another library, is
/// refused.
pub fn read_claim(
    signature: &[u8],
    key: &PublicKey,
    library_id: &str,
) -> Result<SignatureClaim, CatalogError> {
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(CatalogError::BadSignature(
            "signature file too large".into(),
        ));
    }
    let bad = |m: &str| CatalogError::BadSignature(m.to_owned());
    let text = std::str::from_utf8(signature).map_err(|_| bad("not UTF-8"))?;
    let mut lines = text.lines();
    let _untrusted = lines.next().ok_or_else(|| bad("empty"))?;
    let sig = lines
        .next()
        .and_then(decode_base64)
        .filter(|b| b.len() == 74)
        .ok_or_else(|| bad("no signature line"))?;
    let comment = lines
        .next()
        .and_then(|l| l.strip_prefix("trusted comment: "))
        .ok_or_else(|| bad("no trusted comment"))?;
    let global = lines
        .next()
        .and_then(decode_base64)
        .filter(|b| b.len() == 64)
        .ok_or_else(|| bad("no global signature"))?;
    if sig[2..10] != key.id {
        return Err(CatalogError::SignatureMismatch);
    }
    let mut message = sig[10..74].to_vec();
    message.extend_from_slice(comment.as_bytes());
    let pk = ed25519_compact::PublicKey::new(key.ed25519);
    let gs =
        ed25519_compact::Signature::from_slice(&global).map_err(|_| bad("global signature"))?;
    pk.verify(&message, &gs)
        .map_err(|_| CatalogError::SignatureMismatch)?;
    Ok(SignatureClaim {
        sequence: parse_comment(comment, library_id)?,
        fingerprint: signature_fingerprint(signature).unwrap_or_default(),
    })
}

/// `stowaway library <id> sequence <n>` → `Some(n)`; another library's id is
/// an error; a comment in another form says nothing.
fn parse_comment(comment: &str, library_id: &str) -> Result<Option<u64>, CatalogError> {
    let words: Vec<&str> = comment.split(' ').collect();
    match words.as_slice() {
        ["stowaway", "library", id, "sequence", n] => {
            if *id != library_id {
                return Err(CatalogError::WrongLibrary {
                    expected: library_id.to_owned(),
                    found: (*id).to_owned(),
                });
            }
            n.parse()
                .map(Some)
                .map_err(|_| CatalogError::BadSignature("sequence in the trusted comment".into()))
        }
        _ => Ok(None),
    }
}

/// Verifies `bytes` against the detached minisign `signature` with `key`, then
/// reads and validates the catalog (streaming: its items are checked and
/// dropped) and checks that it is for `library_id` (and, when the
/// signature's trusted comment names a library and sequence, that they are
/// the catalog's).
pub fn verify_catalog(
    bytes: &[u8],
    signature: &[u8],
    key: &PublicKey,
    library_id: Option<&str>,
) -> Result<VerifiedCatalog, CatalogError> {
    let head = check(bytes, signature, key, library_id)?;
    Ok(verified(head, bytes.to_vec(), signature))
}

/// [`verify_catalog`] keeping `bytes` without a copy; on failure they are
/// handed back (to try another signature).
pub fn verify_catalog_owned(
    bytes: Vec<u8>,
    signature: &[u8],
    key: &PublicKey,
    library_id: Option<&str>,
) -> Result<VerifiedCatalog, (CatalogError, Vec<u8>)> {
    match check(&bytes, signature, key, library_id) {
        Ok(head) => Ok(verified(head, bytes, signature)),
        Err(e) => Err((e, bytes)),
    }
}

fn verified(head: CatalogHead, bytes: Vec<u8>, signature: &[u8]) -> VerifiedCatalog {
    VerifiedCatalog {
        head,
        sha256: Sha256::digest(&bytes),
        bytes,
        signature: signature.to_vec(),
        limits: Limits::default(),
    }
}

fn check(
    bytes: &[u8],
    signature: &[u8],
    key: &PublicKey,
    library_id: Option<&str>,
) -> Result<CatalogHead, CatalogError> {
    if bytes.len() > MAX_CATALOG_BYTES {
        return Err(CatalogError::TooLarge {
            size: bytes.len(),
            limit: MAX_CATALOG_BYTES,
        });
    }
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(CatalogError::BadSignature(
            "signature file too large".into(),
        ));
    }
    let sig_text = std::str::from_utf8(signature)
        .map_err(|_| CatalogError::BadSignature("not UTF-8".into()))?;
    let sig = minisign_verify::Signature::decode(sig_text)
        .map_err(|e| CatalogError::BadSignature(e.to_string()))?;
    key.key
        .verify(bytes, &sig, false)
        .map_err(|_| CatalogError::SignatureMismatch)?;
    let head = crate::stream::scan(bytes, &Limits::default(), &mut |_, _, _| true)
        .map_err(|e| e.unwrap_or_else(|| CatalogError::Invalid("reading stopped".into())))?;
    if let Some(expected) = library_id {
        if head.library.id != expected {
            return Err(CatalogError::WrongLibrary {
                expected: expected.to_owned(),
                found: head.library.id.clone(),
            });
        }
    }
    // The comment is covered by the signature just verified.
    if let Some(n) = parse_comment(sig.trusted_comment(), &head.library.id)? {
        if n != head.sequence {
            return Err(CatalogError::Invalid(format!(
                "the signature says sequence {n}, the catalog {}",
                head.sequence
            )));
        }
    }
    Ok(head)
}
