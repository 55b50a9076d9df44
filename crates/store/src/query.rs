//! Read-only views of the index: the whole listing (the CLI's `list`),
//! full-text search, status. Windows of it for the app are in `pages`.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::{Store, StoreError};

#[derive(Clone, Debug, Serialize)]
pub struct CollectionView {
    pub library_id: String,
    pub id: String,
    pub kind: String,
    pub title: String,
    pub summary: Option<String>,
    /// The collection's download rule.
    pub download_mode: crate::DownloadMode,
    pub items: Vec<ItemView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ItemView {
    pub library_id: String,
    pub collection_id: String,
    pub id: String,
    pub kind: String,
    pub title: String,
    pub summary: Option<String>,
    pub published_at: Option<i64>,
    pub duration_ms: Option<u64>,
    /// Assets of the item, and how many of them are stored and verified.
    pub assets: u32,
    pub assets_stored: u32,
    pub bytes: u64,
    /// Every asset of the item is in the store.
    pub downloaded: bool,
    /// The publisher marks it explicit (a podcast feed's `itunes:explicit`).
    pub explicit: Option<bool>,
    /// The download rules want it: the next sync fetches what is missing.
    pub wanted: bool,
    /// Resume position, and whether the member finished it.
    pub position_ms: u64,
    pub played: bool,
    /// Where it is in its collection's order (the keyset of a window).
    pub cursor: crate::ItemCursor,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchHit {
    pub library_id: String,
    pub collection_id: String,
    pub collection_title: String,
    pub item_id: String,
    pub title: String,
    /// A short excerpt with the matches between `[` and `]`.
    pub snippet: String,
    pub downloaded: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct LibraryStatus {
    pub id: String,
    pub title: String,
    /// Its mirrors want the member's access token.
    pub private: bool,
    pub sequence: Option<u64>,
    pub generated_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// The applied catalog's expiry has passed: cached content still plays.
    pub expired: bool,
    pub last_sync_at: Option<i64>,
    pub last_sync_ok: Option<bool>,
    pub last_sync_mirror: Option<String>,
    pub last_sync_error: Option<String>,
    pub mirrors: Vec<String>,
    /// A podcast feed library: where its feed is fetched from now.
    pub feed_url: Option<String>,
    pub collections: u64,
    pub items: u64,
    pub description: Option<String>,
    /// The library's artwork, if it is stored (its SHA-256).
    pub artwork: Option<String>,
    pub blobs_wanted: u64,
    pub blobs_stored: u64,
    pub bytes_wanted: u64,
    pub bytes_stored: u64,
}

pub(crate) const ITEM_COLUMNS: &str = concat!(
    "i.library_id, i.collection_id, i.id, i.kind, i.title, i.summary,
    i.published_at,
    COALESCE(i.duration_ms, ",
    item_media_duration!(),
    "),
    (SELECT COUNT(*) FROM assets a WHERE a.item_rowid = i.rowid),
    (SELECT COUNT(*) FROM assets a JOIN blobs b ON b.sha256 = a.sha256 WHERE a.item_rowid = i.rowid),
    (SELECT COALESCE(SUM(a.size), 0) FROM assets a WHERE a.item_rowid = i.rowid),
    COALESCE((SELECT p.position_ms FROM playback p WHERE p.library_id = i.library_id
              AND p.collection_id = i.collection_id AND p.item_id = i.id), 0),
    COALESCE((SELECT p.played FROM playback p WHERE p.library_id = i.library_id
              AND p.collection_id = i.collection_id AND p.item_id = i.id), 0),
    i.explicit"
);

pub(crate) fn item_view(r: &rusqlite::Row<'_>) -> rusqlite::Result<ItemView> {
    let assets: u32 = r.get(8)?;
    let stored: u32 = r.get(9)?;
    Ok(ItemView {
        library_id: r.get(0)?,
        collection_id: r.get(1)?,
        id: r.get(2)?,
        kind: r.get(3)?,
        title: r.get(4)?,
        summary: r.get(5)?,
        published_at: r.get(6)?,
        duration_ms: r.get::<_, Option<i64>>(7)?.map(|d| d as u64),
        assets,
        assets_stored: stored,
        bytes: r.get::<_, i64>(10)? as u64,
        downloaded: stored == assets,
        wanted: r.get(14)?,
        explicit: r.get(13)?,
        position_ms: r.get::<_, i64>(11)? as u64,
        played: r.get(12)?,
        cursor: crate::ItemCursor {
            key: r.get(15)?,
            position: r.get(16)?,
        },
    })
}

/// Turns what a member typed into a safe FTS5 query: every word becomes a
/// quoted term (so `"`, `*`, `NEAR`, `-` have no special meaning), all must
/// match, and the last one matches as a prefix (search as you type).
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(32)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return None;
    }
    let mut q = words.join(" ");
    q.push('*');
    Some(q)
}

/// Whether the last word typed is one or two characters long.
fn short_last_word(input: &str) -> bool {
    input
        .split(|c: char| !c.is_alphanumeric())
        .rfind(|w| !w.is_empty())
        .is_some_and(|w| w.chars().count() <= 2)
}

impl Store {
    /// Collections and their items in the publisher's order, optionally for one library.
    pub fn list(&self, library: Option<&str>) -> Result<Vec<CollectionView>, StoreError> {
        let conn = self.reader();
        let mut cols = conn.prepare(
            "SELECT c.library_id, c.id, c.kind, c.title, c.summary, r.mode FROM collections c
             JOIN libraries l ON l.id = c.library_id
             LEFT JOIN download_rules r ON r.library_id = c.library_id AND r.collection_id = c.id
             WHERE (?1 IS NULL OR c.library_id = ?1)
             ORDER BY l.subscribed_at, l.id, c.position",
        )?;
        let mut out = cols
            .query_map([library], |r| {
                Ok(CollectionView {
                    library_id: r.get(0)?,
                    id: r.get(1)?,
                    kind: r.get(2)?,
                    title: r.get(3)?,
                    summary: r.get(4)?,
                    download_mode: r
                        .get::<_, Option<String>>(5)?
                        .and_then(|m| m.parse().ok())
                        .unwrap_or_default(),
                    items: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut items = conn.prepare(&format!(
            "SELECT {ITEM_COLUMNS}, {wanted}, CASE ?3 WHEN 'show' THEN -COALESCE(i.published_at, 0) ELSE 0 END,
                    i.position FROM items i {joins}
             WHERE i.library_id = ?1 AND i.collection_id = ?2 ORDER BY i.position",
            joins = crate::downloads::ITEM_POLICY_JOINS,
            wanted = crate::downloads::ITEM_WANTED,
        ))?;
        for c in &mut out {
            c.items = items
                .query_map(params![c.library_id, c.id, c.kind], item_view)?
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(out)
    }

    /// Full-text search over titles, summaries, show notes and
    /// transcripts, best first (BM25, titles weighing most). While the last
    /// word is one or two letters (the member is still typing it), nearly
    /// every item matches and ranking them all would cost hundreds of
    /// milliseconds at 100,000 items: then items whose title matches come
    /// first, each group in catalog order, read only as far as `limit`.
    pub fn search(&self, input: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let Some(q) = fts_query(input) else {
            return Ok(Vec::new());
        };
        let conn = self.reader();
        if !short_last_word(input) {
            return search(&conn, &q, limit);
        }
        let mut hits = search_unranked(&conn, &format!("{{title}} : ({q})"), limit)?;
        if hits.len() < limit {
            let seen: std::collections::HashSet<(String, String, String)> = hits
                .iter()
                .map(|h| {
                    (
                        h.library_id.clone(),
                        h.collection_id.clone(),
                        h.item_id.clone(),
                    )
                })
                .collect();
            let more = search_unranked(&conn, &q, limit + seen.len())?;
            hits.extend(
                more.into_iter()
                    .filter(|h| {
                        !seen.contains(&(
                            h.library_id.clone(),
                            h.collection_id.clone(),
                            h.item_id.clone(),
                        ))
                    })
                    .take(limit - seen.len()),
            );
        }
        Ok(hits)
    }

    /// Per-library status: catalog, last sync, mirrors, what is stored.
    pub fn status(&self) -> Result<Vec<LibraryStatus>, StoreError> {
        let libs = self.libraries()?;
        let now = crate::now_unix();
        let mut out = Vec::new();
        for lib in libs {
            let conn = self.reader();
            let mut s = conn.query_row(
                "SELECT generated_at, expires_at, last_sync_at, last_sync_ok, last_sync_mirror, last_sync_error,
                        (SELECT COUNT(*) FROM collections WHERE library_id = ?1),
                        (SELECT COUNT(*) FROM items WHERE library_id = ?1),
                        (SELECT url FROM feeds WHERE library_id = ?1),
                        description,
                        (SELECT b.sha256 FROM blobs b WHERE b.sha256 = libraries.artwork_sha256)
                 FROM libraries WHERE id = ?1",
                [&lib.id],
                |r| {
                    let expires_at: Option<i64> = r.get(1)?;
                    Ok(LibraryStatus {
                        id: lib.id.clone(),
                        title: lib.title.clone(),
                        private: lib.private,
                        sequence: lib.sequence,
                        generated_at: r.get(0)?,
                        expires_at,
                        expired: expires_at.is_some_and(|e| e < now),
                        last_sync_at: r.get(2)?,
                        last_sync_ok: r.get(3)?,
                        last_sync_mirror: r.get(4)?,
                        last_sync_error: r.get(5)?,
                        mirrors: Vec::new(),
                        feed_url: r.get(8)?,
                        collections: r.get::<_, i64>(6)? as u64,
                        items: r.get::<_, i64>(7)? as u64,
                        description: r.get(9)?,
                        artwork: r.get(10)?,
                        blobs_wanted: 0,
                        blobs_stored: 0,
                        bytes_wanted: 0,
                        bytes_stored: 0,
                    })
                },
            )?;
            let (n, bytes, stored, stored_bytes) = blob_totals(&conn, &lib.id)?;
            drop(conn);
            s.blobs_wanted = n;
            s.bytes_wanted = bytes;
            s.blobs_stored = stored;
            s.bytes_stored = stored_bytes;
            s.mirrors = self.mirrors(&lib.id)?;
            out.push(s);
        }
        Ok(out)
    }
}

fn blob_totals(conn: &Connection, library: &str) -> Result<(u64, u64, u64, u64), StoreError> {
    let r = conn.query_row(
        "WITH refs AS (
             SELECT a.sha256, a.size FROM assets a JOIN items i ON i.rowid = a.item_rowid WHERE i.library_id = ?1
             UNION SELECT artwork_sha256, artwork_size FROM collections WHERE library_id = ?1 AND artwork_sha256 IS NOT NULL
             UNION SELECT artwork_sha256, artwork_size FROM libraries WHERE id = ?1 AND artwork_sha256 IS NOT NULL
         )
         SELECT COUNT(*), COALESCE(SUM(refs.size), 0),
                COUNT(b.sha256), COALESCE(SUM(CASE WHEN b.sha256 IS NULL THEN 0 ELSE refs.size END), 0)
         FROM refs LEFT JOIN blobs b ON b.sha256 = refs.sha256",
        [library],
        |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        },
    )?;
    Ok(r)
}

/// Matches in index (rowid) order, so FTS5 stops after `limit` rows.
fn search_unranked(conn: &Connection, q: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.library_id, i.collection_id, c.title, i.id, i.title, f.snip,
                (SELECT COUNT(*) FROM assets a WHERE a.item_rowid = i.rowid) =
                (SELECT COUNT(*) FROM assets a JOIN blobs b ON b.sha256 = a.sha256 WHERE a.item_rowid = i.rowid)
         FROM (SELECT rowid, snippet(items_fts, -1, '[', ']', '…', 12) AS snip
               FROM items_fts WHERE items_fts MATCH ?1 ORDER BY rowid LIMIT ?2) f
         JOIN items i ON i.rowid = f.rowid
         JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
         ORDER BY f.rowid",
    )?;
    let hits = stmt
        .query_map(params![q, limit as i64], hit)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hits)
}

fn hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<SearchHit> {
    Ok(SearchHit {
        library_id: r.get(0)?,
        collection_id: r.get(1)?,
        collection_title: r.get(2)?,
        item_id: r.get(3)?,
        title: r.get(4)?,
        snippet: r.get(5)?,
        downloaded: r.get(6)?,
    })
}

fn search(conn: &Connection, q: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.library_id, i.collection_id, c.title, i.id, i.title,
                snippet(items_fts, -1, '[', ']', '…', 12),
                (SELECT COUNT(*) FROM assets a WHERE a.item_rowid = i.rowid) =
                (SELECT COUNT(*) FROM assets a JOIN blobs b ON b.sha256 = a.sha256 WHERE a.item_rowid = i.rowid)
         FROM items_fts
         JOIN items i ON i.rowid = items_fts.rowid
         JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
         WHERE items_fts MATCH ?1
         ORDER BY bm25(items_fts, 10.0, 3.0, 1.0, 0.5, 2.0)
         LIMIT ?2",
    )?;
    let hits = stmt
        .query_map(params![q, limit as i64], hit)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_input_cannot_inject_fts_syntax() {
        assert_eq!(fts_query("escrow"), Some("\"escrow\"*".into()));
        assert_eq!(
            fts_query("NEAR(\"a\" b) -c OR d*"),
            Some("\"NEAR\" \"a\" \"b\" \"c\" \"OR\" \"d\"*".into())
        );
        assert_eq!(fts_query("  ** \" "), None);
    }
}
