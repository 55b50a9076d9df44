//! Podcast feeds as libraries: fetching a feed, and turning it into the
//! catalog the store keeps.
//!
//! A feed is one show. Every fetch is conditional (ETag / Last-Modified);
//! redirects are followed and a chain of permanent ones moves the
//! subscription. A feed that fails to fetch or parse changes nothing in the
//! store (the error is reported), and one that is gone (404, 410) keeps
//! every cached episode playable. Episodes that drop out of a feed stay in
//! the library: publishers trim old episodes from their feeds, and a member
//! keeps what they had.
//!
//! Files: an episode's enclosure, and each `podcast:alternateEnclosure` that
//! is the same file (same length, compatible type), become the sources of one
//! feed file, tried through the library's pool of hosts like mirrors. Its
//! hash is unknown until the first download (see `stowaway_store::FeedFile`);
//! `podcast:integrity` digests and the declared length are checked then.

use std::collections::{HashMap, HashSet};

use stowaway_catalog::{
    Asset, AssetRole, Catalog, Collection, CollectionKind, Item, ItemKind, LibraryInfo, Sha256,
};
use stowaway_feeds::{Episode, Feed};
use stowaway_store::{FeedFile, FileDigest};
use time::OffsetDateTime;
use url::Url;

/// Largest feed document accepted (the parser's own limit).
pub(crate) const MAX_FEED_BYTES: u64 = 32 << 20;

/// Largest episode (or attachment) accepted when the feed declares no length.
pub(crate) const MAX_UNDECLARED_FILE: u64 = 16 << 30;

/// Largest transcript, chapters file or artwork accepted.
pub(crate) const MAX_SMALL_FILE: u64 = 64 << 20;

/// Longest the check of a feed's announced new address may take.
const NEW_ADDRESS_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// The one collection of a feed library.
pub const FEED_COLLECTION: &str = "episodes";

/// Most episodes one refresh adds to a library that has a catalog already
/// (the first fetch takes the whole feed, within the parser's limits). A
/// feed whose episode ids change on every fetch would otherwise grow the
/// library without bound until it could never be refreshed again.
pub const MAX_NEW_EPISODES_PER_REFRESH: usize = 500;

/// An episode of a feed that is not in the library, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SkippedEpisode {
    pub title: String,
    pub reason: SkipReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No enclosure: nothing to play or download.
    NoMedia,
    /// Another episode of the feed has the same id (GUID).
    DuplicateId,
    /// A new id for a file the library has under an earlier episode: the
    /// feed changed its episode ids, and the episode is kept as it was.
    KnownFile,
    /// Over [`MAX_NEW_EPISODES_PER_REFRESH`] new episodes at once.
    TooManyNew,
}

impl SkipReason {
    pub fn text(self) -> &'static str {
        match self {
            SkipReason::NoMedia => "no audio or video file",
            SkipReason::DuplicateId => "the same id as another episode",
            SkipReason::KnownFile => "a new id for an episode the library has (kept as it was)",
            SkipReason::TooManyNew => "more new episodes at once than one refresh adds",
        }
    }
}

/// What one fetch of a feed gave the library.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Mapped {
    /// Episodes of this fetch that are in the library now.
    pub episodes: usize,
    pub skipped: Vec<SkippedEpisode>,
}

impl Mapped {
    /// One line per reason, for the member ("2 episodes skipped: no audio
    /// or video file").
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for reason in [
            SkipReason::NoMedia,
            SkipReason::DuplicateId,
            SkipReason::KnownFile,
            SkipReason::TooManyNew,
        ] {
            let titles: Vec<&str> = self
                .skipped
                .iter()
                .filter(|s| s.reason == reason)
                .map(|s| s.title.as_str())
                .collect();
            if titles.is_empty() {
                continue;
            }
            let mut shown: Vec<String> = titles.iter().take(3).map(|t| format!("{t:?}")).collect();
            if titles.len() > 3 {
                shown.push(format!("and {} more", titles.len() - 3));
            }
            out.push(format!(
                "{} episode(s) skipped, {}: {}",
                titles.len(),
                reason.text(),
                shown.join(", ")
            ));
        }
        out
    }
}

/// The key that stands for a feed file's hash until it is known: a hash of
/// the library and what the file is (an episode's GUID and the file's role),
/// so a file keeps its key, and what was learned of it, when the publisher
/// moves it to another address (a new CDN, a tracking prefix).
pub fn file_key(library: &str, what: &str) -> Sha256 {
    Sha256::digest(format!("stowaway feed file\n{library}\n{what}").as_bytes())
}

