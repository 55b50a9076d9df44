//! What the shell holds: the engine, the media server, and sync status.

use std::sync::Mutex;

use anyhow::Result;
use serde::Serialize;
use stowaway_media::MediaServer;
use stowaway_sync::{Engine, SyncOptions};
use tauri::{AppHandle, Emitter};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

/// The outcome of the last sync, for the banner.
#[derive(Clone, Debug, Default, Serialize, TS)]
#[ts(export)]
pub struct SyncStatus {
    pub running: bool,
    /// Unix seconds of the last sync that reached a mirror.
    #[ts(type = "number | null")]
    pub last_ok_at: Option<i64>,
    /// No mirror answered the last sync: we are playing from the cache.
    pub offline: bool,
    pub last_error: Option<String>,
    pub last_mirror: Option<String>,
}

pub struct AppState {
    pub engine: Engine,
    pub media: MediaServer,
    pub status: Mutex<SyncStatus>,
    sync_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn new(engine: Engine, media: MediaServer) -> AppState {
        AppState {
            engine,
            media,
            status: Mutex::new(SyncStatus::default()),
            sync_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_status(&self, f: impl FnOnce(&mut SyncStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Subscribes from a file path or a URL of a `.stowaway` file.
    pub async fn subscribe(&self, source: &str) -> Result<String> {
        let sub = self.engine.read_subscription(source).await?;
        self.engine.subscribe(&sub)?;
        Ok(sub.library)
    }

    /// One sync of everything; updates the status and tells the page.
    pub async fn sync(&self, app: &AppHandle) {
        let Ok(_guard) = self.sync_lock.try_lock() else {
            return; // one at a time
        };
        self.set_status(|s| s.running = true);
        let _ = app.emit("sync-status", self.status());
        let result = self
            .engine
            .sync(&SyncOptions::default(), &CancellationToken::new())
            .await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.set_status(|s| {
            s.running = false;
            match &result {
                Ok(report) => {
                    let reached = report.libraries.iter().any(|l| l.catalog.is_some());
                    s.offline = !report.libraries.is_empty() && !reached;
                    if reached {
                        s.last_ok_at = Some(now);
                        s.last_mirror = report
                            .libraries
                            .iter()
                            .find_map(|l| l.catalog_mirror.clone());
                    }
                    s.last_error = report.libraries.iter().find_map(|l| {
                        l.catalog_error
                            .clone()
                            .or_else(|| l.failed.first().map(|f| f.1.clone()))
                    });
                }
                Err(e) => s.last_error = Some(e.to_string()),
            }
        });
        let _ = app.emit("sync-status", self.status());
    }
}
