//! The difference between the catalog a client has applied and a new one,
//! item by item: the store finds it as it writes a catalog (by each item's
//! digest), the UI announces it.

use serde::Serialize;

/// Items are identified by `(collection id, item id)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    pub collections_added: Vec<String>,
    pub collections_removed: Vec<String>,
    pub added: Vec<(String, String)>,
    pub changed: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
}

impl CatalogDiff {
    pub fn is_empty(&self) -> bool {
        self.collections_added.is_empty()
            && self.collections_removed.is_empty()
            && self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
    }
}
