//! Reading a catalog without holding it: the head (library, sequence,
//! dates, mirrors, collections without their items) as values, the items
//! one at a time to a caller's function, every part validated as it is read
//! (the same checks as [`crate::validate_catalog`]).
//!
//! At 100,000 items the parsed catalog was larger than its bytes, and an
//! apply held the bytes, the parsed catalog and a copy of every item for
//! the diff at once. Now a verified catalog is its bytes and its head; the
//! store writes items as they are read.
//!
//! Items are handed over in the order of the bytes. A collection's items
//! come with its id; in the canonical order the publisher writes (`id`
//! before `items`) they stream, and a signed catalog that puts `items`
//! first has that collection's items held until its id is read (counted
//! against the item limit as they are read).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::validate::{validate_collection, validate_item, validate_library, Counts};
use crate::{Asset, Catalog, CatalogError, CollectionKind, Item, LibraryInfo, Limits};

/// Everything a catalog holds but its items: what the engine decides by
/// (sequence, expiry) and what the store writes before the items.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CatalogHead {
    pub format: u32,
    pub library: LibraryInfo,
    pub sequence: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub mirrors: Vec<String>,
    pub collections: Vec<CollectionHead>,
}

/// A collection without its items.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CollectionHead {
    pub id: String,
    pub kind: CollectionKind,
    pub title: String,
    pub summary: Option<String>,
    pub artwork: Option<Asset>,
    /// How many items it has.
    pub items: usize,
}

impl CatalogHead {
    /// Whether the catalog's expiry has passed at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now > self.expires_at
    }

    /// Items over all collections.
    pub fn item_count(&self) -> usize {
        self.collections.iter().map(|c| c.items).sum()
    }
}

impl Catalog {
    /// This catalog's head (a copy of everything but the items).
    pub fn head(&self) -> CatalogHead {
        CatalogHead {
            format: self.format,
            library: self.library.clone(),
            sequence: self.sequence,
            generated_at: self.generated_at,
            expires_at: self.expires_at,
            mirrors: self.mirrors.clone(),
            collections: self
                .collections
                .iter()
                .map(|c| CollectionHead {
                    id: c.id.clone(),
                    kind: c.kind,
                    title: c.title.clone(),
                    summary: c.summary.clone(),
                    artwork: c.artwork.clone(),
                    items: c.items.len(),
                })
                .collect(),
        }
    }
}

/// Where an item goes: `(collection id, position in it, item)`; `false`
/// stops the reading (the caller keeps its own reason).
pub(crate) type Sink<'a> = &'a mut dyn FnMut(&str, usize, Item) -> bool;

/// Reads `bytes` as a catalog held to `limits`: returns its head and hands
/// every item to `sink`. `Err(None)` means the sink stopped.
pub(crate) fn scan(
    bytes: &[u8],
    limits: &Limits,
    sink: Sink<'_>,
) -> Result<CatalogHead, Option<CatalogError>> {
    let mut state = State {
        limits,
        sink,
        counts: Counts::default(),
        failure: None,
        stopped: false,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let head = match de.deserialize_map(CatalogVisitor { state: &mut state }) {
        Ok(head) => de.end().map(|()| head),
        Err(e) => Err(e),
    };
    match head {
        Ok(head) => Ok(head),
        Err(_) if state.stopped => Err(None),
        Err(e) => Err(Some(state.failure.take().unwrap_or(CatalogError::Json(e)))),
    }
}

struct State<'a, 's> {
    limits: &'a Limits,
    sink: Sink<'s>,
    counts: Counts,
    /// A validation error (reported as such, not as JSON).
    failure: Option<CatalogError>,
    stopped: bool,
}

impl State<'_, '_> {
    fn fail<E: de::Error>(&mut self, e: CatalogError) -> E {
        let m = E::custom(&e);
        self.failure = Some(e);
        m
    }

    fn check<E: de::Error>(&mut self, r: Result<(), CatalogError>) -> Result<(), E> {
        r.map_err(|e| self.fail(e))
    }

    fn deliver<E: de::Error>(
        &mut self,
        collection: &str,
        position: usize,
        item: Item,
    ) -> Result<(), E> {
        if (self.sink)(collection, position, item) {
            Ok(())
        } else {
            self.stopped = true;
            Err(E::custom("stopped"))
        }
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Format,
    Library,
    Sequence,
    GeneratedAt,
    ExpiresAt,
    Mirrors,
    Collections,
}

#[derive(Deserialize)]
struct Rfc3339(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

fn once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, v: T) -> Result<(), E> {
    if slot.replace(v).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

struct CatalogVisitor<'v, 'a, 's> {
    state: &'v mut State<'a, 's>,
}

impl<'de> Visitor<'de> for CatalogVisitor<'_, '_, '_> {
    type Value = CatalogHead;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a catalog")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CatalogHead, A::Error> {
        let (mut format, mut library, mut sequence) = (None, None, None);
        let (mut generated_at, mut expires_at, mut mirrors) = (None, None, None);
        let mut collections: Option<Vec<CollectionHead>> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Format => {
                    let f: u32 = map.next_value()?;
                    // Known at once: a newer format's items need not parse.
                    if !(crate::OLDEST_FORMAT..=crate::FORMAT_VERSION).contains(&f) {
                        return Err(self.state.fail(CatalogError::UnsupportedFormat(f)));
                    }
                    once(&mut format, "format", f)?
                }
                Field::Library => once(&mut library, "library", map.next_value::<LibraryInfo>()?)?,
                Field::Sequence => once(&mut sequence, "sequence", map.next_value::<u64>()?)?,
                Field::GeneratedAt => once(
                    &mut generated_at,
                    "generated_at",
                    map.next_value::<Rfc3339>()?.0,
                )?,
                Field::ExpiresAt => once(
                    &mut expires_at,
                    "expires_at",
                    map.next_value::<Rfc3339>()?.0,
                )?,
                Field::Mirrors => once(&mut mirrors, "mirrors", map.next_value::<Vec<String>>()?)?,
                Field::Collections => {
                    if collections.is_some() {
                        return Err(de::Error::duplicate_field("collections"));
                    }
                    collections = Some(map.next_value_seed(Collections {
                        state: &mut *self.state,
                    })?);
                }
            }
        }
        let head = CatalogHead {
            format: format.ok_or_else(|| de::Error::missing_field("format"))?,
            library: library.ok_or_else(|| de::Error::missing_field("library"))?,
            sequence: sequence.ok_or_else(|| de::Error::missing_field("sequence"))?,
            generated_at: generated_at.ok_or_else(|| de::Error::missing_field("generated_at"))?,
            expires_at: expires_at.ok_or_else(|| de::Error::missing_field("expires_at"))?,
            mirrors: mirrors.unwrap_or_default(),
            collections: collections.unwrap_or_default(),
        };
        let limits = self.state.limits;
        self.state.check(validate_library(
            head.format,
            &head.library,
            &head.mirrors,
            limits,
        ))?;
        Ok(head)
    }
}