/// A stable item id from an episode's GUID (any string) that fits the
/// catalog's id rules.
pub fn item_id(guid: &str) -> String {
    format!("e-{}", &Sha256::digest(guid.as_bytes()).as_str()[..20])
}

/// A library id for a feed: its title as a slug, else its host.
pub fn library_id_for(title: Option<&str>, url: &Url) -> String {
    let source = title
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .unwrap_or_else(|| url.host_str().unwrap_or("feed"));
    let mut slug = String::new();
    for c in source.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "feed".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The host part of a URL as a mirror base (`https://cdn.example:8443/`).
pub fn origin_of(url: &Url) -> String {
    format!("{}/", url.origin().ascii_serialization())
}

/// Text the catalog accepts: no control characters, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .take(max)
        .collect()
}

/// Builds the catalog for one fetch of `feed`, merged over the `previous`
/// one (episodes no longer in the feed are kept), with the hashes already
/// `known`. Returns it, the sources of every file it references, and what
/// of the feed it kept and skipped.
pub(crate) fn to_catalog(
    library: &str,
    feed_url: &Url,
    feed: &Feed,
    previous: Option<&Catalog>,
    known: &HashMap<Sha256, FeedFile>,
) -> (Catalog, Vec<FeedFile>, Mapped) {
    let mut files: Vec<FeedFile> = Vec::new();
    // Assets carry their file's key; the store resolves keys to the hashes
    // learned so far when it applies the catalog.
    let mut asset = |what: String,
                     role: AssetRole,
                     urls: Vec<Url>,
                     length: Option<u64>,
                     integrity: Vec<FileDigest>,
                     media_type: Option<&str>| {
        let key = file_key(library, &what);
        // An absurd declared length is no length (and no way round the cap).
        let length = length.filter(|&n| n <= MAX_UNDECLARED_FILE);
        let sha256 = key.clone();
        let size = length.unwrap_or(0);
        // No type from the feed: what the file's first bytes showed at its
        // download, else what its address's extension says.
        let sniffed = known.get(&key).and_then(|f| f.media_type.clone());
        let media_type = match media_type {
            Some(t) if t.contains('/') => t.to_owned(),
            _ => sniffed
                .or_else(|| urls.first().and_then(|u| type_from_extension(role, u)))
                .unwrap_or_else(|| UNKNOWN_TYPE.to_owned()),
        };
        if !files.iter().any(|f| f.key == key) {
            files.push(FeedFile {
                key,
                urls: urls.iter().map(Url::to_string).collect(),
                length,
                integrity,
                sha256: None,
                size: None,
                media_type: None,
            });
        }
        Asset {
            role,
            sha256,
            size,
            media_type: safe_media_type(role, &media_type),
            name: None,
            chunks: None,
        }
    };

    let title = feed
        .title
        .as_deref()
        .map(|t| clean(t, 1000))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| feed_url.host_str().unwrap_or("Podcast").to_owned());
    let description = feed.description.as_deref().map(|d| clean(d, 200_000));
    let artwork = feed.artwork_url.as_ref().map(|u| {
        asset(
            "show artwork".to_owned(),
            AssetRole::Artwork,
            vec![u.clone()],
            None,
            Vec::new(),
            None,
        )
    });

    let mut items: Vec<(Option<OffsetDateTime>, Item)> = Vec::new();
    let mut seen = HashSet::new();
    let mut mapped = Mapped::default();
    let before: HashSet<&str> = previous
        .iter()
        .flat_map(|c| c.collections.iter().flat_map(|c| &c.items))
        .map(|i| i.id.as_str())
        .collect();
    // The library's episodes by their enclosure's address and title: a "new"
    // episode with both the same is an old one whose id the feed changed
    // (one address alone is not enough: some feeds reuse `latest.mp3`).
    // Every known file by what an asset carries: its key, or its hash.
    let by_hash: HashMap<&Sha256, &FeedFile> = known
        .values()
        .flat_map(|f| std::iter::once((&f.key, f)).chain(f.sha256.as_ref().map(|s| (s, f))))
        .collect();
    // Without its query: tracking parameters may change on every fetch too.
    let bare = |u: &str| u.split(['?', '#']).next().unwrap_or(u).to_owned();
    let known_media: HashSet<(String, &str)> = previous
        .iter()
        .flat_map(|c| c.collections.iter().flat_map(|c| &c.items))
        .filter_map(|i| {
            let media = i.assets.iter().find(|a| a.role == AssetRole::Media)?;
            let url = by_hash.get(&media.sha256)?.urls.first()?;
            Some((bare(url), i.title.as_str()))
        })
        .collect();
    let mut new_ones = 0;
    for e in &feed.episodes {
        let title = || e.title.clone().unwrap_or_else(|| "Untitled episode".into());
        let skip = |mapped: &mut Mapped, reason| {
            mapped.skipped.push(SkippedEpisode {
                title: clean(&title(), 1000),
                reason,
            })
        };
        let Some(enclosure) = e.enclosure.as_ref() else {
            skip(&mut mapped, SkipReason::NoMedia);
            continue;
        };
        let id = item_id(&e.guid);
        if seen.contains(&id) {
            skip(&mut mapped, SkipReason::DuplicateId);
            continue;
        }
        if previous.is_some() && !before.contains(id.as_str()) {
            let t = clean(&title(), 1000);
            if known_media.contains(&(bare(enclosure.url.as_str()), t.as_str())) {
                skip(&mut mapped, SkipReason::KnownFile);
                continue;
            }
            if new_ones >= MAX_NEW_EPISODES_PER_REFRESH {
                skip(&mut mapped, SkipReason::TooManyNew);
                continue;
            }
            new_ones += 1;
        }
        let Some(item) = episode(e, feed.artwork_url.as_ref(), &mut asset) else {
            continue; // not reached: it has an enclosure
        };
        seen.insert(item.id.clone());
        mapped.episodes += 1;
        items.push((e.published_at, item));
    }
    // Episodes the feed no longer lists stay.
    if let Some(prev) = previous {
        for it in prev.collections.iter().flat_map(|c| &c.items) {
            if seen.insert(it.id.clone()) {
                let mut it = it.clone();
                for a in &mut it.assets {
                    // Back to its file's key, like every other asset.
                    if let Some(f) = by_hash.get(&a.sha256) {
                        a.sha256 = f.key.clone();
                    }
                }
                items.push((it.published_at, it));
            }
        }
        // Their files' sources stay known too (the store keeps them).
    }
    // Newest first; undated ones after, in feed order.
    items.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });

    // The hosts of every file referenced: this fetch's and the kept episodes'.
    // The feed's own host first: its health shows with the files' hosts.
    let mut mirrors: Vec<String> = vec![origin_of(feed_url)];
    let mut add = |urls: &[String]| {
        for u in urls.iter().filter_map(|u| Url::parse(u).ok()) {
            let o = origin_of(&u);
            if !mirrors.contains(&o) {
                mirrors.push(o);
            }
        }
    };
    for f in &files {
        add(&f.urls);
    }
    for (_, it) in &items {
        for a in &it.assets {
            if let Some(f) = by_hash.get(&a.sha256) {
                add(&f.urls);
            }
        }
    }
    let epoch = OffsetDateTime::UNIX_EPOCH;
    let catalog = Catalog {
        format: stowaway_catalog::FORMAT_VERSION,
        library: LibraryInfo {
            id: library.to_owned(),
            title: title.clone(),
            description: description.clone(),
            artwork: None,
        },
        sequence: 0,
        generated_at: OffsetDateTime::now_utc(),
        // A feed does not expire; what was fetched stays valid.
        expires_at: epoch + time::Duration::days(365 * 8000),
        mirrors,
        collections: vec![Collection {
            id: FEED_COLLECTION.to_owned(),
            kind: CollectionKind::Show,
            title,
            summary: description,
            artwork,
            items: items.into_iter().map(|(_, i)| i).collect(),
        }],
    };
    (catalog, files, mapped)
}

