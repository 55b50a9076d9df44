//! Chunk lists (catalog format 2): what a large file's catalog entry says
//! of its chunks, and the lists themselves once fetched and checked, kept
//! in the index (a 2 GB file's list is 64 KiB) so that a download checks
//! each chunk as it lands and a resumed one knows which are whole.

use rusqlite::{params, OptionalExtension};
use stowaway_catalog::{Chunks, Sha256};

use crate::{Store, StoreError};

/// How a file that is not stored yet can be played while it downloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// In chunks, each checked against the catalog's chunk list as it lands.
    Chunks,
    /// From the front, as its bytes arrive: a feed's file that no digest
    /// will check (the feed is the only word on it, as in any podcast
    /// app); of a known size. Kept only once whole and checked, as ever.
    Prefix,
    /// Only once it is whole and checked (a file whose hash or digest is
    /// known but no chunk list, or of no known size).
    Whole,
}

/// What became of a file checked chunk by chunk only
/// ([`Store::keep_chunk_checked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkChecked {
    /// Recorded as checked by its list.
    Kept,
    /// No longer wanted (removed meanwhile): the file was deleted.
    Unwanted,
    /// Something else names its hash now (another list, none, a feed):
    /// nothing recorded; the whole file must hash to its name before use.
    WholeHashNeeded,
}

/// Whether anything in the index names blob `?1` other than assets naming
/// chunk list `?2`: another list or none, artwork, a feed's file.
const NAMED_OTHERWISE: &str = "
    EXISTS (SELECT 1 FROM assets a WHERE a.sha256 = ?1
            AND (a.chunk_list IS NULL OR a.chunk_list <> ?2))
    OR EXISTS (SELECT 1 FROM collections WHERE artwork_sha256 = ?1)
    OR EXISTS (SELECT 1 FROM libraries WHERE artwork_sha256 = ?1)
    OR EXISTS (SELECT 1 FROM feed_files WHERE sha256 = ?1)";

/// In `tx`, after references were written (a catalog or feed applied):
/// a blob checked by a chunk list only stays recorded only while every
/// reference to it names that list. Any other is forgotten (its file stays
/// on disk, and is used again only once its whole hash matches: the sync
/// adopts it, or fetches it again), with what was read from it (duration,
/// chapters, transcript text), which may not be the file's.
pub(crate) fn forget_conflicting(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let conflicting: Vec<String> = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT sha256 FROM blobs b WHERE b.chunk_list IS NOT NULL AND ({})",
            NAMED_OTHERWISE
                .replace("?1", "b.sha256")
                .replace("?2", "b.chunk_list")
        ))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let titles = crate::mediainfo::ITEM_CHAPTER_TITLES;
    for sha in &conflicting {
        tracing::info!(blob = %sha, "a file checked by its chunk list only is named otherwise now; its whole hash will be checked before it is used");
        tx.execute("DELETE FROM blobs WHERE sha256 = ?1", [sha])?;
        tx.execute("DELETE FROM media_info WHERE sha256 = ?1", [sha])?;
        tx.execute(
            &format!(
                "UPDATE items AS i SET chapters = {titles}
                 WHERE i.rowid IN (SELECT a.item_rowid FROM assets a
                                   WHERE a.sha256 = ?1 AND a.role IN ('media', 'chapters'))
                   AND i.chapters IS NOT {titles}"
            ),
            [sha],
        )?;
        tx.execute(
            "UPDATE items SET transcript = NULL
             WHERE rowid IN (SELECT item_rowid FROM assets WHERE sha256 = ?1 AND role = 'transcript')",
            [sha],
        )?;
    }
    Ok(())
}

impl Store {
    /// Whether every reference to blob `sha` is an asset naming chunk list
    /// `list`: a download checked against that list may then leave out the
    /// whole file's hash ([`keep_chunk_checked`](Self::keep_chunk_checked)
    /// decides again when it ends).
    pub fn named_only_with(&self, sha: &Sha256, list: &Sha256) -> Result<bool, StoreError> {
        let otherwise: bool = self.reader().query_row(
            &format!("SELECT {NAMED_OTHERWISE}"),
            params![sha.as_str(), list.as_str()],
            |r| r.get(0),
        )?;
        Ok(!otherwise)
    }

