//! The member's listening: the up-next queue, "continue where you left
//! off", what plays after the current item, marking earlier items played,
//! and the playback speed of a collection.

use serde::{Deserialize, Serialize};
use stowaway_store as store;
use ts_rs::TS;

use crate::{Api, ApiResult, ItemRef, ItemView};

/// How many items "continue where you left off" shows.
pub const CONTINUE_SHOWN: usize = 6;

/// An item in a list across collections (the queue, "continue").
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ShelfEntry {
    pub item: ItemView,
    pub collection_title: String,
    /// The item is a lesson of a course (else an episode of a show).
    pub course: bool,
}

impl From<store::ShelfItem> for ShelfEntry {
    fn from(s: store::ShelfItem) -> Self {
        ShelfEntry {
            item: s.item.into(),
            collection_title: s.collection_title,
            course: s.collection_kind == "course",
        }
    }
}

/// Where "add to queue" puts an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum QueuePlace {
    /// "Play next": first in the queue.
    Next,
    /// "Add to queue": last.
    End,
}

/// What plays when the current item ends, and why.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct UpNext {
    pub item: ItemRef,
    pub title: String,
    /// It is first in the queue (else it is the course's next lesson).
    pub queued: bool,
    /// Its media is stored and plays now.
    pub playable: bool,
    /// Not stored, but it plays while it downloads (see `ItemDetail::streams`).
    pub streams: bool,
}

impl Api {
    /// The up-next queue, in order (at most [`store::MAX_QUEUE`] items).
    pub fn queue(&self) -> ApiResult<Vec<ShelfEntry>> {
        Ok(self
            .engine
            .store()
            .queue()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub fn queue_add(&self, r: &ItemRef, at: QueuePlace) -> ApiResult<()> {
        let at = match at {
            QueuePlace::Next => store::QueueAt::Next,
            QueuePlace::End => store::QueueAt::End,
        };
        Ok(self.engine.store().queue_add(r.key(), at)?)
    }

    /// Moves a queued item to `index`; false if it was not queued.
    pub fn queue_move(&self, r: &ItemRef, index: u32) -> ApiResult<bool> {
        Ok(self.engine.store().queue_move(r.key(), index as usize)?)
    }

    /// Takes it out of the queue; false if it was not queued.
    pub fn queue_remove(&self, r: &ItemRef) -> ApiResult<bool> {
        Ok(self.engine.store().queue_remove(r.key())?)
    }

    /// Empties the queue; how many items it held.
    pub fn queue_clear(&self) -> ApiResult<u32> {
        Ok(self.engine.store().queue_clear()? as u32)
    }

    /// Items started and not finished, the most recently played first.
    pub fn continue_listening(&self) -> ApiResult<Vec<ShelfEntry>> {
        Ok(self
            .engine
            .store()
            .in_progress(CONTINUE_SHOWN)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// What plays after `current` ends: the first queued item (other than
    /// `current`), else, in a course, its next lesson. A show does not go
    /// on to older episodes by itself: the member queues what they want.
    pub fn up_next(&self, current: Option<&ItemRef>) -> ApiResult<Option<UpNext>> {
        let store = self.engine.store();
        let is_current = |i: &store::ItemView| {
            current.is_some_and(|c| {
                c.library == i.library_id && c.collection == i.collection_id && c.item == i.id
            })
        };
        let queued = store.queue()?.into_iter().find(|s| !is_current(&s.item));
        let (item, queued) = match queued {
            Some(s) => (s.item, true),
            None => {
                let Some(c) = current else { return Ok(None) };
                let course = store
                    .collection_summary(&c.library, &c.collection)?
                    .is_some_and(|s| s.kind == "course");
                match store.next_item(c.key())?.filter(|_| course) {
                    Some(n) => (n, false),
                    None => return Ok(None),
                }
            }
        };
        let key = store::ItemKey {
            library: &item.library_id,
            collection: &item.collection_id,
            item: &item.id,
        };
        let media = stowaway_catalog::AssetRole::Media;
        let playable = store.stored_asset(key, media, 0)?.is_some();
        let streams = store
            .arriving_asset(key, media, 0)?
            .is_some_and(|(_, arrival)| arrival != store::Arrival::Whole);
        Ok(Some(UpNext {
            item: ItemRef {
                library: item.library_id,
                collection: item.collection_id,
                item: item.id,
            },
            title: item.title,
            queued,
            playable,
            streams,
        }))
    }

    /// Marks played what comes before the item (a show's older episodes, a
    /// course's earlier lessons); how many were not played yet.
    pub fn mark_earlier_played(&self, r: &ItemRef) -> ApiResult<u32> {
        Ok(self.engine.store().mark_earlier_played(r.key())? as u32)
    }

    /// The playback speed of a collection (`None`: the default speed).
    pub fn set_collection_speed(
        &self,
        library: &str,
        collection: &str,
        speed: Option<f64>,
    ) -> ApiResult<()> {
        Ok(self
            .engine
            .store()
            .set_collection_speed(library, collection, speed)?)
    }
}