/// The media type the cache keeps (and the local media server sends) for a
/// feed file: what the publisher declared only where it is a type that file
/// may have. Nothing from a feed is ever served as HTML, script or SVG.
fn safe_media_type(role: AssetRole, declared: &str) -> String {
    let declared = declared.trim().to_ascii_lowercase();
    let allowed = stowaway_catalog::is_media_type(&declared)
        && match role {
            AssetRole::Media => declared.starts_with("audio/") || declared.starts_with("video/"),
            AssetRole::Artwork => matches!(
                declared.as_str(),
                "image/jpeg" | "image/png" | "image/webp" | "image/gif"
            ),
            AssetRole::Transcript => matches!(
                declared.as_str(),
                "text/vtt" | "application/x-subrip" | "application/srt" | "application/json"
            ),
            AssetRole::Chapters => declared.starts_with("application/json"),
            AssetRole::Attachment => false,
        };
    if allowed {
        declared
    } else {
        match role {
            AssetRole::Transcript => "text/plain",
            AssetRole::Chapters => "application/json",
            _ => "application/octet-stream",
        }
        .to_owned()
    }
}

/// What a feed file's type is while neither the feed nor anything else says.
pub(crate) const UNKNOWN_TYPE: &str = "application/octet-stream";

/// The type a file's address suggests by its extension, for its role
/// (never audio for an image: an unknown extension says nothing).
fn type_from_extension(role: AssetRole, url: &Url) -> Option<String> {
    let path = url.path().to_ascii_lowercase();
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    let t = match (role, ext) {
        (AssetRole::Media, "mp3") => "audio/mpeg",
        (AssetRole::Media, "m4a" | "aac") => "audio/mp4",
        (AssetRole::Media, "ogg" | "oga" | "opus") => "audio/ogg",
        (AssetRole::Media, "wav") => "audio/wav",
        (AssetRole::Media, "flac") => "audio/flac",
        (AssetRole::Media, "mp4" | "m4v") => "video/mp4",
        (AssetRole::Media, "webm") => "video/webm",
        (AssetRole::Artwork, "jpg" | "jpeg") => "image/jpeg",
        (AssetRole::Artwork, "png") => "image/png",
        (AssetRole::Artwork, "webp") => "image/webp",
        (AssetRole::Artwork, "gif") => "image/gif",
        (AssetRole::Transcript, "vtt") => "text/vtt",
        (AssetRole::Transcript, "srt") => "application/x-subrip",
        (AssetRole::Transcript | AssetRole::Chapters, "json") => "application/json",
        _ => return None,
    };
    Some(t.to_owned())
}

