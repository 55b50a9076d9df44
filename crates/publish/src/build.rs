//! `stowaway-publish build`: source folder → signed mirror tree.
//!
//! Blobs are hashed while streaming and copied only when the mirror lacks
//! them (copy to a temporary name, fsync, rename). The catalog's sequence is
//! bumped only when its content changed (or on `refresh`).
//!
//! No reader may see a catalog without its signature: the catalog and its
//! signature are two files, fetched by two requests, and a publication can
//! fall between them. So the signature is first written under the catalog's
//! own hash (`signatures/<sha256>.minisig`, never changed afterwards), then
//! `library.json` and then `library.json.minisig` are each replaced
//! atomically. Whatever `library.json` a reader got, the signature of exactly
//! those bytes is there; a client that reads the signature first and the
//! catalog second sees either a matching pair or a newer catalog whose own
//! signature it can fetch. Signatures of catalogs older than a month are
//! removed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use stowaway_catalog::{
    blob_path, signature_path, validate_catalog, Asset, AssetRole, Catalog, Chunks, Collection,
    CollectionKind, Item, ItemKind, LibraryInfo, Limits, Sha256, CATALOG_FILE, CHUNK_SIZE,
    FORMAT_VERSION, OLDEST_FORMAT, SIGNATURE_FILE,
};
use time::{Duration, OffsetDateTime};

use crate::manifest::{self, Manifest};

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub source: PathBuf,
    pub out: PathBuf,
    pub secret_key: PathBuf,
    /// Mirror base URLs announced in the catalog.
    pub mirrors: Vec<String>,
    /// Re-sign with a fresh expiry even if nothing changed.
    pub refresh: bool,
    /// The catalog format to write: 1, or 2 (chunk lists on large files).
    pub format: u32,
    /// The clock (tests pass a fixed one).
    pub now: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct BuildOutcome {
    pub library_id: String,
    pub sequence: u64,
    /// False when the existing catalog already said the same thing.
    pub changed: bool,
    pub items: usize,
    pub blobs_total: usize,
    pub blobs_copied: usize,
    pub bytes_copied: u64,
    /// Podcast feeds written beside the catalog (paths relative to `out`);
    /// none without mirror URLs.
    pub feeds: Vec<String>,
}

/// How long a catalog stays fresh unless `library.toml` says otherwise (see
/// FORMAT.md: it bounds how long a member can be frozen at an old catalog
/// without being told, and the publisher re-signs at least this often).
pub const DEFAULT_EXPIRES_IN_DAYS: u32 = 7;

/// Signatures of earlier catalogs are kept this long (a slow mirror may
/// still serve one).
const OLD_SIGNATURES_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Files over this size get a chunk list in format 2 (smaller ones are
/// fetched whole in one request).
pub const CHUNKED_OVER: u64 = 2 * CHUNK_SIZE as u64;

/// Hashes a file (streaming): its SHA-256 and size; with `chunk`, the
/// SHA-256 of each `chunk`-byte piece too, in the same pass.
fn hash_file(path: &Path, chunk: Option<u32>) -> Result<(Sha256, u64, Vec<[u8; 32]>)> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut whole = sha2::Sha256::new();
    let mut piece = sha2::Sha256::new();
    let mut in_piece = 0u64;
    let mut pieces = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        whole.update(&buf[..n]);
        size += n as u64;
        if let Some(c) = chunk {
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let take = rest.len().min((u64::from(c) - in_piece) as usize);
                piece.update(&rest[..take]);
                in_piece += take as u64;
                rest = &rest[take..];
                if in_piece == u64::from(c) {
                    pieces.push(std::mem::take(&mut piece).finalize().into());
                    in_piece = 0;
                }
            }
        }
    }
    if chunk.is_some() && in_piece > 0 {
        pieces.push(piece.finalize().into());
    }
    Ok((Sha256::from_digest(&whole.finalize().into()), size, pieces))
}

