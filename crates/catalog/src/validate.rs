//! Structural validation of a parsed catalog: identifiers, sizes, counts,
//! uniqueness. A catalog that passes can be stored and used to build paths and
//! URLs without further checks.

use std::collections::HashSet;

use crate::{Asset, Catalog, CatalogError, Item, LibraryInfo, FORMAT_VERSION};

/// Upper bounds on what a catalog may contain. Generous for real libraries,
/// small enough that a hostile catalog cannot exhaust memory or disk.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_collections: usize,
    pub max_items: usize,
    pub max_assets_per_item: usize,
    pub max_asset_size: u64,
    pub max_title_chars: usize,
    pub max_text_chars: usize,
    pub max_mirrors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_collections: 10_000,
            max_items: 200_000,
            max_assets_per_item: 64,
            max_asset_size: 256 << 30, // 256 GiB
            max_title_chars: 1_000,
            max_text_chars: 200_000,
            max_mirrors: 64,
        }
    }
}

/// Whether `mt` is a plain `type/subtype` media type: at most 127
/// characters of `A-Z a-z 0-9 . + - _ /`, no parameters.
pub fn is_media_type(mt: &str) -> bool {
    mt.len() <= 127
        && mt.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty()
                && !s.is_empty()
                && mt
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/.+-_".contains(&b))
        })
}

/// Checks an identifier: 1–128 characters of `[A-Za-z0-9._-]`, starting with an
/// alphanumeric character.
pub fn validate_id(what: &str, id: &str) -> Result<(), CatalogError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} id {id:?} must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"
        )))
    }
}

fn invalid(msg: String) -> CatalogError {
    CatalogError::Invalid(msg)
}

fn text(what: &str, s: &str, max: usize) -> Result<(), CatalogError> {
    if s.chars().count() > max {
        return Err(invalid(format!("{what} is longer than {max} characters")));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(invalid(format!("{what} contains control characters")));
    }
    Ok(())
}

fn asset(where_: &str, a: &Asset, limits: &Limits) -> Result<(), CatalogError> {
    if a.size > limits.max_asset_size {
        return Err(invalid(format!(
            "{where_}: asset size {} exceeds {}",
            a.size, limits.max_asset_size
        )));
    }
    let mt = &a.media_type;
    if !is_media_type(mt) {
        return Err(invalid(format!("{where_}: bad media type {mt:?}")));
    }
    if let Some(name) = &a.name {
        text(&format!("{where_}: asset name"), name, 255)?;
        if name.contains(['/', '\\', '\n', '\r']) || name.is_empty() {
            return Err(invalid(format!(
                "{where_}: asset name {name:?} is not a plain file name"
            )));
        }
    }
    if let Some(c) = &a.chunks {
        let ok = c.size.is_power_of_two()
            && (crate::MIN_CHUNK_SIZE..=crate::MAX_CHUNK_SIZE).contains(&c.size);
        if !ok {
            return Err(invalid(format!(
                "{where_}: chunk size {} is not a power of two from {} to {}",
                c.size,
                crate::MIN_CHUNK_SIZE,
                crate::MAX_CHUNK_SIZE
            )));
        }
        if c.count(a.size) > crate::MAX_CHUNKS {
            return Err(invalid(format!(
                "{where_}: more than {} chunks (a list over 8 MiB); use larger chunks",
                crate::MAX_CHUNKS
            )));
        }
    }
    Ok(())
}

/// Validates a parsed catalog against `limits`.
pub fn validate_catalog(c: &Catalog, limits: &Limits) -> Result<(), CatalogError> {
    validate_library(c.format, &c.library, &c.mirrors, limits)?;
    let mut counts = Counts::default();
    for col in &c.collections {
        counts.collection(&col.id, limits)?;
        validate_collection(
            &col.id,
            &col.title,
            col.summary.as_deref(),
            col.artwork.as_ref(),
            limits,
        )?;
        let mut item_ids = HashSet::new();
        for it in &col.items {
            counts.item(limits)?;
            validate_item(&col.id, it, &mut item_ids, limits)?;
        }
    }
    Ok(())
}

