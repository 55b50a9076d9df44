//! What was read from a verified media or chapters file, kept by its hash:
//! the real duration (when the catalog or feed gives none) and the
//! chapters (a chapters file's, else those embedded in the media). The
//! engine reads the files (it knows the formats); the store keeps the
//! result as JSON it does not interpret, and puts chapter titles into the
//! search index.

use rusqlite::{params, OptionalExtension};
use stowaway_catalog::Sha256;

use crate::playback::ItemKey;
use crate::{now_unix, Store, StoreError};

/// What the index holds for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaInfo {
    pub duration_ms: Option<u64>,
    /// The chapters as the engine wrote them (a JSON array).
    pub chapters: String,
    /// Read from the item's chapters file (else from its media).
    pub from_chapters_file: bool,
}

impl Store {
    /// Stored media and chapters files not read yet, at most `limit`:
    /// (hash, role, media type).
    pub fn unread_media(&self, limit: usize) -> Result<Vec<(Sha256, String, String)>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT a.sha256, a.role, MIN(a.media_type) FROM assets a
             JOIN blobs b ON b.sha256 = a.sha256
             WHERE a.role IN ('media', 'chapters')
               AND NOT EXISTS (SELECT 1 FROM media_info mi WHERE mi.sha256 = a.sha256)
             GROUP BY a.sha256, a.role LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, role, t)| Some((Sha256::parse(&s).ok()?, role, t)))
            .collect())
    }

    /// The role and media type of a stored file an item uses as its media
    /// or chapters (`None`: neither, nothing to read).
    pub fn media_role(&self, sha: &Sha256) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT role, media_type FROM assets WHERE sha256 = ?1 AND role IN ('media', 'chapters')
                 ORDER BY role = 'chapters' DESC LIMIT 1",
                [sha.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Keeps what was read from a file, and indexes its chapter titles
    /// (`titles`, one per line) for every item whose chapters it gives: a
    /// chapters file's items, or the media's items that have no chapters file.
    pub fn set_media_info(
        &self,
        sha: &Sha256,
        duration_ms: Option<u64>,
        chapters_json: &str,
        titles: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO media_info(sha256, duration_ms, chapters, read_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(sha256) DO UPDATE SET duration_ms = excluded.duration_ms,
                 chapters = excluded.chapters, read_at = excluded.read_at",
            params![
                sha.as_str(),
                duration_ms.map(|d| d as i64),
                chapters_json,
                now_unix()
            ],
        )?;
        let titles = (!titles.is_empty()).then_some(titles);
        tx.execute(
            "UPDATE items SET chapters = ?2
             WHERE rowid IN (
                 SELECT a.item_rowid FROM assets a WHERE a.sha256 = ?1 AND (a.role = 'chapters'
                     OR (a.role = 'media' AND NOT EXISTS (SELECT 1 FROM assets c
                         WHERE c.item_rowid = a.item_rowid AND c.role = 'chapters'))))
               AND chapters IS NOT ?2",
            params![sha.as_str(), titles],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The chapters and duration read for an item: from its chapters file if
    /// that is stored and read, else from its media.
    pub fn item_media_info(&self, key: ItemKey<'_>) -> Result<Option<MediaInfo>, StoreError> {
        let conn = self.reader();
        let row: Option<(String, Option<i64>, String)> = conn
            .query_row(
                "SELECT a.role, mi.duration_ms, mi.chapters FROM items i
                 JOIN assets a ON a.item_rowid = i.rowid AND a.role IN ('media', 'chapters')
                 JOIN media_info mi ON mi.sha256 = a.sha256
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3
                 ORDER BY a.role = 'chapters' DESC, a.position LIMIT 1",
                params![key.library, key.collection, key.item],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((role, duration, chapters)) = row else {
            return Ok(None);
        };
        // The duration is the media's, whichever file gave the chapters.
        let duration = if role == "media" {
            duration
        } else {
            conn.query_row(
                "SELECT mi.duration_ms FROM items i
                 JOIN assets a ON a.item_rowid = i.rowid AND a.role = 'media'
                 JOIN media_info mi ON mi.sha256 = a.sha256
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3 LIMIT 1",
                params![key.library, key.collection, key.item],
                |r| r.get(0),
            )
            .optional()?
            .flatten()
        };
        Ok(Some(MediaInfo {
            duration_ms: duration.map(|d| d as u64),
            chapters,
            from_chapters_file: role == "chapters",
        }))
    }
}
