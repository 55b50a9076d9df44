//! Windows of the listing for a page that shows only what is on screen:
//! collections a page at a time with their counts from SQL, and a
//! collection's items a window at a time, by keyset.
//!
//! A collection's order is the publisher's for a course and newest first for
//! a show. An item's place in it is an [`ItemCursor`] (a sort key and the
//! catalog position); a window continues after or before a cursor, so a new
//! episode arriving while the member scrolls does not shift what follows. A
//! jump to the n-th item (the scroll bar dragged) finds that item's cursor
//! once, then reads by keyset from there.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::downloads::{ITEM_POLICY_JOINS, ITEM_WANTED};
use crate::query::{item_view, ITEM_COLUMNS};
use crate::{DownloadMode, ItemKey, ItemView, Store, StoreError};

/// Longest window or page one call returns.
pub const MAX_WINDOW: usize = 500;

/// Where an item is in its collection's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ItemCursor {
    /// 0 in a course; minus the publication time in a show (newest first).
    pub key: i64,
    /// The item's position in the catalog (ties, and a course's order).
    pub position: i64,
}

/// Which items of a collection a window holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ItemFilter {
    #[default]
    All,
    Downloaded,
    Unplayed,
    InProgress,
}

/// Where a window starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// The first items.
    First,
    /// The items after this cursor.
    After(ItemCursor),
    /// The items before it (the window ends just before it).
    Before(ItemCursor),
    /// From the n-th item (0-based) of the filtered order.
    At(u64),
}

/// A collection with its counts, for a page of the library.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionSummary {
    pub library_id: String,
    pub id: String,
    pub kind: String,
    pub title: String,
    pub summary: Option<String>,
    pub download_mode: DownloadMode,
    /// Its place in the library (the keyset of the next page).
    pub position: i64,
    pub items: u64,
    pub played: u64,
    pub in_progress: u64,
    pub downloaded: u64,
    /// Items neither downloaded nor wanted: what "Download all" would add.
    pub not_kept: u64,
    /// The whole collection is kept for the trip.
    pub pinned: bool,
    /// Its artwork, if it is stored (its SHA-256).
    pub artwork: Option<String>,
}

/// Where a page of collections continues: after this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionCursor {
    pub library: String,
    pub position: i64,
}

/// The sort key of a collection of `kind` (see [`ItemCursor::key`]).
fn order_key(kind: &str) -> &'static str {
    if kind == "show" {
        "-COALESCE(i.published_at, 0)"
    } else {
        "0"
    }
}

/// The ORDER BY of a collection of `kind` (a constant key is left out:
/// SQLite reads `ORDER BY 0` as a column number).
fn order_by(kind: &str, direction: &str) -> String {
    if kind == "show" {
        format!("{} {direction}, i.position {direction}", order_key(kind))
    } else {
        format!("i.position {direction}")
    }
}

fn filter_sql(f: ItemFilter) -> &'static str {
    match f {
        ItemFilter::All => "1",
        ItemFilter::Downloaded => {
            "NOT EXISTS (SELECT 1 FROM assets a LEFT JOIN blobs b ON b.sha256 = a.sha256
                         WHERE a.item_rowid = i.rowid AND b.sha256 IS NULL)"
        }
        ItemFilter::Unplayed => {
            "NOT COALESCE((SELECT p.played FROM playback p WHERE p.library_id = i.library_id
                 AND p.collection_id = i.collection_id AND p.item_id = i.id), 0)"
        }
        ItemFilter::InProgress => {
            "EXISTS (SELECT 1 FROM playback p WHERE p.library_id = i.library_id
                 AND p.collection_id = i.collection_id AND p.item_id = i.id
                 AND NOT p.played AND p.position_ms > 0)"
        }
    }
}

