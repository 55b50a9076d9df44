//! The app's own updates, from the mirrors of the member's signed libraries
//! (`updates/`, see FORMAT.md): the newest release any of them offers, and
//! its installer from whichever mirror serves one whose signature checks.
//!
//! Every mirror is asked at once, as for a catalog: a dead or black-holed
//! first mirror costs nothing while another answers (once one has, the rest
//! get [`PATIENCE`] more). A mirror is not trusted: the manifest only says
//! where to look; an installer is kept only when its minisign signature
//! checks with the app's own update key and names the version offered
//! (so an older signed installer cannot pose as a newer one), and only a
//! version newer than the running one is offered. The shell (Tauri's updater
//! plugin) checks the signature again before it installs.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use stowaway_catalog::{UpdateManifest, MAX_UPDATE_MANIFEST, UPDATE_MANIFEST};
use stowaway_mirrors::Reach;
use tracing::{debug, info, warn};

use crate::{Engine, SyncError, SyncOptions};

/// How long the other mirrors are waited for once one served a manifest.
pub const PATIENCE: Duration = Duration::from_millis(500);

/// Longest a check for an update waits for any mirror.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(15);

/// Largest installer accepted.
pub const MAX_INSTALLER: u64 = 512 << 20;

/// A release newer than the running app, offered by the mirrors.
#[derive(Clone, Debug)]
pub struct FoundUpdate {
    pub version: String,
    pub notes: Option<String>,
    pub pub_date: String,
    pub manifest: UpdateManifest,
    /// Where the installers may be: (library, mirror URL), those whose
    /// manifest offers this release (in the order they answered), then
    /// those that served an older one. A mirror that did not answer (dead,
    /// black-holed, no manifest) is not asked for an installer.
    pub sources: Vec<(String, String)>,
}

impl FoundUpdate {
    /// The manifest with each installer's URL made absolute on `mirror`
    /// (Tauri's updater wants absolute URLs).
    pub fn manifest_on(&self, mirror: &str) -> Result<String, SyncError> {
        let mut m = self.manifest.clone();
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

/// An installer whose signature checked.
#[derive(Debug)]
pub struct VerifiedInstaller {
    pub target: String,
    pub bytes: Vec<u8>,
    /// The mirror it came from.
    pub mirror: String,
    /// What the mirrors tried before it said (refused signatures among it).
    pub refused: Vec<String>,
}

/// Checks `bytes` against a manifest's `signature` (base64 of the minisign
/// signature text) with `pubkey` (base64 of the public key file's text, as
/// Tauri's updater takes it), and that the signed trusted comment names
/// `version`.
pub fn check_installer(
    bytes: &[u8],
    signature: &str,
    pubkey: &str,
    version: &str,
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
    let signed = sig
        .trusted_comment()
        .split('\t')
        .find_map(|f| f.strip_prefix("version:"));
    let same = |a: &str, b: &str| match (
        semver::Version::parse(a.trim_start_matches('v')),
        semver::Version::parse(b.trim_start_matches('v')),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    match signed {
        Some(v) if same(v, version) => Ok(()),
        Some(v) => Err(format!(
            "the installer is signed for {v}, the manifest offers {version}"
        )),
        None => Err("the signature names no version".into()),
    }
}

impl Engine {
    /// The newest app release the member's signed libraries' mirrors offer,
    /// if newer than `current`. Every mirror is asked at once; a manifest
    /// that is not one is ignored (and said in the log).
    pub async fn find_update(&self, current: &str) -> Result<Option<FoundUpdate>, SyncError> {
        let current = semver::Version::parse(current.trim_start_matches('v'))
            .map_err(|e| SyncError::Internal(format!("the running version {current}: {e}")))?;
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
        // (library, mirror, manifest) in the order they answered.
        let mut offers: Vec<(String, String, UpdateManifest)> = Vec::new();
        loop {
            tokio::select! {
                next = running.next() => match next {
                    Some((lib, url, Ok(m))) => {
                        debug!(mirror = %url, version = %m.version, "an update manifest");
                        if offers.is_empty() {
                            until = (tokio::time::Instant::now() + PATIENCE).min(deadline);
                        }
                        offers.push((lib, url, m));
                    }
                    Some((_, url, Err(e))) => debug!(mirror = %url, error = %e, "no update manifest"),
                    None => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        let Some(best) = offers
            .iter()
            .filter_map(|(_, _, m)| m.semver())
            .max()
            .filter(|v| *v > current)
        else {
            return Ok(None);
        };
        let (_, _, manifest) = offers
            .iter()
            .find(|(_, _, m)| m.semver().as_ref() == Some(&best))
            .ok_or_else(|| SyncError::Internal("the newest offer is gone".into()))?;
        let manifest = manifest.clone();
        let (newest, older): (Vec<_>, Vec<_>) = offers
            .iter()
            .partition(|(_, _, m)| m.semver().as_ref() == Some(&best));
        let sources: Vec<(String, String)> = newest
            .into_iter()
            .chain(older)
            .map(|(l, u, _)| (l.clone(), u.clone()))
            .collect();
        info!(version = %manifest.version, mirrors = sources.len(), "an app update is offered");
        Ok(Some(FoundUpdate {
            version: manifest.version.clone(),
            notes: manifest.notes.clone(),
            pub_date: manifest.pub_date.clone(),
            manifest,
            sources,
        }))
    }

    /// The installer of `update` for `target` (a key of its manifest), from
    /// the first of its sources that serves one whose signature checks with
    /// `pubkey` for the version offered. A mirror that serves another is
    /// said in `refused` and the next is asked.
    pub async fn fetch_update(
        &self,
        update: &FoundUpdate,
        target: &str,
        pubkey: &str,
    ) -> Result<VerifiedInstaller, SyncError> {
        let platform = update.manifest.platforms.get(target).ok_or_else(|| {
            SyncError::Internal(format!(
                "release {} has no {target} installer",
                update.version
            ))
        })?;
        let path = format!("updates/{}", platform.url);
        let opts = SyncOptions::default();
        let mut pools: BTreeMap<String, stowaway_mirrors::MirrorPool> = BTreeMap::new();
        let mut refused = Vec::new();
        for (lib, url) in &update.sources {
            if !pools.contains_key(lib) {
                pools.insert(lib.clone(), self.pool(lib, &opts, Reach::Any)?);
            }
            let pool = &pools[lib];
            let Some(id) = (0..pool.len()).find(|&i| pool.url(i) == url) else {
                continue;
            };
            let bytes = match pool.fetch_whole(id, &path, MAX_INSTALLER).await {
                Ok(b) => b,
                Err(e) => {
                    debug!(mirror = %url, error = %e, "no installer");
                    refused.push(format!("{url}: {e}"));
                    continue;
                }
            };
            match check_installer(&bytes, &platform.signature, pubkey, &update.version) {
                Ok(()) => {
                    info!(mirror = %url, version = %update.version, bytes = bytes.len(), "an update's installer, checked");
                    return Ok(VerifiedInstaller {
                        target: target.to_owned(),
                        bytes,
                        mirror: url.clone(),
                        refused,
                    });
                }
                Err(e) => {
                    warn!(mirror = %url, error = %e, "an update's installer refused");
                    pool.record_bad_bytes(id, &e);
                    refused.push(format!("{url}: refused: {e}"));
                }
            }
        }
        Err(SyncError::Download {
            label: format!("Stowaway {}", update.version),
            error: if refused.is_empty() {
                "no mirror has it".into()
            } else {
                refused.join("; ")
            },
        })
    }
}
