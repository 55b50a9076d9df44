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

impl Store {
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