/// The type a downloaded feed file's first bytes show (`infer`), as the
/// cache may keep it for `role`; `None` when they say nothing usable.
pub(crate) fn sniffed_type(role: AssetRole, head: &[u8]) -> Option<String> {
    let t = infer::get(head)?.mime_type();
    let t = match t {
        "audio/m4a" | "audio/x-m4a" => "audio/mp4",
        "audio/x-flac" => "audio/flac",
        "audio/x-wav" => "audio/wav",
        t => t,
    };
    let safe = safe_media_type(role, t);
    (safe == t).then_some(safe)
}

fn digests(e: &stowaway_feeds::AlternateEnclosure) -> Vec<FileDigest> {
    e.integrity
        .iter()
        .map(|i| FileDigest {
            algorithm: match i.algorithm {
                stowaway_feeds::HashAlgorithm::Sha256 => "sha256",
                stowaway_feeds::HashAlgorithm::Sha384 => "sha384",
                stowaway_feeds::HashAlgorithm::Sha512 => "sha512",
            }
            .to_owned(),
            hex: hex::encode(&i.digest),
        })
        .collect()
}

/// One episode as an item; `None` when it has nothing to play.
fn episode(
    e: &Episode,
    show_art: Option<&Url>,
    asset: &mut impl FnMut(
        String,
        AssetRole,
        Vec<Url>,
        Option<u64>,
        Vec<FileDigest>,
        Option<&str>,
    ) -> Asset,
) -> Option<Item> {
    let enclosure = e.enclosure.as_ref()?;
    let media_type = enclosure.media_type.as_deref();
    // Alternates that are this same file become its other sources, and
    // their integrity digests apply to it.
    let mut urls = vec![enclosure.url.clone()];
    let mut integrity = Vec::new();
    for alt in &e.alternate_enclosures {
        let same_length = alt.length.is_some() && alt.length == enclosure.length;
        let same_type = match (&alt.media_type, &enclosure.media_type) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if same_length && same_type {
            for s in &alt.sources {
                if !urls.contains(s) {
                    urls.push(s.clone());
                }
            }
            for d in digests(alt) {
                if !integrity.contains(&d) {
                    integrity.push(d);
                }
            }
        }
    }
    let mut assets = vec![asset(
        format!("{}\nmedia", e.guid),
        AssetRole::Media,
        urls,
        enclosure.length,
        integrity,
        media_type,
    )];
    // The episode's own artwork (`itunes:image` on the item). Known by its
    // address, so an image many episodes share is one file; the show's own
    // image is the show's artwork already.
    if let Some(art) = e.artwork_url.as_ref().filter(|u| Some(*u) != show_art) {
        assets.push(asset(
            format!("artwork\n{art}"),
            AssetRole::Artwork,
            vec![art.clone()],
            None,
            Vec::new(),
            None,
        ));
    }
    if let Some(ch) = &e.chapters {
        assets.push(asset(
            format!("{}\nchapters", e.guid),
            AssetRole::Chapters,
            vec![ch.url.clone()],
            None,
            Vec::new(),
            Some("application/json"),
        ));
    }
    // One transcript: the player reads WebVTT and SRT best, then JSON, then HTML.
    let rank = |t: &stowaway_feeds::Transcript| match t.media_type.as_deref() {
        Some("text/vtt") => 0,
        Some("application/x-subrip" | "application/srt" | "text/srt") => 1,
        Some("application/json") => 2,
        Some("text/html") => 3,
        _ => 4,
    };
    if let Some(t) = e.transcripts.iter().min_by_key(|t| rank(t)) {
        assets.push(asset(
            format!("{}\ntranscript", e.guid),
            AssetRole::Transcript,
            vec![t.url.clone()],
            None,
            Vec::new(),
            t.media_type.as_deref(),
        ));
    }
    let notes = e
        .notes_html
        .as_deref()
        .map(|h| clean(&stowaway_feeds::html_to_paragraphs(h), 200_000))
        .filter(|n| !n.is_empty());
    // The sanitiser's HTML as well, for links and lists (none if it is all
    // the text is: a feed with plain notes; dropped past the notes' cap).
    let notes_html = e
        .notes_html
        .as_deref()
        .filter(|h| h.contains('<') && h.len() <= 200_000 && notes.is_some())
        .map(|h| {
            h.chars()
                .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
                .collect::<String>()
        });
    Some(Item {
        id: item_id(&e.guid),
        kind: ItemKind::Episode,
        title: e
            .title
            .as_deref()
            .map(|t| clean(t, 1000))
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "Untitled episode".to_owned()),
        summary: e.summary.as_deref().map(|s| clean(s, 200_000)),
        notes,
        notes_html,
        published_at: e.published_at,
        duration_ms: e.duration_ms,
        season: e.season,
        number: e.number,
        explicit: e.explicit,
        assets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_the_catalog_rules() {
        let u = Url::parse("https://feeds.example/show.xml").unwrap();
        assert_eq!(
            library_id_for(Some("The Deal Room: Ep. Ünö!"), &u),
            "the-deal-room-ep-n"
        );
        assert_eq!(library_id_for(Some("¡¡!!"), &u), "feeds-example");
        assert_eq!(library_id_for(None, &u), "feeds-example");
        for id in [item_id("tag:x,2020:1"), library_id_for(Some("a"), &u)] {
            stowaway_catalog::validate_id("x", &id).unwrap();
        }
        assert_eq!(item_id("g"), item_id("g"));
        assert_ne!(item_id("g"), item_id("h"));
    }
}

/// A feed fetched and parsed, not yet applied.
#[derive(Debug)]
pub struct FetchedFeed {
    /// The address asked for.
    pub requested: Url,
    /// Where it was served from (after redirects).
    pub url: Url,
    /// Set when every redirect on the way was permanent.
    pub moved_to: Option<Url>,
    pub status: u16,
    pub validators: stowaway_mirrors::Validators,
    pub feed: Feed,
    /// The address asked for is on the member's own machine or network:
    /// the feed may name hosts there (see `stowaway_mirrors::reach`).
    pub local: bool,
}

/// What a subscription source turned out to be.
#[derive(Debug)]
pub enum Source {
    /// A Stowaway library (`.stowaway` file or its URL).
    Library(stowaway_catalog::Subscription),
    /// A podcast feed (RSS or Atom).
    Feed(Box<FetchedFeed>),
}

/// What [`Engine::subscribe_feed`] did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FeedSubscribed {
    pub library: String,
    pub title: String,
    pub new: bool,
    /// The first fetch, applied (`None` when subscribed without fetching).
    pub catalog: Option<ApplyOutcome>,
    /// What of the feed the library kept, and what it skipped and why.
    pub mapped: Mapped,
}

