//! The member's listening across collections: the up-next queue, what is
//! in progress ("continue where you left off"), marking what came before
//! as played, and a playback speed per collection.
//!
//! Rows are keyed by ids, like playback: an item the publisher removes
//! drops out of the lists (and out of the queue at its next change);
//! unsubscribing a library deletes its rows.

use rusqlite::{params, OptionalExtension};

use crate::downloads::{ITEM_POLICY_JOINS, ITEM_WANTED};
use crate::playback::ItemKey;
use crate::query::{item_view, ItemView, ITEM_COLUMNS};
use crate::{now_unix, Store, StoreError};

/// The longest queue: an up-next list is read whole on every change.
pub const MAX_QUEUE: usize = 500;

/// The slowest and fastest playback speeds kept for a collection.
pub const SPEED_RANGE: (f64, f64) = (0.5, 3.0);

/// An item in a list that spans collections, with its collection's title.
#[derive(Clone, Debug)]
pub struct ShelfItem {
    pub item: ItemView,
    pub collection_title: String,
    /// `course` or `show`.
    pub collection_kind: String,
}

/// Where an item goes in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueAt {
    /// First: it plays when the current item ends.
    Next,
    /// Last.
    End,
}

/// A row of a cross-collection list: [`ITEM_COLUMNS`] and the columns
/// [`item_view`] reads after them, the cursor for the item's own collection.
fn shelf_select(from_where_order: &str) -> String {
    format!(
        "SELECT {ITEM_COLUMNS}, {ITEM_WANTED},
                CASE c.kind WHEN 'show' THEN -COALESCE(i.published_at, 0) ELSE 0 END,
                i.position, c.title, c.kind
         {from_where_order}"
    )
}

fn shelf_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShelfItem> {
    Ok(ShelfItem {
        item: item_view(r)?,
        collection_title: r.get(17)?,
        collection_kind: r.get(18)?,
    })
}

impl Store {
    /// The up-next queue in the member's order.
    pub fn queue(&self) -> Result<Vec<ShelfItem>, StoreError> {
        let conn = self.reader();
        let sql = shelf_select(&format!(
            "FROM queue q
             JOIN items i ON i.library_id = q.library_id AND i.collection_id = q.collection_id
                  AND i.id = q.item_id
             JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
             {ITEM_POLICY_JOINS}
             ORDER BY q.position"
        ));
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], shelf_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Adds an item to the queue (first or last); an item already queued
    /// moves there. Refused past [`MAX_QUEUE`] items.
    pub fn queue_add(&self, key: ItemKey<'_>, at: QueueAt) -> Result<(), StoreError> {
        self.check_item(key)?;
        self.change_queue(|order| {
            order.retain(|k| !same(k, key));
            if order.len() >= MAX_QUEUE {
                return Err(StoreError::OutOfRange(format!(
                    "the queue holds {MAX_QUEUE} items at most; play or remove some first"
                )));
            }
            match at {
                QueueAt::Next => order.insert(0, owned(key)),
                QueueAt::End => order.push(owned(key)),
            }
            Ok(true)
        })
        .map(|_| ())
    }

    /// Moves a queued item to `index` (0 = first; past the end = last), an
    /// index in the queue as [`Store::queue`] lists it. Returns whether it
    /// was queued.
    pub fn queue_move(&self, key: ItemKey<'_>, index: usize) -> Result<bool, StoreError> {
        self.change_queue(|order| {
            let Some(from) = order.iter().position(|k| same(k, key)) else {
                return Ok(false);
            };
            let k = order.remove(from);
            order.insert(index.min(order.len()), k);
            Ok(true)
        })
    }

