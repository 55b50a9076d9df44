//! What to keep offline: a download rule per collection, the member's choice
//! per item, the storage budget and the pause switch; and freeing space
//! (removing a download, evicting played items, dropping blobs nothing
//! references any more).
//!
//! An item is *wanted* (the next sync downloads it) when the member asked for
//! it, when it arrived while its collection was in `new` mode (and the rule
//! is not `off` now), or when its collection is in `all` mode (the default)
//! and the member has not removed it. Artwork is always wanted.

use std::str::FromStr;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use stowaway_catalog::Sha256;

use crate::{now_unix, ItemKey, Store, StoreError};

/// Joins an item `i` to its download state `d` and its collection's rule `r`.
pub(crate) const ITEM_POLICY_JOINS: &str =
    "LEFT JOIN item_downloads d ON d.library_id = i.library_id
                    AND d.collection_id = i.collection_id AND d.item_id = i.id
                 LEFT JOIN download_rules r ON r.library_id = i.library_id
                    AND r.collection_id = i.collection_id";

/// True for an item `i` the member keeps for the trip: it, or its collection, is pinned.
macro_rules! item_pinned {
    () => {
        "EXISTS (SELECT 1 FROM pins pn WHERE pn.library_id = i.library_id
                    AND pn.collection_id = i.collection_id AND pn.item_id IN ('', i.id))"
    };
}
pub(crate) const ITEM_PINNED: &str = item_pinned!();

/// True for an item the member asked for: downloaded on request, or pinned
/// (needs [`ITEM_POLICY_JOINS`]). These go first, and past the budget.
pub(crate) const ITEM_EXPLICIT: &str =
    concat!("(COALESCE(d.state, '') = 'wanted' OR ", item_pinned!(), ")");

/// True for an item the download rules want (needs [`ITEM_POLICY_JOINS`]).
pub(crate) const ITEM_WANTED: &str = concat!(
    "(COALESCE(d.state, '') = 'wanted' OR ",
    item_pinned!(),
    "
                    OR (COALESCE(d.state, '') = 'auto' AND COALESCE(r.mode, 'all') <> 'off')
                    OR (d.state IS NULL AND COALESCE(r.mode, 'all') = 'all'))"
);

const BUDGET: &str = "storage_budget";
const PAUSED: &str = "downloads_paused";

/// A collection's download rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DownloadMode {
    /// Every item (a course to take offline). The default.
    #[default]
    All,
    /// Items published after the rule was set (a show's new episodes).
    New,
    /// Only what the member asks for.
    Off,
}

impl DownloadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DownloadMode::All => "all",
            DownloadMode::New => "new",
            DownloadMode::Off => "off",
        }
    }
}

impl FromStr for DownloadMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(DownloadMode::All),
            "new" => Ok(DownloadMode::New),
            "off" => Ok(DownloadMode::Off),
            _ => Err(format!("unknown download mode {s:?} (all, new or off)")),
        }
    }
}

/// Space given back by removing, evicting or collecting blobs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Freed {
    /// Items whose download was removed.
    pub items: u32,
    pub blobs: u32,
    pub bytes: u64,
    /// Every blob of the affected items that is no longer wanted, stored or
    /// not: a download of one in flight should stop.
    #[serde(skip)]
    pub unwanted: Vec<Sha256>,
}

/// Storage used by the cache and what is still to come.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StorageUsage {
    pub bytes_stored: u64,
    pub blobs_stored: u32,
    /// Wanted and not stored yet.
    pub bytes_queued: u64,
    pub files_queued: u32,
    /// The member's budget for the cache, if any.
    pub budget: Option<u64>,
    pub paused: bool,
}

/// One item waiting to be downloaded (or partly downloaded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueuedDownload {
    pub library_id: String,
    pub collection_id: String,
    pub collection_title: String,
    pub item_id: String,
    pub title: String,
    /// Bytes of the item's files that are not stored yet.
    pub bytes_missing: u64,
    /// Of those, bytes already in partial downloads.
    pub bytes_partial: u64,
    /// The blobs still missing, to match per-file progress events.
    pub blobs: Vec<String>,
    /// The member asked for it (it goes first, and past the budget).
    pub explicit: bool,
}

