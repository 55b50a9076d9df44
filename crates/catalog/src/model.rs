//! The library data model as it appears in `library.json` (formats 1 and 2).
//!
//! library → collections (course | show) → items (lesson | episode) → assets
//! (media, transcript, chapters, artwork, attachment). Field order here is the
//! order of the canonical JSON the publisher writes; see docs/FORMAT.md.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The newest catalog format this crate reads (and writes when asked).
/// Format 2 is format 1 with chunk lists on large assets ([`Chunks`]) and
/// items' HTML notes; see docs/FORMAT.md for the rules between them.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest catalog format this crate reads.
pub const OLDEST_FORMAT: u32 = 1;

/// A whole signed catalog: the content of `library.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Format version; a client refuses versions it does not know.
    pub format: u32,
    pub library: LibraryInfo,
    /// Grows with every publication; a client refuses a lower one (rollback protection).
    pub sequence: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// After this instant the catalog is stale: still applied and everything cached
    /// stays playable, but the member is told.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Base URLs of every mirror the publisher knows, so clients learn new ones.
    #[serde(default)]
    pub mirrors: Vec<String>,
    #[serde(default)]
    pub collections: Vec<Collection>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryInfo {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artwork: Option<Asset>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectionKind {
    Course,
    Show,
}

impl CollectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionKind::Course => "course",
            CollectionKind::Show => "show",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    pub id: String,
    pub kind: CollectionKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artwork: Option<Asset>,
    /// In the publisher's order (lesson order for a course).
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Lesson,
    Episode,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Lesson => "lesson",
            ItemKind::Episode => "episode",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable identity within its collection.
    pub id: String,
    pub kind: ItemKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Show notes as plain text or Markdown; never rendered as raw HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The same notes as sanitised HTML, when the source had markup (a
    /// podcast feed's `content:encoded`): links and lists kept. The client
    /// builds its own elements from a whitelist of it, never `innerHTML`.
    /// Search reads `notes`. Not written by today's publisher (see FORMAT.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_html: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub published_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// The publisher marks the item explicit (`true`) or clean (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit: Option<bool>,
    #[serde(default)]
    pub assets: Vec<Asset>,
}

impl Item {
    /// The SHA-256 of the item's canonical JSON: two items are equal exactly
    /// when their digests are (the store finds what changed by it).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        let json = serde_json::to_vec(self).expect("an item always serialises");
        sha2::Sha256::digest(&json).into()
    }

    /// The item's main media asset, if it has one.
    pub fn media(&self) -> Option<&Asset> {
        self.assets.iter().find(|a| a.role == AssetRole::Media)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetRole {
    Media,
    Transcript,
    Chapters,
    Artwork,
    Attachment,
}

impl AssetRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetRole::Media => "media",
            AssetRole::Transcript => "transcript",
            AssetRole::Chapters => "chapters",
            AssetRole::Artwork => "artwork",
            AssetRole::Attachment => "attachment",
        }
    }

    pub fn parse(s: &str) -> Option<AssetRole> {
        Some(match s {
            "media" => AssetRole::Media,
            "transcript" => AssetRole::Transcript,
            "chapters" => AssetRole::Chapters,
            "artwork" => AssetRole::Artwork,
            "attachment" => AssetRole::Attachment,
            _ => return None,
        })
    }
}

/// One file, addressed by the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    pub role: AssetRole,
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: String,
    /// A display name (e.g. "workbook.pdf"). Never used as a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Format 2: the SHA-256 of each fixed-size chunk, so a file can be
    /// checked piece by piece as it arrives (from several mirrors at once,
    /// played while it downloads). The file's own `sha256` stays its identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Chunks>,
}

/// A file's chunk list: chunk `i` is bytes `[i × size, (i + 1) × size)` of
/// the file (the last one shorter); the list is a blob of its own, named by
/// its SHA-256 like any other, holding the 32-byte SHA-256 of each chunk in
/// order and nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunks {
    /// Bytes per chunk: a power of two from [`MIN_CHUNK_SIZE`] to [`MAX_CHUNK_SIZE`].
    pub size: u32,
    /// The SHA-256 of the chunk list.
    pub sha256: Sha256,
}

/// The chunk size the publisher writes: a chunk arrives in half a second
/// at 2 MB/s (what playing while downloading needs), a request for one is
/// large enough that its latency does not matter, and a 2 GB file's list is
/// 64 KiB.
pub const CHUNK_SIZE: u32 = 1 << 20;
pub const MIN_CHUNK_SIZE: u32 = 64 << 10;
pub const MAX_CHUNK_SIZE: u32 = 16 << 20;
/// The most chunks a file may have: its list is at most 8 MiB (a 256 GiB
/// file in 1 MiB chunks).
pub const MAX_CHUNKS: u64 = 1 << 18;

impl Chunks {
    /// How many chunks a file of `file_size` bytes has.
    pub fn count(&self, file_size: u64) -> u64 {
        file_size.div_ceil(u64::from(self.size.max(1)))
    }

    /// The byte range of chunk `i` of a file of `file_size` bytes.
    pub fn range(&self, i: u64, file_size: u64) -> std::ops::Range<u64> {
        let size = u64::from(self.size);
        let start = (i * size).min(file_size);
        start..(start + size).min(file_size)
    }

    /// Reads a chunk list's bytes for a file of `file_size` bytes: it must
    /// hash to `sha256` and hold exactly one digest per chunk.
    pub fn parse_list(&self, bytes: &[u8], file_size: u64) -> Result<Vec<[u8; 32]>, String> {
        let want = self.count(file_size) * 32;
        if bytes.len() as u64 != want {
            return Err(format!(
                "chunk list {} is {} bytes, not {want}",
                self.sha256,
                bytes.len()
            ));
        }
        if Sha256::digest(bytes) != self.sha256 {
            return Err(format!(
                "chunk list {} does not match its hash",
                self.sha256
            ));
        }
        Ok(bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect())
    }
}

/// A SHA-256 digest as 64 lowercase hex characters. Validated on construction,
/// so it is safe to use in paths.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sha256(String);

impl Sha256 {
    pub fn parse(s: &str) -> Result<Sha256, String> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Sha256(s.to_owned()))
        } else {
            Err(format!("{s:?} is not a lowercase hex SHA-256"))
        }
    }

    pub fn from_digest(bytes: &[u8; 32]) -> Sha256 {
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        Sha256(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of `bytes`.
    pub fn digest(bytes: &[u8]) -> Sha256 {
        use sha2::Digest;
        Sha256::from_digest(&sha2::Sha256::digest(bytes).into())
    }

    /// The SHA-256 and length of everything `reader` yields, streaming
    /// (the store uses it; the publisher hashes a file and its chunks in one
    /// pass of its own).
    pub fn digest_reader(mut reader: impl std::io::Read) -> std::io::Result<(Sha256, u64)> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let k = reader.read(&mut buf)?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
        Ok((Sha256::from_digest(&h.finalize().into()), n))
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sha256::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", &self.0[..12])
    }
}

impl Catalog {
    /// The canonical bytes of this catalog: compact JSON in the field order above.
    /// The publisher signs exactly these bytes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a catalog always serialises")
    }

    /// Every asset referenced by the catalog (library, collections, items), with duplicates.
    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.library
            .artwork
            .iter()
            .chain(self.collections.iter().flat_map(|c| {
                c.artwork
                    .iter()
                    .chain(c.items.iter().flat_map(|i| i.assets.iter()))
            }))
    }

    /// Whether the catalog's expiry has passed at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now > self.expires_at
    }
}
