//! Persistence for the mirror pool: per (library, mirror) health records (an
//! opaque JSON document owned by `stowaway-mirrors`) and partial downloads.
//! (The `catalog_etag` columns of schema 3 are no longer used: a catalog
//! check asks each mirror for its signature file instead.)

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use stowaway_catalog::Sha256;

use crate::{now_unix, Store, StoreError};

/// A stored health record.
#[derive(Clone, Debug, Default)]
pub struct MirrorRecord {
    pub url: String,
    /// JSON, as written by the mirror pool; None if never recorded.
    pub health: Option<String>,
    /// A private library's token may go to this mirror: it was among the
    /// library's mirrors when the member gave the token, or the signed
    /// catalog lists it.
    pub token_ok: bool,
    /// The member allowed this mirror, a `file://` network share, to be
    /// used (when subscribing); false for every other mirror.
    pub share_ok: bool,
}

/// A download in progress, as recorded by the engine.
#[derive(Clone, Debug, Serialize)]
pub struct PartialRow {
    pub sha256: String,
    pub size: u64,
    pub bytes: u64,
    pub mirror: Option<String>,
    pub updated_at: i64,
}

impl Store {
    /// The library's mirrors in subscription order with what is known of them.
    pub fn mirror_records(&self, library: &str) -> Result<Vec<MirrorRecord>, StoreError> {
        let urls = self.mirrors_confirmed(library)?;
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT health FROM mirror_health WHERE library_id = ?1 AND url = ?2",
        )?;
        let mut out = Vec::new();
        for (url, token_ok, share_ok) in urls {
            let health = stmt
                .query_row(params![library, url], |r| r.get(0))
                .optional()?;
            out.push(MirrorRecord {
                url,
                health,
                token_ok,
                share_ok,
            });
        }
        Ok(out)
    }

    /// Saves health documents for several mirrors in one transaction.
    pub fn save_mirror_health(
        &self,
        library: &str,
        records: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let now = now_unix();
        for (url, health) in records {
            tx.execute(
                "INSERT INTO mirror_health(library_id, url, health, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(library_id, url) DO UPDATE SET health = excluded.health, updated_at = excluded.updated_at",
                params![library, url, health, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records (or updates) a download in progress.
    pub fn record_partial(
        &self,
        sha: &Sha256,
        size: u64,
        bytes: u64,
        mirror: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_unix();
        self.writer().execute(
            "INSERT INTO partials(sha256, size, bytes, mirror, started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, bytes = excluded.bytes,
                 mirror = COALESCE(excluded.mirror, mirror), updated_at = excluded.updated_at",
            params![sha.as_str(), size as i64, bytes as i64, mirror, now],
        )?;
        Ok(())
    }

    pub fn remove_partial(&self, sha: &Sha256) -> Result<(), StoreError> {
        self.writer()
            .execute("DELETE FROM partials WHERE sha256 = ?1", [sha.as_str()])?;
        Ok(())
    }

    pub fn partials(&self) -> Result<Vec<PartialRow>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT sha256, size, bytes, mirror, updated_at FROM partials ORDER BY updated_at",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PartialRow {
                    sha256: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    bytes: r.get::<_, i64>(2)? as u64,
                    mirror: r.get(3)?,
                    updated_at: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Deletes partial downloads (files and rows) that no catalog wants any
    /// more, or that are already complete. Returns how many were removed.
    pub fn prune_partials(&self) -> Result<usize, StoreError> {
        let wanted: std::collections::HashSet<String> = self
            .wanted_blobs(None)?
            .into_iter()
            .map(|w| w.sha256.to_string())
            .collect();
        let mut removed = 0;
        let dir = self.blobs().partial_dir();
        let mut names: Vec<String> = self.partials()?.into_iter().map(|p| p.sha256).collect();
        if let Ok(rd) = std::fs::read_dir(&dir) {
            names.extend(
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
        names.sort();
        names.dedup();
        for name in names {
            // `<sha256>` and its chunk journal, `<sha256>.chunks`.
            let sha = name.split('.').next().unwrap_or_default();
            if wanted.contains(sha) {
                continue;
            }
            let _ = std::fs::remove_file(dir.join(&name));
            if name == sha {
                self.writer()
                    .execute("DELETE FROM partials WHERE sha256 = ?1", [&name])?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
