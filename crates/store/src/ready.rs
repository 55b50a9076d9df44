//! Ready for the trip: what the member keeps offline (every pinned item and
//! every item the download rules keep, with each file it uses, and the
//! artwork of their libraries and collections), and checking a stored file
//! again, byte by byte (the one re-verification `fsck` uses too).

use std::collections::HashMap;
use std::fs;

use rusqlite::params;
use stowaway_catalog::Sha256;

use crate::blobs::BlobStore;
use crate::downloads::{ITEM_PINNED, ITEM_POLICY_JOINS, ITEM_WANTED};
use crate::{now_unix, Store, StoreError};

/// One file the member keeps offline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyFile {
    pub sha256: Sha256,
    pub size: u64,
    /// The index lists it as stored (verified when it arrived).
    pub stored: bool,
}

/// One item the member keeps offline, and the files it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyItem {
    pub library_id: String,
    pub collection_id: String,
    pub item_id: String,
    pub title: String,
    /// lesson | episode
    pub kind: String,
    pub pinned: bool,
    /// Indices into [`ReadyPlan::files`].
    pub files: Vec<usize>,
}

/// Everything a scope keeps offline: its items and, once each, their files
/// (and the artwork, which belongs to no item).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadyPlan {
    pub items: Vec<ReadyItem>,
    pub files: Vec<ReadyFile>,
}

/// What checking a stored file again found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reverified {
    /// Its bytes hash to its name: recorded as verified now.
    Whole,
    /// The file is gone.
    Missing,
    /// Its bytes are not the file's (`actual`, `size` bytes).
    Corrupt { actual: Sha256, size: u64 },
}

impl Store {
    /// Every item kept offline in `library` (all libraries: `None`) and
    /// `collection`, pinned or wanted by the rules, in library and catalog
    /// order, with the files each needs.
    pub fn ready_plan(
        &self,
        library: Option<&str>,
        collection: Option<&str>,
    ) -> Result<ReadyPlan, StoreError> {
        let conn = self.reader();
        let mut plan = ReadyPlan::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut file = |plan: &mut ReadyPlan, sha: String, size: i64, stored: bool| {
            if let Some(&i) = index.get(&sha) {
                return Some(i);
            }
            let sha256 = Sha256::parse(&sha).ok()?; // validated before it was stored
            plan.files.push(ReadyFile {
                sha256,
                size: size as u64,
                stored,
            });
            index.insert(sha, plan.files.len() - 1);
            Some(plan.files.len() - 1)
        };
        let mut artwork = conn.prepare(
            "SELECT l.artwork_sha256, l.artwork_size, b.sha256 IS NOT NULL FROM libraries l
             LEFT JOIN blobs b ON b.sha256 = l.artwork_sha256
             WHERE l.artwork_sha256 IS NOT NULL AND (?1 IS NULL OR l.id = ?1) AND ?2 IS NULL
             UNION ALL
             SELECT c.artwork_sha256, c.artwork_size, b.sha256 IS NOT NULL FROM collections c
             LEFT JOIN blobs b ON b.sha256 = c.artwork_sha256
             WHERE c.artwork_sha256 IS NOT NULL AND (?1 IS NULL OR c.library_id = ?1)
               AND (?2 IS NULL OR c.id = ?2)",
        )?;
        let rows = artwork.query_map(params![library, collection], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (sha, size, at) = row?;
            file(&mut plan, sha, size, at);
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT i.library_id, i.collection_id, i.id, i.title, i.kind, {ITEM_PINNED},
                    a.sha256, a.size, b.sha256 IS NOT NULL
             FROM items i
             JOIN libraries l ON l.id = i.library_id
             JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
             JOIN assets a ON a.item_rowid = i.rowid
             LEFT JOIN blobs b ON b.sha256 = a.sha256
             {ITEM_POLICY_JOINS}
             WHERE (?1 IS NULL OR i.library_id = ?1) AND (?2 IS NULL OR i.collection_id = ?2)
               AND {ITEM_WANTED}
             ORDER BY l.subscribed_at, l.id, c.position, i.position, a.position"
        ))?;
        let rows = stmt.query_map(params![library, collection], |r| {
            Ok((
                (
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                ),
                (r.get::<_, String>(6)?, r.get::<_, i64>(7)?, r.get(8)?),
            ))
        })?;
        for row in rows {
            let ((lib, col, id, title, kind, pinned), (sha, size, at)) = row?;
            let same = plan
                .items
                .last()
                .is_some_and(|l| l.item_id == id && l.collection_id == col && l.library_id == lib);
            if !same {
                plan.items.push(ReadyItem {
                    library_id: lib,
                    collection_id: col,
                    item_id: id,
                    title,
                    kind,
                    pinned,
                    files: Vec::new(),
                });
            }
            if let Some(f) = file(&mut plan, sha, size, at) {
                let item = plan.items.last_mut().expect("pushed above");
                if !item.files.contains(&f) {
                    item.files.push(f);
                }
            }
        }
        Ok(plan)
    }

    /// Hashes stored blob `sha` (of `size` bytes) again. A whole one is
    /// recorded as verified now. With `repair`, a missing one leaves the
    /// index and a corrupt one is moved to quarantine and leaves it (the next
    /// sync fetches both again); without, nothing changes. Call `repair`
    /// only under the sync lock: a sync may be storing that file.
    pub fn reverify(
        &self,
        sha: &Sha256,
        size: u64,
        repair: bool,
    ) -> Result<Reverified, StoreError> {
        let blobs = self.blobs();
        let path = blobs.path(sha);
        match BlobStore::hash_file(&path) {
            Err(_) => {
                if repair {
                    self.forget_blob(sha)?;
                }
                Ok(Reverified::Missing)
            }
            Ok((actual, n)) if actual == *sha && n == size => {
                // Its whole hash now vouches for it, whoever names it.
                self.writer().execute(
                    "UPDATE blobs SET verified_at = ?2, chunk_list = NULL WHERE sha256 = ?1",
                    params![sha.as_str(), now_unix()],
                )?;
                Ok(Reverified::Whole)
            }
            Ok((actual, n)) => {
                if repair {
                    let dest = blobs.quarantine_dir().join(format!("{sha}.{}", now_unix()));
                    fs::rename(&path, &dest).map_err(|e| StoreError::io(&path, e))?;
                    self.forget_blob(sha)?;
                }
                Ok(Reverified::Corrupt { actual, size: n })
            }
        }
    }

    pub(crate) fn forget_blob(&self, sha: &Sha256) -> Result<(), StoreError> {
        self.writer()
            .execute("DELETE FROM blobs WHERE sha256 = ?1", [sha.as_str()])?;
        Ok(())
    }
}
