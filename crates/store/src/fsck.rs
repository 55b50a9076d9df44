//! `fsck`: re-verify the cache against the index.
//!
//! Every indexed blob is re-hashed; a missing or corrupt one is reported and,
//! with `repair`, dropped from the index (a corrupt file is moved to
//! `quarantine/`) so the next sync fetches it again. Files on disk the index
//! does not know are re-hashed too: a valid one that a catalog references is
//! adopted (the index is rebuilt from what can be re-verified), anything else
//! is reported.
//!
//! An index that cannot be read at all is rebuilt by [`Store::rebuild`]
//! from what lives beside it and can be verified again: the copies of the
//! member's subscriptions, the last verified catalog of each signed library
//! (checked against its subscription's key once more), and the blobs on
//! disk, adopted only when a catalog names them and their bytes match.

use std::fs;
use std::path::Path;

use serde::Serialize;
use stowaway_catalog::{verify_catalog, Sha256, Subscription};

use crate::{BlobStore, Reverified, Store, StoreError};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FsckProblem {
    /// Indexed, but the file is gone.
    Missing { sha256: String },
    /// Indexed, but the bytes on disk do not hash to the name.
    Corrupt {
        sha256: String,
        actual_sha256: String,
        size: u64,
    },
    /// A file under blobs/sha256 the index does not list and no catalog needs
    /// (or whose bytes do not match its name).
    Stray { path: String },
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FsckReport {
    pub database_ok: bool,
    pub database_messages: Vec<String>,
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    pub problems: Vec<FsckProblem>,
    /// What `--repair` did (empty without it).
    pub repaired: Vec<String>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.database_ok && self.problems.is_empty()
    }
}

/// What [`Store::rebuild`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rebuilt {
    /// Where the unreadable index was moved (kept, not deleted).
    pub moved_to: String,
    /// Libraries subscribed again from their copies.
    pub libraries: Vec<String>,
    /// Signed catalogs verified again and applied.
    pub catalogs: usize,
    /// Verified files the new index holds.
    pub blobs: u64,
    /// Files on disk no restored catalog names (a podcast's episodes are
    /// known by hash only after their next download): left in place.
    pub unreferenced: u64,
    /// What could not be restored, and why.
    pub problems: Vec<String>,
    /// Private libraries whose access token goes to no mirror until the
    /// member gives it again (which mirrors they had confirmed it for was in
    /// the old index).
    pub tokens_to_give: Vec<String>,
}

impl Store {
    /// Rebuilds an index that cannot be trusted: moves it aside, starts a
    /// new one, subscribes again to every library whose subscription copy is
    /// there, applies each signed library's last catalog after verifying it
    /// again with that subscription's key, and adopts the blobs those
    /// catalogs name whose bytes match. Playback positions and download
    /// choices lived only in the old index and are lost; a podcast's files
    /// are known again once the next sync fetches its feed. The caller holds
    /// [`Store::lock_sync`].
    pub fn rebuild(data_dir: &Path) -> Result<(Store, Rebuilt), StoreError> {
        let mut done = Rebuilt::default();
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let db = data_dir.join(crate::DB_FILE);
        let aside = data_dir.join(format!("{}.corrupt-{stamp}", crate::DB_FILE));
        if db.exists() {
            fs::rename(&db, &aside).map_err(|e| StoreError::io(&db, e))?;
            done.moved_to = aside.display().to_string();
        }
        for suffix in ["-wal", "-shm"] {
            let side = data_dir.join(format!("{}{suffix}", crate::DB_FILE));
            if side.exists() {
                let _ = fs::rename(&side, format!("{}{suffix}", aside.display()));
            }
        }
        let store = Store::open(data_dir)?;
        for (library, kind, bytes) in store.subscription_copies()? {
            let restored = match kind.as_str() {
                "stowaway" => store.restore_signed(&library, &bytes, &mut done),
                _ => store.restore_feed(&library, &bytes),
            };
            match restored {
                Ok(()) => done.libraries.push(library),
                Err(e) => done.problems.push(format!("{library}: {e}")),
            }
        }
        // Adopts the files the restored catalogs name (and reports the rest).
        let check = store.fsck(false)?;
        done.blobs = check.blobs_checked;
        done.unreferenced = check
            .problems
            .iter()
            .filter(|p| matches!(p, FsckProblem::Stray { .. }))
            .count() as u64;
        Ok((store, done))
    }

