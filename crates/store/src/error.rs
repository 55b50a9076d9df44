//! Errors of the store.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not subscribed to library {0:?}")]
    UnknownLibrary(String),
    #[error("no such collection or item: {0}")]
    UnknownItem(String),
    #[error("already subscribed to library {0:?} with a different public key; unsubscribe first (`stowaway unsubscribe {0}`)")]
    KeyConflict(String),
    #[error("refusing catalog sequence {offered} for {library:?}: sequence {applied} is already applied (rollback)")]
    Rollback {
        library: String,
        offered: u64,
        applied: u64,
    },
    #[error("catalog sequence {sequence} for {library:?} differs from the one already applied with the same sequence")]
    Equivocation { library: String, sequence: u64 },
    #[error("blob {sha256}: expected {expected_size} bytes with that hash, got {actual_size} bytes hashing to {actual_sha256}")]
    HashMismatch {
        sha256: String,
        expected_size: u64,
        actual_size: u64,
        actual_sha256: String,
    },
    #[error("blob {sha256}: more bytes than the expected {expected_size}")]
    TooLong { sha256: String, expected_size: u64 },
    /// A feed file failed the publisher's check (its integrity digest).
    #[error("{0}")]
    Unverified(String),
    #[error("library {0:?} is subscribed from another source")]
    SourceConflict(String),
    #[error("another sync is already running on this cache")]
    Busy,
    /// An attachment of a type the app does not hand to the system.
    #[error("Stowaway opens documents, images, audio and video only; this attachment is {0}")]
    NotOpenable(String),
    /// A file finished downloading after its item was removed: not kept.
    #[error("no longer wanted: removed while it downloaded")]
    Unwanted,
    /// The member keeps it for the trip: unpin it before removing it.
    #[error("{0} is kept for the trip; unpin it first (`stowaway unpin`)")]
    Pinned(String),
    /// A value the member chose is out of its range (a playback speed, a
    /// queue past its length).
    #[error("{0}")]
    OutOfRange(String),
    /// A catalog handed to the store failed to read back as it was written.
    #[error("{0}")]
    Catalog(#[from] stowaway_catalog::CatalogError),
    #[error("the index cannot be read ({0}); `stowaway fsck --repair` rebuilds it from your subscriptions and the files it can verify")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An index SQLite cannot read at all (overwritten, truncated to
    /// garbage) becomes [`StoreError::Corrupt`].
    pub(crate) fn corrupt_if_not_a_database(e: StoreError) -> StoreError {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        let code = match &e {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => Some(f.code),
            StoreError::Migration(rusqlite_migration::Error::RusqliteError {
                err: rusqlite::Error::SqliteFailure(f, _),
                ..
            }) => Some(f.code),
            _ => None,
        };
        match code {
            Some(NotADatabase | DatabaseCorrupt) => StoreError::Corrupt(e.to_string()),
            _ => e,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sqlite(_) => "database",
            StoreError::Migration(_) => "migration",
            StoreError::Io { .. } => "io",
            StoreError::UnknownLibrary(_) => "unknown_library",
            StoreError::UnknownItem(_) => "unknown_item",
            StoreError::KeyConflict(_) => "key_conflict",
            StoreError::Rollback { .. } => "rollback",
            StoreError::Equivocation { .. } => "equivocation",
            StoreError::HashMismatch { .. } => "hash_mismatch",
            StoreError::TooLong { .. } => "too_long",
            StoreError::Unverified(_) => "integrity_mismatch",
            StoreError::SourceConflict(_) => "source_conflict",
            StoreError::Busy => "busy",
            StoreError::Unwanted => "cancelled",
            StoreError::NotOpenable(_) => "not_openable",
            StoreError::Corrupt(_) => "index_corrupt",
            StoreError::Catalog(e) => e.code(),
            StoreError::Pinned(_) => "pinned",
            StoreError::OutOfRange(_) => "out_of_range",
        }
    }
}
