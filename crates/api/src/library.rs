//! The library as the page sees it: a page of collections with their counts,
//! a window of one collection's items, an item's detail, search. Never the
//! whole library: a page holds only what is on screen.

use serde::{Deserialize, Serialize};
use stowaway_catalog::AssetRole;
use stowaway_media::MediaServer;
use stowaway_store::{self as store, ItemKey};
use ts_rs::TS;

use crate::downloads::DownloadMode;
use crate::{Api, ApiError, ApiResult, ErrorCode, SyncStatus};

/// Collections one library page holds at most.
pub const COLLECTIONS_PER_PAGE: usize = 50;

/// A reference to one item, as the page names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ItemRef {
    pub library: String,
    pub collection: String,
    pub item: String,
}

impl ItemRef {
    pub fn key(&self) -> ItemKey<'_> {
        ItemKey {
            library: &self.library,
            collection: &self.collection,
            item: &self.item,
        }
    }
}

/// A subscribed library: catalog, last sync, mirrors, what is stored.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct LibraryView {
    pub id: String,
    pub title: String,
    pub private: bool,
    #[ts(type = "number | null")]
    pub sequence: Option<u64>,
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    /// The applied catalog's expiry has passed: cached content still plays.
    pub expired: bool,
    #[ts(type = "number | null")]
    pub last_sync_at: Option<i64>,
    pub last_sync_ok: Option<bool>,
    /// The mirror the last catalog came from, and what failed last.
    pub last_sync_mirror: Option<String>,
    pub last_sync_error: Option<String>,
    pub mirrors: Vec<String>,
    /// A podcast feed library: where its feed is fetched from now.
    pub feed_url: Option<String>,
    #[ts(type = "number")]
    pub collections: u64,
    #[ts(type = "number")]
    pub items: u64,
    pub description: Option<String>,
    /// Its artwork's SHA-256 when stored: the media server's `art/` serves it.
    pub artwork: Option<String>,
    /// Files the download rules want, and how many of them are stored.
    #[ts(type = "number")]
    pub blobs_wanted: u64,
    #[ts(type = "number")]
    pub blobs_stored: u64,
    #[ts(type = "number")]
    pub bytes_wanted: u64,
    #[ts(type = "number")]
    pub bytes_stored: u64,
}

impl From<store::LibraryStatus> for LibraryView {
    fn from(s: store::LibraryStatus) -> Self {
        LibraryView {
            id: s.id,
            title: s.title,
            private: s.private,
            sequence: s.sequence,
            expires_at: s.expires_at,
            expired: s.expired,
            last_sync_at: s.last_sync_at,
            last_sync_ok: s.last_sync_ok,
            last_sync_mirror: s.last_sync_mirror,
            last_sync_error: s.last_sync_error,
            mirrors: s.mirrors,
            feed_url: s.feed_url,
            collections: s.collections,
            items: s.items,
            description: s.description,
            artwork: s.artwork,
            blobs_wanted: s.blobs_wanted,
            blobs_stored: s.blobs_stored,
            bytes_wanted: s.bytes_wanted,
            bytes_stored: s.bytes_stored,
        }
    }
}

/// A collection on the library page, with its counts (its items come a
/// window at a time from [`Api::items`]).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct CollectionView {
    pub library_id: String,
    pub id: String,
    /// course | show
    pub kind: String,
    pub title: String,
    pub summary: Option<String>,
    pub download_mode: DownloadMode,
    /// Its place in the library: hand it back for the next page.
    #[ts(type = "number")]
    pub position: i64,
    #[ts(type = "number")]
    pub items: u64,
    #[ts(type = "number")]
    pub played: u64,
    #[ts(type = "number")]
    pub in_progress: u64,
    #[ts(type = "number")]
    pub downloaded: u64,
    /// Items neither downloaded nor wanted: what "Download all" adds.
    #[ts(type = "number")]
    pub not_kept: u64,
    /// The whole collection is kept for the trip.
    pub pinned: bool,
    /// Its artwork's SHA-256 when stored: the media server's `art/` serves it.
    pub artwork: Option<String>,
}

