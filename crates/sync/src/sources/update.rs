//! The app's own updates, from the mirrors of the member's signed libraries
//! (`updates/`, see FORMAT.md): the releases they offer, newer than the
//! running app, and an installer from whichever mirror serves one whose
//! signature checks.
//!
//! Every mirror is asked at once, as for a catalog: a dead or black-holed
//! first mirror costs nothing while another answers (once one has, the rest
//! get [`PATIENCE`] more). A mirror is not trusted: its manifest is one
//! offer among the others', and a hostile one (a bogus signature, a version
//! nothing has, no entry for this platform) costs its own offer only: the
//! caller tries each offer, newest first, until one's installer checks. An
//! installer is kept only when its minisign signature checks with the app's
//! own update key and its signed trusted comment names the version offered
//! and the file's name (so an older signed installer cannot pose as a newer
//! one, nor another platform's as this one's). The shell (Tauri's updater
//! plugin) checks the signature again before it installs.

use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use stowaway_catalog::{parse_version, UpdateManifest, MAX_UPDATE_MANIFEST, UPDATE_MANIFEST};
use stowaway_mirrors::{MirrorPool, Reach};
use tracing::{debug, info, warn};

use crate::{Engine, SyncError, SyncOptions};

/// How long the other mirrors are waited for once one served a manifest.
pub const PATIENCE: Duration = Duration::from_millis(500);

/// Longest a look for an update waits for any mirror.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(15);

/// Largest installer accepted.
pub const MAX_INSTALLER: u64 = 256 << 20;

/// Longest an installer's download may go without a byte.
const STALL: Duration = Duration::from_secs(30);

/// One release a mirror offers: its manifest, and the mirrors that served
/// this very manifest (in the order they answered).
#[derive(Clone, Debug)]
pub struct Offer {
    pub manifest: UpdateManifest,
    /// (library, mirror URL).
    pub mirrors: Vec<(String, String)>,
}

impl Offer {
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The manifest with each installer's URL made absolute on its first
    /// mirror (Tauri's updater wants absolute URLs; the installer is
    /// fetched by [`Engine::fetch_update`], from any mirror).
    pub fn manifest_json(&self) -> Result<String, SyncError> {
        let mut m = self.manifest.clone();
        let mirror = self
            .mirrors
            .first()
            .map(|(_, u)| u.as_str())
            .unwrap_or_default();
        let base = updates_base(mirror)?;
        for p in m.platforms.values_mut() {
            p.url = base
                .join(&p.url)
                .map_err(|e| SyncError::Internal(e.to_string()))?
                .to_string();
        }
        serde_json::to_string(&m).map_err(|e| SyncError::Internal(e.to_string()))
    }
}

/// The releases newer than the running app that the mirrors offer.
#[derive(Clone, Debug)]
pub struct FoundUpdate {
    /// Newest first; each distinct manifest once.
    pub offers: Vec<Offer>,
    /// Every mirror that answered (library, URL), in the order it did: where
    /// an installer may be besides its own offer's mirrors.
    pub answered: Vec<(String, String)>,
}

/// A mirror's `updates/` folder as a URL.
fn updates_base(mirror: &str) -> Result<url::Url, SyncError> {
    let mut base = url::Url::parse(mirror).map_err(|e| SyncError::Internal(e.to_string()))?;
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base.join("updates/")
        .map_err(|e| SyncError::Internal(e.to_string()))
}

/// A mirror's URL as it may be shown or logged: without a user name, a
/// password or a query in it.
fn shown(url: &str) -> String {
    stowaway_mirrors::redacted(url)
}

/// An installer whose signature checked.
#[derive(Debug)]
pub struct VerifiedInstaller {
    pub version: String,
    pub target: String,
    pub bytes: Vec<u8>,
    /// The mirror it came from (no credentials in it).
    pub mirror: String,
    /// What the mirrors tried before it said (refused signatures among it).
    pub refused: Vec<String>,
}

