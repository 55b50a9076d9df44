//! The engine's events as the page receives them: the ones it draws
//! (download progress per file, overall progress, a catalog applied, a
//! library done). The rest stay in the shell's log.

use serde::Serialize;
use stowaway_sync::SyncEvent;
use ts_rs::TS;

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export, rename = "SyncEvent")]
pub enum PageEvent {
    CatalogApplied {
        library: String,
        added: usize,
    },
    DownloadStarted {
        sha256: String,
        #[ts(type = "number")]
        offset: u64,
        mirror: String,
    },
    DownloadResumed {
        sha256: String,
        #[ts(type = "number")]
        offset: u64,
    },
    DownloadProgress {
        sha256: String,
        #[ts(type = "number")]
        bytes: u64,
        mirror: String,
    },
    Failover {
        sha256: String,
        to: String,
    },
    DownloadFinished {
        sha256: String,
    },
    DownloadFailed {
        sha256: String,
    },
    DownloadCancelled {
        sha256: String,
    },
    Progress {
        #[ts(type = "number")]
        bytes_done: u64,
        #[ts(type = "number")]
        bytes_total: u64,
        files_done: usize,
        files_total: usize,
        #[ts(type = "number")]
        rate_bps: u64,
        #[ts(type = "number | null")]
        eta_secs: Option<u64>,
    },
    LibraryFinished {
        library: String,
        ok: bool,
    },
}

impl PageEvent {
    /// The page's form of an engine event; None for one it does not draw.
    pub fn of(e: &SyncEvent) -> Option<PageEvent> {
        Some(match e.clone() {
            SyncEvent::CatalogApplied { library, added, .. } => {
                PageEvent::CatalogApplied { library, added }
            }
            SyncEvent::DownloadStarted {
                sha256,
                offset,
                mirror,
                ..
            } => PageEvent::DownloadStarted {
                sha256,
                offset,
                mirror,
            },
            SyncEvent::DownloadResumed { sha256, offset, .. } => {
                PageEvent::DownloadResumed { sha256, offset }
            }
            SyncEvent::DownloadProgress {
                sha256,
                bytes,
                mirror,
                ..
            } => PageEvent::DownloadProgress {
                sha256,
                bytes,
                mirror,
            },
            SyncEvent::Failover { sha256, to, .. } => PageEvent::Failover { sha256, to },
            SyncEvent::DownloadFinished { sha256, .. } => PageEvent::DownloadFinished { sha256 },
            SyncEvent::DownloadFailed { sha256, .. } => PageEvent::DownloadFailed { sha256 },
            SyncEvent::DownloadCancelled { sha256, .. } => PageEvent::DownloadCancelled { sha256 },
            SyncEvent::Progress {
                bytes_done,
                bytes_total,
                files_done,
                files_total,
                rate_bps,
                eta_secs,
                ..
            } => PageEvent::Progress {
                bytes_done,
                bytes_total,
                files_done,
                files_total,
                rate_bps,
                eta_secs,
            },
            SyncEvent::LibraryFinished { library, ok } => {
                PageEvent::LibraryFinished { library, ok }
            }
            _ => return None,
        })
    }
}
