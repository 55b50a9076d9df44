//! Errors of the catalog crate.

/// Everything that can be wrong with a catalog or a subscription.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the public key is not a valid minisign public key: {0}")]
    BadPublicKey(String),
    #[error("the signature file is not a valid minisign signature: {0}")]
    BadSignature(String),
    #[error("the catalog signature does not verify with the subscribed public key (forged, or signed by another key)")]
    SignatureMismatch,
    #[error("the catalog is not valid JSON for formats {OLDEST} to {FORMAT}: {0}", OLDEST = crate::OLDEST_FORMAT, FORMAT = crate::FORMAT_VERSION)]
    Json(#[from] serde_json::Error),
    #[error("unsupported catalog format version {0} (this Stowaway reads versions {OLDEST} to {FORMAT}; a newer one may read it)", OLDEST = crate::OLDEST_FORMAT, FORMAT = crate::FORMAT_VERSION)]
    UnsupportedFormat(u32),
    #[error("invalid catalog: {0}")]
    Invalid(String),
    #[error("the catalog is for library {found:?}, but the subscription is for {expected:?}")]
    WrongLibrary { expected: String, found: String },
    #[error("invalid subscription: {0}")]
    BadSubscription(String),
}

impl CatalogError {
    /// A stable, machine-readable code for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            CatalogError::TooLarge { .. } => "catalog_too_large",
            CatalogError::BadPublicKey(_) => "bad_public_key",
            CatalogError::BadSignature(_) => "bad_signature",
            CatalogError::SignatureMismatch => "signature_mismatch",
            CatalogError::Json(_) => "catalog_json",
            CatalogError::UnsupportedFormat(_) => "unsupported_format",
            CatalogError::Invalid(_) => "catalog_invalid",
            CatalogError::WrongLibrary { .. } => "wrong_library",
            CatalogError::BadSubscription(_) => "bad_subscription",
        }
    }
}
