//! One sync of everything, folded into the status the banner and the tray
//! show, and the news it brought.

use serde::Serialize;
use stowaway_store::ItemKey;
use stowaway_sync::{SyncOptions, SyncReport};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::Api;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct NewItems {
    pub library: String,
    pub library_title: String,
    /// At most [`NEWS_TITLES`] of them.
    pub titles: Vec<String>,
    pub count: u32,
}

/// Titles one piece of news names at most.
pub const NEWS_TITLES: usize = 20;

impl NewItems {
    /// The notification: a title and a body of at most three item titles.
    pub fn notification(&self) -> (String, String) {
        let n = self.count as usize;
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

/// What [`Api::sync`] did: None when another sync of this app was running.
#[derive(Clone, Debug)]
pub struct Synced {
    pub status: SyncStatus,
    pub news: Vec<NewItems>,
}

impl Api {
    pub fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_status(&self, f: impl FnOnce(&mut SyncStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// One sync of everything, one at a time: `started` is called with the
    /// running status once it has begun. None: one was already running.
    pub async fn sync(&self, started: impl FnOnce(&SyncStatus)) -> Option<Synced> {
        let _guard = self.sync_lock.try_lock().ok()?;
        self.set_status(|s| s.running = true);
        started(&self.status());
        let result = self
            .engine
            .sync(&SyncOptions::default(), &CancellationToken::new())
            .await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let paused = self.engine.store().downloads_paused().ok();
        self.set_status(|s| {
            s.running = false;
            s.paused = paused.unwrap_or(s.paused);
            match &result {
                Ok(report) => fold(s, report, now),
                Err(e) => s.last_error = Some(e.to_string()),
            }
        });
        let news = match &result {
            Ok(report) => self.news(report),
            Err(_) => Vec::new(),
        };
        Some(Synced {
            status: self.status(),
            news,
        })
    }

    /// A piece of news per library that got new items. The first catalog of
    /// a library is not news.
    fn news(&self, report: &SyncReport) -> Vec<NewItems> {
        let store = self.engine.store();
        let mut out = Vec::new();
        for l in &report.libraries {
            let Some(c) = &l.catalog else { continue };
            if c.unchanged || c.previous_sequence.is_none() || c.diff.added.is_empty() {
                continue;
            }
            let titles = c
                .diff
                .added
                .iter()
                .take(NEWS_TITLES)
                .filter_map(|(col, item)| {
                    let key = ItemKey {
                        library: &l.library,
                        collection: col,
                        item,
                    };
                    store.item_text(key).ok().flatten().map(|t| t.title)
                })
                .collect();
            let library_title = store
                .library(&l.library)
                .map(|r| r.title)
                .unwrap_or_else(|_| l.library.clone());
            out.push(NewItems {
                library: l.library.clone(),
                library_title,
                titles,
                count: c.diff.added.len() as u32,
            });
        }
        out
    }
}

/// The banner's view of one sync's report.
fn fold(s: &mut SyncStatus, report: &SyncReport, now: i64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_text() {
        let n = |titles: &[&str], count: u32| NewItems {
            library: "acme".into(),
            library_title: "Acme Coaching".into(),
            titles: titles.iter().map(|s| s.to_string()).collect(),
            count,
        };
        assert_eq!(
            n(&["Episode 3"], 1).notification(),
            ("New in Acme Coaching".into(), "Episode 3".into())
        );
        assert_eq!(
            n(&["a", "b", "c", "d", "e"], 40).notification(),
            (
                "40 new in Acme Coaching".into(),
                "a\nb\nc\nand 37 more".into()
            )
        );
    }
}