const COLLECTION_STATS: &str = "
    SELECT p.library_id, p.id, p.kind, p.title, p.summary, p.mode, p.position,
           COUNT(x.rowid), COALESCE(SUM(x.played), 0), COALESCE(SUM(x.in_progress), 0),
           COALESCE(SUM(x.downloaded), 0),
           COALESCE(SUM(NOT x.downloaded AND NOT x.wanted), 0),
           EXISTS (SELECT 1 FROM pins pn WHERE pn.library_id = p.library_id
                   AND pn.collection_id = p.id AND pn.item_id = ''),
           (SELECT b.sha256 FROM collections ac JOIN blobs b ON b.sha256 = ac.artwork_sha256
            WHERE ac.library_id = p.library_id AND ac.id = p.id)
    FROM page p LEFT JOIN (
        SELECT i.rowid, i.library_id, i.collection_id,
               COALESCE(pb.played, 0) AS played,
               (NOT COALESCE(pb.played, 0) AND COALESCE(pb.position_ms, 0) > 0) AS in_progress,
               NOT EXISTS (SELECT 1 FROM assets a LEFT JOIN blobs b ON b.sha256 = a.sha256
                           WHERE a.item_rowid = i.rowid AND b.sha256 IS NULL) AS downloaded,
               {wanted} AS wanted
        FROM page q JOIN items i ON i.library_id = q.library_id AND i.collection_id = q.id
        {joins}
        LEFT JOIN playback pb ON pb.library_id = i.library_id
             AND pb.collection_id = i.collection_id AND pb.item_id = i.id
    ) x ON x.library_id = p.library_id AND x.collection_id = p.id
    GROUP BY p.library_id, p.id
    ORDER BY p.subscribed_at, p.library_id, p.position";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<CollectionSummary> {
    let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
    Ok(CollectionSummary {
        library_id: r.get(0)?,
        id: r.get(1)?,
        kind: r.get(2)?,
        title: r.get(3)?,
        summary: r.get(4)?,
        download_mode: r
            .get::<_, Option<String>>(5)?
            .and_then(|m| m.parse().ok())
            .unwrap_or_default(),
        position: r.get(6)?,
        items: n(7)?,
        played: n(8)?,
        in_progress: n(9)?,
        downloaded: n(10)?,
        not_kept: n(11)?,
        pinned: r.get(12)?,
        artwork: r.get(13)?,
    })
}

