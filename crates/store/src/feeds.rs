//! Podcast feeds as libraries: the feed's address and validators, and the
//! files its episodes point at.
//!
//! A feed library is stored like a signed one (collections, items, assets,
//! the same downloads, playback and search), with two differences. Nothing
//! signs it: the sync layer turns each fetch into a catalog and
//! [`Store::apply_feed`] writes it. And its files have no hash before their
//! first download: such an asset carries its [`FeedFile::key`] where the
//! SHA-256 would be, until [`Store::learn_feed_file`] records the real hash
//! (and from then on every copy, from any source, must match it).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use stowaway_catalog::{Asset, Catalog, Item, Limits, Sha256, VerifiedCatalog};

use crate::library::{applied, write_changes, ApplyOutcome};
use crate::{now_unix, Store, StoreError};

/// A subscribed feed.
#[derive(Clone, Debug, Serialize)]
pub struct FeedRow {
    pub library_id: String,
    /// Where it is fetched from now (a permanent redirect changes it).
    pub url: String,
    /// The address the member subscribed to.
    pub subscribed_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// HTTP status of the last fetch (or 0 when no server answered).
    pub last_status: Option<u16>,
    pub last_fetched_at: Option<i64>,
    /// The member subscribed to it on their own machine or network (so it
    /// may name hosts there); `None` until decided.
    pub local: Option<bool>,
}

/// One expected digest of a feed file (`podcast:integrity`), as the feed
/// gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// `sha256`, `sha384` or `sha512`.
    pub algorithm: String,
    /// Lowercase hex.
    pub hex: String,
}

/// Where a feed file comes from and how it is checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedFile {
    /// Stands in for the SHA-256 until it is known (see the module docs).
    pub key: Sha256,
    /// Every source, the enclosure first, then the alternates.
    pub urls: Vec<String>,
    /// The declared length, if the feed gave one.
    pub length: Option<u64>,
    pub integrity: Vec<FileDigest>,
    /// Learned at the first download.
    pub sha256: Option<Sha256>,
    pub size: Option<u64>,
    /// Read from the file's first bytes at that download (for a feed that
    /// declares no type).
    pub media_type: Option<String>,
}

impl FeedFile {
    /// What the catalog's asset carries: the real hash once known.
    pub fn current_sha256(&self) -> &Sha256 {
        self.sha256.as_ref().unwrap_or(&self.key)
    }
}

fn feed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedRow> {
    Ok(FeedRow {
        library_id: r.get(0)?,
        url: r.get(1)?,
        subscribed_url: r.get(2)?,
        etag: r.get(3)?,
        last_modified: r.get(4)?,
        last_status: r.get::<_, Option<i64>>(5)?.map(|s| s as u16),
        last_fetched_at: r.get(6)?,
        local: r.get(7)?,
    })
}

const FEED_COLUMNS: &str =
    "library_id, url, subscribed_url, etag, last_modified, last_status, last_fetched_at, local";

fn file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedFile> {
    let text = |i: usize| r.get::<_, Option<String>>(i);
    let sha = |s: Option<String>| s.and_then(|s| Sha256::parse(&s).ok());
    Ok(FeedFile {
        key: sha(text(0)?).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(0, "key".into(), rusqlite::types::Type::Text)
        })?,
        urls: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
        length: r.get::<_, Option<i64>>(2)?.map(|n| n as u64),
        integrity: text(3)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        sha256: sha(text(4)?),
        size: r.get::<_, Option<i64>>(5)?.map(|n| n as u64),
        media_type: text(6)?,
    })
}

const FILE_COLUMNS: &str = "key, urls, length, integrity, sha256, size, media_type";