/// What a catalog says of itself: its format, the library and the mirrors.
pub(crate) fn validate_library(
    format: u32,
    library: &LibraryInfo,
    mirrors: &[String],
    limits: &Limits,
) -> Result<(), CatalogError> {
    if !(crate::OLDEST_FORMAT..=FORMAT_VERSION).contains(&format) {
        return Err(CatalogError::UnsupportedFormat(format));
    }
    validate_id("library", &library.id)?;
    text("library title", &library.title, limits.max_title_chars)?;
    if let Some(d) = &library.description {
        text("library description", d, limits.max_text_chars)?;
    }
    if let Some(a) = &library.artwork {
        asset("library artwork", a, limits)?;
    }
    if mirrors.len() > limits.max_mirrors {
        return Err(invalid(format!("more than {} mirrors", limits.max_mirrors)));
    }
    for m in mirrors {
        let u = url::Url::parse(m).map_err(|e| invalid(format!("mirror {m:?}: {e}")))?;
        if !matches!(u.scheme(), "http" | "https" | "file") {
            return Err(invalid(format!(
                "mirror {m:?}: only http, https and file URLs"
            )));
        }
    }
    Ok(())
}

/// The counts a catalog is held to, kept as it is read: collections (each
/// id once) and items over all collections.
#[derive(Default)]
pub(crate) struct Counts {
    collection_ids: HashSet<String>,
    items: usize,
}

impl Counts {
    pub(crate) fn collection(&mut self, id: &str, limits: &Limits) -> Result<(), CatalogError> {
        validate_id("collection", id)?;
        if self.collection_ids.len() >= limits.max_collections {
            return Err(invalid(format!(
                "more than {} collections",
                limits.max_collections
            )));
        }
        if !self.collection_ids.insert(id.to_owned()) {
            return Err(invalid(format!("duplicate collection id {id:?}")));
        }
        Ok(())
    }

    pub(crate) fn item(&mut self, limits: &Limits) -> Result<(), CatalogError> {
        self.items += 1;
        if self.items > limits.max_items {
            return Err(invalid(format!("more than {} items", limits.max_items)));
        }
        Ok(())
    }
}

/// A collection's own fields (its id is checked by [`Counts::collection`]).
pub(crate) fn validate_collection(
    id: &str,
    title: &str,
    summary: Option<&str>,
    artwork: Option<&Asset>,
    limits: &Limits,
) -> Result<(), CatalogError> {
    text("collection title", title, limits.max_title_chars)?;
    if let Some(s) = summary {
        text("collection summary", s, limits.max_text_chars)?;
    }
    if let Some(a) = artwork {
        asset(&format!("collection {id}"), a, limits)?;
    }
    Ok(())
}

/// One item of collection `collection`; `ids` are the item ids seen in it so far.
pub(crate) fn validate_item(
    collection: &str,
    it: &Item,
    ids: &mut HashSet<String>,
    limits: &Limits,
) -> Result<(), CatalogError> {
    validate_id("item", &it.id)?;
    if !ids.insert(it.id.clone()) {
        return Err(invalid(format!(
            "duplicate item id {:?} in collection {collection:?}",
            it.id
        )));
    }
    let w = format!("item {collection}/{}", it.id);
    text(&format!("{w} title"), &it.title, limits.max_title_chars)?;
    for (name, t) in [
        ("summary", &it.summary),
        ("notes", &it.notes),
        ("notes_html", &it.notes_html),
    ] {
        if let Some(t) = t {
            text(&format!("{w} {name}"), t, limits.max_text_chars)?;
        }
    }
    if it.assets.len() > limits.max_assets_per_item {
        return Err(invalid(format!("{w}: too many assets")));
    }
    for a in &it.assets {
        asset(&w, a, limits)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "lesson-1", "S01E02.final", "x_y"] {
            assert!(validate_id("t", good).is_ok(), "{good}");
        }
        let long = "a".repeat(129);
        for bad in [
            "",
            "../etc",
            "-x",
            ".hidden",
            "a/b",
            "a b",
            "é",
            long.as_str(),
        ] {
            assert!(validate_id("t", bad).is_err(), "{bad}");
        }
    }
}