impl FetchedFeed {
    /// What subscribing to this feed would keep and skip (as shown before
    /// the member confirms).
    pub fn preview(&self) -> Mapped {
        to_catalog("preview", &self.url, &self.feed, None, &HashMap::new()).2
    }
}

use stowaway_mirrors::{redacted, Reach};
use stowaway_store::{ApplyOutcome, FeedRow};
use tracing::{info, warn};

use crate::{Engine, SyncError, SyncEvent};

impl Engine {
    /// Reads what a member wants to subscribe to: a `.stowaway` file, or a
    /// URL that serves either a subscription or a podcast feed (told apart
    /// by content, with one request).
    pub async fn read_source(&self, source: &str) -> Result<Source, SyncError> {
        let Some(url) = Url::parse(source)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            return Ok(Source::Library(self.read_subscription(source).await?));
        };
        // The address the member gave, wherever it is; but a public one
        // may not redirect onto the member's own network.
        let local = self.client().is_local(&url).await;
        let reach = if local { Reach::Any } else { Reach::Public };
        let doc = self
            .client()
            .fetch_document(&url, &Default::default(), MAX_FEED_BYTES, reach)
            .await?;
        let body = doc.body.unwrap_or_default();
        if body.trim_ascii_start().starts_with(b"{") {
            return Ok(Source::Library(stowaway_catalog::Subscription::parse(
                &body,
            )?));
        }
        let feed = stowaway_feeds::parse(&body, &doc.url)?;
        Ok(Source::Feed(Box::new(FetchedFeed {
            requested: url,
            url: doc.url,
            moved_to: doc.moved_to,
            status: doc.status,
            validators: doc.validators,
            feed,
            local,
        })))
    }

    /// Subscribes to a fetched feed and applies it at once. The library id
    /// comes from the show's title (made unique). Subscribing again to the
    /// same feed refreshes it.
    pub fn subscribe_feed(&self, fetched: &FetchedFeed) -> Result<FeedSubscribed, SyncError> {
        // The address to keep using: where a permanent move leads, else the
        // one asked for (a temporary redirect may lead somewhere short-lived).
        let url = fetched
            .moved_to
            .as_ref()
            .unwrap_or(&fetched.requested)
            .to_string();
        let (library, new) = match self.store().feed_library(&url)? {
            Some(lib) => {
                // It answered at this address just now: fetch it from here
                // (whatever address it had moved to before, dead or not).
                self.store().set_feed_url(&lib, &url)?;
                (lib, false)
            }
            None => {
                let lib = self.free_library_id(&library_id_for(
                    fetched.feed.title.as_deref(),
                    &fetched.url,
                ))?;
                let title = fetched.feed.title.clone().unwrap_or_else(|| lib.clone());
                self.store()
                    .subscribe_feed(&lib, &clean(&title, 1000), &url)?;
                (lib, true)
            }
        };
        self.store().set_feed_local(&library, fetched.local)?;
        // Where the feed says it moves is checked by the next refresh.
        let (outcome, mapped) = self.apply_fetched_feed(&library, fetched, None, false)?;
        let title = self.store().library(&library)?.title;
        Ok(FeedSubscribed {
            library,
            title,
            new,
            catalog: Some(outcome),
            mapped,
        })
    }

    /// Subscribes to a feed by URL without fetching it (an OPML import):
    /// `title` names the library until the first sync.
    pub fn subscribe_feed_url(
        &self,
        url: &Url,
        title: Option<&str>,
    ) -> Result<FeedSubscribed, SyncError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(stowaway_mirrors::MirrorError::BadUrl(
                url.to_string(),
                "a feed URL must be http or https".into(),
            )
            .into());
        }
        if let Some(lib) = self.store().feed_library(url.as_str())? {
            let title = self.store().library(&lib)?.title;
            return Ok(FeedSubscribed {
                library: lib,
                title,
                new: false,
                catalog: None,
                mapped: Mapped::default(),
            });
        }
        let lib = self.free_library_id(&library_id_for(title, url))?;
        let title = title.map_or_else(|| lib.clone(), |t| clean(t, 1000));
        // Whether it is on the member's network is decided by its first
        // refresh, from its own address, as for a feed typed in.
        self.store().subscribe_feed(&lib, &title, url.as_str())?;
        Ok(FeedSubscribed {
            library: lib,
            title,
            new: true,
            catalog: None,
            mapped: Mapped::default(),
        })
    }

    /// Subscribes to every feed an OPML document lists, without fetching
    /// them (the next sync does). Feeds already subscribed are reported as
    /// such, not duplicated.
    pub fn import_opml(&self, bytes: &[u8]) -> Result<Vec<FeedSubscribed>, SyncError> {
        let feeds = stowaway_feeds::parse_opml(bytes)?;
        feeds
            .iter()
            .map(|f| self.subscribe_feed_url(&f.url, f.title.as_deref()))
            .collect()
    }

    /// [`import_opml`](Self::import_opml) of a local file (a regular file of
    /// at most 32 MiB, read within a deadline).
    pub async fn import_opml_file(
        &self,
        path: &std::path::Path,
    ) -> Result<Vec<FeedSubscribed>, SyncError> {
        let bytes =
            stowaway_mirrors::read_local_file(path, 32 << 20, crate::engine::LOCAL_READ_DEADLINE)
                .await
                .map_err(|e| SyncError::Read {
                    path: path.display().to_string(),
                    source: e,
                })?;
        self.import_opml(&bytes)
    }

    /// Every feed subscription, at its current address, as OPML 2.0;
    /// and how many there are.
    pub fn export_opml(&self) -> Result<(String, usize), SyncError> {
        let mut feeds = Vec::new();
        for f in self.store().feeds()? {
            let title = self.store().library(&f.library_id)?.title;
            if let Ok(url) = Url::parse(&f.url) {
                feeds.push(stowaway_feeds::OpmlFeed {
                    url,
                    title: Some(title),
                    html_url: None,
                });
            }
        }
        let text = stowaway_feeds::write_opml("Stowaway podcast subscriptions", &feeds);
        Ok((text, feeds.len()))
    }

    /// `base`, or `base-2`, `base-3`… whichever no library uses.
    fn free_library_id(&self, base: &str) -> Result<String, SyncError> {
        let taken: HashSet<String> = self
            .store()
            .libraries()?
            .into_iter()
            .map(|l| l.id)
            .collect();
        Ok((1..)
            .map(|n| {
                if n == 1 {
                    base.to_owned()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|id| !taken.contains(id))
            .expect("an unused id exists"))
    }

    /// Turns a fetched feed into the library's catalog and applies it; then
    /// records the validators, and the address to use from now on: where a
    /// chain of permanent redirects led, or `moved_to` (a new address the
    /// feed announced that served it, checked by the caller). Without
    /// validators when the next fetch must read the feed again (`recheck`,
    /// or episodes left for later).
    fn apply_fetched_feed(
        &self,
        library: &str,
        fetched: &FetchedFeed,
        moved_to: Option<Url>,
        recheck: bool,
    ) -> Result<(ApplyOutcome, Mapped), SyncError> {
        let store = self.store();
        let previous = store
            .applied_feed_catalog(library)?
            .and_then(|bytes| serde_json::from_slice::<Catalog>(&bytes).ok());
        let known = store.feed_files(library)?;
        let (catalog, files, mapped) = to_catalog(
            library,
            &fetched.url,
            &fetched.feed,
            previous.as_ref(),
            &known,
        );
        let limits = stowaway_catalog::Limits {
            max_mirrors: usize::MAX,
            ..Default::default()
        };
        stowaway_catalog::validate_catalog(&catalog, &limits)?;
        let outcome = store.apply_feed(library, &catalog, &files)?;
        let moved = fetched.moved_to.clone().or(moved_to).map(|u| u.to_string());
        // Episodes left for later are fetched again by the next refresh,
        // not answered with a 304.
        let truncated = mapped
            .skipped
            .iter()
            .any(|k| k.reason == SkipReason::TooManyNew);
        let validators = if truncated || recheck {
            (None, None)
        } else {
            (
                fetched.validators.etag.as_deref(),
                fetched.validators.last_modified.as_deref(),
            )
        };
        if let Some(m) = &moved {
            info!(library, to = %m, "the feed moved permanently; following it from now on");
        }
        store.record_feed_fetch(library, fetched.status, Some(validators), moved.as_deref())?;
        Ok((outcome, mapped))
    }

    /// The address a feed says it moved to (`itunes:new-feed-url`), if it
    /// is one to follow: it must serve a valid feed of the same show now
    /// (its title, or one of its episodes), and never be a step down from
    /// https to http. Otherwise the feed stays where it is, `warnings` says
    /// why, and the next refresh checks again (`Err(())`).
    async fn check_new_feed_url(
        &self,
        current: &Url,
        feed: &Feed,
        reach: Reach,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Url>, ()> {
        let Some(candidate) = feed.new_feed_url.clone() else {
            return Ok(None);
        };
        if candidate == *current {
            return Ok(None);
        }
        let mut refuse = |why: String| {
            warn!(feed = %redacted(current.as_str()), to = %redacted(candidate.as_str()), why, "not following the feed's new address");
            warnings.push(format!(
                "the feed says it moved to {candidate}, but {why}; it is still fetched from {current}"
            ));
            Err(())
        };
        if candidate.scheme() == "http" && current.scheme() == "https" {
            return refuse("that address is not https".into());
        }
        // Checked again by every refresh until it works: never for long.
        let none = Default::default();
        let check = self
            .client()
            .fetch_document(&candidate, &none, MAX_FEED_BYTES, reach);
        let doc = match tokio::time::timeout(NEW_ADDRESS_CHECK, check).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return refuse(format!("it does not answer ({e})")),
            Err(_) => return refuse(format!("it does not answer within {NEW_ADDRESS_CHECK:?}")),
        };
        let other = match stowaway_feeds::parse(&doc.body.unwrap_or_default(), &doc.url) {
            Ok(f) => f,
            Err(e) => return refuse(format!("it does not serve a feed ({e})")),
        };
        let norm = |t: &Option<String>| t.as_deref().map(|t| t.trim().to_lowercase());
        let same_title = norm(&feed.title).is_some() && norm(&feed.title) == norm(&other.title);
        let guids: HashSet<&str> = feed.episodes.iter().map(|e| e.guid.as_str()).collect();
        let same_episode = other
            .episodes
            .iter()
            .any(|e| guids.contains(e.guid.as_str()));
        if !same_title && !same_episode {
            return refuse("it serves another show".into());
        }
        Ok(Some(doc.moved_to.unwrap_or(candidate)))
    }

    /// The catalog phase of a feed library: a conditional fetch, parse and
    /// apply. Any failure leaves the store as it was.
    pub(crate) async fn refresh_feed(
        &self,
        library: &str,
        row: &FeedRow,
        pool: &stowaway_mirrors::MirrorPool,
        reach: Reach,
        warnings: &mut Vec<String>,
    ) -> Result<(ApplyOutcome, String, bool), String> {
        let url = Url::parse(&row.url).map_err(|e| format!("feed URL {}: {e}", row.url))?;
        // The feed's host is in the pool once a fetch succeeded: its health
        // follows the fetches.
        let host = (0..pool.len()).find(|&i| pool.url(i) == origin_of(&url));
        let applied = self
            .store()
            .applied_catalog(library)
            .map_err(|e| e.to_string())?;
        let validators = match &applied {
            Some(_) => stowaway_mirrors::Validators {
                etag: row.etag.clone(),
                last_modified: row.last_modified.clone(),
            },
            None => Default::default(),
        };
        let failed = |e: String, code: &str, status: u16| {
            let _ = self.store().record_feed_fetch(library, status, None, None);
            warn!(library, feed = %redacted(url.as_str()), error = %e, "feed not refreshed; everything cached stays");
            self.emit(SyncEvent::CatalogMirrorFailed {
                library: library.to_owned(),
                mirror: url.to_string(),
                error: e.clone(),
                code: code.to_owned(),
            });
            Err(format!("feed {url}: {e}"))
        };
        let started = std::time::Instant::now();
        let doc = match self
            .client()
            .fetch_document(&url, &validators, MAX_FEED_BYTES, reach)
            .await
        {
            Ok(d) => {
                if let Some(h) = host {
                    pool.record_success(h, Some(started.elapsed()));
                }
                d
            }
            Err(e) => {
                if let Some(h) = host {
                    pool.record_failure(h, &e);
                }
                let status = match &e {
                    stowaway_mirrors::MirrorError::Gone { status }
                    | stowaway_mirrors::MirrorError::Status { status, .. } => *status,
                    _ => 0,
                };
                return failed(e.to_string(), e.code(), status);
            }
        };
        let Some(body) = doc.body else {
            // 304: nothing new.
            let moved = doc.moved_to.as_ref().map(Url::to_string);
            let _ = self
                .store()
                .record_feed_fetch(library, doc.status, None, moved.as_deref());
            let sequence = applied.map_or(0, |a| a.sequence);
            let outcome = ApplyOutcome {
                library: library.to_owned(),
                previous_sequence: Some(sequence),
                sequence,
                unchanged: true,
                diff: Default::default(),
            };
            self.emit_applied(library, url.as_str(), &outcome);
            return Ok((outcome, url.to_string(), false));
        };
        let feed = match stowaway_feeds::parse(&body, &doc.url) {
            Ok(f) => f,
            Err(e) => return failed(e.to_string(), e.code(), doc.status),
        };
        let new_address = match &doc.moved_to {
            Some(_) => Ok(None), // a permanent redirect: it served the feed just now
            None => self.check_new_feed_url(&url, &feed, reach, warnings).await,
        };
        let recheck = new_address.is_err();
        let new_address = new_address.unwrap_or(None);
        let fetched = FetchedFeed {
            requested: url.clone(),
            url: doc.url,
            moved_to: doc.moved_to,
            status: doc.status,
            validators: doc.validators,
            feed,
            local: reach == Reach::Any,
        };
        let engine = self.clone();
        let lib = library.to_owned();
        let outcome = tokio::task::spawn_blocking(move || {
            engine
                .apply_fetched_feed(&lib, &fetched, new_address, recheck)
                .map(|(o, m)| (o, m, fetched.url.to_string()))
        })
        .await
        .map_err(|e| e.to_string())?;
        match outcome {
            Ok((outcome, mapped, served)) => {
                warnings.extend(mapped.summary());
                info!(library, feed = %served, sequence = outcome.sequence, unchanged = outcome.unchanged, "feed applied");
                self.emit_applied(library, &served, &outcome);
                Ok((outcome, served, false))
            }
            Err(e) => failed(e.to_string(), e.code(), 0),
        }
    }

    fn emit_applied(&self, library: &str, url: &str, outcome: &ApplyOutcome) {
        self.emit(SyncEvent::CatalogApplied {
            library: library.to_owned(),
            mirror: url.to_owned(),
            sequence: outcome.sequence,
            unchanged: outcome.unchanged,
            added: outcome.diff.added.len(),
            changed: outcome.diff.changed.len(),
            removed: outcome.diff.removed.len(),
            expired: false,
        });
    }
}