impl Store {
    /// Subscribes to a feed as library `library` (titled `title` until the
    /// first fetch). Subscribing again to the same feed changes nothing;
    /// an id that names another library or feed is refused. Returns true if
    /// the library is new.
    pub fn subscribe_feed(
        &self,
        library: &str,
        title: &str,
        url: &str,
    ) -> Result<bool, StoreError> {
        stowaway_catalog::validate_id("library", library)
            .map_err(|e| StoreError::SourceConflict(e.to_string()))?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let existing: Option<Option<String>> = tx
            .query_row(
                "SELECT f.subscribed_url FROM libraries l LEFT JOIN feeds f ON f.library_id = l.id
                 WHERE l.id = ?1",
                [library],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(Some(u)) if u == url => return Ok(false),
            Some(_) => return Err(StoreError::SourceConflict(library.to_owned())),
            None => {}
        }
        tx.execute(
            "INSERT INTO libraries(id, title, public_key, subscribed_at) VALUES (?1, ?2, '', ?3)",
            params![library, title, now_unix()],
        )?;
        tx.execute(
            "INSERT INTO feeds(library_id, url, subscribed_url) VALUES (?1, ?2, ?2)",
            params![library, url],
        )?;
        self.save_feed_copy(library, url, title)?;
        tx.commit()?;
        Ok(true)
    }

    /// The copy of a feed subscription kept beside the index (what
    /// `fsck --repair` subscribes to again): where the feed is, and its title.
    fn save_feed_copy(&self, library: &str, url: &str, title: &str) -> Result<(), StoreError> {
        let copy = serde_json::json!({ "feed": url, "title": title });
        self.save_subscription_copy(library, "feed", copy.to_string().as_bytes())
    }

    /// Records, once, whether the feed is on the member's own network (see
    /// [`FeedRow::local`]); a decision made is never changed.
    pub fn set_feed_local(&self, library: &str, local: bool) -> Result<(), StoreError> {
        self.writer().execute(
            "UPDATE feeds SET local = ?2 WHERE library_id = ?1 AND local IS NULL",
            params![library, local],
        )?;
        Ok(())
    }

    /// The member subscribed again to a feed, at `url`, that answered just
    /// now: it is fetched from there from now on (whatever address it had
    /// moved to before).
    pub fn set_feed_url(&self, library: &str, url: &str) -> Result<(), StoreError> {
        let n = self.writer().execute(
            "UPDATE feeds SET url = ?2, etag = NULL, last_modified = NULL WHERE library_id = ?1 AND url != ?2",
            params![library, url],
        )?;
        if n > 0 {
            let title = self.library(library)?.title;
            self.save_feed_copy(library, url, &title)?;
        }
        Ok(())
    }

