//! An item's chapters for the player: its chapters file's, else those
//! embedded in its media (ID3 CHAP, MP4 chapters, Vorbis CHAPTERxx), as
//! the engine read them from the verified files.

use serde::{Deserialize, Serialize};
use stowaway_catalog::AssetRole;
use ts_rs::TS;

use crate::{Api, ApiResult, ItemRef};

/// One chapter. Links and images are addresses on the web: the page offers
/// them as links (shown before they open) and loads nothing from them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChapterView {
    #[ts(type = "number")]
    pub start_ms: u64,
    #[ts(type = "number | null")]
    pub end_ms: Option<u64>,
    pub title: String,
    pub url: Option<String>,
    pub image: Option<String>,
    /// False: a marker the list leaves out (Podcasting 2.0 `toc: false`).
    pub toc: bool,
}

/// Where an item's chapters came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ChapterSource {
    /// Its chapters file (Podcasting 2.0 JSON).
    File,
    /// Embedded in its media file.
    Embedded,
    /// Nothing is stored to read them from (or nothing had any).
    None,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ItemChapters {
    pub chapters: Vec<ChapterView>,
    pub source: ChapterSource,
    /// The media's real duration, as read from the file.
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
}

impl Api {
    /// The item's chapters. A file stored but not read yet (it arrived
    /// during this sync) is read now.
    pub fn chapters(&self, r: &ItemRef) -> ApiResult<ItemChapters> {
        let store = self.engine.store();
        let key = r.key();
        let mut info = store.item_media_info(key)?;
        let file = store.stored_asset(key, AssetRole::Chapters, 0)?;
        let unread_file = file.is_some() && !info.as_ref().is_some_and(|i| i.from_chapters_file);
        if info.is_none() || unread_file {
            if let Some(f) = &file {
                stowaway_sync::read_media_info(store, &f.sha256);
            }
            if let Some(m) = store.stored_asset(key, AssetRole::Media, 0)? {
                stowaway_sync::read_media_info(store, &m.sha256);
            }
            info = store.item_media_info(key)?;
        }
        let Some(info) = info else {
            return Ok(ItemChapters {
                chapters: Vec::new(),
                source: ChapterSource::None,
                duration_ms: None,
            });
        };
        // Written by the engine; a row it cannot have written reads as none.
        let chapters: Vec<ChapterView> = serde_json::from_str(&info.chapters).unwrap_or_default();
        let source = match (chapters.is_empty(), info.from_chapters_file) {
            (true, _) => ChapterSource::None,
            (false, true) => ChapterSource::File,
            (false, false) => ChapterSource::Embedded,
        };
        Ok(ItemChapters {
            chapters,
            source,
            duration_ms: info.duration_ms,
        })
    }
}
