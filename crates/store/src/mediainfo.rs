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

/// The chapter titles an item `i` gets: those of its chapters file if that
/// was read and has any, else those embedded in its media.
pub(crate) const ITEM_CHAPTER_TITLES: &str = "(SELECT mi.titles FROM assets ca
    JOIN media_info mi ON mi.sha256 = ca.sha256
    WHERE ca.item_rowid = i.rowid AND ca.role IN ('media', 'chapters') AND mi.chapters <> '[]'
    ORDER BY ca.role = 'chapters' DESC, ca.position LIMIT 1)";

/// An item `i`'s duration as its media file gives it (when read): what the
/// catalog or feed gives comes first wherever this is used.
pub(crate) const ITEM_MEDIA_DURATION: &str = item_media_duration!();

/// Set once every file stored before media files were read has been read;
/// from then on each file is read as it is stored.
const BACKFILLED: &str = "media_info_backfilled";

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
    /// (hash, role, media type). Empty once the files stored before this
    /// version have all been read (then every file is read as it arrives,
    /// and this costs nothing per sync).
    pub fn unread_media(&self, limit: usize) -> Result<Vec<(Sha256, String, String)>, StoreError> {
        if self.setting(BACKFILLED)?.is_some() {
            return Ok(Vec::new());
        }
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
        drop(stmt);
        drop(conn);
        if rows.is_empty() {
            self.set_setting(BACKFILLED, Some("1"))?;
        }
        Ok(rows
            .into_iter()
            .filter_map(|(s, role, t)| Some((Sha256::parse(&s).ok()?, role, t)))
            .collect())
    }

    /// Whether what a file says (duration, chapters) was read and kept.
    pub fn media_info_read(&self, sha: &Sha256) -> Result<bool, StoreError> {
        Ok(self.reader().query_row(
            "SELECT EXISTS (SELECT 1 FROM media_info WHERE sha256 = ?1)",
            [sha.as_str()],
            |r| r.get(0),
        )?)
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

    /// Keeps what was read from a file, and indexes chapter titles
    /// (`titles`, one per line) for every item that uses it (each item gets
    /// its chapters file's titles if it has any, else its media's).
    pub fn set_media_info(
        &self,
        sha: &Sha256,
        duration_ms: Option<u64>,
        chapters_json: &str,
        titles: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        // Only of a file the index records: one forgotten since it was read
        // (named otherwise while checked by a chunk list alone) may not be
        // what its hash says.
        let recorded: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)",
            [sha.as_str()],
            |r| r.get(0),
        )?;
        if !recorded {
            return Ok(());
        }
        let titles = (!titles.is_empty()).then_some(titles);
        tx.execute(
            "INSERT INTO media_info(sha256, duration_ms, chapters, titles, read_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(sha256) DO UPDATE SET duration_ms = excluded.duration_ms,
                 chapters = excluded.chapters, titles = excluded.titles, read_at = excluded.read_at",
            params![sha.as_str(), duration_ms.map(|d| d as i64), chapters_json, titles, now_unix()],
        )?;
        tx.execute(
            &format!(
                "UPDATE items AS i SET chapters = {ITEM_CHAPTER_TITLES}
                 WHERE i.rowid IN (SELECT a.item_rowid FROM assets a
                                   WHERE a.sha256 = ?1 AND a.role IN ('media', 'chapters'))
                   AND i.chapters IS NOT {ITEM_CHAPTER_TITLES}"
            ),
            [sha.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The chapters and duration read for an item: from its chapters file if
    /// that is stored, read and has chapters, else from its media.
    pub fn item_media_info(&self, key: ItemKey<'_>) -> Result<Option<MediaInfo>, StoreError> {
        let conn = self.reader();
        let row: Option<(String, Option<i64>, String)> = conn
            .query_row(
                "SELECT a.role, mi.duration_ms, mi.chapters FROM items i
                 JOIN assets a ON a.item_rowid = i.rowid AND a.role IN ('media', 'chapters')
                 JOIN media_info mi ON mi.sha256 = a.sha256
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3
                 ORDER BY mi.chapters <> '[]' DESC, a.role = 'chapters' DESC, a.position LIMIT 1",
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
