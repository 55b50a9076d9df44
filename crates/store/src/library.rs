//! Subscriptions, applying verified catalogs, sync bookkeeping and the blob index.

use std::collections::HashSet;

use rusqlite::{params, params_from_iter, OptionalExtension, ToSql, Transaction};
use serde::Serialize;
use stowaway_catalog::{Access, Asset, CatalogDiff, Item, Sha256, Subscription, VerifiedCatalog};

use crate::{now_unix, Store, StoreError};

/// Where copies of the member's subscriptions live, beside the index.
pub(crate) const SUBSCRIPTIONS_DIR: &str = "subscriptions";

/// What [`Store::subscribe`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubscribeOutcome {
    /// The library was not subscribed before.
    pub new: bool,
    /// It is private now (its mirrors want the member's token).
    pub private: bool,
    /// The file said "public" for a private library; it stays private.
    pub access_kept: bool,
    /// Mirrors the library did not have before (an update), and mirrors the
    /// update dropped.
    pub mirrors_added: Vec<String>,
    pub mirrors_removed: Vec<String>,
}

/// What [`Store::unsubscribe`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unsubscribed {
    pub library: String,
    pub items: u64,
    /// Files deleted (no other library used them) and their bytes.
    pub blobs: u32,
    pub bytes: u64,
    /// Every blob of the library no other one uses: a download of one in
    /// flight should stop.
    #[serde(skip)]
    pub unwanted: Vec<Sha256>,
}

/// A subscribed library as the index knows it.
#[derive(Clone, Debug, Serialize)]
pub struct LibraryRow {
    pub id: String,
    pub title: String,
    pub public_key: String,
    pub sequence: Option<u64>,
    /// A private library: its mirrors want the member's access token.
    pub private: bool,
}

/// What applying a catalog did.
#[derive(Clone, Debug, Serialize)]
pub struct ApplyOutcome {
    pub library: String,
    pub previous_sequence: Option<u64>,
    pub sequence: u64,
    /// The same catalog was already applied; nothing changed.
    pub unchanged: bool,
    pub diff: CatalogDiff,
}

/// A blob the catalog references that is not in the store yet.
#[derive(Clone, Debug, Serialize)]
pub struct WantedBlob {
    pub library_id: String,
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: String,
    /// What to call it in progress output: the item title, or "artwork".
    pub label: String,
    /// The member asked for it (downloaded first, and even over the budget).
    pub explicit: bool,
}