impl From<store::CollectionSummary> for CollectionView {
    fn from(c: store::CollectionSummary) -> Self {
        CollectionView {
            library_id: c.library_id,
            id: c.id,
            kind: c.kind,
            title: c.title,
            summary: c.summary,
            download_mode: c.download_mode.into(),
            position: c.position,
            items: c.items,
            played: c.played,
            in_progress: c.in_progress,
            downloaded: c.downloaded,
            not_kept: c.not_kept,
            pinned: c.pinned,
            artwork: c.artwork,
        }
    }
}

/// Downloaded; partly there; queued (the next sync fetches it); or not kept offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DownloadState {
    Downloaded,
    Partial,
    Queued,
    NotDownloaded,
}

/// Where an item is in its collection's order (hand it back to continue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Cursor {
    #[ts(type = "number")]
    pub key: i64,
    #[ts(type = "number")]
    pub position: i64,
}

/// One item in a window.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ItemView {
    pub library_id: String,
    pub collection_id: String,
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    #[ts(type = "number | null")]
    pub published_at: Option<i64>,
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
    #[ts(type = "number")]
    pub bytes: u64,
    pub state: DownloadState,
    pub explicit: Option<bool>,
    #[ts(type = "number")]
    pub position_ms: u64,
    pub played: bool,
    pub cursor: Cursor,
}

impl From<store::ItemView> for ItemView {
    fn from(i: store::ItemView) -> Self {
        let state = if i.downloaded {
            DownloadState::Downloaded
        } else if !i.wanted {
            DownloadState::NotDownloaded // even if a file it shares is stored
        } else if i.assets_stored > 0 {
            DownloadState::Partial
        } else {
            DownloadState::Queued
        };
        ItemView {
            library_id: i.library_id,
            collection_id: i.collection_id,
            id: i.id,
            title: i.title,
            summary: i.summary,
            published_at: i.published_at,
            duration_ms: i.duration_ms,
            bytes: i.bytes,
            state,
            explicit: i.explicit,
            position_ms: i.position_ms,
            played: i.played,
            cursor: Cursor {
                key: i.cursor.key,
                position: i.cursor.position,
            },
        }
    }
}

/// Which items a window holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Filter {
    #[default]
    All,
    Downloaded,
    Unplayed,
    InProgress,
}

impl From<Filter> for store::ItemFilter {
    fn from(f: Filter) -> Self {
        match f {
            Filter::All => store::ItemFilter::All,
            Filter::Downloaded => store::ItemFilter::Downloaded,
            Filter::Unplayed => store::ItemFilter::Unplayed,
            Filter::InProgress => store::ItemFilter::InProgress,
        }
    }
}

/// Where a window starts: the first items, after or before a cursor the
/// page holds, or at the n-th item (a jump of the scroll bar).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "from", rename_all = "snake_case")]
#[ts(export)]
pub enum Seek {
    First,
    After {
        cursor: Cursor,
    },
    Before {
        cursor: Cursor,
    },
    At {
        #[ts(type = "number")]
        index: u64,
    },
}

/// A window of a collection's items.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ItemWindow {
    pub items: Vec<ItemView>,
    /// Items that pass the filter (the list's length).
    #[ts(type = "number")]
    pub total: u64,
}

/// The first page of the library: libraries, the first collections, the
/// sync status for the banner.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct LibraryPage {
    pub libraries: Vec<LibraryView>,
    pub collections: Vec<CollectionView>,
    /// More collections follow: ask with the last one's library and position.
    pub more: bool,
    pub sync: SyncStatus,
    /// "Continue where you left off": items in progress, the most recent first.
    pub continue_listening: Vec<crate::ShelfEntry>,
}

