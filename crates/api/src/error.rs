//! The one public error: a small, stable [`ErrorCode`] the page and `--json`
//! act on, the core's own finer code for diagnostics, and a message for a
//! human. Every core error is mapped here, at the boundary, once.

use serde::Serialize;
use ts_rs::TS;

/// What went wrong, in the terms a shell acts on. Stable: a code is never
/// renamed or reused (docs/API.md lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    /// No such library, collection, item or file.
    NotFound,
    /// A private library's mirrors want (another) access token: ask for it.
    NeedsToken,
    /// No mirror or server could be reached: show the offline banner.
    Offline,
    /// What was typed or sent is not valid (a link, a size, a setting).
    Invalid,
    /// The file or address is neither a Stowaway subscription nor a podcast feed.
    NotASubscription,
    /// A mirror or file failed verification (signature, hash, rollback).
    Untrusted,
    /// It is larger than Stowaway accepts.
    TooLarge,
    /// Another sync holds this cache: try again when it ends.
    Busy,
    /// That needs a file that is not downloaded yet.
    NotDownloaded,
    /// A subscription was confirmed that was not shown first.
    NotPreviewed,
    /// The OS keyring is missing, locked or refused.
    Keyring,
    /// No program could open the file.
    NoViewer,
    /// Reading or writing this laptop's disk failed.
    Storage,
    /// The cache's index cannot be read: `stowaway fsck --repair` rebuilds it.
    IndexCorrupt,
    /// It was stopped.
    Cancelled,
    /// Downloads are paused: that needs them resumed.
    Paused,
    /// A bug: nothing the member did.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::NeedsToken => "needs_token",
            ErrorCode::Offline => "offline",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotASubscription => "not_a_subscription",
            ErrorCode::Untrusted => "untrusted",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Busy => "busy",
            ErrorCode::NotDownloaded => "not_downloaded",
            ErrorCode::NotPreviewed => "not_previewed",
            ErrorCode::Keyring => "keyring",
            ErrorCode::NoViewer => "no_viewer",
            ErrorCode::Storage => "storage",
            ErrorCode::IndexCorrupt => "index_corrupt",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Paused => "paused",
            ErrorCode::Internal => "internal",
        }
    }

    /// The public code of a core crate's own `code()`.
    pub fn of_core(detail: &str) -> ErrorCode {
        match detail {
            // store
            "database" | "migration" | "index_corrupt" => ErrorCode::IndexCorrupt,
            "io" => ErrorCode::Storage,
            "unknown_library" | "unknown_item" | "not_found" => ErrorCode::NotFound,
            "key_conflict" | "source_conflict" | "not_openable" | "pinned" | "out_of_range" => {
                ErrorCode::Invalid
            }
            "rollback" | "equivocation" | "hash_mismatch" | "integrity_mismatch" | "bad_chunk" => {
                ErrorCode::Untrusted
            }
            "too_long" | "catalog_too_large" | "too_large" | "feed_too_large" => {
                ErrorCode::TooLarge
            }
            "busy" => ErrorCode::Busy,
            "cancelled" => ErrorCode::Cancelled,
            "paused" => ErrorCode::Paused,
            // catalog
            "bad_public_key" | "bad_subscription" | "unsupported_format" | "catalog_json" => {
                ErrorCode::NotASubscription
            }
            "bad_signature" | "signature_mismatch" | "catalog_invalid" | "wrong_library" => {
                ErrorCode::Untrusted
            }
            // mirrors
            "bad_url" => ErrorCode::Invalid,
            "connect" | "timeout" | "stalled" | "too_slow" | "http_status" | "gone"
            | "range_ignored" | "transfer" | "download_failed" => ErrorCode::Offline,
            "unauthorized" | "bad_token" => ErrorCode::NeedsToken,
            "not_public" => ErrorCode::Untrusted,
            // feeds
            "not_a_feed"
            | "malformed_xml"
            | "feed_truncated"
            | "feed_too_deep"
            | "feed_too_many_elements"
            | "feed_too_many_episodes"
            | "feed_declares_entities" => ErrorCode::NotASubscription,
            // secrets
            "keyring_unavailable" | "keyring_denied" | "keyring" => ErrorCode::Keyring,
            "token_env_ambiguous" => ErrorCode::Invalid,
            _ => ErrorCode::Internal,
        }
    }
}

