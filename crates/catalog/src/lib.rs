//! The Stowaway library model and its formats.
//!
//! This crate owns *what a library is*: the data model (library → collections →
//! items → assets), the signed catalog (`library.json` + `library.json.minisig`),
//! the member's subscription file, the diff between two catalogs, and the one
//! SHA-256 helper. It opens no file and no socket: bytes (or a reader) in,
//! validated values out. Everything that crosses a trust boundary
//! (a catalog from a mirror, a subscription from a link) is validated here before
//! any other crate sees it.
#![forbid(unsafe_code)]

mod diff;
mod error;
mod model;
mod signed;
mod stream;
mod subscription;
mod update;
mod validate;

pub use diff::CatalogDiff;
pub use error::CatalogError;
pub use model::{
    Asset, AssetRole, Catalog, Chunks, Collection, CollectionKind, Item, ItemKind, LibraryInfo,
    Sha256, CHUNK_SIZE, FORMAT_VERSION, MAX_CHUNKS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, OLDEST_FORMAT,
};
pub use signed::{
    read_claim, signature_fingerprint, verify_catalog, verify_catalog_owned, PublicKey,
    SignatureClaim, VerifiedCatalog, MAX_CATALOG_BYTES, MAX_SIGNATURE_BYTES,
};
pub use stream::{CatalogHead, CollectionHead};
pub use subscription::{Access, Subscription, SUBSCRIPTION_FORMAT};
pub use update::{
    check_installer, is_plain_file_name, parse_version, UpdateManifest, UpdatePlatform,
    MAX_UPDATE_MANIFEST, UPDATE_MANIFEST,
};
pub use validate::{is_media_type, validate_catalog, validate_id, Limits};

/// The path of a blob below a mirror's base URL (or below a blob store root).
///
/// Built only from a validated [`Sha256`], so it can never contain `..` or a
/// separator that the publisher or a mirror chose.
pub fn blob_path(sha: &Sha256) -> String {
    let hex = sha.as_str();
    format!("blobs/sha256/{}/{}", &hex[..2], hex)
}

/// Name of the catalog file on every mirror.
pub const CATALOG_FILE: &str = "library.json";
/// Name of the detached signature of the catalog on every mirror.
pub const SIGNATURE_FILE: &str = "library.json.minisig";

/// Where a mirror keeps the signature of the catalog whose bytes hash to
/// `sha` (written before `library.json` changes, so whatever `library.json`
/// a reader gets, its signature is there; see FORMAT.md).
pub fn signature_path(sha: &Sha256) -> String {
    format!("signatures/{}.minisig", sha.as_str())
}