/// Where the next page of collections starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CollectionAfter {
    pub library: String,
    #[ts(type = "number")]
    pub position: i64,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Attachment {
    /// Its place among the item's attachments (for `open_attachment`).
    pub index: u32,
    pub name: String,
    pub media_type: String,
    /// None until it is downloaded.
    pub url: Option<String>,
}

/// Where a member is in an item.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Playback {
    #[ts(type = "number")]
    pub position_ms: u64,
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
    pub played: bool,
}

/// One item, for the player.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ItemDetail {
    pub library_id: String,
    pub collection_id: String,
    pub collection_title: String,
    /// Its collection is a course (else a show).
    pub course: bool,
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    pub notes: Option<String>,
    /// The notes as sanitised HTML (a feed's), for the page to build its
    /// own elements from; else `notes` is the text to show.
    pub notes_html: Option<String>,
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
    /// The media, served by the app's loopback media server: once it is
    /// downloaded, or while it arrives when it `streams` and its download
    /// runs (always None without a media server).
    pub media_url: Option<String>,
    /// The media plays while it downloads (its catalog gives it a chunk
    /// list, each chunk checked as it lands; or it is a feed's file no
    /// digest checks, played from the front as it comes): "play" starts it
    /// at once (see `Api::play_now`). Else it plays once downloaded and
    /// checked.
    pub streams: bool,
    /// `media_url` serves a file still arriving (its checked parts).
    pub arriving: bool,
    pub media_type: Option<String>,
    pub transcript_url: Option<String>,
    pub chapters_url: Option<String>,
    pub artwork_url: Option<String>,
    pub attachments: Vec<Attachment>,
    pub playback: Playback,
    /// What plays next in the collection's order.
    pub next: Option<ItemRef>,
    /// The speed it plays at: its collection's, else the default.
    pub speed: f64,
    /// The member chose `speed` for this collection (else it is the default).
    pub collection_speed: bool,
    /// Kept for the trip (itself, or its whole collection).
    pub pinned: bool,
    /// Only the item itself is pinned (so unpinning it here is possible).
    pub pinned_itself: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct SearchHit {
    pub library_id: String,
    pub collection_id: String,
    pub collection_title: String,
    pub item_id: String,
    pub title: String,
    /// A short excerpt with the matches between `[` and `]`.
    pub snippet: String,
    pub downloaded: bool,
}

impl From<store::SearchHit> for SearchHit {
    fn from(h: store::SearchHit) -> Self {
        SearchHit {
            library_id: h.library_id,
            collection_id: h.collection_id,
            collection_title: h.collection_title,
            item_id: h.item_id,
            title: h.title,
            snippet: h.snippet,
            downloaded: h.downloaded,
        }
    }
}

/// Search results most a query returns.
pub const MAX_HITS: usize = 200;