fn ts(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

impl Store {
    /// Adds a subscription, or updates one already there with the same key.
    ///
    /// An update can only raise a library's access level: a file that says
    /// "public" for a private library leaves it private (anyone can write a
    /// subscription naming a library and its public key, so a lowered level
    /// would send the member's token wherever that file points). Mirrors the
    /// library did not know are recorded unconfirmed for its token
    /// (`token_ok` = 0) until the member gives the token again; a new
    /// library's mirrors are the ones the member just chose, and confirmed.
    /// A copy of the subscription is kept outside the index
    /// (`subscriptions/<id>.stowaway`), so `fsck --repair` can rebuild it.
    pub fn subscribe(&self, sub: &Subscription) -> Result<SubscribeOutcome, StoreError> {
        self.subscribe_with(sub, true, &[])
    }

    /// [`subscribe`](Self::subscribe), the member having allowed `shares`,
    /// network shares among the subscription's mirrors, to be used (see
    /// `stowaway_mirrors::Shares`). A share allowed once stays allowed while
    /// the library lists it; the copy kept for `fsck --repair` does not say
    /// so (a rebuilt index asks the member again).
    pub fn subscribe_allowing(
        &self,
        sub: &Subscription,
        shares: &[String],
    ) -> Result<SubscribeOutcome, StoreError> {
        self.subscribe_with(sub, true, shares)
    }

    /// [`subscribe_allowing`](Self::subscribe_allowing); `confirm_new`:
    /// whether a new library's mirrors are the member's choice (and
    /// confirmed for its token), which they are not when an index is
    /// rebuilt from a copy.
    pub(crate) fn subscribe_with(
        &self,
        sub: &Subscription,
        confirm_new: bool,
        shares: &[String],
    ) -> Result<SubscribeOutcome, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let existing: Option<(String, String)> = tx
            .query_row(
                "SELECT public_key, access FROM libraries WHERE id = ?1",
                [&sub.library],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (new, was_private) = match &existing {
            Some((key, _)) if *key != sub.public_key => {
                return Err(StoreError::KeyConflict(sub.library.clone()))
            }
            Some((_, access)) => (false, access == "token"),
            None => {
                tx.execute(
                    "INSERT INTO libraries(id, title, public_key, subscribed_at, access) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        sub.library,
                        sub.title.as_deref().unwrap_or(&sub.library),
                        sub.public_key,
                        now_unix(),
                        sub.access.as_str()
                    ],
                )?;
                (true, false)
            }
        };
        let private = was_private || sub.access == Access::Token;
        tx.execute(
            "UPDATE libraries SET access = ?2 WHERE id = ?1",
            params![sub.library, if private { "token" } else { "public" }],
        )?;
        let known: Vec<(String, String)> = tx
            .prepare("SELECT url, origin FROM mirrors WHERE library_id = ?1")?
            .query_map([&sub.library], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mirrors_added: Vec<String> = sub
            .mirrors
            .iter()
            .filter(|m| !known.iter().any(|(u, _)| u == *m))
            .cloned()
            .collect();
        let mut mirrors_removed = Vec::new();
        for (url, origin) in &known {
            if origin == "subscription" && !sub.mirrors.contains(url) {
                tx.execute(
                    "DELETE FROM mirrors WHERE library_id = ?1 AND url = ?2",
                    params![sub.library, url],
                )?;
                mirrors_removed.push(url.clone());
            }
        }
        for (i, url) in sub.mirrors.iter().enumerate() {
            tx.execute(
                "INSERT INTO mirrors(library_id, url, position, origin, token_ok, share_ok) VALUES (?1, ?2, ?3, 'subscription', ?4, ?5)
                 ON CONFLICT(library_id, url) DO UPDATE SET position = excluded.position, origin = 'subscription',
                     share_ok = share_ok OR excluded.share_ok",
                params![sub.library, url, i as i64, new && confirm_new, shares.contains(url)],
            )?;
        }
        let mut copy = sub.clone();
        if private {
            copy.access = Access::Token;
        }
        self.save_subscription_copy(&sub.library, "stowaway", copy.to_json().as_bytes())?;
        tx.commit()?;
        Ok(SubscribeOutcome {
            new,
            private,
            access_kept: was_private && sub.access == Access::Public,
            mirrors_added: if new { Vec::new() } else { mirrors_added },
            mirrors_removed,
        })
    }

    /// The member gave `library`'s access token after being shown `shown`,
    /// its mirrors then: from now on the token goes to those of them the
    /// library still has (a mirror an update added meanwhile is not one).
    pub fn confirm_token_mirrors(&self, library: &str, shown: &[String]) -> Result<(), StoreError> {
        self.library(library)?;
        let conn = self.writer();
        for url in shown {
            conn.execute(
                "UPDATE mirrors SET token_ok = 1 WHERE library_id = ?1 AND url = ?2",
                params![library, url],
            )?;
        }
        Ok(())
    }

    /// The copies of subscriptions kept beside the index: (library id,
    /// kind (`stowaway` or `feed`), bytes).
    pub fn subscription_copies(&self) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        let dir = self.root.join(SUBSCRIPTIONS_DIR);
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((id, kind)) = name.rsplit_once('.') else {
                continue;
            };
            if !matches!(kind, "stowaway" | "feed")
                || stowaway_catalog::validate_id("library", id).is_err()
            {
                continue;
            }
            if let Some(bytes) = crate::private::read_own(&e.path(), 64 * 1024) {
                out.push((id.to_owned(), kind.to_owned(), bytes));
            }
        }
        out.sort();
        Ok(out)
    }

    fn has_catalog_copy(&self, library: &str) -> bool {
        let dir = self.root.join(SUBSCRIPTIONS_DIR);
        ["catalog", "minisig"]
            .iter()
            .all(|k| dir.join(format!("{library}.{k}")).is_file())
    }

    /// The copy of `library`'s last verified catalog and its signature kept
    /// beside the index (for `fsck --repair`), if there is one.
    pub fn catalog_copy(&self, library: &str) -> Option<(Vec<u8>, Vec<u8>)> {
        let dir = self.root.join(SUBSCRIPTIONS_DIR);
        let read = |kind: &str, max: u64| {
            crate::private::read_own(&dir.join(format!("{library}.{kind}")), max)
        };
        Some((
            read("catalog", stowaway_catalog::MAX_CATALOG_BYTES as u64)?,
            read("minisig", stowaway_catalog::MAX_SIGNATURE_BYTES as u64)?,
        ))
    }

    /// Removes a library: every row of it (in one transaction), then its
    /// files that no other library uses, its partial downloads and the copies
    /// of its subscription. Playback positions and download choices go too.
    /// Its access token is the shell's to forget (it lives in the keyring).
    pub fn unsubscribe(&self, library: &str) -> Result<Unsubscribed, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let items: Option<i64> = tx
            .query_row(
                "SELECT (SELECT COUNT(*) FROM items WHERE library_id = ?1) FROM libraries WHERE id = ?1",
                [library],
                |r| r.get(0),
            )
            .optional()?;
        let Some(items) = items else {
            return Err(StoreError::UnknownLibrary(library.to_owned()));
        };
        // Everything this library references (its files, and feed files'
        // keys, which name their partial downloads) …
        let referenced: Vec<String> = tx
            .prepare(
                "SELECT a.sha256 FROM assets a JOIN items i ON i.rowid = a.item_rowid WHERE i.library_id = ?1
                 UNION SELECT artwork_sha256 FROM collections WHERE library_id = ?1 AND artwork_sha256 IS NOT NULL
                 UNION SELECT artwork_sha256 FROM libraries WHERE id = ?1 AND artwork_sha256 IS NOT NULL
                 UNION SELECT key FROM feed_files WHERE library_id = ?1",
            )?
            .query_map([library], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tx.execute("DELETE FROM libraries WHERE id = ?1", [library])?;
        // … that nothing left references any more.
        let mut out = Unsubscribed {
            library: library.to_owned(),
            items: items as u64,
            ..Unsubscribed::default()
        };
        let mut files = Vec::new();
        for sha in referenced {
            let still: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM assets WHERE sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM collections WHERE artwork_sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM libraries WHERE artwork_sha256 = ?1)",
                [&sha],
                |r| r.get(0),
            )?;
            let Ok(sha) = Sha256::parse(&sha) else {
                continue;
            };
            if still {
                continue;
            }
            let size: Option<i64> = tx
                .query_row(
                    "DELETE FROM blobs WHERE sha256 = ?1 RETURNING size",
                    [sha.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(size) = size {
                out.blobs += 1;
                out.bytes += size as u64;
                files.push(self.blobs().path(&sha));
            }
            tx.execute("DELETE FROM partials WHERE sha256 = ?1", [sha.as_str()])?;
            files.push(self.blobs().partial_path(&sha));
            files.push(self.blobs().chunk_journal_path(&sha));
            out.unwanted.push(sha);
        }
        tx.commit()?;
        drop(conn);
        // As when removing a download: rows first, files after the commit.
        let dir = self.root.join(SUBSCRIPTIONS_DIR);
        for kind in ["stowaway", "feed", "catalog", "minisig"] {
            files.push(dir.join(format!("{library}.{kind}")));
        }
        for f in files {
            let _ = std::fs::remove_file(f);
        }
        self.prune_attachment_copies();
        Ok(out)
    }

    pub(crate) fn save_subscription_copy(
        &self,
        library: &str,
        kind: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let dir = self.root.join(SUBSCRIPTIONS_DIR);
        crate::private::create_dir(&dir)?;
        crate::private::write_atomic(&dir.join(format!("{library}.{kind}")), bytes)
    }

    /// Every subscribed library, in subscription order.
    pub fn libraries(&self) -> Result<Vec<LibraryRow>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT id, title, public_key, sequence, access = 'token' FROM libraries ORDER BY subscribed_at, id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LibraryRow {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    public_key: r.get(2)?,
                    sequence: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                    private: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn library(&self, id: &str) -> Result<LibraryRow, StoreError> {
        self.libraries()?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| StoreError::UnknownLibrary(id.to_owned()))
    }

    /// The library's mirrors: the subscription's in its order, then those
    /// learned from the catalog.
    pub fn mirrors(&self, library: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT url FROM mirrors WHERE library_id = ?1
             ORDER BY origin = 'catalog', position",
        )?;
        let urls = stmt
            .query_map([library], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(urls)
    }

    /// The signature file the applied catalog verified with (`None` before
    /// the first catalog, or for one applied by an older version).
    pub fn applied_signature(&self, library: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT signature FROM libraries WHERE id = ?1",
                [library],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The mirrors the library's subscription lists (not those its catalog
    /// announced), in order.
    pub fn subscription_mirrors(&self, library: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT url FROM mirrors WHERE library_id = ?1 AND origin = 'subscription' ORDER BY position",
        )?;
        let urls = stmt
            .query_map([library], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(urls)
    }

    /// [`mirrors`](Self::mirrors), each with whether the library's token may
    /// go to it, and whether the member allowed it as a network share.
    pub(crate) fn mirrors_confirmed(
        &self,
        library: &str,
    ) -> Result<Vec<(String, bool, bool)>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT url, token_ok, share_ok FROM mirrors WHERE library_id = ?1
             ORDER BY origin = 'catalog', position",
        )?;
        let urls = stmt
            .query_map([library], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(urls)
    }

    /// What the index knows of the catalog last applied for `library`
    /// (`None` before the first): its sequence, the SHA-256 of its bytes and
    /// its expiry. Cheap: the catalog itself is not read.
    pub fn applied_catalog(&self, library: &str) -> Result<Option<AppliedCatalog>, StoreError> {
        applied(&self.reader(), library)
    }

    /// The bytes of the catalog last applied for feed library `library`
    /// (the engine merges a refresh over it). A signed catalog's bytes are
    /// not kept in the index: its verified copy is beside it
    /// ([`catalog_copy`](Self::catalog_copy)), and only its hash is needed.
    pub fn applied_feed_catalog(&self, library: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT bytes FROM catalogs WHERE library_id = ?1",
                [library],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Applies a verified catalog in one transaction: refuses a rollback (lower
    /// sequence) or an equivocation (same sequence, other content), otherwise
    /// replaces collections, items and assets by the diff against the catalog
    /// applied before.
    pub fn apply_catalog(
        &self,
        library: &str,
        verified: &VerifiedCatalog,
    ) -> Result<ApplyOutcome, StoreError> {
        let new = verified.sequence();
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let previous = applied(&tx, library)?;
        if let Some(applied) = &previous {
            if new < applied.sequence {
                return Err(StoreError::Rollback {
                    library: library.to_owned(),
                    offered: new,
                    applied: applied.sequence,
                });
            }
            match &applied.sha256 {
                Some(sha) if new == applied.sequence && sha == verified.sha256() => {
                    if !verified.signature().is_empty() {
                        tx.execute(
                            "UPDATE libraries SET signature = ?2 WHERE id = ?1",
                            params![library, verified.signature()],
                        )?;
                        tx.commit()?;
                        // The copy fsck --repair rebuilds from, if an older
                        // version never wrote it.
                        if !self.has_catalog_copy(library) {
                            self.save_subscription_copy(library, "catalog", verified.bytes())?;
                            self.save_subscription_copy(library, "minisig", verified.signature())?;
                        }
                    }
                    return Ok(ApplyOutcome {
                        library: library.to_owned(),
                        previous_sequence: Some(applied.sequence),
                        sequence: applied.sequence,
                        unchanged: true,
                        diff: CatalogDiff::default(),
                    });
                }
                Some(_) if new == applied.sequence => {
                    return Err(StoreError::Equivocation {
                        library: library.to_owned(),
                        sequence: applied.sequence,
                    });
                }
                // A higher sequence, or the same one whose hash is not known:
                // applied (again).
                _ => {}
            }
        }
        let signed = !verified.signature().is_empty();
        let outcome = write_changes(
            &tx,
            library,
            verified,
            previous.map(|p| p.sequence),
            // A signed catalog's bytes are kept beside the index (below).
            !signed,
            &|_| {},
        )?;
        tx.execute(
            "UPDATE libraries SET signature = ?2 WHERE id = ?1",
            params![library, signed.then_some(verified.signature())],
        )?;
        // A copy beside the index, for `fsck --repair` (verified again then).
        if signed {
            self.save_subscription_copy(library, "catalog", verified.bytes())?;
            self.save_subscription_copy(library, "minisig", verified.signature())?;
        }
        tx.commit()?;
        crate::db::checkpoint(&conn);
        Ok(outcome)
    }

    /// Records the outcome of a sync attempt for `status`.
    pub fn record_sync(
        &self,
        library: &str,
        mirror: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.writer().execute(
            "UPDATE libraries SET last_sync_at = ?2, last_sync_ok = ?3,
                 last_sync_mirror = COALESCE(?4, last_sync_mirror), last_sync_error = ?5
             WHERE id = ?1",
            params![library, now_unix(), error.is_none(), mirror, error],
        )?;
        Ok(())
    }

    /// Blobs the download rules want that are not stored yet, each once:
    /// artwork first, then what the member asked for, then what the rules
    /// download automatically; in collection and item order within each.
    ///
    /// An item is wanted when the member asked for it, when a collection in
    /// 'new' mode got it after the rule was set, or when its collection is in
    /// 'all' mode (the default) and the member has not removed it.
    pub fn wanted_blobs(&self, library: Option<&str>) -> Result<Vec<WantedBlob>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT library_id, sha256, size, media_type, label, prio FROM (
                 SELECT l.id AS library_id, l.artwork_sha256 AS sha256, l.artwork_size AS size,
                        l.artwork_type AS media_type, 'artwork' AS label, 0 AS prio,
                        -1 AS cpos, -1 AS ipos, 0 AS apos
                 FROM libraries l WHERE l.artwork_sha256 IS NOT NULL
                 UNION ALL
                 SELECT c.library_id, c.artwork_sha256, c.artwork_size, c.artwork_type,
                        c.title || ' (artwork)', 0, c.position, -1, 0
                 FROM collections c WHERE c.artwork_sha256 IS NOT NULL
                 UNION ALL
                 SELECT i.library_id, a.sha256, a.size, a.media_type,
                        i.title || CASE a.role WHEN 'media' THEN '' ELSE ' (' || COALESCE(a.name, a.role) || ')' END,
                        CASE WHEN {explicit} THEN 1 ELSE 2 END,
                        c.position, i.position, a.position
                 FROM assets a JOIN items i ON i.rowid = a.item_rowid
                 JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
                 {joins}
                 WHERE {wanted}
             )
             WHERE (?1 IS NULL OR library_id = ?1)
               AND sha256 NOT IN (SELECT sha256 FROM blobs)
             ORDER BY library_id, prio, cpos, ipos, apos",
            joins = crate::downloads::ITEM_POLICY_JOINS,
            wanted = crate::downloads::ITEM_WANTED,
            explicit = crate::downloads::ITEM_EXPLICIT,
        ))?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let rows = stmt.query_map([library], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for row in rows {
            let (library_id, sha, size, media_type, label, prio) = row?;
            let Ok(sha256) = Sha256::parse(&sha) else {
                continue; // cannot happen: validated before it was stored
            };
            if seen.insert(sha256.clone()) {
                out.push(WantedBlob {
                    library_id,
                    sha256,
                    size: size as u64,
                    media_type,
                    label,
                    explicit: prio == 1,
                });
            }
        }
        Ok(out)
    }

    /// Whether the index (as any process left it) still wants blob `sha`:
    /// an item the rules keep uses it, or it is artwork. A download running
    /// in one process checks this, so a removal in another (the CLI while
    /// the app syncs) stops it.
    pub fn is_wanted(&self, sha: &Sha256) -> Result<bool, StoreError> {
        Ok(self
            .reader()
            .query_row(&wanted_sql(), [sha.as_str()], |r| r.get(0))?)
    }

    /// Records a blob just verified at its final path, if it is still wanted
    /// (checked in the same transaction, so the store's state wins over a
    /// download that finishes after the member removed it elsewhere). When
    /// not, the file is deleted and `false` returned.
    pub fn keep_blob_if_wanted(&self, sha: &Sha256, size: u64) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let wanted = keep_if_wanted(&tx, sha, size)?;
        tx.execute("DELETE FROM partials WHERE sha256 = ?1", [sha.as_str()])?;
        tx.commit()?;
        drop(conn);
        if !wanted {
            let _ = std::fs::remove_file(self.blobs().path(sha));
        }
        Ok(wanted)
    }

    /// Records that the blob at its path was just verified.
    pub fn mark_blob_present(&self, sha: &Sha256, size: u64) -> Result<(), StoreError> {
        insert_blob(&self.writer(), sha, size)
    }

    /// Whether the index says the blob is stored and verified.
    pub fn has_blob(&self, sha: &Sha256) -> Result<bool, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT 1 FROM blobs WHERE sha256 = ?1",
                [sha.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Stores a blob that is already verified at its final path (e.g. found on
    /// disk after a crash between rename and index update): re-hashes it first.
    pub fn adopt_blob(&self, sha: &Sha256, size: u64) -> Result<bool, StoreError> {
        let path = self.blobs().path(sha);
        match crate::BlobStore::hash_file(&path) {
            Ok((actual, n)) if actual == *sha && n == size => {
                self.mark_blob_present(sha, size)?;
                Ok(true)
            }
            Ok(_) => {
                self.writer()
                    .execute("DELETE FROM blobs WHERE sha256 = ?1", [sha.as_str()])?;
                let _ = std::fs::remove_file(&path);
                Ok(false)
            }
            Err(_) => Ok(false),
        }
    }
}

/// Records a blob whose whole file was just verified against its hash (it
/// is then good for every reference, whatever chunk list it names).
fn insert_blob(conn: &rusqlite::Connection, sha: &Sha256, size: u64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO blobs(sha256, size, stored_at, verified_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(sha256) DO UPDATE SET size = excluded.size,
             verified_at = excluded.verified_at, chunk_list = NULL",
        params![sha.as_str(), size as i64, now_unix()],
    )?;
    Ok(())
}

/// In `tx`: records the verified blob `sha` if the index still wants it;
/// whether it did.
pub(crate) fn keep_if_wanted(
    tx: &Transaction<'_>,
    sha: &Sha256,
    size: u64,
) -> Result<bool, StoreError> {
    let wanted: bool = tx.query_row(&wanted_sql(), [sha.as_str()], |r| r.get(0))?;
    if wanted {
        insert_blob(tx, sha, size)?;
    }
    Ok(wanted)
}

/// `SELECT` whether blob `?1` is wanted (see [`Store::is_wanted`]).
pub(crate) fn wanted_sql() -> String {
    format!(
        "SELECT EXISTS (
             SELECT 1 FROM assets a JOIN items i ON i.rowid = a.item_rowid
             {joins}
             WHERE a.sha256 = ?1 AND {wanted})
         OR EXISTS (SELECT 1 FROM libraries WHERE artwork_sha256 = ?1)
         OR EXISTS (SELECT 1 FROM collections WHERE artwork_sha256 = ?1)",
        joins = crate::downloads::ITEM_POLICY_JOINS,
        wanted = crate::downloads::ITEM_WANTED,
    )
}

