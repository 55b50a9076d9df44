//! The parsed feed: what the rest of Stowaway sees of RSS and Atom.
//!
//! Every text field is already cleaned (plain text, or sanitised HTML for
//! [`Episode::notes_html`]), every URL is absolute and has passed the scheme
//! policy described in the crate documentation, and every value that could not
//! be read is `None` rather than a guess.

use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

/// Which syntax the feed was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// RSS 2.0 (and the RSS 0.9x / 1.0 relatives), usually with iTunes and
    /// Podcasting 2.0 extensions.
    Rss,
    /// Atom 1.0.
    Atom,
}

/// A podcast feed (a show) and its episodes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Feed {
    /// RSS or Atom.
    pub kind: FeedKind,
    /// The show's title, plain text.
    pub title: Option<String>,
    /// The show's description, plain text (`description`, else
    /// `itunes:summary`, else `itunes:subtitle`; Atom `subtitle`).
    pub description: Option<String>,
    /// The show's web page.
    pub link: Option<Url>,
    /// The show's author (`itunes:author`, else `managingEditor`, else
    /// `dc:creator`; Atom `author/name`, else `itunes:author`), plain text.
    pub author: Option<String>,
    /// Language tag as written by the publisher (`en-us`), trimmed.
    pub language: Option<String>,
    /// The show's cover art (`itunes:image`, else `image/url`, else
    /// `media:thumbnail`; Atom `logo`, else `icon`, else `itunes:image`).
    pub artwork_url: Option<Url>,
    /// `itunes:explicit`: `yes`/`true`/`explicit` → true, `no`/`false`/`clean` → false.
    pub explicit: Option<bool>,
    /// Where the publisher says the feed moved (`itunes:new-feed-url`, or the
    /// old `redirect/newLocation`). The caller decides whether to follow it.
    pub new_feed_url: Option<Url>,
    /// `podcast:guid`, the show's global identity in Podcasting 2.0, verbatim.
    pub podcast_guid: Option<String>,
    /// Episodes in document order (usually newest first). Items without an
    /// enclosure are included, with [`Episode::enclosure`] `None`.
    pub episodes: Vec<Episode>,
}

/// Where an [`Episode::guid`] came from; see the crate documentation for the
/// full rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuidOrigin {
    /// The feed's own `<guid>` (RSS) or `<id>` (Atom), verbatim.
    Feed,
    /// No guid: the enclosure URL.
    EnclosureUrl,
    /// No guid and no enclosure: the link.
    Link,
    /// Nothing else: `sha256:` and a hash of the title and publication date.
    ContentHash,
}

/// `itunes:episodeType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeType {
    Full,
    Trailer,
    Bonus,
}

/// One episode (an RSS `<item>` or an Atom `<entry>`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Episode {
    /// Stable identity within the feed, never empty and unique within one
    /// parse. See the crate documentation for how it is chosen and how
    /// duplicates are told apart.
    pub guid: String,
    /// Where [`guid`](Self::guid) came from.
    pub guid_origin: GuidOrigin,
    /// Plain-text title (`title`, else `itunes:title`).
    pub title: Option<String>,
    /// Short plain-text summary for lists (`itunes:summary`, else `description`,
    /// else `content:encoded`, else `itunes:subtitle`; Atom `summary`, else
    /// `itunes:summary`, else `content`, else `content:encoded`), cut to
    /// [`Limits::max_summary_chars`](crate::Limits::max_summary_chars).
    pub summary: Option<String>,
    /// Sanitised HTML show notes (`content:encoded`, else `description`, else
    /// `itunes:summary`; Atom `content:encoded`, else `content`, else
    /// `summary`). Plain-text sources become escaped paragraphs. Safe to
    /// render: see the crate documentation.
    pub notes_html: Option<String>,
    /// `pubDate` (RFC 2822 and its common deviations) or Atom
    /// `published`/`updated` (RFC 3339).
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    /// `itunes:duration` in milliseconds.
    pub duration_ms: Option<u64>,
    /// `itunes:season`, else `podcast:season`.
    pub season: Option<u32>,
    /// Episode number: `itunes:episode`, else `podcast:episode`.
    pub number: Option<u32>,
    /// `itunes:episodeType`.
    pub episode_type: Option<EpisodeType>,
    /// `itunes:explicit`.
    pub explicit: Option<bool>,
    /// Episode art: `itunes:image`, else `media:thumbnail`.
    pub artwork_url: Option<Url>,
    /// The episode's web page (`link`, else Atom `link rel=alternate`, else a
    /// permalink guid).
    pub link: Option<Url>,
    /// The media file; see [`Enclosure`] for which one is chosen.
    pub enclosure: Option<Enclosure>,
    /// `podcast:alternateEnclosure`s that have at least one usable source.
    pub alternate_enclosures: Vec<AlternateEnclosure>,
    /// `podcast:chapters`.
    pub chapters: Option<Chapters>,
    /// `podcast:transcript`s in document order.
    pub transcripts: Vec<Transcript>,
}

/// The episode's main media file.
///
/// Chosen among the RSS `enclosure`s, Atom `link rel="enclosure"`s and
/// `media:content`s (also inside `media:group`), in that order: the first whose
/// type is `audio/*` or `video/*`, else the first with no type, else the first.
/// So an item that lists its cover image before its audio gets the audio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Enclosure {
    pub url: Url,
    /// The declared MIME type, trimmed and lowercased; `None` when missing.
    pub media_type: Option<String>,
    /// The declared size in bytes; `None` when missing, zero or not a number
    /// (feeds often write `0` for "unknown").
    pub length: Option<u64>,
}

/// A `podcast:alternateEnclosure`: another rendition of the episode's media.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlternateEnclosure {
    pub media_type: Option<String>,
    pub length: Option<u64>,
    /// Bits per second.
    pub bitrate: Option<u64>,
    pub title: Option<String>,
    /// `lang`.
    pub language: Option<String>,
    /// `default="true"`: the publisher's preferred rendition.
    pub default: bool,
    /// `podcast:source uri`s that passed the URL policy, in document order.
    pub sources: Vec<Url>,
    /// From `podcast:integrity type="sri"`; other types are ignored.
    pub integrity: Vec<Integrity>,
}

/// The hash function of an [`Integrity`] digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// Length of a digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// One expected digest of a media file (Subresource Integrity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Integrity {
    pub algorithm: HashAlgorithm,
    /// The raw digest (serialised as lowercase hex), always
    /// [`HashAlgorithm::digest_len`] bytes long.
    #[serde(serialize_with = "hex_bytes")]
    pub digest: Vec<u8>,
}

/// A `podcast:chapters` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chapters {
    pub url: Url,
    /// Usually `application/json+chapters`.
    pub media_type: Option<String>,
}

/// A `podcast:transcript`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transcript {
    pub url: Url,
    /// `text/vtt`, `application/x-subrip`, `application/json`, `text/html`, …
    pub media_type: Option<String>,
    pub language: Option<String>,
    /// `rel="captions"` marks a transcript usable as captions.
    pub rel: Option<String>,
}

fn hex_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}
