//! Playback state (resume position, played) and looking up a stored asset of
//! an item for the media server.

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use stowaway_catalog::{AssetRole, Sha256};

use crate::{now_unix, Store, StoreError};

/// Where a member is in an item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Playback {
    pub position_ms: u64,
    pub duration_ms: Option<u64>,
    pub played: bool,
    pub updated_at: i64,
}

/// An asset of an item whose bytes are in the store (verified).
#[derive(Clone, Debug, Serialize)]
pub struct StoredAsset {
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: String,
    pub name: Option<String>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Identifies an item across the store: library, collection, item ids.
#[derive(Clone, Copy, Debug)]
pub struct ItemKey<'a> {
    pub library: &'a str,
    pub collection: &'a str,
    pub item: &'a str,
}

impl Store {
    /// The `index`-th asset with `role` of an item, if it is stored. Only an
    /// indexed (verified) blob is ever returned: never a partial file, never a
    /// path the caller chose.
    pub fn stored_asset(
        &self,
        key: ItemKey<'_>,
        role: AssetRole,
        index: usize,
    ) -> Result<Option<StoredAsset>, StoreError> {
        self.asset_where(key, role, index, true)
    }

    /// An item's asset that is not stored yet, as [`stored_asset`]
    /// describes it (`path` is where it will be once stored), and how it
    /// plays while it downloads.
    ///
    /// [`stored_asset`]: Self::stored_asset
    pub fn arriving_asset(
        &self,
        key: ItemKey<'_>,
        role: AssetRole,
        index: usize,
    ) -> Result<Option<(StoredAsset, crate::Arrival)>, StoreError> {
        let Some(a) = self.asset_where(key, role, index, false)? else {
            return Ok(None);
        };
        let arrival = self.arrival(key.library, &a.sha256, a.size)?;
        Ok(Some((a, arrival)))
    }

