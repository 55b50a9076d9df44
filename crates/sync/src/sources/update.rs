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
use stowaway_catalog::{
    check_installer, parse_version, UpdateManifest, MAX_UPDATE_MANIFEST, UPDATE_MANIFEST,
};
use stowaway_mirrors::redacted;
use stowaway_mirrors::{MirrorPool, Reach};
use tracing::{debug, info, warn};

use crate::{Engine, SyncError, SyncOptions};

/// How long the other mirrors are waited for once one served a manifest.
pub const PATIENCE: Duration = Duration::from_millis(500);

/// Longest a look for an update waits for any mirror.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(15);

/// Largest installer accepted.
pub const MAX_INSTALLER: u64 = 256 << 20;

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
    pub fn manifest_json(&self) -> Result<serde_json::Value, SyncError> {
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
        serde_json::to_value(&m).map_err(|e| SyncError::Internal(e.to_string()))
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

/// A mirror's `updates/` folder as a URL (a pool's mirror URL ends in `/`).
fn updates_base(mirror: &str) -> Result<url::Url, SyncError> {
    url::Url::parse(mirror)
        .and_then(|base| base.join("updates/"))
        .map_err(|e| SyncError::Internal(e.to_string()))
}

/// An installer whose signature checked.
#[derive(Debug)]
pub struct VerifiedInstaller {
    pub bytes: Vec<u8>,
    /// The mirror it came from (no credentials in it).
    pub mirror: String,
    /// What the mirrors tried before it said (refused signatures among it).
    pub refused: Vec<String>,
}

/// Reads an installer from mirror `id` of `pool`: at most [`MAX_INSTALLER`]
/// bytes, with no deadline on the whole (a slow link still gets it) but the
/// body's idle timeout without a byte.
async fn read_installer(pool: &MirrorPool, id: usize, path: &str) -> Result<Vec<u8>, String> {
    let mut body = pool.open(id, path, 0).await.map_err(|e| e.to_string())?;
    body.read_all(MAX_INSTALLER)
        .await
        .map_err(|e| e.to_string())
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
                        debug!(mirror = %redacted(&url), version = %m.version, "an update manifest");
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
                    Some((_, url, Err(e))) => debug!(mirror = %redacted(&url), error = %e, "no update manifest"),
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
                    debug!(mirror = %redacted(url), error = %e, "no installer");
                    refused.push(format!("{}: {e}", redacted(url)));
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
                    info!(mirror = %redacted(url), %version, bytes = bytes.len(), "an update's installer, checked");
                    return Ok(VerifiedInstaller {
                        bytes,
                        mirror: redacted(url),
                        refused,
                    });
                }
                (Err(e), _) => {
                    warn!(mirror = %redacted(url), error = %e, "an update's installer refused");
                    // Remembered: the next sync of its library goes to it last.
                    pool.record_bad_bytes(id, &e);
                    self.save_health(lib, pool);
                    refused.push(format!("{}: refused: {e}", redacted(url)));
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
