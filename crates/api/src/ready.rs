//! Ready for the trip: one answer to "is everything I keep offline on this
//! laptop, whole and playable?". Pins ("keep for the trip") and the check:
//! every pinned item and every item the rules keep, with each file it uses
//! and the artwork, is stored, and every stored byte is hashed again now
//! (on two threads, as fast as `sha256sum` or faster: BENCHMARKS.md). A file
//! found damaged or gone leaves the index under the sync lock, so the next
//! sync fetches it again; with a sync running it is reported only.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use stowaway_store::{self as store, Reverified};
use ts_rs::TS;

use crate::{Api, ApiResult};

/// Missing items the answer lists at most (the count says how many in all).
pub const MISSING_SHOWN: usize = 200;

/// An item kept offline whose files are not all here.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct MissingItem {
    pub library_id: String,
    pub collection_id: String,
    pub item_id: String,
    pub title: String,
    #[ts(type = "number")]
    pub bytes_missing: u64,
}

/// The answer for a scope (a library, a collection, or everything).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ReadyView {
    pub ready: bool,
    /// The one line: "Ready: 14 lessons, 3.2 GB, verified just now." or
    /// what is missing and how long fetching it would take.
    pub summary: String,
    #[ts(type = "number")]
    pub lessons: u64,
    #[ts(type = "number")]
    pub episodes: u64,
    /// Every file kept offline (once, even when items share it).
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Hashed again by this check.
    #[ts(type = "number")]
    pub bytes_verified: u64,
    /// Files the check found damaged or gone (set aside: the next sync
    /// fetches them again, unless a sync held the cache).
    #[ts(type = "number")]
    pub damaged: u64,
    /// They were set aside (false: a sync held the cache; check again after it).
    pub damaged_set_aside: bool,
    #[ts(type = "number")]
    pub missing_items: u64,
    #[ts(type = "number")]
    pub missing_bytes: u64,
    pub missing: Vec<MissingItem>,
    /// The best rate a mirror of these libraries gave lately, and what
    /// fetching the rest would take at it (None: no rate known).
    pub rate_bps: Option<f64>,
    #[ts(type = "number | null")]
    pub eta_secs: Option<u64>,
    /// When the least recently checked file kept offline was checked (unix
    /// seconds; now, after a check).
    #[ts(type = "number | null")]
    pub verified_at: Option<i64>,
}

/// What to check: everything, a library, a collection.
#[derive(Clone, Debug, Default)]
pub struct ReadyScope {
    pub library: Option<String>,
    pub collection: Option<String>,
}

impl Api {
    /// Keeps a collection (`item` None) or an item for the trip.
    pub fn pin(&self, library: &str, collection: &str, item: Option<&str>) -> ApiResult<bool> {
        Ok(self.engine.store().pin(library, collection, item)?)
    }

    /// No longer keeps it for the trip (its files stay until removed).
    pub fn unpin(&self, library: &str, collection: &str, item: Option<&str>) -> ApiResult<bool> {
        Ok(self.engine.store().unpin(library, collection, item)?)
    }

    /// Checks `scope`: hashes every stored file kept offline again and says
    /// whether everything is here. Blocking (it reads every byte): run it
    /// off the async runtime. `progress(bytes done, bytes to check)` is
    /// called as files finish.
    pub fn ready(
        &self,
        scope: &ReadyScope,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> ApiResult<ReadyView> {
        let store = self.engine.store();
        if let Some(l) = &scope.library {
            self.library(l)?;
            if let Some(c) = &scope.collection {
                self.collection(l, c)?;
            }
        }
        let plan = store.ready_plan(scope.library.as_deref(), scope.collection.as_deref())?;
        // Setting damaged files aside needs the sync lock (a sync may be
        // storing one); with a sync running, they are only reported.
        let lock = store::Store::lock_sync(store.data_dir()).ok();
        let repair = lock.is_some();
        let stored: Vec<usize> = (0..plan.files.len())
            .filter(|&i| plan.files[i].stored)
            .collect();
        let total: u64 = stored.iter().map(|&i| plan.files[i].size).sum();
        let done = AtomicU64::new(0);
        let next = AtomicUsize::new(0);
        let bad = Mutex::new(Vec::new());
        let failed = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..CHECKERS {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = stored.get(k) else { break };
                    let f = &plan.files[i];
                    match store.reverify(&f.sha256, f.size, repair) {
                        Ok(Reverified::Whole) => {}
                        Ok(_) => bad.lock().unwrap_or_else(|p| p.into_inner()).push(i),
                        Err(e) => {
                            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            break;
                        }
                    }
                    let d = done.fetch_add(f.size, Ordering::Relaxed) + f.size;
                    progress(d, total);
                });
            }
        });
        drop(lock);
        if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e.into());
        }
        let bad = bad.into_inner().unwrap_or_else(|p| p.into_inner());
        let here = |i: usize| plan.files[i].stored && !bad.contains(&i);
        let mut view = ReadyView {
            ready: false,
            summary: String::new(),
            lessons: 0,
            episodes: 0,
            files: plan.files.len() as u64,
            bytes: plan.files.iter().map(|f| f.size).sum(),
            bytes_verified: total,
            damaged: bad.len() as u64,
            damaged_set_aside: repair,
            missing_items: 0,
            missing_bytes: (0..plan.files.len())
                .filter(|&i| !here(i))
                .map(|i| plan.files[i].size)
                .sum(),
            missing: Vec::new(),
            rate_bps: None,
            eta_secs: None,
            verified_at: None,
        };
        for it in &plan.items {
            if it.kind == "lesson" {
                view.lessons += 1;
            } else {
                view.episodes += 1;
            }
            let gone: u64 = it
                .files
                .iter()
                .filter(|&&i| !here(i))
                .map(|&i| plan.files[i].size)
                .sum();
            if it.files.iter().any(|&i| !here(i)) {
                view.missing_items += 1;
                if view.missing.len() < MISSING_SHOWN {
                    view.missing.push(MissingItem {
                        library_id: it.library_id.clone(),
                        collection_id: it.collection_id.clone(),
                        item_id: it.item_id.clone(),
                        title: it.title.clone(),
                        bytes_missing: gone,
                    });
                }
            }
        }
        view.ready = view.missing_bytes == 0;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        view.verified_at = (view.files > 0).then_some(now);
        if !view.ready {
            let libraries: Vec<String> = match &scope.library {
                Some(l) => vec![l.clone()],
                None => plan.items.iter().map(|i| i.library_id.clone()).collect(),
            };
            view.rate_bps = self
                .mirrors(None)?
                .into_iter()
                .filter(|m| libraries.contains(&m.library))
                .filter_map(|m| m.throughput_bps)
                .filter(|r| *r > 0.0)
                .max_by(f64::total_cmp);
            view.eta_secs = view
                .rate_bps
                .map(|r| (view.missing_bytes as f64 / r).ceil() as u64);
        }
        view.summary = summary(&view);
        Ok(view)
    }
}

