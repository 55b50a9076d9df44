//! Typed progress events published by the engine.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    LibraryStarted {
        library: String,
    },
    /// A mirror could not give a valid catalog; the next one is tried.
    CatalogMirrorFailed {
        library: String,
        mirror: String,
        error: String,
        code: String,
    },
    /// A mirror serves an older catalog than the newest another mirror (or
    /// the cache) has: it is marked stale in mirror health.
    MirrorStale {
        library: String,
        mirror: String,
        serves: u64,
        newest: u64,
    },
    CatalogApplied {
        library: String,
        mirror: String,
        sequence: u64,
        unchanged: bool,
        added: usize,
        changed: usize,
        removed: usize,
        /// The catalog is past its expiry: applied, but flagged.
        expired: bool,
    },
    DownloadsPlanned {
        library: String,
        files: usize,
        bytes: u64,
    },
    /// The member paused downloads: this sync refreshed the catalog only.
    DownloadsPaused {
        library: String,
    },
    /// Wanted files left for later because they do not fit the storage budget.
    DownloadsDeferred {
        library: String,
        files: usize,
        bytes: u64,
        budget: u64,
    },
    /// Space given back: played items evicted for the budget, or files no
    /// catalog references any more.
    StorageFreed {
        library: String,
        reason: String,
        items: u32,
        bytes: u64,
    },
    /// A download stopped because the member paused, removed or cancelled it.
    DownloadCancelled {
        sha256: String,
        label: String,
    },
    /// A partial file from an earlier (interrupted) sync is continued.
    DownloadResumed {
        sha256: String,
        offset: u64,
        size: u64,
    },
    DownloadStarted {
        sha256: String,
        label: String,
        size: u64,
        /// Where this mirror starts (non-zero when resuming).
        offset: u64,
        mirror: String,
    },
    DownloadProgress {
        sha256: String,
        bytes: u64,
        size: u64,
        mirror: String,
    },
    /// The download continues on another mirror from `offset` (HTTP Range).
    Failover {
        sha256: String,
        from: String,
        to: String,
        offset: u64,
        reason: String,
    },
    /// Overall progress of a library's downloads, a few times a second.
    Progress {
        library: String,
        bytes_done: u64,
        bytes_total: u64,
        files_done: usize,
        files_total: usize,
        /// Recent rate in bytes per second.
        rate_bps: u64,
        eta_secs: Option<u64>,
    },
    /// One mirror failed for one file; the next mirror is tried.
    DownloadMirrorFailed {
        sha256: String,
        mirror: String,
        error: String,
        code: String,
    },
    DownloadFinished {
        sha256: String,
        mirror: String,
        size: u64,
    },
    /// No mirror could deliver the file.
    DownloadFailed {
        sha256: String,
        label: String,
        error: String,
    },
    LibraryFinished {
        library: String,
        ok: bool,
    },
}
