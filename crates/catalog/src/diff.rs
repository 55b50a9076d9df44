//! The difference between the catalog a client has applied and a new one,
//! item by item. Pure: the store applies it, the UI announces it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::Catalog;

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

/// Computes what changed from `old` (None: nothing applied yet) to `new`.
pub fn diff(old: Option<&Catalog>, new: &Catalog) -> CatalogDiff {
    let index = |c: &Catalog| {
        let mut m = BTreeMap::new();
        for col in &c.collections {
            for it in &col.items {
                m.insert((col.id.clone(), it.id.clone()), it.clone());
            }
        }
        m
    };
    let cols = |c: &Catalog| {
        c.collections
            .iter()
            .map(|c| c.id.clone())
            .collect::<BTreeSet<_>>()
    };
    let empty = BTreeMap::new();
    let old_items = old.map(index).unwrap_or_default();
    let old_items = if old.is_some() { &old_items } else { &empty };
    let new_items = index(new);
    let old_cols = old.map(cols).unwrap_or_default();
    let new_cols = cols(new);

    let mut d = CatalogDiff {
        collections_added: new_cols.difference(&old_cols).cloned().collect(),
        collections_removed: old_cols.difference(&new_cols).cloned().collect(),
        ..CatalogDiff::default()
    };
    for (key, item) in &new_items {
        match old_items.get(key) {
            None => d.added.push(key.clone()),
            Some(prev) if prev != item => d.changed.push(key.clone()),
            Some(_) => {}
        }
    }
    d.removed = old_items
        .keys()
        .filter(|k| !new_items.contains_key(*k))
        .cloned()
        .collect();
    d
}