    /// The feed behind `library`, if it is a feed library.
    pub fn feed(&self, library: &str) -> Result<Option<FeedRow>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                &format!("SELECT {FEED_COLUMNS} FROM feeds WHERE library_id = ?1"),
                [library],
                feed_row,
            )
            .optional()?)
    }

    /// Every subscribed feed, in subscription order.
    pub fn feeds(&self) -> Result<Vec<FeedRow>, StoreError> {
        let conn = self.reader();
        // Every feed column name is its own (libraries has none of them).
        let mut stmt = conn.prepare(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds JOIN libraries l ON l.id = library_id
             ORDER BY l.subscribed_at, l.id"
        ))?;
        let rows = stmt
            .query_map([], feed_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The library subscribed to the feed at `url` (as subscribed, or where
    /// it moved), if any.
    pub fn feed_library(&self, url: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT library_id FROM feeds WHERE subscribed_url = ?1 OR url = ?1",
                [url],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records a fetch of the feed: its status, the validators for the next
    /// conditional GET (kept when `None`, as after a 304) and, after a
    /// permanent redirect, the new address.
    pub fn record_feed_fetch(
        &self,
        library: &str,
        status: u16,
        validators: Option<(Option<&str>, Option<&str>)>,
        moved_to: Option<&str>,
    ) -> Result<(), StoreError> {
        let conn = self.writer();
        conn.execute(
            "UPDATE feeds SET last_status = ?2, last_fetched_at = ?3, url = COALESCE(?4, url)
             WHERE library_id = ?1",
            params![library, status, now_unix(), moved_to],
        )?;
        if let Some((etag, last_modified)) = validators {
            conn.execute(
                "UPDATE feeds SET etag = ?2, last_modified = ?3 WHERE library_id = ?1",
                params![library, etag, last_modified],
            )?;
        }
        drop(conn);
        if let Some(url) = moved_to {
            let title = self.library(library)?.title;
            self.save_feed_copy(library, url, &title)?;
        }
        Ok(())
    }

    /// What is known of a feed library's files, by key.
    pub fn feed_files(&self, library: &str) -> Result<HashMap<Sha256, FeedFile>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FILE_COLUMNS} FROM feed_files WHERE library_id = ?1"
        ))?;
        let rows = stmt
            .query_map([library], file_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().map(|f| (f.key.clone(), f)).collect())
    }

    /// The file of feed library `library` an asset hash stands for: by its
    /// key before the first download, by its learned SHA-256 after. `None`
    /// for a blob of a signed library.
    pub fn feed_file(&self, library: &str, sha: &Sha256) -> Result<Option<FeedFile>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                &format!(
                    "SELECT {FILE_COLUMNS} FROM feed_files
                     WHERE library_id = ?2 AND (key = ?1 OR sha256 = ?1)
                     ORDER BY key = ?1 DESC LIMIT 1"
                ),
                params![sha.as_str(), library],
                file_row,
            )
            .optional()?)
    }

    /// Applies a feed fetch turned into a catalog whose assets carry their
    /// files' keys: `files` are the sources of every asset it references. The
    /// sequence grows by one for every change; the same content is
    /// `unchanged`. One transaction, like a signed catalog.
    pub fn apply_feed(
        &self,
        library: &str,
        catalog: &Catalog,
        files: &[FeedFile],
    ) -> Result<ApplyOutcome, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let is_feed = tx
            .query_row(
                "SELECT 1 FROM feeds WHERE library_id = ?1",
                [library],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !is_feed {
            return Err(StoreError::UnknownLibrary(library.to_owned()));
        }
        let previous_sequence = applied(&tx, library)?.map(|a| a.sequence);
        let old_bytes: Option<Vec<u8>> = tx
            .query_row(
                "SELECT bytes FROM catalogs WHERE library_id = ?1",
                [library],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        // The files first. A file whose declared length or integrity changed,
        // or (having neither) whose address changed, is another file: what
        // was learned of it is forgotten.
        let learned_before: HashMap<String, String> = tx
            .prepare(
                "SELECT key, sha256 FROM feed_files WHERE library_id = ?1 AND sha256 IS NOT NULL",
            )?
            .query_map([library], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for f in files {
            tx.execute(
                "INSERT INTO feed_files(key, library_id, urls, length, integrity)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(key) DO UPDATE SET
                     sha256 = CASE WHEN (feed_files.length IS excluded.length AND feed_files.integrity IS excluded.integrity
                                    AND (feed_files.length IS NOT NULL OR feed_files.integrity IS NOT NULL
                                         OR json_extract(feed_files.urls, '$[0]') IS json_extract(excluded.urls, '$[0]'))) THEN feed_files.sha256 END,
                     size = CASE WHEN (feed_files.length IS excluded.length AND feed_files.integrity IS excluded.integrity
                                    AND (feed_files.length IS NOT NULL OR feed_files.integrity IS NOT NULL
                                         OR json_extract(feed_files.urls, '$[0]') IS json_extract(excluded.urls, '$[0]'))) THEN feed_files.size END,
                     media_type = CASE WHEN (feed_files.length IS excluded.length AND feed_files.integrity IS excluded.integrity
                                    AND (feed_files.length IS NOT NULL OR feed_files.integrity IS NOT NULL
                                         OR json_extract(feed_files.urls, '$[0]') IS json_extract(excluded.urls, '$[0]'))) THEN feed_files.media_type END,
                     urls = excluded.urls, length = excluded.length, integrity = excluded.integrity",
                params![
                    f.key.as_str(),
                    library,
                    serde_json::to_string(&f.urls).expect("strings serialise"),
                    f.length.map(|n| n as i64),
                    (!f.integrity.is_empty())
                        .then(|| serde_json::to_string(&f.integrity).expect("serialises"))
                ],
            )?;
        }
        // Assets carry keys; inside this transaction each becomes its learned
        // hash where one is known (so a download finishing meanwhile is not
        // undone), in the old catalog as in the new.
        let learned: HashMap<String, (String, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT key, sha256, size FROM feed_files WHERE library_id = ?1 AND sha256 IS NOT NULL",
            )?;
            let rows = stmt
                .query_map([library], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect::<Result<_, _>>()?;
            rows
        };
        // Items whose file was forgotten point at its old hash: written
        // again (their digest, of the feed's words, did not change), so they
        // point at the file's key and the next sync fetches the new file.
        let forgotten: Vec<&String> = learned_before
            .iter()
            .filter(|(key, sha)| learned.get(*key).map(|(s, _)| s) != Some(*sha))
            .map(|(_, sha)| sha)
            .collect();
        for sha in &forgotten {
            tx.execute(
                "UPDATE items SET digest = NULL
                 WHERE library_id = ?1 AND rowid IN (SELECT item_rowid FROM assets WHERE sha256 = ?2)",
                params![library, sha],
            )?;
        }
        let resolve_asset = |a: &mut Asset| {
            if let Some((sha, size)) = learned.get(a.sha256.as_str()) {
                if let Ok(sha) = Sha256::parse(sha) {
                    a.sha256 = sha;
                    a.size = *size as u64;
                }
            }
        };
        let resolve_item = |i: &mut Item| i.assets.iter_mut().for_each(resolve_asset);
        let resolve = |c: &mut Catalog| {
            for col in &mut c.collections {
                col.artwork.iter_mut().for_each(resolve_asset);
                col.items.iter_mut().for_each(resolve_item);
            }
        };
        let mut old: Option<Catalog> = old_bytes
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        if let Some(old) = &mut old {
            resolve(old);
        }
        let mut new = catalog.clone();
        resolve(&mut new);
        new.sequence = previous_sequence.unwrap_or(0);
        new.generated_at = old.as_ref().map_or(new.generated_at, |o| o.generated_at);
        let unchanged = old.as_ref() == Some(&new) && forgotten.is_empty();
        if unchanged {
            tx.commit()?;
            return Ok(ApplyOutcome {
                library: library.to_owned(),
                previous_sequence,
                sequence: new.sequence,
                unchanged: true,
                diff: Default::default(),
            });
        }
        // What is kept is what the feed said (files by key; collection
        // artwork resolved, as it is written from the head); each item is
        // resolved as it is written, and compared by the digest of what the
        // feed said, so a file learned since is not a change.
        let mut kept = catalog.clone();
        kept.sequence = previous_sequence.map_or(1, |s| s + 1);
        for col in &mut kept.collections {
            col.artwork.iter_mut().for_each(resolve_asset);
        }
        let limits = Limits {
            max_mirrors: usize::MAX,
            ..Limits::default()
        };
        let v = VerifiedCatalog::unsigned(&kept, limits);
        drop(kept);
        let outcome = write_changes(&tx, library, &v, previous_sequence, true, &resolve_item)?;
        tx.commit()?;
        crate::db::checkpoint(&conn);
        Ok(outcome)
    }

    /// After a verified download of a feed file: records its hash and size,
    /// points the library's assets that carried the key (or the hash learned
    /// before, when the publisher's copy changed) at it, and indexes the
    /// blob (already at its final path) if it is still wanted; if not (the
    /// member removed it meanwhile, maybe in another process), deletes the
    /// file and returns `false`. `sniffed`: the type its first bytes show,
    /// for assets whose type the feed did not give.
    pub fn learn_feed_file(
        &self,
        key: &Sha256,
        sha: &Sha256,
        size: u64,
        sniffed: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let Some((library, before)) = tx
            .query_row(
                "SELECT library_id, sha256 FROM feed_files WHERE key = ?1",
                [key.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .optional()?
        else {
            return Err(StoreError::UnknownItem(format!("feed file {key}")));
        };
        let old = before.unwrap_or_else(|| key.to_string());
        let args = params![key.as_str(), sha.as_str(), size as i64, library, old];
        tx.execute(
            "UPDATE assets SET sha256 = ?2, size = ?3
             WHERE sha256 IN (?1, ?5)
               AND item_rowid IN (SELECT rowid FROM items WHERE library_id = ?4)",
            args,
        )?;
        tx.execute(
            "UPDATE collections SET artwork_sha256 = ?2, artwork_size = ?3
             WHERE artwork_sha256 IN (?1, ?5) AND library_id = ?4",
            args,
        )?;
        tx.execute(
            "UPDATE libraries SET artwork_sha256 = ?2, artwork_size = ?3
             WHERE artwork_sha256 IN (?1, ?5) AND id = ?4",
            args,
        )?;
        tx.execute(
            "UPDATE feed_files SET sha256 = ?2, size = ?3, media_type = ?4 WHERE key = ?1",
            params![key.as_str(), sha.as_str(), size as i64, sniffed],
        )?;
        if let Some(t) = sniffed {
            tx.execute(
                "UPDATE assets SET media_type = ?2
                 WHERE sha256 = ?1 AND media_type = 'application/octet-stream'
                   AND item_rowid IN (SELECT rowid FROM items WHERE library_id = ?3)",
                params![sha.as_str(), t, library],
            )?;
        }
        // Kept only if still wanted (another process may have removed it
        // meanwhile): the store's state wins.
        let wanted = crate::library::keep_if_wanted(&tx, sha, size)?;
        tx.execute(
            "DELETE FROM partials WHERE sha256 IN (?1, ?2)",
            params![key.as_str(), old],
        )?;
        tx.commit()?;
        drop(conn);
        if !wanted {
            let _ = std::fs::remove_file(self.blobs().path(sha));
        }
        Ok(wanted)
    }

    /// What an item uses the blob `sha` for (`None`: not an item's asset,
    /// e.g. a show's artwork).
    pub fn asset_role(
        &self,
        sha: &Sha256,
    ) -> Result<Option<stowaway_catalog::AssetRole>, StoreError> {
        let role: Option<String> = self
            .reader()
            .query_row(
                "SELECT role FROM assets WHERE sha256 = ?1 LIMIT 1",
                [sha.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(role.as_deref().and_then(stowaway_catalog::AssetRole::parse))
    }

    /// The media type of the blob `sha` if some item uses it as its
    /// transcript (else `None`).
    pub fn transcript_type(&self, sha: &Sha256) -> Result<Option<String>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT media_type FROM assets WHERE sha256 = ?1 AND role = 'transcript' LIMIT 1",
                [sha.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stored transcripts not yet in the search index (downloaded before
    /// transcripts were indexed), at most `limit`: (hash, media type).
    pub fn unindexed_transcripts(&self, limit: usize) -> Result<Vec<(Sha256, String)>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT a.sha256, a.media_type FROM assets a
             JOIN items i ON i.rowid = a.item_rowid
             JOIN blobs b ON b.sha256 = a.sha256
             WHERE a.role = 'transcript' AND i.transcript IS NULL
             LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
            .filter_map(|r| r.ok())
            .filter_map(|(sha, t)| Sha256::parse(&sha).ok().map(|s| (s, t)))
            .collect();
        Ok(rows)
    }

    /// Indexes `text` as the transcript of every item whose transcript
    /// asset is the blob `sha` (so search finds what was said).
    pub fn set_transcript_text(&self, sha: &Sha256, text: &str) -> Result<usize, StoreError> {
        Ok(self.writer().execute(
            "UPDATE items SET transcript = ?2
             WHERE rowid IN (SELECT item_rowid FROM assets WHERE sha256 = ?1 AND role = 'transcript')
               AND transcript IS NOT ?2
               AND EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)",
            params![sha.as_str(), text],
        )?)
    }
}