/// Checks `bytes` against a manifest's `signature` (base64 of the minisign
/// signature text) with `pubkey` (base64 of the public key file's text, as
/// Tauri's updater takes it), and that the signed trusted comment names
/// `version` and, when given, the installer's file name `file`.
pub fn check_installer(
    bytes: &[u8],
    signature: &str,
    pubkey: &str,
    version: &str,
    file: Option<&str>,
) -> Result<(), String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = |s: &str, what: &str| {
        b64.decode(s.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| format!("the {what} is not base64 text"))
    };
    let pk = minisign_verify::PublicKey::decode(&text(pubkey, "update key")?)
        .map_err(|e| format!("the app's update key: {e}"))?;
    let sig = minisign_verify::Signature::decode(&text(signature, "signature")?)
        .map_err(|e| format!("the signature: {e}"))?;
    pk.verify(bytes, &sig, true)
        .map_err(|e| format!("the signature does not check: {e}"))?;
    let field = |name: &str| {
        sig.trusted_comment()
            .split('\t')
            .find_map(|f| f.strip_prefix(name))
            .map(str::to_owned)
    };
    let same = |a: &str, b: &str| match (parse_version(a), parse_version(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    };
    match field("version:") {
        Some(v) if same(&v, version) => {}
        Some(v) => {
            return Err(format!(
                "the installer is signed for {v}, the manifest offers {version}"
            ))
        }
        None => return Err("the signature names no version".into()),
    }
    match (file, field("file:")) {
        (Some(want), Some(got)) if want != got => Err(format!(
            "the signature is for {got}, the manifest names {want}"
        )),
        _ => Ok(()),
    }
}

/// Reads an installer from mirror `id` of `pool`: at most [`MAX_INSTALLER`]
/// bytes, with no deadline on the whole (a slow link still gets it) but
/// none of [`STALL`] without a byte.
async fn read_installer(pool: &MirrorPool, id: usize, path: &str) -> Result<Vec<u8>, String> {
    let mut body = pool.open(id, path, 0).await.map_err(|e| e.to_string())?;
    if body.remaining.is_some_and(|n| n > MAX_INSTALLER) {
        return Err(format!("larger than {MAX_INSTALLER} bytes"));
    }
    let mut bytes = Vec::with_capacity(body.remaining.unwrap_or(0) as usize);
    loop {
        match tokio::time::timeout(STALL, body.next_chunk()).await {
            Err(_) => return Err(format!("no byte for {} s", STALL.as_secs())),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(c))) => {
                if bytes.len() as u64 + c.len() as u64 > MAX_INSTALLER {
                    return Err(format!("larger than {MAX_INSTALLER} bytes"));
                }
                bytes.extend_from_slice(&c);
            }
        }
    }
    if body.remaining.is_some_and(|n| n > 0) {
        return Err("the body ended before its announced length".into());
    }
    Ok(bytes)
}