    fn asset_where(
        &self,
        key: ItemKey<'_>,
        role: AssetRole,
        index: usize,
        stored: bool,
    ) -> Result<Option<StoredAsset>, StoreError> {
        let conn = self.reader();
        // The index counts every asset with the role (as `item_assets`
        // does), stored or not; only a stored (or only an unstored) one is
        // returned.
        let sql = format!(
            "SELECT sha256, size, media_type, name FROM (
                 SELECT a.sha256, a.size, a.media_type, a.name
                 FROM items i
                 JOIN assets a ON a.item_rowid = i.rowid
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3 AND a.role = ?4
                 ORDER BY a.position LIMIT 1 OFFSET ?5)
             WHERE sha256 {} (SELECT sha256 FROM blobs)",
            if stored { "IN" } else { "NOT IN" }
        );
        let row: Option<(String, i64, String, Option<String>)> = conn
            .query_row(
                &sql,
                params![
                    key.library,
                    key.collection,
                    key.item,
                    role.as_str(),
                    index as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        drop(conn);
        Ok(row.and_then(|(sha, size, media_type, name)| {
            let sha256 = Sha256::parse(&sha).ok()?;
            Some(StoredAsset {
                path: self.blobs().path(&sha256),
                sha256,
                size: size as u64,
                media_type,
                name,
            })
        }))
    }

    /// A stored file that is the artwork of a library, a collection or an
    /// item the index knows (`None` for any other hash, stored or not): what
    /// the media server hands out by hash alone.
    pub fn stored_artwork(&self, sha: &Sha256) -> Result<Option<StoredAsset>, StoreError> {
        let conn = self.reader();
        let row: Option<(i64, String)> = conn
            .query_row(
                "SELECT b.size, COALESCE(
                     (SELECT artwork_type FROM libraries WHERE artwork_sha256 = ?1 LIMIT 1),
                     (SELECT artwork_type FROM collections WHERE artwork_sha256 = ?1 LIMIT 1),
                     (SELECT media_type FROM assets WHERE sha256 = ?1 AND role = 'artwork' LIMIT 1))
                 FROM blobs b WHERE b.sha256 = ?1",
                [sha.as_str()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    ))
                },
            )
            .optional()?;
        drop(conn);
        Ok(row
            .filter(|(_, t)| !t.is_empty())
            .map(|(size, media_type)| StoredAsset {
                path: self.blobs().path(sha),
                sha256: sha.clone(),
                size: size as u64,
                media_type,
                name: None,
            }))
    }

    /// A copy of an item's stored attachment for the system's viewer, named
    /// as the catalog names it (made safe: a display name is never a path,
    /// and the extension is its type's) and in `attachments/` of the member's
    /// own data directory. A copy, so that a viewer that saves over its file
    /// cannot change a verified blob. Only documents, images, audio and video
    /// are handed out ([`StoreError::NotOpenable`] otherwise).
    pub fn export_attachment(
        &self,
        key: ItemKey<'_>,
        index: usize,
    ) -> Result<Option<PathBuf>, StoreError> {
        let Some(a) = self.stored_asset(key, AssetRole::Attachment, index)? else {
            return Ok(None);
        };
        let Some(name) = safe_file_name(a.name.as_deref(), &a.media_type) else {
            return Err(StoreError::NotOpenable(a.media_type));
        };
        let dir = self
            .data_dir()
            .join("attachments")
            .join(&a.sha256.as_str()[..16]);
        crate::private::create_dir(&dir)?;
        let dest = dir.join(name);
        let fresh =
            std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == a.size);
        if !fresh {
            let bytes = std::fs::read(&a.path).map_err(|e| StoreError::io(&a.path, e))?;
            if Sha256::digest(&bytes) != a.sha256 {
                return Err(StoreError::Unverified(format!(
                    "{} no longer matches its hash: run `stowaway fsck --repair`",
                    a.path.display()
                )));
            }
            crate::private::write_atomic(&dest, &bytes)?;
        }
        Ok(Some(dest))
    }

    /// Deletes copies of attachments whose blob the store no longer holds.
    pub(crate) fn prune_attachment_copies(&self) {
        let dir = self.data_dir().join("attachments");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let held: std::collections::HashSet<String> = self
            .reader()
            .prepare("SELECT substr(sha256, 1, 16) FROM blobs")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
            .unwrap_or_default();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !held.contains(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    /// Saves the resume position (and the duration the player saw).
    pub fn set_position(
        &self,
        key: ItemKey<'_>,
        position_ms: u64,
        duration_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        self.writer().execute(
            "INSERT INTO playback(library_id, collection_id, item_id, position_ms, duration_ms, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(library_id, collection_id, item_id) DO UPDATE SET
                 position_ms = excluded.position_ms,
                 duration_ms = COALESCE(excluded.duration_ms, duration_ms),
                 updated_at = excluded.updated_at",
            params![key.library, key.collection, key.item, position_ms as i64, duration_ms.map(|d| d as i64), now_unix()],
        )?;
        Ok(())
    }

    /// Marks an item played (position back to the start) or unplayed.
    pub fn set_played(&self, key: ItemKey<'_>, played: bool) -> Result<(), StoreError> {
        self.writer().execute(
            "INSERT INTO playback(library_id, collection_id, item_id, position_ms, played, updated_at)
             VALUES (?1, ?2, ?3, 0, ?4, ?5)
             ON CONFLICT(library_id, collection_id, item_id) DO UPDATE SET
                 played = excluded.played, position_ms = 0, updated_at = excluded.updated_at",
            params![key.library, key.collection, key.item, played, now_unix()],
        )?;
        Ok(())
    }

    pub fn playback(&self, key: ItemKey<'_>) -> Result<Playback, StoreError> {
        let p = self
            .reader()
            .query_row(
                "SELECT position_ms, duration_ms, played, updated_at FROM playback
                 WHERE library_id = ?1 AND collection_id = ?2 AND item_id = ?3",
                params![key.library, key.collection, key.item],
                |r| {
                    Ok(Playback {
                        position_ms: r.get::<_, i64>(0)? as u64,
                        duration_ms: r.get::<_, Option<i64>>(1)?.map(|d| d as u64),
                        played: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()?;
        Ok(p.unwrap_or_default())
    }
}

/// One asset of an item, and whether its bytes are in the store.
#[derive(Clone, Debug, Serialize)]
pub struct AssetRow {
    pub role: String,
    /// Position among the item's assets with the same role.
    pub index: usize,
    pub media_type: String,
    pub name: Option<String>,
    pub size: u64,
    pub stored: bool,
}

/// An item's texts (the listing leaves out the long ones).
#[derive(Clone, Debug, Serialize)]
pub struct ItemText {
    pub title: String,
    pub summary: Option<String>,
    pub notes: Option<String>,
    /// Sanitised HTML notes, when the source had markup.
    pub notes_html: Option<String>,
    pub duration_ms: Option<u64>,
    pub published_at: Option<i64>,
}

impl Store {
    pub fn item_text(&self, key: ItemKey<'_>) -> Result<Option<ItemText>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                &format!(
                    "SELECT i.title, i.summary, i.notes,
                            COALESCE(i.duration_ms, {}), i.published_at, i.notes_html FROM items i
                     WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3",
                    crate::mediainfo::ITEM_MEDIA_DURATION
                ),
                params![key.library, key.collection, key.item],
                |r| {
                    Ok(ItemText {
                        title: r.get(0)?,
                        summary: r.get(1)?,
                        notes: r.get(2)?,
                        duration_ms: r.get::<_, Option<i64>>(3)?.map(|d| d as u64),
                        published_at: r.get(4)?,
                        notes_html: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every asset of an item in catalog order, with whether it is stored.
    pub fn item_assets(&self, key: ItemKey<'_>) -> Result<Vec<AssetRow>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT a.role, a.media_type, a.name, a.size, b.sha256 IS NOT NULL
             FROM items i JOIN assets a ON a.item_rowid = i.rowid
             LEFT JOIN blobs b ON b.sha256 = a.sha256
             WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3
             ORDER BY a.position",
        )?;
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let rows = stmt
            .query_map(params![key.library, key.collection, key.item], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(role, media_type, name, size, stored)| {
                let n = seen.entry(role.clone()).or_default();
                let index = *n;
                *n += 1;
                AssetRow {
                    role,
                    index,
                    media_type,
                    name,
                    size: size as u64,
                    stored,
                }
            })
            .collect())
    }
}

/// The extension a file of `media_type` is opened with, for the types the
/// system viewer may be handed: documents, images, audio and video. Anything
/// else (an executable, a script, an installer, a `.desktop` launcher, …) is
/// never opened by the app.
fn openable_extension(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/ogg" => "ogg",
        "audio/opus" => "opus",
        "audio/wav" => "wav",
        "audio/flac" => "flac",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        _ => return None,
    })
}

/// A file name for an attachment from its display name: no directories, no
/// leading dots, no control characters, at most 100 characters, and the
/// extension of its type whatever the name says (so the viewer the desktop
/// picks is one for that type, never a program's launcher). `None` for a
/// type the app does not open.
pub(crate) fn safe_file_name(name: Option<&str>, media_type: &str) -> Option<String> {
    let ext = openable_extension(media_type)?;
    let base: String = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(100)
        .collect();
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => base,
    };
    // A name Windows reads as a device (`CON.pdf` opens the console), or
    // one it trims (trailing dots and spaces): never the file's. (The same
    // device list as `stowaway_mirrors`' check_relative: neither crate
    // depends on the other.)
    let stem = stem.trim_end_matches(['.', ' ']).to_owned();
    let upper = stem.split('.').next().unwrap_or("").to_ascii_uppercase();
    let device = matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit());
    let stem = if stem.is_empty() {
        "attachment".to_owned()
    } else if device {
        format!("{stem}-attachment")
    } else {
        stem
    };
    Some(format!("{stem}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn attachment_names_are_never_paths_or_programs() {
        for (name, t, want) in [
            (
                Some("workbook.pdf"),
                "application/pdf",
                Some("workbook.pdf"),
            ),
            (Some("../../.bashrc"), "application/pdf", Some("bashrc.pdf")),
            (Some("/etc/passwd"), "text/plain", Some("passwd.txt")),
            (
                Some("C:\\Windows\\evil.exe"),
                "application/pdf",
                Some("evil.pdf"),
            ),
            (Some("evil.exe"), "application/octet-stream", None),
            (Some("run.desktop"), "application/x-desktop", None),
            (Some("page.html"), "text/html", None),
            (Some("a\nb\u{0}c.pdf"), "application/pdf", Some("abc.pdf")),
            (Some("..."), "application/pdf", Some("attachment.pdf")),
            (None, "application/pdf", Some("attachment.pdf")),
            (Some("Notes"), "application/pdf", Some("Notes.pdf")),
            (Some("a.pdf.exe"), "application/pdf", Some("a.pdf.pdf")),
            // Names Windows reads as devices, or trims.
            (
                Some("CON.pdf"),
                "application/pdf",
                Some("CON-attachment.pdf"),
            ),
            (Some("nul"), "application/pdf", Some("nul-attachment.pdf")),
            (Some("com1.txt"), "text/plain", Some("com1-attachment.txt")),
            (Some("console.pdf"), "application/pdf", Some("console.pdf")),
            (Some("notes. .pdf"), "application/pdf", Some("notes.pdf")),
        ] {
            assert_eq!(safe_file_name(name, t).as_deref(), want, "{name:?}");
        }
    }
}