    fn restore_signed(
        &self,
        library: &str,
        bytes: &[u8],
        done: &mut Rebuilt,
    ) -> Result<(), String> {
        let sub = Subscription::parse(bytes).map_err(|e| e.to_string())?;
        if sub.library != library {
            return Err(format!("the copy names library {:?}", sub.library));
        }
        let o = self
            .subscribe_with(&sub, false, &[])
            .map_err(|e| e.to_string())?;
        if o.private {
            done.tokens_to_give.push(library.to_owned());
        }
        let Some((catalog, signature)) = self.catalog_copy(library) else {
            return Ok(()); // no catalog yet: the next sync fetches one
        };
        let key = sub.public_key().map_err(|e| e.to_string())?;
        let verified = verify_catalog(&catalog, &signature, &key, Some(library)).map_err(|e| {
            format!("its saved catalog does not verify ({e}); the next sync fetches one")
        })?;
        self.apply_catalog(library, &verified)
            .map_err(|e| e.to_string())?;
        done.catalogs += 1;
        Ok(())
    }

    fn restore_feed(&self, library: &str, bytes: &[u8]) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Copy {
            feed: String,
            title: String,
        }
        let c: Copy = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        url::Url::parse(&c.feed)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or("the copy holds no feed address")?;
        self.subscribe_feed(library, &c.title, &c.feed)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Checks the database and every blob. With `repair`, fixes what it can.
    pub fn fsck(&self, repair: bool) -> Result<FsckReport, StoreError> {
        let mut report = FsckReport::default();
        {
            let conn = self.reader();
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            report.database_messages = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            report.database_ok = report.database_messages == ["ok"];
        }

        let indexed: Vec<(String, i64)> = {
            let conn = self.reader();
            let mut stmt = conn.prepare("SELECT sha256, size FROM blobs ORDER BY sha256")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        let blobs = self.blobs();
        let mut known = std::collections::HashSet::new();
        for (sha, size) in &indexed {
            known.insert(sha.clone());
            let Ok(sha) = Sha256::parse(sha) else {
                continue;
            };
            match self.reverify(&sha, *size as u64, repair)? {
                Reverified::Missing => {
                    report.problems.push(FsckProblem::Missing {
                        sha256: sha.to_string(),
                    });
                    if repair {
                        report
                            .repaired
                            .push(format!("{sha}: missing, will be downloaded again"));
                    }
                }
                Reverified::Whole => {
                    report.blobs_checked += 1;
                    report.bytes_checked += *size as u64;
                }
                Reverified::Corrupt { actual, size: n } => {
                    report.blobs_checked += 1;
                    report.bytes_checked += n;
                    report.problems.push(FsckProblem::Corrupt {
                        sha256: sha.to_string(),
                        actual_sha256: actual.to_string(),
                        size: n,
                    });
                    if repair {
                        report.repaired.push(format!(
                            "{sha}: corrupt, moved to {}, will be downloaded again",
                            blobs.quarantine_dir().display()
                        ));
                    }
                }
            }
        }

        // Files the index does not know.
        let referenced = self.referenced_sizes()?;
        let sha_dir = blobs.sha_dir();
        let prefixes = fs::read_dir(&sha_dir).map_err(|e| StoreError::io(&sha_dir, e))?;
        for prefix in prefixes.flatten() {
            let Ok(files) = fs::read_dir(prefix.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if known.contains(&name) {
                    continue;
                }
                let path = f.path();
                let adoptable = Sha256::parse(&name).ok().and_then(|sha| {
                    let size = *referenced.get(sha.as_str())?;
                    match BlobStore::hash_file(&path) {
                        Ok((actual, n)) if actual == sha && n == size => Some((sha, n)),
                        _ => None,
                    }
                });
                match adoptable {
                    Some((sha, n)) => {
                        // Verified and needed: the index simply missed it (a
                        // crash between rename and commit). Adopt it.
                        self.mark_blob_present(&sha, n)?;
                        report.blobs_checked += 1;
                        report.bytes_checked += n;
                    }
                    None => {
                        report.problems.push(FsckProblem::Stray {
                            path: path.display().to_string(),
                        });
                        if repair {
                            let dest = blobs.quarantine_dir().join(&name);
                            fs::rename(&path, &dest).map_err(|e| StoreError::io(&path, e))?;
                            report.repaired.push(format!(
                                "{}: moved to {}",
                                path.display(),
                                dest.display()
                            ));
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    /// Every blob any applied catalog references, with its announced size.
    fn referenced_sizes(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT sha256, size FROM assets
             UNION SELECT artwork_sha256, artwork_size FROM collections WHERE artwork_sha256 IS NOT NULL
             UNION SELECT artwork_sha256, artwork_size FROM libraries WHERE artwork_sha256 IS NOT NULL",
        )?;
        let map = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(map)
    }
}