fn media_type(path: &Path, role: AssetRole) -> String {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (role, ext.as_str()) {
        (AssetRole::Chapters, "json") => "application/json+chapters".into(),
        (_, "vtt") => "text/vtt".into(),
        (_, "srt") => "application/x-subrip".into(),
        (_, "opus") => "audio/opus".into(),
        (_, "m4a") => "audio/mp4".into(),
        (_, "wav") => "audio/wav".into(),
        _ => mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned(),
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // A new file of a name nobody could have made ready (a link another
    // user left in a shared mirror folder would be followed).
    let tmp = path.with_file_name(format!(
        ".{}.{}-{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Puts a catalog and its signature in place so that no reader sees a pair
/// that does not match (see the module docs).
fn publish_pair(out: &Path, catalog: &[u8], signature: &[u8]) -> Result<()> {
    let own = out.join(signature_path(&Sha256::digest(catalog)));
    let dir = own.parent().expect("signatures/ has a parent");
    fs::create_dir_all(dir)?;
    write_atomic(&own, signature)?;
    sync_dir(dir);
    write_atomic(&out.join(CATALOG_FILE), catalog)?;
    sync_dir(out);
    write_atomic(&out.join(SIGNATURE_FILE), signature)?;
    sync_dir(out);
    // Old catalogs' signatures, once no mirror should serve them.
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > OLD_SIGNATURES_KEPT);
            if old && e.path() != own {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Makes the renames in `dir` durable (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

struct Blobs<'a> {
    out: &'a Path,
    /// The catalog format written (2: chunk lists on large files).
    format: u32,
    total: usize,
    copied: usize,
    bytes_copied: u64,
    seen: std::collections::HashSet<Sha256>,
}

impl Blobs<'_> {
    /// Hashes `file`, copies it into the tree if missing, returns its asset
    /// (in format 2, a file over [`CHUNKED_OVER`] with its chunk list, which
    /// is written into the tree as a blob of its own).
    fn add(&mut self, source: &Path, rel: &str, role: AssetRole, name: bool) -> Result<Asset> {
        let path = manifest::resolve(source, rel)?;
        let chunked = self.format >= 2
            && fs::metadata(&path)
                .map(|m| m.len() > CHUNKED_OVER)
                .unwrap_or(false);
        let (sha, size, pieces) = hash_file(&path, chunked.then_some(CHUNK_SIZE))?;
        let chunks = if chunked {
            let list: Vec<u8> = pieces.concat();
            let list_sha = Sha256::digest(&list);
            self.put(&list_sha, list.len() as u64, |tmp| {
                Ok(fs::write(tmp, &list)?)
            })?;
            Some(Chunks {
                size: CHUNK_SIZE,
                sha256: list_sha,
            })
        } else {
            None
        };
        self.put(&sha, size, |tmp| {
            fs::copy(&path, tmp)
                .with_context(|| format!("cannot copy {} into the mirror", path.display()))?;
            Ok(())
        })?;
        Ok(Asset {
            role,
            sha256: sha,
            size,
            media_type: media_type(&path, role),
            name: if name {
                path.file_name().map(|n| n.to_string_lossy().into_owned())
            } else {
                None
            },
            chunks,
        })
    }

    /// Writes a blob into the tree unless it is there already (`write`
    /// fills a temporary file, which is synced and renamed into place).
    fn put(
        &mut self,
        sha: &Sha256,
        size: u64,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        if !self.seen.insert(sha.clone()) {
            return Ok(());
        }
        self.total += 1;
        let dest = self.out.join(blob_path(sha));
        let present = fs::metadata(&dest)
            .map(|m| m.len() == size)
            .unwrap_or(false);
        if !present {
            fs::create_dir_all(dest.parent().expect("blob path has a parent"))?;
            let tmp = dest.with_extension("tmp-stowaway");
            write(&tmp)?;
            File::open(&tmp)?.sync_all()?;
            fs::rename(&tmp, &dest)?;
            self.copied += 1;
            self.bytes_copied += size;
        }
        Ok(())
    }
}

fn parse_date(s: &str) -> Result<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt)
        .with_context(|| format!("date {s:?}: use YYYY-MM-DD or RFC 3339"))?;
    Ok(d.midnight().assume_utc())
}

/// Builds (or updates) the mirror tree in `opts.out` from `opts.source`.
pub fn build(opts: &BuildOptions) -> Result<BuildOutcome> {
    let m = Manifest::load(&opts.source)?;
    let sk = crate::keys::load_secret_key(&opts.secret_key)?;
    let pk = minisign::PublicKey::from_secret_key(&sk)?;
    fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;

    if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&opts.format) {
        bail!(
            "catalog format {} is not one this publisher writes ({OLDEST_FORMAT} to {FORMAT_VERSION})",
            opts.format
        );
    }
    let mut blobs = Blobs {
        out: &opts.out,
        format: opts.format,
        total: 0,
        copied: 0,
        bytes_copied: 0,
        seen: Default::default(),
    };
    let src = opts.source.as_path();
    let library_artwork = match &m.library.artwork {
        Some(a) => Some(blobs.add(src, a, AssetRole::Artwork, false)?),
        None => None,
    };
    let mut collections = Vec::new();
    let mut items_total = 0;
    for c in &m.collections {
        let artwork = match &c.artwork {
            Some(a) => Some(blobs.add(src, a, AssetRole::Artwork, false)?),
            None => None,
        };
        let mut items = Vec::new();
        for it in &c.items {
            let ctx = || format!("item {}/{}", c.id, it.id);
            let mut assets = Vec::new();
            let mut duration_ms = it
                .duration
                .as_ref()
                .map(manifest::parse_duration_ms)
                .transpose()
                .with_context(ctx)?;
            if let Some(media) = &it.media {
                assets.push(
                    blobs
                        .add(src, media, AssetRole::Media, false)
                        .with_context(ctx)?,
                );
                if duration_ms.is_none() {
                    duration_ms = crate::wav::duration_ms(&manifest::resolve(src, media)?);
                }
            }
            for (role, path) in [
                (AssetRole::Transcript, &it.transcript),
                (AssetRole::Chapters, &it.chapters),
                (AssetRole::Artwork, &it.artwork),
            ] {
                if let Some(p) = path {
                    assets.push(blobs.add(src, p, role, false).with_context(ctx)?);
                }
            }
            for a in &it.attachments {
                assets.push(
                    blobs
                        .add(src, a, AssetRole::Attachment, true)
                        .with_context(ctx)?,
                );
            }
            let notes = match (&it.notes, &it.notes_file) {
                (Some(_), Some(_)) => bail!("{}: give notes or notes_file, not both", ctx()),
                (Some(n), None) => Some(n.clone()),
                (None, Some(f)) => Some(
                    fs::read_to_string(manifest::resolve(src, f)?)
                        .with_context(|| format!("{}: notes_file", ctx()))?,
                ),
                (None, None) => None,
            };
            items.push(Item {
                id: it.id.clone(),
                kind: match c.kind {
                    CollectionKind::Course => ItemKind::Lesson,
                    CollectionKind::Show => ItemKind::Episode,
                },
                title: it.title.clone(),
                summary: it.summary.clone(),
                notes,
                notes_html: None,
                published_at: it
                    .published
                    .as_deref()
                    .map(parse_date)
                    .transpose()
                    .with_context(ctx)?,
                duration_ms,
                season: it.season,
                number: it.number,
                explicit: None,
                assets,
            });
        }
        items_total += items.len();
        collections.push(Collection {
            id: c.id.clone(),
            kind: c.kind,
            title: c.title.clone(),
            summary: c.summary.clone(),
            artwork,
            items,
        });
    }

    let now = opts.now.replace_nanosecond(0).unwrap_or(opts.now);
    let mut catalog = Catalog {
        format: opts.format,
        library: LibraryInfo {
            id: m.library.id.clone(),
            title: m.library.title.clone(),
            description: m.library.description.clone(),
            artwork: library_artwork,
        },
        sequence: 1,
        generated_at: now,
        expires_at: now
            + Duration::days(i64::from(
                m.library.expires_in_days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS),
            )),
        mirrors: opts.mirrors.clone(),
        collections,
    };
    validate_catalog(&catalog, &Limits::default())?;

    // Compare with what the mirror already has (our own earlier output).
    let catalog_path = opts.out.join(CATALOG_FILE);
    let previous: Option<Catalog> =
        match fs::read(&catalog_path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} exists but is not a catalog", catalog_path.display())
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
    if let Some(prev) = &previous {
        if prev.library.id != catalog.library.id {
            bail!(
                "{} holds library {:?}, not {:?}; use another --out",
                opts.out.display(),
                prev.library.id,
                catalog.library.id
            );
        }
        let same = {
            let mut a = prev.clone();
            a.sequence = 0;
            a.generated_at = now;
            a.expires_at = catalog.expires_at;
            let mut b = catalog.clone();
            b.sequence = 0;
            a == b
        };
        if same && !opts.refresh && opts.out.join(SIGNATURE_FILE).exists() {
            // A tree from before signatures/ existed gets the current one.
            let bytes = fs::read(&catalog_path)?;
            let own = opts.out.join(signature_path(&Sha256::digest(&bytes)));
            if !own.exists() {
                let sig = fs::read(opts.out.join(SIGNATURE_FILE))?;
                fs::create_dir_all(own.parent().expect("signatures/ has a parent"))?;
                write_atomic(&own, &sig)?;
            }
            let feeds = crate::feed::write_feeds(prev, &opts.out)?;
            return Ok(BuildOutcome {
                library_id: catalog.library.id,
                sequence: prev.sequence,
                changed: false,
                items: items_total,
                blobs_total: blobs.total,
                blobs_copied: blobs.copied,
                bytes_copied: blobs.bytes_copied,
                feeds,
            });
        }
        catalog.sequence = prev.sequence + 1;
    }

    let bytes = catalog.to_canonical_json();
    let trusted = format!(
        "stowaway library {} sequence {}",
        catalog.library.id, catalog.sequence
    );
    let sig = minisign::sign(
        Some(&pk),
        &sk,
        io::Cursor::new(&bytes),
        Some(&trusted),
        None,
    )?;
    publish_pair(&opts.out, &bytes, sig.into_string().as_bytes())?;
    let feeds = crate::feed::write_feeds(&catalog, &opts.out)?;
    Ok(BuildOutcome {
        library_id: catalog.library.id,
        sequence: catalog.sequence,
        changed: true,
        items: items_total,
        blobs_total: blobs.total,
        blobs_copied: blobs.copied,
        bytes_copied: blobs.bytes_copied,
        feeds,
    })
}