/// The catalog applied for a library, as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedCatalog {
    pub sequence: u64,
    /// The SHA-256 of its exact bytes (`None`: not known; the same
    /// sequence is then applied again, never a lower one).
    pub sha256: Option<Sha256>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

impl AppliedCatalog {
    /// Whether its expiry has passed at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| now > e)
    }
}

/// The catalog applied for `library` (`None` before the first).
pub(crate) fn applied(
    conn: &rusqlite::Connection,
    library: &str,
) -> Result<Option<AppliedCatalog>, StoreError> {
    let row: Option<(Option<i64>, Option<String>, Option<i64>)> = conn
        .query_row(
            "SELECT l.sequence, c.sha256, l.expires_at
             FROM libraries l LEFT JOIN catalogs c ON c.library_id = l.id WHERE l.id = ?1",
            [library],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (seq, sha, expires_at) =
        row.ok_or_else(|| StoreError::UnknownLibrary(library.to_owned()))?;
    Ok(seq.map(|seq| AppliedCatalog {
        sequence: seq as u64,
        sha256: sha.and_then(|s| Sha256::parse(&s).ok()),
        expires_at,
    }))
}

/// Writes what changed from the catalog applied before (at
/// `previous_sequence`) to `new`, and queues the new items the download
/// rules want. The items are read from `new`'s bytes one at a time and
/// each is compared with the index by its digest, so neither catalog is
/// ever held as values. `keep_bytes`: the catalog's bytes go into the
/// index too (a feed's, which the next refresh merges over). `resolve`
/// rewrites an item's assets before they are written (a feed's file keys
/// to the hashes learned for them); the digest is of the item as `new`
/// has it.
pub(crate) fn write_changes(
    tx: &Transaction<'_>,
    library: &str,
    new: &VerifiedCatalog,
    previous_sequence: Option<u64>,
    keep_bytes: bool,
    resolve: &dyn Fn(&mut Item),
) -> Result<ApplyOutcome, StoreError> {
    let head = new.head();
    write_head(tx, library, new, keep_bytes)?;
    let mut d = CatalogDiff::default();
    let before: HashSet<String> = tx
        .prepare("SELECT id FROM collections WHERE library_id = ?1")?
        .query_map([library], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (cpos, col) in head.collections.iter().enumerate() {
        if !before.contains(&col.id) {
            d.collections_added.push(col.id.clone());
        }
        let (asha, asize, atype) = insert_asset_cols(col.artwork.as_ref());
        tx.execute(
            "INSERT INTO collections(library_id, id, kind, title, summary, artwork_sha256, artwork_size, artwork_type, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(library_id, id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
                 summary = excluded.summary, artwork_sha256 = excluded.artwork_sha256,
                 artwork_size = excluded.artwork_size, artwork_type = excluded.artwork_type,
                 position = excluded.position",
            params![library, col.id, col.kind.as_str(), col.title, col.summary, asha, asize, atype, cpos as i64],
        )?;
    }
    let had_items = tx
        .query_row(
            "SELECT 1 FROM items WHERE library_id = ?1 LIMIT 1",
            [library],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let mut rows = ItemRows::new(tx, library, had_items)?;
    // A first apply of many items indexes once at its end; an update
    // switches to that once it has written as many rows.
    if !had_items && head.item_count() >= BULK_REINDEX {
        rows.pause_index()?;
    }
    new.for_each_item(|collection, position, mut item| -> Result<(), StoreError> {
        let digest = item.digest();
        resolve(&mut item);
        rows.write(collection, position, &item, &digest, &mut d)
    })?;
    if had_items {
        d.removed = rows.remove_unseen()?;
    }
    rows.finish()?;
    let keep: HashSet<&str> = head.collections.iter().map(|c| c.id.as_str()).collect();
    for cid in before.iter().filter(|c| !keep.contains(c.as_str())) {
        tx.execute(
            "DELETE FROM collections WHERE library_id = ?1 AND id = ?2",
            params![library, cid],
        )?;
        d.collections_removed.push(cid.clone());
    }
    d.collections_removed.sort();
    crate::downloads::want_new_items(tx, library, &d.added)?;
    crate::chunks::forget_conflicting(tx)?;
    Ok(ApplyOutcome {
        library: library.to_owned(),
        previous_sequence,
        sequence: head.sequence,
        unchanged: false,
        diff: d,
    })
}

fn insert_asset_cols(a: Option<&Asset>) -> (Option<String>, Option<i64>, Option<String>) {
    match a {
        Some(a) => (
            Some(a.sha256.to_string()),
            Some(a.size as i64),
            Some(a.media_type.clone()),
        ),
        None => (None, None, None),
    }
}

/// The library's row, the catalog's hash (and bytes, when kept) and the
/// mirrors it announces.
fn write_head(
    tx: &Transaction<'_>,
    library: &str,
    c: &VerifiedCatalog,
    keep_bytes: bool,
) -> Result<(), StoreError> {
    let head = c.head();
    let (asha, asize, atype) = insert_asset_cols(head.library.artwork.as_ref());
    tx.execute(
        "UPDATE libraries SET title = ?2, description = ?3, sequence = ?4,
             generated_at = ?5, expires_at = ?6, artwork_sha256 = ?7, artwork_size = ?8, artwork_type = ?9
         WHERE id = ?1",
        params![
            library,
            head.library.title,
            head.library.description,
            head.sequence as i64,
            ts(head.generated_at),
            ts(head.expires_at),
            asha,
            asize,
            atype
        ],
    )?;
    tx.execute(
        "INSERT INTO catalogs(library_id, sha256, bytes) VALUES (?1, ?2, ?3)
         ON CONFLICT(library_id) DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes",
        params![
            library,
            c.sha256().as_str(),
            keep_bytes.then_some(c.bytes())
        ],
    )?;
    // Mirrors the catalog announces: appended after the subscription's.
    tx.execute(
        "DELETE FROM mirrors WHERE library_id = ?1 AND origin = 'catalog'",
        [library],
    )?;
    for (i, url) in head.mirrors.iter().enumerate() {
        tx.execute(
            "INSERT INTO mirrors(library_id, url, position, origin, token_ok) VALUES (?1, ?2, ?3, 'catalog', 1)
             ON CONFLICT(library_id, url) DO UPDATE SET token_ok = 1",
            params![library, url, i as i64],
        )?;
    }
    Ok(())
}

/// Writing one library's items as a catalog is read: each compared with
/// the index by digest (when the library had items), inserted, rewritten or
/// moved; the rows not seen are removed at the end. Statements are
/// prepared once (at 100,000 items, preparing them per row was most of an
/// apply's time).
struct ItemRows<'t> {
    tx: &'t Transaction<'t>,
    library: &'t str,
    /// The library had items before: look each one up.
    had_items: bool,
    /// Rows of items in the new catalog (when `had_items`).
    seen: HashSet<i64>,
    writes: usize,
    paused: bool,
    find: Option<rusqlite::CachedStatement<'t>>,
    insert: rusqlite::CachedStatement<'t>,
    update: rusqlite::CachedStatement<'t>,
    moved: rusqlite::CachedStatement<'t>,
    delete_assets: rusqlite::CachedStatement<'t>,
    insert_asset: rusqlite::CachedStatement<'t>,
    /// An item written gets the chapter titles of files already read (one
    /// another library shares, an episode that returns); none when nothing
    /// has been read yet.
    chapters: Option<rusqlite::CachedStatement<'t>>,
}

impl<'t> ItemRows<'t> {
    fn new(
        tx: &'t Transaction<'t>,
        library: &'t str,
        had_items: bool,
    ) -> Result<ItemRows<'t>, StoreError> {
        Ok(ItemRows {
            tx,
            library,
            had_items,
            seen: HashSet::new(),
            writes: 0,
            paused: false,
            find: had_items
                .then(|| {
                    tx.prepare_cached(
                        "SELECT rowid, digest, position FROM items
                         WHERE library_id = ?1 AND collection_id = ?2 AND id = ?3",
                    )
                })
                .transpose()?,
            // ?1–?12: the item's columns (`ItemRows::write`), then its key.
            insert: tx.prepare_cached(
                "INSERT INTO items(kind, title, summary, notes, published_at, duration_ms, season,
                                   number, position, explicit, digest, notes_html,
                                   library_id, collection_id, id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 RETURNING rowid",
            )?,
            update: tx.prepare_cached(
                "UPDATE items SET kind = ?1, title = ?2, summary = ?3, notes = ?4, published_at = ?5,
                     duration_ms = ?6, season = ?7, number = ?8, position = ?9, explicit = ?10,
                     digest = ?11, notes_html = ?12
                 WHERE rowid = ?13",
            )?,
            moved: tx.prepare_cached("UPDATE items SET position = ?2 WHERE rowid = ?1")?,
            delete_assets: tx.prepare_cached("DELETE FROM assets WHERE item_rowid = ?1")?,
            insert_asset: tx.prepare_cached(
                "INSERT INTO assets(item_rowid, position, role, sha256, size, media_type, name,
                                    chunk_size, chunk_list)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?,
            chapters: if tx.query_row("SELECT EXISTS (SELECT 1 FROM media_info)", [], |r| {
                r.get::<_, bool>(0)
            })? {
                let titles = crate::mediainfo::ITEM_CHAPTER_TITLES;
                Some(tx.prepare_cached(&format!(
                    "UPDATE items AS i SET chapters = {titles}
                     WHERE i.rowid = ?1 AND i.chapters IS NOT {titles}"
                ))?)
            } else {
                None
            },
        })
    }

    /// The full-text triggers stand aside; [`finish`](Self::finish)
    /// rebuilds the index once (migration 10), in this transaction.
    fn pause_index(&mut self) -> Result<(), StoreError> {
        if !self.paused {
            self.tx
                .execute("INSERT INTO fts_paused(one) VALUES (1)", [])?;
            self.paused = true;
        }
        Ok(())
    }

    fn wrote(&mut self) -> Result<(), StoreError> {
        self.writes += 1;
        if self.writes >= BULK_REINDEX {
            self.pause_index()?;
        }
        Ok(())
    }

    fn write(
        &mut self,
        collection: &str,
        position: usize,
        it: &Item,
        digest: &[u8; 32],
        d: &mut CatalogDiff,
    ) -> Result<(), StoreError> {
        let key = || (collection.to_owned(), it.id.clone());
        let known: Option<(i64, Option<Vec<u8>>, i64)> = match &mut self.find {
            Some(find) => find
                .query_row(params![self.library, collection, it.id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?,
            None => None,
        };
        // The item's columns as the insert and the update take them (?1–?12).
        let (kind, published) = (it.kind.as_str(), it.published_at.map(ts));
        let (duration, pos, digest_bytes) = (
            it.duration_ms.map(|d| d as i64),
            position as i64,
            &digest[..],
        );
        let fields: [&dyn ToSql; 12] = [
            &kind,
            &it.title,
            &it.summary,
            &it.notes,
            &published,
            &duration,
            &it.season,
            &it.number,
            &pos,
            &it.explicit,
            &digest_bytes,
            &it.notes_html,
        ];
        let rowid = match known {
            Some((rowid, Some(was), at)) if was[..] == digest[..] => {
                self.seen.insert(rowid);
                if at != position as i64 {
                    self.moved.execute(params![rowid, position as i64])?;
                }
                return Ok(());
            }
            Some((rowid, _, _)) => {
                self.update.execute(params_from_iter(
                    fields.iter().copied().chain([&rowid as &dyn ToSql]),
                ))?;
                self.delete_assets.execute([rowid])?;
                d.changed.push(key());
                rowid
            }
            None => {
                let ids: [&dyn ToSql; 3] = [&self.library, &collection, &it.id];
                let rowid: i64 = self
                    .insert
                    .query_row(params_from_iter(fields.iter().copied().chain(ids)), |r| {
                        r.get(0)
                    })?;
                d.added.push(key());
                rowid
            }
        };
        if self.had_items {
            self.seen.insert(rowid);
        }
        for (apos, a) in it.assets.iter().enumerate() {
            self.insert_asset.execute(params![
                rowid,
                apos as i64,
                a.role.as_str(),
                a.sha256.as_str(),
                a.size as i64,
                a.media_type,
                a.name,
                a.chunks.as_ref().map(|c| c.size),
                a.chunks.as_ref().map(|c| c.sha256.as_str())
            ])?;
        }
        if let Some(chapters) = &mut self.chapters {
            chapters.execute([rowid])?;
        }
        self.wrote()
    }

    /// Removes the library's items the new catalog did not have; returns them.
    fn remove_unseen(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let gone: Vec<(i64, String, String)> = self
            .tx
            .prepare(
                "SELECT rowid, collection_id, id FROM items WHERE library_id = ?1
                 ORDER BY collection_id, position",
            )?
            .query_map([self.library], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .filter(|r| !matches!(r, Ok((rowid, _, _)) if self.seen.contains(rowid)))
            .collect::<Result<_, _>>()?;
        if self.writes + gone.len() >= BULK_REINDEX {
            self.pause_index()?;
        }
        let mut delete = self
            .tx
            .prepare_cached("DELETE FROM items WHERE rowid = ?1")?;
        for (rowid, _, _) in &gone {
            delete.execute([rowid])?;
        }
        self.writes += gone.len();
        Ok(gone.into_iter().map(|(_, c, i)| (c, i)).collect())
    }

    /// Rebuilds the full-text index if it was paused.
    fn finish(self) -> Result<(), StoreError> {
        if self.paused {
            self.tx.execute("DELETE FROM fts_paused", [])?;
            self.tx
                .execute("INSERT INTO items_fts(items_fts) VALUES ('rebuild')", [])?;
        }
        Ok(())
    }
}

/// Rows added, changed or removed from which an apply rebuilds the
/// full-text index once instead of updating it row by row (measured at
/// 100,000 items: 1.7 s against 6.9 s). A rebuild reads every item of every
/// library, so small applies keep the triggers.
pub(crate) const BULK_REINDEX: usize = 2_000;
