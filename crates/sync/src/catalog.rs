//! The catalog phase: a hedged, conditional fetch of `library.json` (+ its
//! signature) from whichever mirror answers first with a catalog that
//! verifies and is not older than the one applied.

use std::sync::Arc;

use stowaway_catalog::{
    verify_catalog, PublicKey, VerifiedCatalog, CATALOG_FILE, MAX_CATALOG_BYTES,
    MAX_SIGNATURE_BYTES, SIGNATURE_FILE,
};
use stowaway_mirrors::{Fetched, MirrorError, MirrorPool, Validators};
use stowaway_store::{MirrorRecord, Store};

/// What the winning mirror gave.
pub(crate) enum CatalogFetch {
    /// The applied catalog is current (a 304, or the same bytes).
    Unchanged { validators: Validators },
    New {
        verified: Box<VerifiedCatalog>,
        validators: Validators,
    },
}

/// Why one mirror gave no catalog: a stable code and the message.
struct Failure {
    code: &'static str,
    message: String,
}

impl From<MirrorError> for Failure {
    fn from(e: MirrorError) -> Failure {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            code: "catalog_refused",
            message,
        }
    }
}

/// Fetches from `pool` (hedged). Returns the winning mirror's index and what
/// it gave; every mirror that failed is reported to
/// `on_failure(url, error, code)`.
pub(crate) async fn fetch(
    pool: &MirrorPool,
    store: &Arc<Store>,
    library: &str,
    key: &PublicKey,
    records: &[MirrorRecord],
    on_failure: &(dyn Fn(&str, &str, &str) + Sync),
) -> Result<(usize, CatalogFetch), String> {
    let applied = store.applied_catalog(library).map_err(|e| e.to_string())?;
    let applied = applied.as_ref();
    let attempt = |id: usize| {
        let url = pool.url(id).to_owned();
        let validators = match (applied, records.iter().find(|r| r.url == url)) {
            (Some(_), Some(r)) => Validators {
                etag: r.catalog_etag.clone(),
                last_modified: r.catalog_last_modified.clone(),
            },
            _ => Validators::default(),
        };
        async move {
            let result = async {
            let (bytes, validators) = match pool
                .fetch(id, CATALOG_FILE, MAX_CATALOG_BYTES as u64, &validators)
                .await?
            {
                Fetched::NotModified => return Ok(CatalogFetch::Unchanged { validators }),
                Fetched::Body {
                    bytes, validators, ..
                } => (bytes, validators),
            };
            if let Some((_, applied_bytes)) = applied {
                if *applied_bytes == bytes {
                    return Ok(CatalogFetch::Unchanged { validators });
                }
            }
            let sig = match pool
                .fetch(
                    id,
                    SIGNATURE_FILE,
                    MAX_SIGNATURE_BYTES as u64,
                    &Validators::default(),
                )
                .await?
            {
                Fetched::Body { bytes, .. } => bytes,
                Fetched::NotModified => {
                    return Err(Failure::from("unexpected 304 for the signature".to_owned()))
                }
            };
            let verified = match verify_catalog(&bytes, &sig, key, Some(library)) {
                Ok(v) => v,
                Err(e) => {
                    pool.record_bad_bytes(id, &e.to_string());
                    return Err(e.to_string().into());
                }
            };
            if let Some((seq, _)) = applied {
                if verified.catalog.sequence < *seq {
                    let e = format!(
                        "serves catalog sequence {}, older than the applied {seq} (rollback refused)",
                        verified.catalog.sequence
                    );
                    pool.record_bad_bytes(id, &e);
                    return Err(e.into());
                }
                if verified.catalog.sequence == *seq {
                    let e = format!("serves a different catalog with the applied sequence {seq} (equivocation refused)");
                    pool.record_bad_bytes(id, &e);
                    return Err(e.into());
                }
            }
            Ok(CatalogFetch::New {
                verified: Box::new(verified),
                validators,
            })
            }
            .await;
            result.map_err(|f: Failure| {
                on_failure(&url, &f.message, f.code);
                f.message
            })
        }
    };
    pool.hedged(attempt).await.map_err(|errors| {
        if errors.is_empty() {
            "no mirrors".to_owned()
        } else {
            let all: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.mirror, e.message))
                .collect();
            format!("no mirror gave a valid catalog ({})", all.join("; "))
        }
    })
}