    /// Records a file at its final path whose every chunk matched chunk
    /// list `list` and whose whole hash was not taken. In one transaction:
    /// if nothing wants it any more, the file is deleted; if anything names
    /// its hash other than through `list`, nothing is recorded and the
    /// caller must hash the whole file first (`adopt_blob`). So a hostile
    /// library that signs a chunk list for other bytes under another
    /// library's file's hash gets those bytes for its own items only.
    pub fn keep_chunk_checked(
        &self,
        sha: &Sha256,
        size: u64,
        list: &Sha256,
    ) -> Result<ChunkChecked, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let wanted: bool =
            tx.query_row(&crate::library::wanted_sql(), [sha.as_str()], |r| r.get(0))?;
        let otherwise: bool = tx.query_row(
            &format!("SELECT {NAMED_OTHERWISE}"),
            params![sha.as_str(), list.as_str()],
            |r| r.get(0),
        )?;
        let outcome = match (wanted, otherwise) {
            (false, _) => ChunkChecked::Unwanted,
            (true, true) => ChunkChecked::WholeHashNeeded,
            (true, false) => {
                tx.execute(
                    "INSERT INTO blobs(sha256, size, stored_at, verified_at, chunk_list)
                     VALUES (?1, ?2, ?3, ?3, ?4)
                     ON CONFLICT(sha256) DO UPDATE SET size = excluded.size,
                         verified_at = excluded.verified_at",
                    params![sha.as_str(), size as i64, crate::now_unix(), list.as_str()],
                )?;
                tx.execute("DELETE FROM partials WHERE sha256 = ?1", [sha.as_str()])?;
                ChunkChecked::Kept
            }
        };
        tx.commit()?;
        drop(conn);
        if outcome == ChunkChecked::Unwanted {
            let _ = std::fs::remove_file(self.blobs().path(sha));
        }
        Ok(outcome)
    }

    /// The chunk list a stored blob was checked by, when its whole hash was
    /// not taken (`None`: it was, or the blob is not stored).
    pub fn checked_by_list(&self, sha: &Sha256) -> Result<Option<Sha256>, StoreError> {
        let list: Option<Option<String>> = self
            .reader()
            .query_row(
                "SELECT chunk_list FROM blobs WHERE sha256 = ?1",
                [sha.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(list.flatten().and_then(|l| Sha256::parse(&l).ok()))
    }

    /// How `library`'s file `sha` (`size` bytes as the index knows it)
    /// plays while it downloads.
    pub(crate) fn arrival(
        &self,
        library: &str,
        sha: &Sha256,
        size: u64,
    ) -> Result<Arrival, StoreError> {
        if self.asset_chunks(library, sha)?.is_some() {
            return Ok(Arrival::Chunks);
        }
        if size > 0 {
            if let Some(f) = self.feed_file(library, sha)? {
                if f.integrity.is_empty() {
                    return Ok(Arrival::Prefix);
                }
            }
        }
        Ok(Arrival::Whole)
    }

    /// The chunks `library`'s catalog gives a file (by the file's hash), if
    /// any: only the library whose mirrors serve the file names its list.
    pub fn asset_chunks(&self, library: &str, sha: &Sha256) -> Result<Option<Chunks>, StoreError> {
        let row: Option<(i64, String)> = self
            .reader()
            .query_row(
                "SELECT a.chunk_size, a.chunk_list FROM assets a
                 JOIN items i ON i.rowid = a.item_rowid
                 WHERE a.sha256 = ?1 AND i.library_id = ?2 AND a.chunk_list IS NOT NULL LIMIT 1",
                rusqlite::params![sha.as_str(), library],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(size, list)| {
            Some(Chunks {
                size: u32::try_from(size).ok()?,
                sha256: Sha256::parse(&list).ok()?,
            })
        }))
    }

    /// A chunk list kept earlier (checked when it was kept).
    pub fn chunk_list(
        &self,
        chunks: &Chunks,
        file_size: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .reader()
            .query_row(
                "SELECT digests FROM chunk_lists WHERE sha256 = ?1",
                [chunks.sha256.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        // Checked again: a list that no longer matches is not used.
        Ok(bytes.and_then(|b| chunks.parse_list(&b, file_size).ok()))
    }

    /// Keeps a chunk list fetched from a mirror, once it is exactly the one
    /// the catalog names (its length and its hash); its digests.
    pub fn put_chunk_list(
        &self,
        chunks: &Chunks,
        file_size: u64,
        bytes: &[u8],
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let digests = chunks
            .parse_list(bytes, file_size)
            .map_err(StoreError::Unverified)?;
        self.writer().execute(
            "INSERT INTO chunk_lists(sha256, digests) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![chunks.sha256.as_str(), bytes],
        )?;
        Ok(digests)
    }
}
