//! An item's chapters for the player: its chapters file's, else those
//! embedded in its media (ID3 CHAP, MP4 chapters, Vorbis CHAPTERxx), as
//! the engine read them from the verified files.

use serde::{Deserialize, Serialize};
use stowaway_catalog::AssetRole;
use ts_rs::TS;

use crate::{Api, ApiError, ApiResult, ErrorCode, ItemRef};

/// The largest chapter image fetched.
pub const MAX_CHAPTER_IMAGE: u64 = 2 << 20;
/// How many fetched chapter images are kept for this run (then the oldest go).
const CHAPTER_IMAGES_KEPT: usize = 64;

/// One chapter. Links and images are addresses on the web: the page offers
/// links (shown before they open) and loads nothing from the web itself; an
/// image comes through [`Api::chapter_image`].
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
        // Each stored file is read once (a file read before, chapters or
        // none, is not read again).
        for role in [AssetRole::Chapters, AssetRole::Media] {
            if let Some(a) = store.stored_asset(key, role, 0)? {
                if !store.media_info_read(&a.sha256)? {
                    stowaway_sync::read_media_info(store, &a.sha256);
                }
            }
        }
        let Some(info) = store.item_media_info(key)? else {
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

impl Api {
    /// A chapter's image for the page, as a `data:` URL (the page's CSP
    /// loads no image from the web): fetched from where the item's chapters
    /// say, held to the same reach as its library (a public feed's to public
    /// addresses only), at most [`MAX_CHAPTER_IMAGE`] bytes, and only a PNG,
    /// JPEG, GIF or WebP by its first bytes (never SVG). Kept in memory for
    /// this run: nothing from it is written to the cache, and offline there is
    /// none (the chapter's title and link stay).
    pub async fn chapter_image(&self, r: &ItemRef, url: &str) -> ApiResult<String> {
        let invalid = |m: String| ApiError::new(ErrorCode::Invalid, m);
        // Only an image this item's chapters name: the page cannot make the
        // app fetch an address of its choosing.
        let named = self
            .chapters(r)?
            .chapters
            .iter()
            .any(|c| c.image.as_deref() == Some(url));
        if !named {
            return Err(invalid("not an image of this item's chapters".into()));
        }
        if let Some(hit) = self
            .chapter_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
        {
            return Ok(hit.clone());
        }
        let parsed =
            url::Url::parse(url).map_err(|e| invalid(format!("not a web address: {e}")))?;
        let store = self.engine.store();
        let public_feed = store
            .feed(&r.library)?
            .is_some_and(|f| f.local != Some(true));
        let reach = if public_feed {
            stowaway_mirrors::Reach::Public
        } else {
            stowaway_mirrors::Reach::Any
        };
        let doc = self
            .engine
            .client()
            .fetch_document(&parsed, &Default::default(), MAX_CHAPTER_IMAGE, reach)
            .await?;
        let body = doc.body.filter(|_| doc.status == 200).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("{url} answered {}", doc.status),
            )
        })?;
        let mime = image_type(&body)
            .ok_or_else(|| invalid(format!("{url} is not a PNG, JPEG, GIF or WebP image")))?;
        use base64::Engine as _;
        let data = format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&body)
        );
        let mut kept = self
            .chapter_images
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if kept.len() >= CHAPTER_IMAGES_KEPT {
            kept.clear();
        }
        kept.insert(url.to_owned(), data.clone());
        Ok(data)
    }
}

/// The image type its first bytes show, for the types a chapter image may be.
fn image_type(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_raster_images_by_their_first_bytes() {
        use super::image_type;
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        for not in [
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..],
            b"<html>",
            b"",
            b"RIFF",
        ] {
            assert_eq!(image_type(not), None);
        }
    }
}
