//! What the shell holds: the engine, the media server, sync status, links
//! waiting for the member's confirmation, and the wake-up for the
//! background sync.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::Result;
use serde::Serialize;
use stowaway_catalog::Subscription;
use stowaway_media::MediaServer;
use stowaway_mirrors::AccessToken;
use stowaway_store::ItemKey;
use stowaway_sync::{Engine, FetchedFeed, SyncOptions, SyncReport};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::settings::AppSettings;

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
    /// Private libraries whose mirrors want (another) access token.
    pub needs_token: Vec<String>,
    /// Downloads are paused by the member.
    pub paused: bool,
}

/// New items one sync brought, for a notification and the page.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct NewItems {
    pub library: String,
    pub library_title: String,
    pub titles: Vec<String>,
}

impl NewItems {
    /// The notification: a title and a body of at most three item titles.
    pub fn notification(&self) -> (String, String) {
        let n = self.titles.len();
        let title = if n == 1 {
            format!("New in {}", self.library_title)
        } else {
            format!("{n} new in {}", self.library_title)
        };
        let mut body: Vec<String> = self.titles.iter().take(3).cloned().collect();
        if n > 3 {
            body.push(format!("and {} more", n - 3));
        }
        (title, body.join("\n"))
    }
}

/// Whether a private library's token could be kept in the OS keyring.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct TokenSaved {
    pub in_keyring: bool,
    pub warning: Option<String>,
}

/// What a source turned out to offer, kept between the preview and the
/// member's confirmation (so that what is subscribed is what was shown).
pub enum Offer {
    Library(Subscription),
    Feed(Box<FetchedFeed>),
}

