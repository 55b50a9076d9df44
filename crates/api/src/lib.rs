//! The use cases the desktop app and the CLI share, and their view types:
//! the one place that knows what a page of the library, an item's detail, a
//! subscription preview, the mirror list or the downloads view hold. The
//! shells stay thin: the app turns these into Tauri commands and events, the
//! CLI into text and `--json`.
//!
//! The wire format lives here and only here: every type the page receives
//! is generated for TypeScript by ts-rs from this crate (into
//! `ui/src/bindings`), and every error reaches it as an [`ApiError`] with a
//! stable [`ErrorCode`]. The store and the engine export no UI types.
//!
//! Invariants:
//! - No call hands out a whole table: collections come a page at a time,
//!   items a window at a time (by keyset), the queue and search capped.
//! - What the member confirms is what they were shown: a subscription is
//!   confirmed from the offer kept at its preview, never a second fetch.
//! - A token goes only to mirrors the member was shown with it.
#![forbid(unsafe_code)]

mod chapters;
mod downloads;
mod error;
mod events;
mod library;
mod listening;
mod mirrors;
mod ready;
mod settings;
mod status;
mod subscribe;
mod tokens;
mod update;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use stowaway_sync::Engine;

pub use chapters::{ChapterSource, ChapterView, ItemChapters, MAX_CHAPTER_IMAGE};
pub use downloads::{
    DownloadMode, DownloadsView, Freed, PartialDownload, QueuedDownload, StorageUsage, QUEUE_SHOWN,
};
pub use error::{ApiError, ApiResult, ErrorCode};
pub use events::PageEvent;
pub use library::{
    Attachment, CollectionAfter, CollectionView, Cursor, DownloadState, Filter, ItemDetail,
    ItemRef, ItemView, ItemWindow, LibraryPage, LibraryView, Playback, SearchHit, Seek,
    COLLECTIONS_PER_PAGE, MAX_HITS,
};
pub use listening::{QueuePlace, ShelfEntry, UpNext, CONTINUE_SHOWN};
pub use mirrors::MirrorView;
pub use ready::{MissingItem, ReadyScope, ReadyView, MISSING_SHOWN};
pub use settings::AppSettings;
pub use status::{NewItems, SyncStatus, Synced, NEWS_TITLES};
pub use subscribe::{
    FeedOffer, LibrarySubscribed, NetworkShare, OpmlExported, OpmlImported, Subscribed,
    SubscriptionPreview, UnsubscribedView, MAX_OPML,
};
pub use tokens::{Keyring, OsKeyring, TokenSaved};
pub use update::UpdateView;

/// The folder for a shell's log files in the cache at `dir`: `logs`,
/// created (with the cache, if need be) the member's only.
pub fn log_dir(dir: &Path) -> ApiResult<std::path::PathBuf> {
    let logs = dir.join("logs");
    stowaway_store::create_private_dir(&logs)?;
    Ok(logs)
}

/// The shared use cases over one engine (and so one cache).
pub struct Api {
    engine: Engine,
    keyring: Arc<dyn Keyring>,
    status: Mutex<SyncStatus>,
    /// Subscriptions and feeds shown to the member, by source, until confirmed.
    previews: Mutex<HashMap<String, subscribe::Offer>>,
    /// Chapter images fetched this run, by address (`data:` URLs).
    chapter_images: Mutex<HashMap<String, String>>,
    sync_lock: tokio::sync::Mutex<()>,
}

impl Api {
    /// Over `engine`, with tokens in `keyring`.
    pub fn new(engine: Engine, keyring: Arc<dyn Keyring>) -> Api {
        let paused = engine.store().downloads_paused().unwrap_or(false);
        Api {
            engine,
            keyring,
            status: Mutex::new(SyncStatus {
                paused,
                ..SyncStatus::default()
            }),
            previews: Mutex::new(HashMap::new()),
            chapter_images: Mutex::new(HashMap::new()),
            sync_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The cache in `data_dir` (the index opened, migrated or created), its
    /// engine with the default client, and tokens in `keyring`: what every
    /// shell starts from.
    pub fn open(data_dir: &Path, keyring: Arc<dyn Keyring>) -> ApiResult<Api> {
        let store = Arc::new(stowaway_store::Store::open(data_dir)?);
        let engine = Engine::new(store, stowaway_mirrors::ClientConfig::default())?;
        Ok(Api::new(engine, keyring))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn settings(&self) -> ApiResult<AppSettings> {
        Ok(AppSettings::load(self.engine.store())?)
    }

    pub fn set_settings(&self, s: &AppSettings) -> ApiResult<()> {
        s.save(self.engine.store())
    }
}
