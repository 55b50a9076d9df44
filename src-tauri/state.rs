//! What the shell holds: the shared use cases ([`Api`]), the media server,
//! links waiting for the member's confirmation, and the wake-up for the
//! background sync. The use cases themselves live in `stowaway-api`; this
//! adds only what is the desktop's: events to the page, the tray, the
//! notifications.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use stowaway_api::{Api, ApiResult, AppSettings, SyncStatus, UnsubscribedView};
use stowaway_media::MediaServer;
use stowaway_sync::Engine;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::Notify;

pub struct AppState {
    pub api: Api,
    pub media: MediaServer,
    /// Wakes the background sync loop at once.
    pub wake: Notify,
    /// Links and files handed over by the desktop, until the page takes them.
    pub pending_links: Mutex<Vec<String>>,
    /// The "still running in the tray" notice was shown.
    pub told_about_tray: AtomicBool,
}

impl AppState {
    pub fn new(api: Api, media: MediaServer) -> AppState {
        AppState {
            api,
            media,
            wake: Notify::new(),
            pending_links: Mutex::new(Vec::new()),
            told_about_tray: AtomicBool::new(false),
        }
    }

    pub fn engine(&self) -> &Engine {
        self.api.engine()
    }

    pub fn status(&self) -> SyncStatus {
        self.api.status()
    }

    /// Hands the page links to confirm (now if it listens, else when it asks).
    pub fn offer_links(&self, app: &AppHandle, sources: Vec<String>) {
        if sources.is_empty() {
            return;
        }
        {
            let mut pending = self.pending_links.lock().unwrap_or_else(|p| p.into_inner());
            for s in sources {
                if !pending.contains(&s) {
                    pending.push(s);
                }
            }
        }
        crate::show_main_window(app);
        let _ = app.emit("links-pending", ());
    }

    pub fn take_links(&self) -> Vec<String> {
        std::mem::take(&mut self.pending_links.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Loads the tokens of private libraries into the engine (a keyring that
    /// cannot be read is logged: public libraries still sync).
    pub async fn load_tokens(&self) {
        if let Err(e) = self.api.load_tokens().await {
            tracing::warn!(error = %e, "cannot load the access tokens");
        }
    }

    /// Subscribes from a file path or a URL of a `.stowaway` file without
    /// asking (the demo's and the tests' STOWAWAY_SUBSCRIBE).
    pub async fn subscribe(&self, source: &str) -> ApiResult<String> {
        let sub = self.engine().read_subscription(source).await?;
        Ok(self.api.subscribe_library(&sub, &[]).await?.library)
    }

    /// Removes a library the member confirmed removing; the page and the
    /// tray are told.
    pub async fn unsubscribe(&self, app: &AppHandle, library: &str) -> ApiResult<UnsubscribedView> {
        let gone = self.api.unsubscribe(library).await?;
        self.publish_status(app);
        Ok(gone)
    }

    /// Tells the page and the tray the sync status.
    pub fn publish_status(&self, app: &AppHandle) {
        let status = self.status();
        let _ = app.emit("sync-status", &status);
        crate::tray::update(app, &status);
    }

    /// One sync of everything; updates the status, the tray and the page,
    /// and announces new items.
    pub async fn sync(&self, app: &AppHandle) {
        let Some(done) = self
            .api
            .sync(|running| {
                let _ = app.emit("sync-status", running);
                crate::tray::update(app, running);
            })
            .await
        else {
            return; // one at a time
        };
        let _ = app.emit("sync-status", &done.status);
        crate::tray::update(app, &done.status);
        let notify = self
            .api
            .settings()
            .map(|s| s.notify_new_items)
            .unwrap_or(true);
        for news in &done.news {
            let _ = app.emit("new-items", news);
            if notify {
                let (title, body) = news.notification();
                crate::notify(app, &title, &body);
            }
        }
    }

    /// Pauses or resumes downloads, everywhere it shows.
    pub fn set_paused(&self, app: &AppHandle, paused: bool) -> ApiResult<()> {
        self.api.set_downloads_paused(paused)?;
        self.publish_status(app);
        if !paused {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The stored settings (start at login is the OS's, filled in by the caller).
    pub fn settings(&self) -> AppSettings {
        self.api.settings().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the settings");
            AppSettings::default()
        })
    }

    /// Whether the member was told that closing keeps Stowaway in the tray;
    /// marks it told.
    pub fn first_hide(&self) -> bool {
        !self.told_about_tray.swap(true, Ordering::Relaxed)
    }
}

/// The state of the running app (for handlers that get only the handle).
pub fn get(app: &AppHandle) -> tauri::State<'_, AppState> {
    app.state::<AppState>()
}
