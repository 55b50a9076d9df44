//! Play now: the member presses play on an item that is not downloaded.
//!
//! Its media is wanted from then on (kept, as any download the member asked
//! for) and its download starts at once, beside any sync: not after the
//! sync's queue, not after another library's downloads, and not held by
//! the sync's lock. A sync that meets the file running here leaves it (see
//! [`Engine::track`]). A file with a chunk list plays while it arrives: the
//! media server serves its checked chunks and asks for the one the player
//! waits at (`Store::want`). A feed's file that no digest checks plays from
//! the front as it comes (as in any podcast app). Any other plays once it
//! is whole and checked.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use stowaway_catalog::AssetRole;
use stowaway_mirrors::{RateLimiter, Reach};
use stowaway_store::{Arrival, ItemKey, WantedBlob};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Downloads;
use crate::{Engine, SyncError, SyncEvent, SyncOptions};

/// Where an item's media stands once the member pressed play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayNow {
    /// Stored and checked: it plays from the cache.
    Stored,
    /// Downloading; it plays while it arrives when it `streams` (see
    /// `stowaway_store::Arrival`: a chunk list, or a feed's file no digest checks),
    /// else once it is whole.
    Arriving { streams: bool },
    /// The item has no media.
    NoMedia,
}

/// A download the player started: run it on the caller's runtime.
#[must_use = "the download runs only when `run` is awaited"]
pub struct FetchNow {
    engine: Engine,
    wanted: WantedBlob,
    token: CancellationToken,
    opts: SyncOptions,
    /// Its claim on the file is given back (the media server no longer
    /// waits, a sync may take it).
    released: bool,
}

impl Engine {
    /// The member plays `key` (see the module docs). Returns where its
    /// media stands and, when no download of it runs yet, the download to
    /// run. Downloads paused is an error: the member resumes them first.
    pub fn play_now(
        &self,
        key: ItemKey<'_>,
        opts: &SyncOptions,
    ) -> Result<(PlayNow, Option<FetchNow>), SyncError> {
        let store = self.store();
        let Some((asset, arrival)) = store.arriving_asset(key, AssetRole::Media, 0)? else {
            let stored = store.stored_asset(key, AssetRole::Media, 0)?.is_some();
            return Ok((
                if stored {
                    PlayNow::Stored
                } else {
                    PlayNow::NoMedia
                },
                None,
            ));
        };
        let label = store
            .item_text(key)?
            .map(|t| t.title)
            .unwrap_or_else(|| key.item.to_owned());
        if store.downloads_paused()? {
            return Err(SyncError::Paused(label));
        }
        self.want_download(key.library, key.collection, Some(key.item))?;
        let streams = arrival != Arrival::Whole;
        let state = PlayNow::Arriving { streams };
        if arrival == Arrival::Chunks {
            // From the start, unless the player asks for another place.
            store.want(&asset.sha256, 0);
        }
        let Some(token) = self.track(&asset.sha256, &CancellationToken::new()) else {
            return Ok((state, None));
        };
        // Paused between the check and the token (whose reconcile could not
        // reach it): not started.
        if store.downloads_paused()? {
            self.untrack(&asset.sha256);
            return Err(SyncError::Paused(label));
        }
        // The media server waits for its first chunk from now on, until the
        // download runs (and ends, or `FetchNow` is dropped unrun).
        if streams {
            store.set_starting(&asset.sha256, true);
        }
        info!(item = key.item, sha = %asset.sha256, ?arrival, "play now: downloading");
        Ok((
            state,
            Some(FetchNow {
                engine: self.clone(),
                wanted: WantedBlob {
                    library_id: key.library.to_owned(),
                    sha256: asset.sha256,
                    size: asset.size,
                    media_type: asset.media_type,
                    label,
                    explicit: true,
                },
                token,
                opts: opts.clone(),
                released: false,
            }),
        ))
    }
}

impl FetchNow {
    /// Downloads the file (every mirror of its library, as a sync would)
    /// and stores it once checked; its events are a sync's per-file ones.
    pub async fn run(mut self) -> Result<u64, SyncError> {
        let r = self.fetch().await;
        // Given back before the events: a page that asks on hearing them
        // hears the file is no longer arriving.
        self.release();
        let w = &self.wanted;
        match &r {
            // Indexed as it was stored (its duration, chapters, transcript).
            Ok(_) => {}
            Err(_) if self.token.is_cancelled() => self.engine.emit(SyncEvent::DownloadCancelled {
                sha256: w.sha256.to_string(),
                label: w.label.clone(),
            }),
            Err(e) => {
                warn!(file = %w.label, error = %e, "play now: the download failed");
                self.engine.emit(SyncEvent::DownloadFailed {
                    sha256: w.sha256.to_string(),
                    label: w.label.clone(),
                    error: e.to_string(),
                });
            }
        }
        r
    }

    async fn fetch(&self) -> Result<u64, SyncError> {
        let engine = &self.engine;
        let library = self.wanted.library_id.as_str();
        let reach = match engine.store().feed(library)? {
            Some(row) => engine.feed_reach(&row).await?,
            None => Reach::Any,
        };
        let pool = engine.pool(library, &self.opts, reach)?;
        let limiter = self.opts.bandwidth_limit.map(RateLimiter::new);
        let (done, received) = (AtomicU64::new(0), AtomicU64::new(0));
        let notes = Mutex::new(Vec::new());
        let r = Downloads {
            engine,
            pool: &pool,
            limiter: limiter.as_ref(),
            cancel: &self.token,
            done: &done,
            received: &received,
            max_rounds: self.opts.max_rounds.max(1),
            slow_ratio: self.opts.slow_ratio.max(1.0),
            stall_timeout: self.opts.stall_timeout,
            notes: &notes,
            // The member asked for it: it is fetched over the budget, as
            // any explicit download is.
            budget: None,
        }
        .blob(&self.wanted)
        .await;
        engine.save_health(library, &pool);
        r.map_err(|e| {
            if self.token.is_cancelled() {
                SyncError::Cancelled
            } else {
                SyncError::Download {
                    label: self.wanted.label.clone(),
                    error: e,
                }
            }
        })
    }
}

impl FetchNow {
    /// Gives the claim on the file back, once (a second untrack could take
    /// a later download's).
    fn release(&mut self) {
        if !std::mem::replace(&mut self.released, true) {
            self.engine.store().set_starting(&self.wanted.sha256, false);
            self.engine.untrack(&self.wanted.sha256);
        }
    }
}

impl Drop for FetchNow {
    /// Run or never run, it leaves nothing behind: the media server stops
    /// waiting for it and a sync may take the file.
    fn drop(&mut self) {
        self.release();
    }
}
