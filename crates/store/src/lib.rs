//! The local cache: one SQLite index plus a content-addressed blob store.
//!
//! This crate owns every write to the data directory. Layout:
//!
//! ```text
//! DATA_DIR/stowaway.db               the index (WAL): libraries, mirrors, catalog, blobs, FTS5
//! DATA_DIR/blobs/sha256/ab/abcd…     verified blobs, named by their SHA-256
//! DATA_DIR/blobs/partial/abcd…       downloads in progress (never served)
//! DATA_DIR/blobs/quarantine/…        blobs fsck found corrupt
//! ```
//!
//! Invariants: a row in `blobs` means the file at its path was hashed and
//! matched when it was stored; a catalog is applied in one transaction; nothing
//! here does network I/O or knows about Tauri.
#![forbid(unsafe_code)]

/// An item `i`'s duration as its media file gives it (when read): SQL
/// shared by the item columns and `mediainfo::ITEM_MEDIA_DURATION`.
macro_rules! item_media_duration {
    () => {
        "(SELECT mi.duration_ms FROM assets da JOIN media_info mi ON mi.sha256 = da.sha256
          WHERE da.item_rowid = i.rowid AND da.role = 'media' LIMIT 1)"
    };
}

mod blobs;
mod chunks;
mod db;
mod downloads;
mod error;
mod feeds;
mod fsck;
mod health;
mod library;
mod listening;
mod mediainfo;
mod pages;
mod partial;
mod playback;
mod private;
mod query;
mod ready;

pub use blobs::{BlobStore, BlobWriter};
pub use chunks::{Arrival, ChunkChecked};
pub use downloads::{DownloadMode, Freed, QueuedDownload, StorageUsage};
pub use error::StoreError;
pub use feeds::{FeedFile, FeedRow, FileDigest};
pub use fsck::{FsckProblem, FsckReport, Rebuilt};
pub use health::{MirrorRecord, PartialRow};
pub use library::{
    AppliedCatalog, ApplyOutcome, LibraryRow, SubscribeOutcome, Unsubscribed, WantedBlob,
};
pub use listening::{check_speed, QueueAt, ShelfItem, MAX_QUEUE, SPEED_RANGE};
pub use mediainfo::MediaInfo;
pub use pages::{CollectionCursor, CollectionSummary, ItemCursor, ItemFilter, Seek, MAX_WINDOW};
pub use partial::{ChunkedPartial, ChunksIn, PrefixHasher, Written};
pub use playback::{AssetRow, ItemKey, ItemText, Playback, StoredAsset};
pub use private::create_private_dir;
pub use query::{fts_query, CollectionView, ItemView, LibraryStatus, SearchHit};
pub use ready::{ReadyFile, ReadyItem, ReadyPlan, Reverified};

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

/// File name of the index inside the data directory.
pub const DB_FILE: &str = "stowaway.db";

/// The cache. Cheap to share behind an `Arc`; every method is short and
/// synchronous (no method holds a transaction across I/O it does not own).
pub struct Store {
    root: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    blobs: BlobStore,
    /// Where a player waits in files still arriving (this process only):
    /// the download fetches that chunk first.
    wants: Mutex<std::collections::HashMap<stowaway_catalog::Sha256, u64>>,
    /// Files downloading in chunks in this process.
    arriving: Mutex<std::collections::HashSet<stowaway_catalog::Sha256>>,
    /// Files a player asked for whose download is starting in this process.
    starting: Mutex<std::collections::HashSet<stowaway_catalog::Sha256>>,
}

impl Store {
    /// Opens (creating if needed) the cache in `data_dir`, migrating the index
    /// to the current schema.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        private::create_dir(data_dir)?;
        let db_path = data_dir.join(DB_FILE);
        let writer = db::open_writer(&db_path).map_err(StoreError::corrupt_if_not_a_database)?;
        let reader = db::open_reader(&db_path)?;
        let blobs = BlobStore::open(&data_dir.join("blobs"))?;
        Ok(Store {
            root: data_dir.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            blobs,
            wants: Mutex::default(),
            arriving: Mutex::default(),
            starting: Mutex::default(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// One sync (or repair) per cache at a time: an exclusive lock on
    /// `sync.lock`, released when the returned file is dropped or the
    /// process ends (even by `kill -9`). [`StoreError::Busy`] if held.
    pub fn lock_sync(data_dir: &Path) -> Result<std::fs::File, StoreError> {
        let path = data_dir.join("sync.lock");
        let f = private::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&path, e)),
        }
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