impl Api {
    /// Every subscribed library with its counts (from SQL).
    pub fn libraries(&self) -> ApiResult<Vec<LibraryView>> {
        Ok(self
            .engine
            .store()
            .status()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One subscribed library with its counts.
    pub fn library(&self, id: &str) -> ApiResult<LibraryView> {
        self.libraries()?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| store::StoreError::UnknownLibrary(id.to_owned()).into())
    }

    /// The library page: every library, the first collections, the status.
    pub fn library_page(&self) -> ApiResult<LibraryPage> {
        let libraries = self.libraries()?;
        let mut sync = self.status();
        if sync.last_ok_at.is_none() {
            // Before this run's first sync: what the store remembers.
            sync.last_ok_at = libraries
                .iter()
                .filter(|l| l.last_sync_ok == Some(true))
                .filter_map(|l| l.last_sync_at)
                .max();
        }
        let (collections, more) = self.collections(None, None)?;
        Ok(LibraryPage {
            libraries,
            collections,
            more,
            sync,
            continue_listening: self.continue_listening()?,
        })
    }

    /// A page of collections (of one library, or all), after `after`; and
    /// whether more follow.
    pub fn collections(
        &self,
        library: Option<&str>,
        after: Option<&CollectionAfter>,
    ) -> ApiResult<(Vec<CollectionView>, bool)> {
        let cursor = after.map(|a| store::CollectionCursor {
            library: a.library.clone(),
            position: a.position,
        });
        let mut page = self.engine.store().collection_page(
            library,
            cursor.as_ref(),
            COLLECTIONS_PER_PAGE + 1,
        )?;
        let more = page.len() > COLLECTIONS_PER_PAGE;
        page.truncate(COLLECTIONS_PER_PAGE);
        Ok((page.into_iter().map(Into::into).collect(), more))
    }

    /// One collection with its counts.
    pub fn collection(&self, library: &str, collection: &str) -> ApiResult<CollectionView> {
        self.engine
            .store()
            .collection_summary(library, collection)?
            .map(Into::into)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no collection {library}/{collection}"),
                )
            })
    }

    /// A window of up to `limit` items of a collection, and how many pass the filter.
    pub fn items(
        &self,
        library: &str,
        collection: &str,
        filter: Filter,
        seek: Seek,
        limit: usize,
    ) -> ApiResult<ItemWindow> {
        let store = self.engine.store();
        let cursor = |c: Cursor| store::ItemCursor {
            key: c.key,
            position: c.position,
        };
        let seek = match seek {
            Seek::First => store::Seek::First,
            Seek::After { cursor: c } => store::Seek::After(cursor(c)),
            Seek::Before { cursor: c } => store::Seek::Before(cursor(c)),
            Seek::At { index } => store::Seek::At(index),
        };
        let items = store.item_window(library, collection, filter.into(), seek, limit)?;
        Ok(ItemWindow {
            items: items.into_iter().map(Into::into).collect(),
            total: store.count_items(library, collection, filter.into())?,
        })
    }

    /// One item for the player; URLs of what is downloaded from `media`.
    pub fn item_detail(&self, r: &ItemRef, media: Option<&MediaServer>) -> ApiResult<ItemDetail> {
        let key = r.key();
        let store = self.engine.store();
        let text = store.item_text(key)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("no item {}/{}/{}", r.library, r.collection, r.item),
            )
        })?;
        let assets = store.item_assets(key)?;
        let url = |role: AssetRole, index: usize| {
            let media = media?;
            assets
                .iter()
                .find(|a| a.role == role.as_str() && a.index == index && a.stored)
                .map(|_| media.asset_url(key, role, index))
        };
        // Media still arriving in checked chunks, its download running:
        // the media server serves what is in.
        let arriving = store
            .arriving_asset(key, AssetRole::Media, 0)?
            .filter(|(_, arrival)| *arrival != stowaway_store::Arrival::Whole);
        let streams = arriving.is_some();
        let streaming = arriving
            .as_ref()
            .is_some_and(|(a, _)| store.is_starting(&a.sha256));
        let playback = store.playback(key)?;
        let next = store.next_item(key)?.map(|n| ItemRef {
            library: n.library_id,
            collection: n.collection_id,
            item: n.id,
        });
        let collection_speed = store.collection_speed(&r.library, &r.collection)?;
        let default_speed = crate::AppSettings::default_speed(store)?;
        let (collection_title, course, collection_art) = store
            .collection_summary(&r.library, &r.collection)?
            .map(|c| (c.title, c.kind == "course", c.artwork))
            .unwrap_or_default();
        Ok(ItemDetail {
            library_id: r.library.clone(),
            collection_id: r.collection.clone(),
            collection_title,
            course,
            id: r.item.clone(),
            title: text.title,
            summary: text.summary,
            notes: text.notes,
            notes_html: text.notes_html,
            duration_ms: text.duration_ms,
            media_url: url(AssetRole::Media, 0).or_else(|| {
                streaming.then(|| media.map(|m| m.asset_url(key, AssetRole::Media, 0)))?
            }),
            streams,
            arriving: streaming && media.is_some(),
            media_type: assets
                .iter()
                .find(|a| a.role == "media")
                .map(|m| m.media_type.clone()),
            transcript_url: url(AssetRole::Transcript, 0),
            chapters_url: url(AssetRole::Chapters, 0),
            // The item's own artwork, else its show's or course's.
            artwork_url: url(AssetRole::Artwork, 0).or_else(|| {
                let sha = stowaway_catalog::Sha256::parse(collection_art.as_deref()?).ok()?;
                Some(media?.art_url(&sha))
            }),
            attachments: assets
                .iter()
                .filter(|a| a.role == "attachment")
                .map(|a| Attachment {
                    index: a.index as u32,
                    name: a.name.clone().unwrap_or_else(|| "attachment".into()),
                    media_type: a.media_type.clone(),
                    url: url(AssetRole::Attachment, a.index),
                })
                .collect(),
            playback: Playback {
                position_ms: playback.position_ms,
                duration_ms: playback.duration_ms,
                played: playback.played,
            },
            next,
            speed: collection_speed.unwrap_or(default_speed),
            collection_speed: collection_speed.is_some(),
            pinned: store.is_pinned(key)?,
            pinned_itself: store.is_item_pinned(key)?,
        })
    }

    /// The member plays an item: one not downloaded starts downloading at
    /// once (beside any sync), and its detail then has the media URL when
    /// it `streams`. The download, when one was started, is returned for
    /// the shell to run on its runtime.
    pub fn play_now(
        &self,
        r: &ItemRef,
        media: Option<&MediaServer>,
    ) -> ApiResult<(ItemDetail, Option<stowaway_sync::FetchNow>)> {
        let (_, fetch) = self
            .engine
            .play_now(r.key(), &stowaway_sync::SyncOptions::default())?;
        Ok((self.item_detail(r, media)?, fetch))
    }

    /// Full-text search, best first, at most `limit` (and [`MAX_HITS`]) hits.
    pub fn search(&self, query: &str, limit: usize) -> ApiResult<Vec<SearchHit>> {
        Ok(self
            .engine
            .store()
            .search(query, limit.min(MAX_HITS))?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Keeps where the member is (a position past the end is the end).
    pub fn save_position(
        &self,
        r: &ItemRef,
        position_ms: f64,
        duration_ms: Option<f64>,
    ) -> ApiResult<()> {
        let pos = if position_ms.is_finite() {
            position_ms.max(0.0) as u64
        } else {
            0
        };
        let dur = duration_ms
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| d as u64);
        self.engine.store().set_position(r.key(), pos, dur)?;
        Ok(())
    }

    pub fn set_played(&self, r: &ItemRef, played: bool) -> ApiResult<()> {
        self.engine.store().set_played(r.key(), played)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(assets: u32, stored: u32, wanted: bool) -> store::ItemView {
        store::ItemView {
            library_id: "l".into(),
            collection_id: "c".into(),
            id: "i".into(),
            kind: "episode".into(),
            title: "t".into(),
            summary: None,
            published_at: None,
            duration_ms: None,
            assets,
            assets_stored: stored,
            bytes: 0,
            downloaded: stored == assets,
            explicit: None,
            wanted,
            position_ms: 0,
            played: false,
            cursor: store::ItemCursor::default(),
        }
    }

    #[test]
    fn download_state() {
        let state = |assets, stored, wanted| ItemView::from(row(assets, stored, wanted)).state;
        assert_eq!(state(1, 1, true), DownloadState::Downloaded);
        assert_eq!(state(1, 1, false), DownloadState::Downloaded);
        assert_eq!(state(1, 0, true), DownloadState::Queued);
        assert_eq!(state(3, 1, true), DownloadState::Partial);
        assert_eq!(state(1, 0, false), DownloadState::NotDownloaded);
        // A removed item whose workbook another lesson still uses: offer Download.
        assert_eq!(state(2, 1, false), DownloadState::NotDownloaded);
    }
}