struct Collections<'v, 'a, 's> {
    state: &'v mut State<'a, 's>,
}

impl<'de> DeserializeSeed<'de> for Collections<'_, '_, '_> {
    type Value = Vec<CollectionHead>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Collections<'_, '_, '_> {
    type Value = Vec<CollectionHead>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of collections")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(c) = seq.next_element_seed(OneCollection {
            state: &mut *self.state,
        })? {
            out.push(c);
        }
        Ok(out)
    }
}

struct OneCollection<'v, 'a, 's> {
    state: &'v mut State<'a, 's>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum CollectionField {
    Id,
    Kind,
    Title,
    Summary,
    Artwork,
    Items,
}

impl<'de> DeserializeSeed<'de> for OneCollection<'_, '_, '_> {
    type Value = CollectionHead;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OneCollection<'_, '_, '_> {
    type Value = CollectionHead;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a collection")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let state = self.state;
        let (mut id, mut kind, mut title) = (None::<String>, None, None);
        let (mut summary, mut artwork) = (None::<Option<String>>, None::<Option<Asset>>);
        // The items: handed over as read, or (read before the id, not the
        // canonical order) held until it comes.
        let mut held: Option<Vec<Item>> = None;
        let mut ids = HashSet::new();
        while let Some(field) = map.next_key::<CollectionField>()? {
            match field {
                CollectionField::Id => {
                    let v: String = map.next_value()?;
                    let r = state.counts.collection(&v, state.limits);
                    state.check(r)?;
                    once(&mut id, "id", v)?
                }
                CollectionField::Kind => {
                    once(&mut kind, "kind", map.next_value::<CollectionKind>()?)?
                }
                CollectionField::Title => once(&mut title, "title", map.next_value::<String>()?)?,
                CollectionField::Summary => {
                    once(&mut summary, "summary", map.next_value::<Option<String>>()?)?
                }
                CollectionField::Artwork => {
                    once(&mut artwork, "artwork", map.next_value::<Option<Asset>>()?)?
                }
                CollectionField::Items => {
                    if held.is_some() {
                        return Err(de::Error::duplicate_field("items"));
                    }
                    held = Some(map.next_value_seed(Items {
                        state: &mut *state,
                        to: id.as_deref().map(|cid| (cid, &mut ids)),
                    })?);
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let title = title.ok_or_else(|| de::Error::missing_field("title"))?;
        let (summary, artwork) = (summary.flatten(), artwork.flatten());
        let limits = state.limits;
        state.check(validate_collection(
            &id,
            &title,
            summary.as_deref(),
            artwork.as_ref(),
            limits,
        ))?;
        if let Some(items) = held {
            for (position, it) in items.into_iter().enumerate() {
                state.check(validate_item(&id, &it, &mut ids, limits))?;
                state.deliver(&id, position, it)?;
            }
        }
        Ok(CollectionHead {
            id,
            kind,
            title,
            summary,
            artwork,
            items: ids.len(),
        })
    }
}

/// A collection's items, each counted against the item limit as it is
/// read. With the collection's id known (`to`: the id and the item ids seen
/// in it), each is validated and handed over at once; read before the id,
/// they are kept until it comes (a hostile list is still stopped at the
/// limit, not held whole).
struct Items<'v, 'a, 's, 'c> {
    state: &'v mut State<'a, 's>,
    to: Option<(&'c str, &'c mut HashSet<String>)>,
}

impl<'de> DeserializeSeed<'de> for Items<'_, '_, '_, '_> {
    type Value = Vec<Item>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_, '_, '_> {
    type Value = Vec<Item>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Vec<Item>, A::Error> {
        let limits = self.state.limits;
        let mut held = Vec::new();
        let mut position = 0;
        while let Some(it) = seq.next_element::<Item>()? {
            let r = self.state.counts.item(limits);
            self.state.check(r)?;
            match &mut self.to {
                Some((collection, ids)) => {
                    self.state
                        .check(validate_item(collection, &it, ids, limits))?;
                    self.state.deliver(collection, position, it)?;
                }
                None => held.push(it),
            }
            position += 1;
        }
        Ok(held)
    }
}