/// Files checked at once (the machine this was measured on has two cores;
/// a file is read and hashed on one).
const CHECKERS: usize = 2;

fn count(n: u64, one: &str, many: &str) -> Option<String> {
    match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    }
}

fn size(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn minutes(secs: u64) -> String {
    match secs {
        0..=59 => "under a minute".into(),
        60..=5399 => format!("about {} min", secs.div_ceil(60)),
        s => format!("about {:.1} h", s as f64 / 3600.0),
    }
}

/// The one line.
fn summary(v: &ReadyView) -> String {
    let what = [
        count(v.lessons, "lesson", "lessons"),
        count(v.episodes, "episode", "episodes"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ");
    if v.files == 0 {
        return "Nothing is kept offline here: pin a course or a show (keep for the trip), or let its rule download it.".into();
    }
    if v.ready {
        return format!("Ready: {what}, {}, verified just now.", size(v.bytes));
    }
    let damaged = match (v.damaged, v.damaged_set_aside) {
        (0, _) => String::new(),
        (n, true) => format!(
            " {} damaged or gone (set aside; the next sync fetches {}).",
            count(n, "file was", "files were").unwrap_or_default(),
            if n == 1 { "it again" } else { "them again" }
        ),
        (n, false) => format!(
            " {} damaged or gone; a sync is running: check again when it ends.",
            count(n, "file is", "files are").unwrap_or_default()
        ),
    };
    let fetch = match v.eta_secs {
        Some(s) => format!(
            "fetching it takes {} at {}/s",
            minutes(s),
            size(v.rate_bps.unwrap_or(0.0) as u64)
        ),
        None => "no download rate is known yet to say how long fetching it takes".into(),
    };
    format!(
        "Not ready: {} of {what} missing ({}; {fetch}).{damaged}",
        v.missing_items,
        size(v.missing_bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ReadyView {
        ReadyView {
            ready: true,
            summary: String::new(),
            lessons: 14,
            episodes: 0,
            files: 20,
            bytes: 3_200_000_000,
            bytes_verified: 3_200_000_000,
            damaged: 0,
            damaged_set_aside: true,
            missing_items: 0,
            missing_bytes: 0,
            missing: Vec::new(),
            rate_bps: None,
            eta_secs: None,
            verified_at: Some(0),
        }
    }

    #[test]
    fn the_one_line() {
        assert_eq!(
            summary(&view()),
            "Ready: 14 lessons, 3.2 GB, verified just now."
        );
        let mut v = view();
        v.ready = false;
        v.episodes = 1;
        v.missing_items = 1;
        v.missing_bytes = 48_000_000;
        v.rate_bps = Some(400_000.0);
        v.eta_secs = Some(120);
        assert_eq!(
            summary(&v),
            "Not ready: 1 of 14 lessons and 1 episode missing (48.0 MB; fetching it takes about 2 min at 400.0 kB/s)."
        );
        v.eta_secs = None;
        v.damaged = 2;
        assert_eq!(
            summary(&v),
            "Not ready: 1 of 14 lessons and 1 episode missing (48.0 MB; no download rate is known yet to say how long fetching it takes). 2 files were damaged or gone (set aside; the next sync fetches them again)."
        );
        v.files = 0;
        assert!(summary(&v).starts_with("Nothing is kept offline"));
    }
}