/// At apply time: new items of collections in `new` mode become wanted.
pub(crate) fn want_new_items(
    tx: &Transaction<'_>,
    library: &str,
    added: &[(String, String)],
) -> Result<(), StoreError> {
    // The collections whose rule is "new items only", asked once: a first
    // apply adds every item, and most collections have no such rule.
    let new_only: std::collections::HashSet<String> = tx
        .prepare("SELECT collection_id FROM download_rules WHERE library_id = ?1 AND mode = 'new'")?
        .query_map([library], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if new_only.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare(
        "INSERT INTO item_downloads(library_id, collection_id, item_id, state, updated_at)
         VALUES (?1, ?2, ?3, 'auto', ?4)
         ON CONFLICT DO NOTHING",
    )?;
    let now = now_unix();
    for (collection, item) in added.iter().filter(|(c, _)| new_only.contains(c)) {
        stmt.execute(params![library, collection, item, now])?;
    }
    Ok(())
}

impl Store {
    /// Keeps a collection (`item` None) or one item for the trip: wanted
    /// whatever the rules say, first in the queue, never evicted. Returns
    /// whether it was not pinned before.
    pub fn pin(
        &self,
        library: &str,
        collection: &str,
        item: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.check_collection(library, collection)?;
        if let Some(item) = item {
            self.check_item(ItemKey {
                library,
                collection,
                item,
            })?;
        }
        let n = self.writer().execute(
            "INSERT INTO pins(library_id, collection_id, item_id, pinned_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![library, collection, item.unwrap_or(""), now_unix()],
        )?;
        Ok(n > 0)
    }

    /// No longer keeps it for the trip (a collection: nor any of its items).
    /// Its files stay until the rules or the member remove them. Returns
    /// whether anything was pinned.
    pub fn unpin(
        &self,
        library: &str,
        collection: &str,
        item: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.check_collection(library, collection)?;
        let n = self.writer().execute(
            "DELETE FROM pins WHERE library_id = ?1 AND collection_id = ?2 AND (?3 IS NULL OR item_id = ?3)",
            params![library, collection, item],
        )?;
        Ok(n > 0)
    }

    /// Whether the item is kept for the trip (itself or its collection).
    pub fn is_pinned(&self, key: ItemKey<'_>) -> Result<bool, StoreError> {
        Ok(self.reader().query_row(
            "SELECT EXISTS (SELECT 1 FROM pins WHERE library_id = ?1 AND collection_id = ?2 AND item_id IN ('', ?3))",
            params![key.library, key.collection, key.item],
            |r| r.get(0),
        )?)
    }

    /// Whether the item itself is pinned (not only through its collection).
    pub fn is_item_pinned(&self, key: ItemKey<'_>) -> Result<bool, StoreError> {
        Ok(self.reader().query_row(
            "SELECT EXISTS (SELECT 1 FROM pins WHERE library_id = ?1 AND collection_id = ?2 AND item_id = ?3)",
            params![key.library, key.collection, key.item],
            |r| r.get(0),
        )?)
    }

    pub(crate) fn check_item(&self, key: ItemKey<'_>) -> Result<(), StoreError> {
        let found = self
            .reader()
            .query_row(
                "SELECT 1 FROM items WHERE library_id = ?1 AND collection_id = ?2 AND id = ?3",
                params![key.library, key.collection, key.item],
                |_| Ok(()),
            )
            .optional()?;
        found.ok_or_else(|| {
            StoreError::UnknownItem(format!("{}/{}/{}", key.library, key.collection, key.item))
        })
    }

    /// A setting, or `None` if it was never set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .reader()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets (or with `None` clears) a setting.
    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let conn = self.writer();
        match value {
            Some(v) => conn.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, v],
            )?,
            None => conn.execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// The storage budget in bytes (`None`: no limit).
    pub fn storage_budget(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.setting(BUDGET)?.and_then(|v| v.parse().ok()))
    }

    pub fn set_storage_budget(&self, bytes: Option<u64>) -> Result<(), StoreError> {
        self.set_setting(BUDGET, bytes.map(|b| b.to_string()).as_deref())
    }

    /// Whether the member paused downloads (syncs then refresh catalogs only).
    pub fn downloads_paused(&self) -> Result<bool, StoreError> {
        Ok(self.setting(PAUSED)?.as_deref() == Some("1"))
    }

    pub fn set_downloads_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.set_setting(PAUSED, paused.then_some("1"))
    }

    pub(crate) fn check_collection(
        &self,
        library: &str,
        collection: &str,
    ) -> Result<(), StoreError> {
        let found = self
            .reader()
            .query_row(
                "SELECT 1 FROM collections WHERE library_id = ?1 AND id = ?2",
                params![library, collection],
                |_| Ok(()),
            )
            .optional()?;
        found.ok_or_else(|| StoreError::UnknownItem(format!("{library}/{collection}")))
    }

    pub fn download_mode(
        &self,
        library: &str,
        collection: &str,
    ) -> Result<DownloadMode, StoreError> {
        let mode: Option<String> = self
            .reader()
            .query_row(
                "SELECT mode FROM download_rules WHERE library_id = ?1 AND collection_id = ?2",
                params![library, collection],
                |r| r.get(0),
            )
            .optional()?;
        Ok(mode.and_then(|m| m.parse().ok()).unwrap_or_default())
    }

    /// Sets a collection's rule. Items already stored stay stored; switching
    /// to `new` or `off` only stops downloads the old rule had queued.
    pub fn set_download_mode(
        &self,
        library: &str,
        collection: &str,
        mode: DownloadMode,
    ) -> Result<(), StoreError> {
        self.check_collection(library, collection)?;
        self.writer().execute(
            "INSERT INTO download_rules(library_id, collection_id, mode, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(library_id, collection_id) DO UPDATE SET
                 mode = excluded.mode, updated_at = excluded.updated_at",
            params![library, collection, mode.as_str(), now_unix()],
        )?;
        Ok(())
    }

    /// The member asks for one item (or, with `item` `None`, every item of
    /// the collection: "download this course"). Returns how many items.
    pub fn want_download(
        &self,
        library: &str,
        collection: &str,
        item: Option<&str>,
    ) -> Result<usize, StoreError> {
        self.check_collection(library, collection)?;
        let n = self.writer().execute(
            "INSERT INTO item_downloads(library_id, collection_id, item_id, state, updated_at)
             SELECT library_id, collection_id, id, 'wanted', ?4 FROM items
             WHERE library_id = ?1 AND collection_id = ?2 AND (?3 IS NULL OR id = ?3)
             ON CONFLICT(library_id, collection_id, item_id) DO UPDATE SET
                 state = 'wanted', updated_at = excluded.updated_at",
            params![library, collection, item, now_unix()],
        )?;
        if n == 0 {
            let what = match item {
                Some(i) => format!("{library}/{collection}/{i}"),
                None => format!("{library}/{collection} (no items)"),
            };
            return Err(StoreError::UnknownItem(what));
        }
        Ok(n)
    }

    /// The member removes an item's download (or stops it before it is
    /// done): it is no longer wanted, and its stored files are deleted unless
    /// another item still uses them.
    pub fn remove_download(&self, key: ItemKey<'_>) -> Result<Freed, StoreError> {
        self.check_item(key)?;
        if self.is_pinned(key)? {
            return Err(StoreError::Pinned(format!(
                "{}/{}/{}",
                key.library, key.collection, key.item
            )));
        }
        self.drop_item(key, "removed")
    }

    /// Marks an item `state` ('removed' or 'evicted') and deletes the blobs
    /// only it needed.
    fn drop_item(&self, key: ItemKey<'_>, state: &str) -> Result<Freed, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO item_downloads(library_id, collection_id, item_id, state, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(library_id, collection_id, item_id) DO UPDATE SET
                 state = excluded.state, updated_at = excluded.updated_at",
            params![key.library, key.collection, key.item, state, now_unix()],
        )?;
        // Blobs of this item that no other kept item and no artwork uses.
        let unwanted: Vec<(String, Option<i64>)> = tx
            .prepare(
                "SELECT DISTINCT a.sha256, b.size FROM items i
                 JOIN assets a ON a.item_rowid = i.rowid
                 LEFT JOIN blobs b ON b.sha256 = a.sha256
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3
                   AND NOT EXISTS (
                       SELECT 1 FROM assets a2 JOIN items i2 ON i2.rowid = a2.item_rowid
                       LEFT JOIN item_downloads d2 ON d2.library_id = i2.library_id
                           AND d2.collection_id = i2.collection_id AND d2.item_id = i2.id
                       WHERE a2.sha256 = a.sha256 AND i2.rowid != i.rowid
                         AND COALESCE(d2.state, '') NOT IN ('removed', 'evicted'))
                   AND a.sha256 NOT IN (
                       SELECT artwork_sha256 FROM libraries WHERE artwork_sha256 IS NOT NULL
                       UNION SELECT artwork_sha256 FROM collections WHERE artwork_sha256 IS NOT NULL)",
            )?
            .query_map(params![key.library, key.collection, key.item], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut freed = Freed {
            items: 1,
            ..Freed::default()
        };
        let mut files = Vec::new();
        for (sha, size) in unwanted {
            let Ok(sha) = Sha256::parse(&sha) else {
                continue;
            };
            if let Some(size) = size {
                tx.execute("DELETE FROM blobs WHERE sha256 = ?1", [sha.as_str()])?;
                freed.blobs += 1;
                freed.bytes += size as u64;
                files.push(self.blobs().path(&sha));
            }
            tx.execute("DELETE FROM partials WHERE sha256 = ?1", [sha.as_str()])?;
            files.push(self.blobs().partial_path(&sha));
            files.push(self.blobs().chunk_journal_path(&sha));
            freed.unwanted.push(sha);
        }
        tx.commit()?;
        drop(conn);
        // The index no longer points at them, so deleting after the commit
        // never leaves a row without its file (a crash leaves only a stray
        // file, which fsck and the next sync handle).
        for f in files {
            let _ = std::fs::remove_file(f);
        }
        Ok(freed)
    }

    /// Frees at least `needed` bytes (if it can) by removing downloads of
    /// played items the rules fetched on their own, oldest finished first.
    /// Items the member asked for explicitly, and pinned ones, are never evicted.
    pub fn evict_played(&self, needed: u64) -> Result<Freed, StoreError> {
        let candidates: Vec<(String, String, String)> = self
            .reader()
            .prepare(&format!(
                "SELECT i.library_id, i.collection_id, i.id FROM playback p
                 JOIN items i ON i.library_id = p.library_id AND i.collection_id = p.collection_id
                     AND i.id = p.item_id
                 LEFT JOIN item_downloads d ON d.library_id = i.library_id
                     AND d.collection_id = i.collection_id AND d.item_id = i.id
                 WHERE p.played = 1 AND COALESCE(d.state, 'auto') = 'auto'
                   AND NOT {pinned}
                   AND EXISTS (SELECT 1 FROM assets a JOIN blobs b ON b.sha256 = a.sha256
                               WHERE a.item_rowid = i.rowid)
                 ORDER BY p.updated_at, i.rowid",
                pinned = ITEM_PINNED
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut total = Freed::default();
        for (library, collection, item) in candidates {
            if total.bytes >= needed {
                break;
            }
            let f = self.drop_item(
                ItemKey {
                    library: &library,
                    collection: &collection,
                    item: &item,
                },
                "evicted",
            )?;
            total.items += f.items;
            total.blobs += f.blobs;
            total.bytes += f.bytes;
            total.unwanted.extend(f.unwanted);
        }
        Ok(total)
    }

    /// Deletes stored blobs that nothing in any applied catalog references
    /// any more (the publisher removed the item), and what was read from
    /// files (durations, chapters) or fetched for them (chunk lists) that no
    /// catalog names now.
    pub fn collect_garbage(&self) -> Result<Freed, StoreError> {
        self.writer().execute_batch(
            "DELETE FROM media_info WHERE sha256 NOT IN (SELECT sha256 FROM assets);
             DELETE FROM chunk_lists WHERE sha256 NOT IN
                 (SELECT chunk_list FROM assets WHERE chunk_list IS NOT NULL);",
        )?;
        let gone: Vec<(String, i64)> = {
            let conn = self.writer();
            let mut stmt = conn.prepare(
                "DELETE FROM blobs WHERE sha256 NOT IN (
                     SELECT sha256 FROM assets
                     UNION SELECT artwork_sha256 FROM libraries WHERE artwork_sha256 IS NOT NULL
                     UNION SELECT artwork_sha256 FROM collections WHERE artwork_sha256 IS NOT NULL)
                 RETURNING sha256, size",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            rows
        };
        let mut freed = Freed::default();
        for (sha, size) in gone {
            if let Ok(sha) = Sha256::parse(&sha) {
                let _ = std::fs::remove_file(self.blobs().path(&sha));
                freed.blobs += 1;
                freed.bytes += size as u64;
            }
        }
        self.prune_attachment_copies();
        Ok(freed)
    }

    /// Bytes and blobs stored, what is queued, the budget and the pause switch.
    pub fn storage_usage(&self) -> Result<StorageUsage, StoreError> {
        let (bytes_stored, blobs_stored): (i64, u32) = self.reader().query_row(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let wanted = self.wanted_blobs(None)?;
        Ok(StorageUsage {
            bytes_stored: bytes_stored as u64,
            blobs_stored,
            bytes_queued: wanted.iter().map(|w| w.size).sum(),
            files_queued: wanted.len() as u32,
            budget: self.storage_budget()?,
            paused: self.downloads_paused()?,
        })
    }

    /// Items waiting for a download, in the order the next sync takes them.
    pub fn download_queue(&self, library: Option<&str>) -> Result<Vec<QueuedDownload>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT i.library_id, i.collection_id, c.title, i.id, i.title,
                    {explicit},
                    a.sha256, a.size, COALESCE(p.bytes, 0)
             FROM items i
             JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
             JOIN assets a ON a.item_rowid = i.rowid
             LEFT JOIN partials p ON p.sha256 = a.sha256
             {ITEM_POLICY_JOINS}
             WHERE (?1 IS NULL OR i.library_id = ?1) AND {ITEM_WANTED}
               AND a.sha256 NOT IN (SELECT sha256 FROM blobs)
             ORDER BY i.library_id, CASE WHEN {explicit} THEN 1 ELSE 2 END,
                      c.position, i.position, a.position",
            explicit = ITEM_EXPLICIT
        ))?;
        let mut out: Vec<QueuedDownload> = Vec::new();
        let rows = stmt.query_map([library], |r| {
            Ok((
                QueuedDownload {
                    library_id: r.get(0)?,
                    collection_id: r.get(1)?,
                    collection_title: r.get(2)?,
                    item_id: r.get(3)?,
                    title: r.get(4)?,
                    explicit: r.get(5)?,
                    bytes_missing: 0,
                    bytes_partial: 0,
                    blobs: Vec::new(),
                },
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)? as u64,
                r.get::<_, i64>(8)? as u64,
            ))
        })?;
        for row in rows {
            let (q, sha, size, partial) = row?;
            let same = out.last().is_some_and(|l| {
                l.library_id == q.library_id
                    && l.collection_id == q.collection_id
                    && l.item_id == q.item_id
            });
            if !same {
                out.push(q);
            }
            let last = out.last_mut().expect("just pushed");
            if !last.blobs.contains(&sha) {
                last.bytes_missing += size;
                last.bytes_partial += partial.min(size);
                last.blobs.push(sha);
            }
        }
        Ok(out)
    }
}