/// An error the page can show and match on (`code`), with the core's own
/// code (`detail`, e.g. `bad_signature`) and, where one is concerned, the
/// library (the page asks for its token on `needs_token`).
#[derive(Clone, Debug, Serialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub message: String,
    pub library: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: code.as_str().to_owned(),
            message: message.into(),
            library: None,
        }
    }

    fn core(detail: &'static str, message: String) -> ApiError {
        ApiError {
            code: ErrorCode::of_core(detail),
            detail: detail.to_owned(),
            message,
            library: None,
        }
    }

    /// Names the library this error concerns.
    pub fn for_library(mut self, library: &str) -> ApiError {
        self.library.get_or_insert_with(|| library.to_owned());
        self
    }
}

impl ApiError {
    /// The public error of the first error in `e`'s chain (it, its source,
    /// and so on) that is an [`ApiError`] or a core crate's error; `None`
    /// when none is (a shell's own message, which it codes itself). The
    /// message is the whole chain's, as a human reads it.
    pub fn of_chain(e: &(dyn std::error::Error + 'static), message: String) -> Option<ApiError> {
        let mut next = Some(e);
        while let Some(e) = next {
            let found = if let Some(a) = e.downcast_ref::<ApiError>() {
                Some(ApiError {
                    message: message.clone(),
                    ..a.clone()
                })
            } else {
                core_code(e).map(|detail| ApiError::core(detail, message.clone()))
            };
            if found.is_some() {
                return found;
            }
            next = e.source();
        }
        None
    }
}

/// The core code of `e`, if it is one of the core crates' errors.
fn core_code(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    macro_rules! try_code {
        ($($t:ty),*) => {$(
            if let Some(e) = e.downcast_ref::<$t>() {
                return Some(e.code());
            }
        )*};
    }
    try_code!(
        stowaway_store::StoreError,
        stowaway_sync::SyncError,
        stowaway_catalog::CatalogError,
        stowaway_mirrors::MirrorError,
        stowaway_feeds::FeedError,
        stowaway_secrets::SecretsError
    );
    if e.downcast_ref::<std::io::Error>().is_some() {
        return Some("io");
    }
    None
}

/// What every use case returns.
pub type ApiResult<T> = Result<T, ApiError>;

macro_rules! from_core {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> ApiError {
                ApiError::core(e.code(), e.to_string())
            }
        }
    )*};
}

