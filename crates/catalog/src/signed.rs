//! Verification of a signed catalog: the signature is checked over the exact
//! bytes served, with the subscribed public key, *before* those bytes are parsed.

use crate::{validate_catalog, Catalog, CatalogError, Limits};

/// A catalog larger than this is refused before its signature is even checked.
pub const MAX_CATALOG_BYTES: usize = 64 << 20;
/// A minisign signature file is a few hundred bytes; more is hostile.
pub const MAX_SIGNATURE_BYTES: usize = 4096;

/// A publisher's minisign public key.
#[derive(Clone)]
pub struct PublicKey {
    key: minisign_verify::PublicKey,
    base64: String,
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
        Ok(PublicKey {
            key,
            base64: line.to_owned(),
        })
    }

    /// The key in base64, as stored in subscriptions.
    pub fn to_base64(&self) -> &str {
        &self.base64
    }
}

/// A catalog whose signature verified and whose content validated.
#[derive(Clone, Debug)]
pub struct VerifiedCatalog {
    pub catalog: Catalog,
    /// The exact signed bytes, kept so the store can persist what was verified.
    pub bytes: Vec<u8>,
}

/// Verifies `bytes` against the detached minisign `signature` with `key`, then
/// parses and validates the catalog and checks that it is for `library_id`.
pub fn verify_catalog(
    bytes: &[u8],
    signature: &[u8],
    key: &PublicKey,
    library_id: Option<&str>,
) -> Result<VerifiedCatalog, CatalogError> {
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
    let catalog: Catalog = serde_json::from_slice(bytes)?;
    validate_catalog(&catalog, &Limits::default())?;
    if let Some(expected) = library_id {
        if catalog.library.id != expected {
            return Err(CatalogError::WrongLibrary {
                expected: expected.to_owned(),
                found: catalog.library.id.clone(),
            });
        }
    }
    Ok(VerifiedCatalog {
        catalog,
        bytes: bytes.to_vec(),
    })
}