pub struct AppState {
    pub engine: Engine,
    pub media: MediaServer,
    pub status: Mutex<SyncStatus>,
    /// Wakes the background sync loop at once.
    pub wake: Notify,
    /// Links and files handed over by the desktop, until the page takes them.
    pub pending_links: Mutex<Vec<String>>,
    /// The "still running in the tray" notice was shown.
    pub told_about_tray: AtomicBool,
    /// Subscriptions and feeds shown to the member, by source, until confirmed.
    previews: Mutex<HashMap<String, Offer>>,
    sync_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn new(engine: Engine, media: MediaServer) -> AppState {
        let paused = engine.store().downloads_paused().unwrap_or(false);
        AppState {
            engine,
            media,
            status: Mutex::new(SyncStatus {
                paused,
                ..SyncStatus::default()
            }),
            wake: Notify::new(),
            pending_links: Mutex::new(Vec::new()),
            told_about_tray: AtomicBool::new(false),
            previews: Mutex::new(HashMap::new()),
            sync_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_status(&self, f: impl FnOnce(&mut SyncStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
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

    /// Loads the tokens of private libraries from the OS keyring (or the
    /// environment) into the engine.
    pub async fn load_tokens(&self) {
        let Ok(libs) = self.engine.store().libraries() else {
            return;
        };
        let ids: Vec<String> = libs.iter().map(|l| l.id.clone()).collect();
        for lib in libs.into_iter().filter(|l| l.private) {
            let (id, all) = (lib.id.clone(), ids.clone());
            match tokio::task::spawn_blocking(move || stowaway_secrets::load(&id, &all)).await {
                Ok(Ok(Some(t))) => self.engine.set_access_token(&lib.id, Some(t)),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(library = %lib.id, error = %e, "cannot read the access token")
                }
                Err(e) => tracing::warn!(error = %e, "token loader failed"),
            }
        }
    }

    /// Keeps a private library's token: in the OS keyring if there is one,
    /// else for this session only (and says so).
    /// `shown`: the library's mirrors as the page showed them with the
    /// question: the token goes to those.
    pub async fn set_token(
        &self,
        library: &str,
        token: &str,
        shown: &[String],
    ) -> Result<TokenSaved> {
        self.engine.store().library(library)?;
        let t = AccessToken::new(token)?;
        let (lib, t2) = (library.to_owned(), t.clone());
        let kept = tokio::task::spawn_blocking(move || stowaway_secrets::store(&lib, &t2)).await?;
        self.engine.set_access_token(library, Some(t));
        self.engine.confirm_token_mirrors(library, shown)?;
        self.set_status(|s| s.needs_token.retain(|l| l != library));
        Ok(match kept {
            Ok(()) => TokenSaved {
                in_keyring: true,
                warning: None,
            },
            Err(e) => TokenSaved {
                in_keyring: false,
                warning: Some(format!("{e}. The token is kept only until Stowaway quits.")),
            },
        })
    }

    pub fn remember_preview(&self, source: &str, offer: Offer) {
        let mut p = self.previews.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() > 32 {
            p.clear(); // previews nobody confirmed
        }
        p.insert(source.to_owned(), offer);
    }

    pub fn take_preview(&self, source: &str) -> Option<Offer> {
        self.previews
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(source)
    }

    /// Subscribes from a file path or a URL of a `.stowaway` file without
    /// asking (the demo's and the tests' STOWAWAY_SUBSCRIBE).
    pub async fn subscribe(&self, source: &str) -> Result<String> {
        let sub = self.engine.read_subscription(source).await?;
        self.subscribe_confirmed(&sub).await
    }

    /// Records a subscription the member confirmed. New mirrors for a
    /// private library drop its token (here and in the keyring): the
    /// member is asked for it again.
    pub async fn subscribe_confirmed(&self, sub: &Subscription) -> Result<String> {
        let outcome = self.engine.subscribe(sub)?;
        let library = sub.library.clone();
        if outcome.token_dropped {
            let lib = library.clone();
            let _ = tokio::task::spawn_blocking(move || stowaway_secrets::forget(&lib)).await;
            self.set_status(|s| {
                if !s.needs_token.contains(&library) {
                    s.needs_token.push(library.clone());
                }
            });
        } else {
            // A private library whose token the keyring already holds.
            self.load_tokens().await;
        }
        Ok(library)
    }

    /// Removes a library (after the member confirmed it in the page): the
    /// engine's rows and files, its token in the keyring; the page and the
    /// tray are told.
    pub async fn unsubscribe(
        &self,
        app: &AppHandle,
        library: &str,
    ) -> Result<stowaway_store::Unsubscribed> {
        let private = self.engine.store().library(library)?.private;
        let engine = self.engine.clone();
        let lib = library.to_owned();
        let gone = tokio::task::spawn_blocking(move || engine.unsubscribe(&lib)).await??;
        if private {
            let lib = library.to_owned();
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || stowaway_secrets::forget(&lib)).await
            {
                tracing::warn!(library, error = %e, "cannot remove the token from the keyring");
            }
        }
        self.set_status(|s| s.needs_token.retain(|l| l != library));
        let status = self.status();
        let _ = app.emit("sync-status", &status);
        crate::tray::update(app, &status);
        Ok(gone)
    }

    /// One sync of everything; updates the status, the tray and the page,
    /// and announces new items.
    pub async fn sync(&self, app: &AppHandle) {
        let Ok(_guard) = self.sync_lock.try_lock() else {
            return; // one at a time
        };
        self.set_status(|s| s.running = true);
        let _ = app.emit("sync-status", self.status());
        crate::tray::update(app, &self.status());
        let result = self
            .engine
            .sync(&SyncOptions::default(), &CancellationToken::new())
            .await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.set_status(|s| {
            s.running = false;
            s.paused = self.engine.store().downloads_paused().unwrap_or(s.paused);
            match &result {
                Ok(report) => {
                    let reached = report.libraries.iter().any(|l| l.catalog.is_some());
                    let refused = report.libraries.iter().any(|l| l.needs_token);
                    s.offline = !report.libraries.is_empty() && !reached && !refused;
                    if reached {
                        s.last_ok_at = Some(now);
                        s.last_mirror = report
                            .libraries
                            .iter()
                            .find_map(|l| l.catalog_mirror.clone());
                    }
                    s.needs_token = report
                        .libraries
                        .iter()
                        .filter(|l| l.needs_token)
                        .map(|l| l.library.clone())
                        .collect();
                    s.last_error = report.libraries.iter().find_map(|l| {
                        l.catalog_error
                            .clone()
                            .or_else(|| l.failed.first().map(|f| f.1.clone()))
                    });
                }
                Err(e) => s.last_error = Some(e.to_string()),
            }
        });
        let status = self.status();
        let _ = app.emit("sync-status", &status);
        crate::tray::update(app, &status);
        if let Ok(report) = &result {
            self.announce(app, report);
        }
    }

    /// A notification (if the member wants them) and a page event per
    /// library that got new items. The first catalog of a library is not news.
    fn announce(&self, app: &AppHandle, report: &SyncReport) {
        let store = self.engine.store();
        let notify = AppSettings::load(store)
            .map(|s| s.notify_new_items)
            .unwrap_or(true);
        for l in &report.libraries {
            let Some(c) = &l.catalog else { continue };
            if c.unchanged || c.previous_sequence.is_none() || c.diff.added.is_empty() {
                continue;
            }
            let titles = c
                .diff
                .added
                .iter()
                .filter_map(|(col, item)| {
                    store
                        .item_text(ItemKey {
                            library: &l.library,
                            collection: col,
                            item,
                        })
                        .ok()
                        .flatten()
                        .map(|t| t.title)
                })
                .collect();
            let library_title = store
                .library(&l.library)
                .map(|r| r.title)
                .unwrap_or_else(|_| l.library.clone());
            let news = NewItems {
                library: l.library.clone(),
                library_title,
                titles,
            };
            let _ = app.emit("new-items", &news);
            if notify {
                let (title, body) = news.notification();
                crate::notify(app, &title, &body);
            }
        }
    }

    /// Pauses or resumes downloads, everywhere it shows.
    pub fn set_paused(&self, app: &AppHandle, paused: bool) -> Result<()> {
        self.engine.set_downloads_paused(paused)?;
        self.set_status(|s| s.paused = paused);
        let status = self.status();
        let _ = app.emit("sync-status", &status);
        crate::tray::update(app, &status);
        if !paused {
            self.wake.notify_one();
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_text() {
        let n = |titles: &[&str]| NewItems {
            library: "acme".into(),
            library_title: "Acme Coaching".into(),
            titles: titles.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            n(&["Episode 3"]).notification(),
            ("New in Acme Coaching".into(), "Episode 3".into())
        );
        assert_eq!(
            n(&["a", "b", "c", "d", "e"]).notification(),
            (
                "5 new in Acme Coaching".into(),
                "a\nb\nc\nand 2 more".into()
            )
        );
    }
}