    /// Takes an item out of the queue (it is playing, or the member removed
    /// it). Returns whether it was queued.
    pub fn queue_remove(&self, key: ItemKey<'_>) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "DELETE FROM queue WHERE library_id = ?1 AND collection_id = ?2 AND item_id = ?3",
            params![key.library, key.collection, key.item],
        )?;
        Ok(n > 0)
    }

    /// Empties the queue; returns how many items it held.
    pub fn queue_clear(&self) -> Result<usize, StoreError> {
        Ok(self.writer().execute("DELETE FROM queue", [])?)
    }

    /// Reads the queue as listed (items the index has, in order), lets `f`
    /// change it, and writes it back, in one transaction on the writer: two
    /// changes at once cannot lose one. Entries of items the index no longer
    /// has are dropped then. `f` returns whether to write.
    fn change_queue(
        &self,
        f: impl FnOnce(&mut Vec<[String; 3]>) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut order: Vec<[String; 3]> = tx
            .prepare_cached(
                "SELECT q.library_id, q.collection_id, q.item_id FROM queue q
                 JOIN items i ON i.library_id = q.library_id AND i.collection_id = q.collection_id
                      AND i.id = q.item_id
                 ORDER BY q.position",
            )?
            .query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]))?
            .collect::<Result<_, _>>()?;
        if !f(&mut order)? {
            return Ok(false);
        }
        let now = now_unix();
        tx.execute("DELETE FROM queue", [])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO queue(library_id, collection_id, item_id, position, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (n, [l, c, i]) in order.iter().enumerate() {
                insert.execute(params![l, c, i, n as i64, now])?;
            }
        }
        tx.commit()?;
        Ok(true)
    }

    /// Items started and not finished, the most recently played first.
    pub fn in_progress(&self, limit: usize) -> Result<Vec<ShelfItem>, StoreError> {
        let conn = self.reader();
        let sql = shelf_select(&format!(
            "FROM playback p
             JOIN items i ON i.library_id = p.library_id AND i.collection_id = p.collection_id
                  AND i.id = p.item_id
             JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
             {ITEM_POLICY_JOINS}
             WHERE p.played = 0 AND p.position_ms > 0
             ORDER BY p.updated_at DESC, i.rowid DESC
             LIMIT ?1"
        ));
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map([limit.min(100) as i64], shelf_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Marks played every item that comes before `key` in listening order:
    /// a show's episodes published before it, a course's lessons before it.
    /// The item itself is left as it is. Returns how many were not played.
    pub fn mark_earlier_played(&self, key: ItemKey<'_>) -> Result<usize, StoreError> {
        self.check_item(key)?;
        let conn = self.writer();
        let (kind, published, position): (String, Option<i64>, i64) = conn.query_row(
            "SELECT c.kind, i.published_at, i.position FROM items i
             JOIN collections c ON c.library_id = i.library_id AND c.id = i.collection_id
             WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id = ?3",
            params![key.library, key.collection, key.item],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        // A show lists newest first: "earlier" is published before it (an
        // episode of the same date: listed after it). A course: before it.
        let earlier = if kind == "show" {
            "(-COALESCE(i.published_at, 0), i.position) > (-COALESCE(?4, 0), ?5)"
        } else {
            "i.position < ?5"
        };
        let n = conn.execute(
            &format!(
                "INSERT INTO playback(library_id, collection_id, item_id, position_ms, played, updated_at)
                 SELECT i.library_id, i.collection_id, i.id, 0, 1, ?6 FROM items i
                 WHERE i.library_id = ?1 AND i.collection_id = ?2 AND i.id != ?3 AND {earlier}
                   AND NOT EXISTS (SELECT 1 FROM playback p WHERE p.library_id = i.library_id
                       AND p.collection_id = i.collection_id AND p.item_id = i.id AND p.played)
                 ON CONFLICT(library_id, collection_id, item_id) DO UPDATE SET
                     played = 1, position_ms = 0, updated_at = excluded.updated_at"
            ),
            params![
                key.library,
                key.collection,
                key.item,
                published,
                position,
                now_unix()
            ],
        )?;
        Ok(n)
    }

    /// The playback speed the member chose for a collection, if any.
    pub fn collection_speed(
        &self,
        library: &str,
        collection: &str,
    ) -> Result<Option<f64>, StoreError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT speed FROM collection_prefs WHERE library_id = ?1 AND collection_id = ?2",
                params![library, collection],
                |r| r.get::<_, Option<f64>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Keeps a playback speed for a collection (`None`: use the default).
    pub fn set_collection_speed(
        &self,
        library: &str,
        collection: &str,
        speed: Option<f64>,
    ) -> Result<(), StoreError> {
        self.check_collection(library, collection)?;
        if let Some(s) = speed {
            check_speed(s)?;
        }
        self.writer().execute(
            "INSERT INTO collection_prefs(library_id, collection_id, speed) VALUES (?1, ?2, ?3)
             ON CONFLICT(library_id, collection_id) DO UPDATE SET speed = excluded.speed",
            params![library, collection, speed],
        )?;
        Ok(())
    }
}

/// A speed the player offers: a finite number from 0.5 to 3.
pub fn check_speed(speed: f64) -> Result<(), StoreError> {
    let (lo, hi) = SPEED_RANGE;
    if speed.is_finite() && (lo..=hi).contains(&speed) {
        Ok(())
    } else {
        Err(StoreError::OutOfRange(format!(
            "a playback speed is from {lo}× to {hi}×, not {speed}"
        )))
    }
}

fn same(k: &[String; 3], key: ItemKey<'_>) -> bool {
    k[0] == key.library && k[1] == key.collection && k[2] == key.item
}

fn owned(key: ItemKey<'_>) -> [String; 3] {
    [
        key.library.to_owned(),
        key.collection.to_owned(),
        key.item.to_owned(),
    ]
}
