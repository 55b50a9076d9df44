//! Downloads: the queue with what is already there, storage against the
//! budget, the member's choices per item and per collection.

use serde::{Deserialize, Serialize};
use stowaway_store as store;
use ts_rs::TS;

use crate::{Api, ApiResult, ItemRef};

/// A collection's download rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum DownloadMode {
    /// Every item (a course to take offline). The default.
    #[default]
    All,
    /// Items published after the rule was set (a show's new episodes).
    New,
    /// Only what the member asks for.
    Off,
}

impl std::str::FromStr for DownloadMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<store::DownloadMode>().map(Into::into)
    }
}

impl From<store::DownloadMode> for DownloadMode {
    fn from(m: store::DownloadMode) -> Self {
        match m {
            store::DownloadMode::All => DownloadMode::All,
            store::DownloadMode::New => DownloadMode::New,
            store::DownloadMode::Off => DownloadMode::Off,
        }
    }
}

impl From<DownloadMode> for store::DownloadMode {
    fn from(m: DownloadMode) -> Self {
        match m {
            DownloadMode::All => store::DownloadMode::All,
            DownloadMode::New => store::DownloadMode::New,
            DownloadMode::Off => store::DownloadMode::Off,
        }
    }
}

/// Storage used by the cache and what is still to come.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct StorageUsage {
    #[ts(type = "number")]
    pub bytes_stored: u64,
    pub blobs_stored: u32,
    /// Wanted and not stored yet.
    #[ts(type = "number")]
    pub bytes_queued: u64,
    pub files_queued: u32,
    #[ts(type = "number | null")]
    pub budget: Option<u64>,
    pub paused: bool,
}

/// One item waiting to be downloaded (or partly downloaded).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct QueuedDownload {
    pub library_id: String,
    pub collection_id: String,
    pub collection_title: String,
    pub item_id: String,
    pub title: String,
    #[ts(type = "number")]
    pub bytes_missing: u64,
    #[ts(type = "number")]
    pub bytes_partial: u64,
    /// The blobs still missing, to match per-file progress events.
    pub blobs: Vec<String>,
    /// The member asked for it (it goes first, and past the budget).
    pub explicit: bool,
}

/// The downloads view: what is queued (with partial bytes) and storage.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct DownloadsView {
    pub usage: StorageUsage,
    pub queue: Vec<QueuedDownload>,
    /// Items queued beyond those listed.
    #[ts(type = "number")]
    pub more: u64,
}

/// Space given back.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Freed {
    pub items: u32,
    pub files: u32,
    #[ts(type = "number")]
    pub bytes: u64,
}

impl From<store::Freed> for Freed {
    fn from(f: store::Freed) -> Self {
        Freed {
            items: f.items,
            files: f.blobs,
            bytes: f.bytes,
        }
    }
}

/// A download that stopped part-way (the next sync resumes it).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct PartialDownload {
    pub sha256: String,
    #[ts(type = "number")]
    pub size: u64,
    /// Bytes kept so far.
    #[ts(type = "number")]
    pub bytes: u64,
    /// The mirror it came from last.
    pub mirror: Option<String>,
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// Queued items the downloads view lists at most.
pub const QUEUE_SHOWN: usize = 200;

impl Api {
    pub fn downloads(&self) -> ApiResult<DownloadsView> {
        let store = self.engine.store();
        let u = store.storage_usage()?;
        let mut queue = store.download_queue(None)?;
        let more = queue.len().saturating_sub(QUEUE_SHOWN) as u64;
        queue.truncate(QUEUE_SHOWN);
        Ok(DownloadsView {
            usage: StorageUsage {
                bytes_stored: u.bytes_stored,
                blobs_stored: u.blobs_stored,
                bytes_queued: u.bytes_queued,
                files_queued: u.files_queued,
                budget: u.budget,
                paused: u.paused,
            },
            queue: queue
                .into_iter()
                .map(|q| QueuedDownload {
                    library_id: q.library_id,
                    collection_id: q.collection_id,
                    collection_title: q.collection_title,
                    item_id: q.item_id,
                    title: q.title,
                    bytes_missing: q.bytes_missing,
                    bytes_partial: q.bytes_partial,
                    blobs: q.blobs,
                    explicit: q.explicit,
                })
                .collect(),
            more,
        })
    }

    /// Download an item now, or (without `item`) a whole collection: how
    /// many items were queued.
    pub fn download(
        &self,
        library: &str,
        collection: &str,
        item: Option<&str>,
    ) -> ApiResult<usize> {
        Ok(self.engine.want_download(library, collection, item)?)
    }

    /// Stop or remove an item's download, freeing its space.
    pub fn remove_download(&self, r: &ItemRef) -> ApiResult<Freed> {
        Ok(self.engine.remove_download(r.key())?.into())
    }

    pub fn set_download_mode(
        &self,
        library: &str,
        collection: &str,
        mode: DownloadMode,
    ) -> ApiResult<()> {
        Ok(self
            .engine
            .set_download_mode(library, collection, mode.into())?)
    }

    /// Downloads that stopped part-way.
    pub fn partial_downloads(&self) -> ApiResult<Vec<PartialDownload>> {
        Ok(self
            .engine
            .store()
            .partials()?
            .into_iter()
            .map(|p| PartialDownload {
                sha256: p.sha256,
                size: p.size,
                bytes: p.bytes,
                mirror: p.mirror,
                updated_at: p.updated_at,
            })
            .collect())
    }

    /// Caps the cache (`None`: no cap); played items the rules downloaded
    /// are evicted first to make room at the next sync.
    pub fn set_storage_budget(&self, bytes: Option<u64>) -> ApiResult<()> {
        Ok(self.engine.store().set_storage_budget(bytes)?)
    }

    /// Pauses or resumes downloads (the status says so).
    pub fn set_downloads_paused(&self, paused: bool) -> ApiResult<()> {
        self.engine.set_downloads_paused(paused)?;
        self.set_status(|s| s.paused = paused);
        Ok(())
    }
}