impl Store {
    /// Up to `limit` collections (of one library, or of all in the order
    /// they were subscribed), after `after`, with their counts.
    pub fn collection_page(
        &self,
        library: Option<&str>,
        after: Option<&CollectionCursor>,
        limit: usize,
    ) -> Result<Vec<CollectionSummary>, StoreError> {
        let conn = self.reader();
        let sql = format!(
            "WITH page AS (
                 SELECT c.library_id, c.id, c.kind, c.title, c.summary, dr.mode, c.position,
                        l.subscribed_at
                 FROM collections c JOIN libraries l ON l.id = c.library_id
                 LEFT JOIN download_rules dr ON dr.library_id = c.library_id AND dr.collection_id = c.id
                 WHERE (?1 IS NULL OR c.library_id = ?1)
                   AND (?2 IS NULL OR (l.subscribed_at, l.id, c.position) >
                        ((SELECT subscribed_at FROM libraries WHERE id = ?2), ?2, ?3))
                 ORDER BY l.subscribed_at, l.id, c.position
                 LIMIT ?4)
             {COLLECTION_STATS}",
        );
        let sql = sql
            .replace("{wanted}", ITEM_WANTED)
            .replace("{joins}", ITEM_POLICY_JOINS);
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                params![
                    library,
                    after.map(|a| a.library.as_str()),
                    after.map(|a| a.position),
                    limit.min(MAX_WINDOW) as i64
                ],
                summary,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One collection with its counts.
    pub fn collection_summary(
        &self,
        library: &str,
        collection: &str,
    ) -> Result<Option<CollectionSummary>, StoreError> {
        let conn = self.reader();
        let sql = format!(
            "WITH page AS (
                 SELECT c.library_id, c.id, c.kind, c.title, c.summary, dr.mode, c.position,
                        l.subscribed_at
                 FROM collections c JOIN libraries l ON l.id = c.library_id
                 LEFT JOIN download_rules dr ON dr.library_id = c.library_id AND dr.collection_id = c.id
                 WHERE c.library_id = ?1 AND c.id = ?2)
             {COLLECTION_STATS}",
        )
        .replace("{wanted}", ITEM_WANTED)
        .replace("{joins}", ITEM_POLICY_JOINS);
        let mut stmt = conn.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![library, collection], summary)
            .optional()?)
    }

    /// How many items of a collection pass `filter`.
    pub fn count_items(
        &self,
        library: &str,
        collection: &str,
        filter: ItemFilter,
    ) -> Result<u64, StoreError> {
        let conn = self.reader();
        let n: i64 = conn
            .prepare_cached(&format!(
            "SELECT COUNT(*) FROM items i WHERE i.library_id = ?1 AND i.collection_id = ?2 AND {}",
            filter_sql(filter)
        ))?
            .query_row(params![library, collection], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Up to `limit` items of a collection that pass `filter`, in its order,
    /// from `seek`. An unknown collection has none.
    pub fn item_window(
        &self,
        library: &str,
        collection: &str,
        filter: ItemFilter,
        seek: Seek,
        limit: usize,
    ) -> Result<Vec<ItemView>, StoreError> {
        let conn = self.reader();
        let Some(kind) = collection_kind(&conn, library, collection)? else {
            return Ok(Vec::new());
        };
        let key = order_key(&kind);
        let filter = filter_sql(filter);
        let limit = limit.min(MAX_WINDOW) as i64;
        let select = |condition: &str, order: &str| {
            format!(
                "SELECT {ITEM_COLUMNS}, {ITEM_WANTED}, {key}, i.position FROM items i {ITEM_POLICY_JOINS}
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND {filter} AND {condition}
                 ORDER BY {} LIMIT ?5",
                order_by(&kind, order)
            )
        };
        let cursor = match seek {
            Seek::First => None,
            Seek::After(c) | Seek::Before(c) => Some(c),
            Seek::At(n) => {
                // The n-th item's cursor (reading keys only), then by keyset.
                let at: Option<(i64, i64)> = conn
                    .prepare_cached(&format!(
                        "SELECT {key}, i.position FROM items i
                         WHERE i.library_id = ?1 AND i.collection_id = ?2 AND {filter}
                         ORDER BY {} LIMIT 1 OFFSET ?3",
                        order_by(&kind, "ASC")
                    ))?
                    .query_row(params![library, collection, n as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                match at {
                    Some((key, position)) => Some(ItemCursor { key, position }),
                    None => return Ok(Vec::new()),
                }
            }
        };
        let c = cursor.unwrap_or(ItemCursor {
            key: i64::MIN,
            position: i64::MIN,
        });
        let (sql, reverse) = match seek {
            Seek::First => (select("?3 IS NOT NULL AND ?4 IS NOT NULL", "ASC"), false),
            Seek::After(_) => (
                select(&format!("({key}, i.position) > (?3, ?4)"), "ASC"),
                false,
            ),
            Seek::At(_) => (
                select(&format!("({key}, i.position) >= (?3, ?4)"), "ASC"),
                false,
            ),
            Seek::Before(_) => (
                select(&format!("({key}, i.position) < (?3, ?4)"), "DESC"),
                true,
            ),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        // (`First` does not use ?3 and ?4; they are bound all the same.)
        let mut items = stmt
            .query_map(
                params![library, collection, c.key, c.position, limit],
                item_view,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        if reverse {
            items.reverse();
        }
        Ok(items)
    }

    /// An item's place in its collection's order (None: no such item).
    pub fn item_cursor(&self, key: ItemKey<'_>) -> Result<Option<ItemCursor>, StoreError> {
        let conn = self.reader();
        let Some(kind) = collection_kind(&conn, key.library, key.collection)? else {
            return Ok(None);
        };
        let cursor = conn
            .prepare_cached(&format!(
                "SELECT {}, i.position FROM items i
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3",
                order_key(&kind)
            ))?
            .query_row(params![key.library, key.collection, key.item], |r| {
                Ok(ItemCursor {
                    key: r.get(0)?,
                    position: r.get(1)?,
                })
            })
            .optional()?;
        Ok(cursor)
    }

    /// The item after `key` in its collection's order (what plays next).
    pub fn next_item(&self, key: ItemKey<'_>) -> Result<Option<ItemView>, StoreError> {
        let Some(c) = self.item_cursor(key)? else {
            return Ok(None);
        };
        Ok(self
            .item_window(
                key.library,
                key.collection,
                ItemFilter::All,
                Seek::After(c),
                1,
            )?
            .pop())
    }
}

fn collection_kind(
    conn: &Connection,
    library: &str,
    collection: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT kind FROM collections WHERE library_id = ?1 AND id = ?2")?
        .query_row(params![library, collection], |r| r.get(0))
        .optional()?)
}