impl Engine {
    /// The releases newer than `current` that the member's signed
    /// libraries' mirrors offer, newest first. Every mirror is asked at
    /// once; a manifest that is not one is ignored (and said in the log).
    pub async fn find_update(&self, current: &str) -> Result<Option<FoundUpdate>, SyncError> {
        let current = parse_version(current).ok_or_else(|| {
            SyncError::Internal(format!("the running version {current} is not semver"))
        })?;
        let opts = SyncOptions::default();
        let mut pools = Vec::new();
        for lib in self.store().libraries()? {
            if self.store().feed(&lib.id)?.is_some() {
                continue; // a feed's hosts are not ours
            }
            pools.push((lib.id.clone(), self.pool(&lib.id, &opts, Reach::Any)?));
        }
        let mut running = FuturesUnordered::new();
        for (lib, pool) in &pools {
            for id in 0..pool.len() {
                let url = pool.url(id).to_owned();
                running.push(async move {
                    let r = pool
                        .fetch_whole(id, UPDATE_MANIFEST, MAX_UPDATE_MANIFEST)
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|b| UpdateManifest::parse(&b).map_err(|e| e.to_string()));
                    (lib.clone(), url, r)
                });
            }
        }
        if running.is_empty() {
            return Ok(None);
        }
        let deadline = tokio::time::Instant::now() + CHECK_DEADLINE;
        let mut until = deadline;
        let mut answered: Vec<(String, String)> = Vec::new();
        let mut offers: Vec<Offer> = Vec::new();
        loop {
            tokio::select! {
                next = running.next() => match next {
                    Some((lib, url, Ok(m))) => {
                        debug!(mirror = %shown(&url), version = %m.version, "an update manifest");
                        if answered.is_empty() {
                            until = (tokio::time::Instant::now() + PATIENCE).min(deadline);
                        }
                        answered.push((lib.clone(), url.clone()));
                        if m.semver().is_none_or(|v| v <= current) {
                            continue;
                        }
                        match offers.iter_mut().find(|o| o.manifest == m) {
                            Some(o) => o.mirrors.push((lib, url)),
                            None => offers.push(Offer { manifest: m, mirrors: vec![(lib, url)] }),
                        }
                    }
                    Some((_, url, Err(e))) => debug!(mirror = %shown(&url), error = %e, "no update manifest"),
                    None => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        if offers.is_empty() {
            return Ok(None);
        }
        // Newest first; among equals, the one more mirrors serve first.
        offers.sort_by(|a, b| {
            b.manifest
                .semver()
                .cmp(&a.manifest.semver())
                .then(b.mirrors.len().cmp(&a.mirrors.len()))
        });
        info!(
            version = %offers[0].version(),
            offers = offers.len(),
            mirrors = answered.len(),
            "an app update is offered"
        );
        Ok(Some(FoundUpdate { offers, answered }))
    }

    /// The installer of `offer` for `target` (a key of its manifest), from
    /// the first mirror that serves one whose signature checks with
    /// `pubkey` for the version offered: the offer's own mirrors first,
    /// then the others that answered. A mirror that serves another is said
    /// in `refused` and the next is asked.
    pub async fn fetch_update(
        &self,
        found: &FoundUpdate,
        offer: &Offer,
        target: &str,
        pubkey: &str,
    ) -> Result<VerifiedInstaller, SyncError> {
        let version = offer.version().to_owned();
        let platform = offer.manifest.platforms.get(target).ok_or_else(|| {
            SyncError::Internal(format!("release {version} has no {target} installer"))
        })?;
        let file = platform.url.rsplit('/').next().map(str::to_owned);
        let path = format!("updates/{}", platform.url);
        let opts = SyncOptions::default();
        let mut pools: std::collections::BTreeMap<String, MirrorPool> = Default::default();
        let mut refused = Vec::new();
        let mut sources: Vec<&(String, String)> = offer.mirrors.iter().collect();
        for a in &found.answered {
            if !sources.iter().any(|s| s.1 == a.1) {
                sources.push(a);
            }
        }
        for (lib, url) in sources {
            if !pools.contains_key(lib) {
                pools.insert(lib.clone(), self.pool(lib, &opts, Reach::Any)?);
            }
            let pool = &pools[lib];
            let Some(id) = (0..pool.len()).find(|&i| pool.url(i) == url) else {
                continue;
            };
            let bytes = match read_installer(pool, id, &path).await {
                Ok(b) => b,
                Err(e) => {
                    debug!(mirror = %shown(url), error = %e, "no installer");
                    refused.push(format!("{}: {e}", shown(url)));
                    continue;
                }
            };
            // Hashing a large file: off the async workers.
            let checked = {
                let (signature, pubkey, version, file) = (
                    platform.signature.clone(),
                    pubkey.to_owned(),
                    version.clone(),
                    file.clone(),
                );
                tokio::task::spawn_blocking(move || {
                    let r = check_installer(&bytes, &signature, &pubkey, &version, file.as_deref());
                    (r, bytes)
                })
                .await
                .map_err(|e| SyncError::Internal(e.to_string()))?
            };
            match checked {
                (Ok(()), bytes) => {
                    info!(mirror = %shown(url), %version, bytes = bytes.len(), "an update's installer, checked");
                    return Ok(VerifiedInstaller {
                        version,
                        target: target.to_owned(),
                        bytes,
                        mirror: shown(url),
                        refused,
                    });
                }
                (Err(e), _) => {
                    warn!(mirror = %shown(url), error = %e, "an update's installer refused");
                    pool.record_bad_bytes(id, &e);
                    refused.push(format!("{}: refused: {e}", shown(url)));
                }
            }
        }
        Err(SyncError::Download {
            label: format!("Stowaway {version}"),
            error: if refused.is_empty() {
                "no mirror has it".into()
            } else {
                refused.join("; ")
            },
        })
    }
}
