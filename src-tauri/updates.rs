//! The app's own updates: found on the member's libraries' mirrors by the
//! engine (`Engine::find_update`, every mirror at once), the installer
//! downloaded from whichever mirror serves one whose signature checks
//! (`Engine::fetch_update`), then held until the member restarts. Tauri's
//! updater plugin checks the signature once more and installs it (on Linux:
//! `dpkg -i` or `rpm -U` through pkexec); the app then starts again.
//!
//! The update key is the app's own (`plugins.updater.pubkey` in
//! tauri.conf.json, empty in the repository and set by the release workflow
//! from its STOWAWAY_UPDATE_PUBKEY secret): a library's publisher cannot ship
//! the app. A build without one never looks for updates.
//!
//! The member is never updated in the middle of playback or a download:
//! the page asks only when nothing plays, and the shell refuses while a
//! sync or a download runs.

use std::sync::Mutex;
use std::time::Duration;

use stowaway_api::{ApiError, ApiResult, ErrorCode, UpdateView};
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_updater::UpdaterExt;

/// Between two looks for an update (the first is a few seconds after
/// start-up: see [`run`]).
pub const EVERY: Duration = Duration::from_secs(6 * 3600);

/// An installer downloaded and checked, waiting for the member.
struct Ready {
    view: UpdateView,
    update: tauri_plugin_updater::Update,
    bytes: Vec<u8>,
}

#[derive(Default)]
pub struct Updates {
    ready: Mutex<Option<Ready>>,
    /// One look at a time.
    busy: tokio::sync::Mutex<()>,
}

/// The app's update key (base64 of the minisign public key file), if this
/// build has one.
fn pubkey(app: &AppHandle) -> Option<String> {
    app.config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("pubkey"))
        .and_then(|k| k.as_str())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

impl Updates {
    /// The update waiting for the member, if any.
    pub fn view(&self) -> Option<UpdateView> {
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| r.view.clone())
    }

    /// Looks for a newer release on the mirrors; downloads and checks its
    /// installer, and tells the page and the desktop it is ready. Errors
    /// are logged (a look that fails is tried again at the next).
    pub async fn look(&self, app: &AppHandle) {
        let Some(pubkey) = pubkey(app) else {
            tracing::debug!("this build has no update key: no updates");
            return;
        };
        let Ok(_one) = self.busy.try_lock() else {
            return;
        };
        let current = app.package_info().version.to_string();
        match self.find(app, &pubkey, &current).await {
            Ok(Some(view)) => {
                tracing::info!(version = %view.version, mirror = %view.mirror, "an update is ready");
                let _ = app.emit("update-ready", &view);
                crate::notify(
                    app,
                    &format!("Stowaway {} is ready", view.version),
                    "Restart Stowaway to update.",
                );
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for an update failed"),
        }
    }

    async fn find(
        &self,
        app: &AppHandle,
        pubkey: &str,
        current: &str,
    ) -> anyhow::Result<Option<UpdateView>> {
        let engine = crate::state::get(app).engine().clone();
        let Some(found) = engine.find_update(current).await? else {
            return Ok(None);
        };
        // The plugin picks this build's entry (deb, rpm, msi, nsis, app…);
        // its builder wants an endpoint it never uses here (the manifests
        // came from the mirrors).
        let updater = app
            .updater_builder()
            .pubkey(pubkey)
            .endpoints(vec![url::Url::parse(
                "https://updates.invalid/latest.json",
            )?])?
            .build()?;
        // Each offer in turn, newest first: a mirror's bogus offer (a
        // version nothing has, a signature that fails, no entry for this
        // build) costs its own offer only.
        let mut errors = Vec::new();
        for offer in &found.offers {
            if self.view().is_some_and(|v| v.version == offer.version()) {
                return Ok(None); // already here
            }
            match self
                .take_offer(&engine, &updater, &found, offer, pubkey, current)
                .await
            {
                Ok(Some(view)) => return Ok(Some(view)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(version = %offer.version(), error = %e, "an update offer failed");
                    errors.push(format!("{}: {e}", offer.version()));
                }
            }
        }
        if errors.is_empty() {
            Ok(None)
        } else {
            Err(anyhow::anyhow!(errors.join("; ")))
        }
    }

    /// One offer: its entry for this build, its installer from a mirror
    /// whose copy checks, checked again by the plugin; then ready.
    async fn take_offer(
        &self,
        engine: &stowaway_sync::Engine,
        updater: &tauri_plugin_updater::Updater,
        found: &stowaway_sync::FoundUpdate,
        offer: &stowaway_sync::Offer,
        pubkey: &str,
        current: &str,
    ) -> anyhow::Result<Option<UpdateView>> {
        let manifest = offer.manifest_json()?;
        let Some(update) = updater.restore_update(manifest.clone())? else {
            return Ok(None); // not newer, as the plugin compares
        };
        // The entry the plugin chose: the one whose address it took.
        let target = manifest["platforms"]
            .as_object()
            .and_then(|p| {
                p.iter()
                    .find(|(_, v)| v["url"].as_str() == Some(update.download_url.as_str()))
            })
            .map(|(k, _)| k.clone())
            .ok_or_else(|| anyhow::anyhow!("the updater chose no entry of the manifest"))?;
        let installer = engine.fetch_update(found, offer, &target, pubkey).await?;
        for r in &installer.refused {
            tracing::warn!(refused = %r, "an update's installer was refused");
        }
        // The plugin's own check, with its own reading of the manifest (off
        // the async workers: it hashes the whole file).
        let (update, bytes) = tauri::async_runtime::spawn_blocking(move || {
            let bytes = installer.bytes;
            update.verify(&bytes).map(|()| (update, bytes))
        })
        .await??;
        let view = UpdateView {
            version: offer.version().to_owned(),
            current: current.to_owned(),
            notes: offer.manifest.notes.clone(),
            mirror: installer.mirror.clone(),
        };
        *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(Ready {
            view: view.clone(),
            update,
            bytes,
        });
        Ok(Some(view))
    }

    /// Installs the update waiting and starts the app again. Refused while
    /// something plays (`playing`, as the page says) or a sync or download
    /// runs; the update stays ready.
    pub async fn install(&self, app: &AppHandle, playing: bool) -> ApiResult<()> {
        let busy = |why: &str| {
            ApiError::new(
                ErrorCode::Busy,
                format!("Stowaway updates once {why}: the update stays ready"),
            )
        };
        if playing {
            return Err(busy("nothing plays"));
        }
        if crate::state::get(app).status().running {
            return Err(busy("the sync and its downloads end"));
        }
        let Some(ready) = self.ready.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Err(ApiError::new(ErrorCode::NotFound, "no update is ready"));
        };
        let version = ready.view.version.clone();
        let installed = tauri::async_runtime::spawn_blocking(move || {
            let r = ready.update.install(&ready.bytes);
            (r, ready)
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        match installed {
            (Ok(()), _) => {
                tracing::info!(%version, "update installed; starting again");
                app.restart();
            }
            (Err(e), ready) => {
                tracing::warn!(error = %e, "installing the update failed");
                // Still ready: the member may try again.
                *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(ready);
                Err(ApiError::new(
                    ErrorCode::Internal,
                    format!("installing Stowaway {version} failed: {e}"),
                ))
            }
        }
    }
}

/// The looks: a few seconds after start-up (its first sync under way),
/// then every [`EVERY`].
pub async fn run(app: AppHandle) {
    if pubkey(&app).is_none() {
        tracing::debug!("this build has no update key: no updates");
        return;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    loop {
        app.state::<Updates>().look(&app).await;
        tokio::time::sleep(EVERY).await;
    }
}