from_core!(
    stowaway_store::StoreError,
    stowaway_sync::SyncError,
    stowaway_catalog::CatalogError,
    stowaway_mirrors::MirrorError,
    stowaway_feeds::FeedError,
    stowaway_secrets::SecretsError
);

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::new(
            ErrorCode::Internal,
            format!("a background task failed: {e}"),
        )
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::new(ErrorCode::Storage, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code a core crate gives has a public code; only "internal" is
    /// internal. (A new core code lands in `Internal` until it is mapped:
    /// this table is the list to extend.)
    #[test]
    fn every_core_code_is_mapped() {
        let core = [
            ("database", ErrorCode::IndexCorrupt),
            ("migration", ErrorCode::IndexCorrupt),
            ("index_corrupt", ErrorCode::IndexCorrupt),
            ("io", ErrorCode::Storage),
            ("unknown_library", ErrorCode::NotFound),
            ("unknown_item", ErrorCode::NotFound),
            ("key_conflict", ErrorCode::Invalid),
            ("rollback", ErrorCode::Untrusted),
            ("equivocation", ErrorCode::Untrusted),
            ("hash_mismatch", ErrorCode::Untrusted),
            ("too_long", ErrorCode::TooLarge),
            ("integrity_mismatch", ErrorCode::Untrusted),
            ("source_conflict", ErrorCode::Invalid),
            ("busy", ErrorCode::Busy),
            ("cancelled", ErrorCode::Cancelled),
            ("paused", ErrorCode::Paused),
            ("download_failed", ErrorCode::Offline),
            ("not_openable", ErrorCode::Invalid),
            ("pinned", ErrorCode::Invalid),
            ("out_of_range", ErrorCode::Invalid),
            ("bad_chunk", ErrorCode::Untrusted),
            ("catalog_too_large", ErrorCode::TooLarge),
            ("bad_public_key", ErrorCode::NotASubscription),
            ("bad_signature", ErrorCode::Untrusted),
            ("signature_mismatch", ErrorCode::Untrusted),
            ("catalog_json", ErrorCode::NotASubscription),
            ("unsupported_format", ErrorCode::NotASubscription),
            ("catalog_invalid", ErrorCode::Untrusted),
            ("wrong_library", ErrorCode::Untrusted),
            ("bad_subscription", ErrorCode::NotASubscription),
            ("bad_url", ErrorCode::Invalid),
            ("connect", ErrorCode::Offline),
            ("timeout", ErrorCode::Offline),
            ("stalled", ErrorCode::Offline),
            ("too_slow", ErrorCode::Offline),
            ("http_status", ErrorCode::Offline),
            ("not_found", ErrorCode::NotFound),
            ("gone", ErrorCode::Offline),
            ("unauthorized", ErrorCode::NeedsToken),
            ("bad_token", ErrorCode::NeedsToken),
            ("too_large", ErrorCode::TooLarge),
            ("range_ignored", ErrorCode::Offline),
            ("transfer", ErrorCode::Offline),
            ("not_public", ErrorCode::Untrusted),
            ("feed_too_large", ErrorCode::TooLarge),
            ("not_a_feed", ErrorCode::NotASubscription),
            ("malformed_xml", ErrorCode::NotASubscription),
            ("feed_truncated", ErrorCode::NotASubscription),
            ("feed_too_deep", ErrorCode::NotASubscription),
            ("feed_too_many_elements", ErrorCode::NotASubscription),
            ("feed_too_many_episodes", ErrorCode::NotASubscription),
            ("feed_declares_entities", ErrorCode::NotASubscription),
            ("keyring_unavailable", ErrorCode::Keyring),
            ("keyring_denied", ErrorCode::Keyring),
            ("keyring", ErrorCode::Keyring),
            ("token_env_ambiguous", ErrorCode::Invalid),
        ];
        for (detail, code) in core {
            assert_eq!(ErrorCode::of_core(detail), code, "{detail}");
        }
        assert_eq!(ErrorCode::of_core("internal"), ErrorCode::Internal);
    }

    /// A core error wrapped in context (as a shell's anyhow chain holds it)
    /// keeps its code; a shell's own message has none.
    #[test]
    fn a_chain_keeps_the_core_code() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot subscribe")]
        struct Context(#[source] stowaway_sync::SyncError);
        let e = Context(stowaway_sync::SyncError::Busy);
        let a = ApiError::of_chain(&e, "cannot subscribe: busy".into()).unwrap();
        assert_eq!((a.code, a.detail.as_str()), (ErrorCode::Busy, "busy"));
        assert_eq!(a.message, "cannot subscribe: busy");
        let io = std::io::Error::other("disk full");
        assert_eq!(
            ApiError::of_chain(&io, String::new()).unwrap().code,
            ErrorCode::Storage
        );
        let plain = std::fmt::Error;
        assert!(ApiError::of_chain(&plain, String::new()).is_none());
    }

    #[test]
    fn the_wire_form_is_the_code() {
        let e = ApiError::from(stowaway_store::StoreError::UnknownLibrary("acme".into()))
            .for_library("acme");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "not_found");
        assert_eq!(v["detail"], "unknown_library");
        assert_eq!(v["library"], "acme");
        for code in [ErrorCode::NeedsToken, ErrorCode::NotASubscription] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
