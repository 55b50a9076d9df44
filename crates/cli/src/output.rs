//! Human-readable and `--json` renderings of each command's result.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use stowaway_api::{
    Api, CollectionAfter, CollectionView, DownloadState, DownloadsView, Filter, Freed, ItemView,
    LibraryView, MirrorView, PartialDownload, ReadyView, SearchHit, Seek, UnsubscribedView,
};
use stowaway_catalog::Subscription;
use stowaway_mirrors::MirrorHealth;
use stowaway_store::{FsckProblem, FsckReport, Rebuilt};
use stowaway_sync::{FeedSubscribed, LibraryReport, SyncReport};

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

fn duration(ms: Option<u64>) -> String {
    let Some(ms) = ms else { return String::new() };
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn ago(ts: Option<i64>) -> String {
    let Some(ts) = ts else { return "never".into() };
    let d = time::OffsetDateTime::now_utc().unix_timestamp() - ts;
    match d {
        d if d < 60 => "just now".into(),
        d if d < 3600 => format!("{} min ago", d / 60),
        d if d < 86400 => format!("{} h ago", d / 3600),
        d => format!("{} days ago", d / 86400),
    }
}

pub fn subscribed(json: bool, sub: &Subscription, new: bool, r: &LibraryReport) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "ok": true, "library": sub.library, "new": new, "catalog": r.catalog,
            "catalog_mirror": r.catalog_mirror, "catalog_error": r.catalog_error,
            "private": sub.access == stowaway_catalog::Access::Token, "needs_token": r.needs_token,
        }));
    }
    let title = sub.title.as_deref().unwrap_or(&sub.library);
    outln!(
        "{} {title} ({}), {} mirror(s)",
        if new {
            "Subscribed to"
        } else {
            "Updated subscription to"
        },
        sub.library,
        sub.mirrors.len()
    );
    match (&r.catalog, &r.catalog_error) {
        (Some(c), _) => outln!(
            "Catalog sequence {} verified; {} new item(s). Run `stowaway sync` to download.",
            c.sequence,
            c.diff.added.len()
        ),
        (None, Some(_)) if r.needs_token => outln!(
            "This is a private library. Run `stowaway token {}` and paste the access token you were given; it is kept in your OS keyring.",
            sub.library
        ),
        (None, Some(e)) => {
            outln!("Could not fetch the catalog yet ({e}); `stowaway sync` will retry.")
        }
        _ => {}
    }
    Ok(())
}

pub fn subscribed_feed(json: bool, s: &FeedSubscribed) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "ok": true, "library": s.library, "title": s.title, "new": s.new,
            "feed": true, "episodes": s.mapped.episodes, "skipped": s.mapped.skipped,
            "catalog": s.catalog,
        }));
    }
    outln!(
        "{} {} ({}): a podcast feed with {} episode(s). Run `stowaway sync` to download.",
        if s.new { "Subscribed to" } else { "Refreshed" },
        s.title,
        s.library,
        s.mapped.episodes
    );
    for line in s.mapped.summary() {
        outln!("  {line}");
    }
    Ok(())
}

pub fn unsubscribed(json: bool, title: &str, gone: &UnsubscribedView) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({ "ok": true, "unsubscribed": {
            "library": gone.library,
            "items": gone.items,
            "blobs": gone.files,
            "bytes": gone.bytes,
        } }));
    }
    outln!(
        "Unsubscribed from {} ({}): {} item(s) removed, {} file(s) deleted ({}).",
        title,
        gone.library,
        gone.items,
        gone.files,
        bytes(gone.bytes)
    );
    Ok(())
}

pub fn opml_imported(json: bool, feeds: &[FeedSubscribed]) -> Result<()> {
    let new = feeds.iter().filter(|f| f.new).count();
    if json {
        return print_json(&serde_json::json!({ "ok": true, "new": new, "feeds": feeds }));
    }
    for f in feeds {
        outln!(
            "{} {} ({})",
            if f.new { "subscribed" } else { "already  " },
            f.title,
            f.library
        );
    }
    outln!(
        "{new} new feed(s), {} already subscribed. Run `stowaway sync` to fetch them.",
        feeds.len() - new
    );
    Ok(())
}

pub fn synced(json: bool, report: &SyncReport) -> Result<()> {
    if json {
        return print_json(
            &serde_json::json!({ "ok": report.ok(), "libraries": report.libraries }),
        );
    }
    for l in &report.libraries {
        match (&l.catalog, &l.catalog_error) {
            (Some(c), _) => {
                let mirror = l.catalog_mirror.as_deref().unwrap_or("?");
                if c.unchanged {
                    outln!(
                        "{}: catalog unchanged (sequence {}) from {mirror}",
                        l.library, c.sequence
                    );
                } else {
                    outln!(
                        "{}: catalog sequence {} from {mirror}: {} added, {} changed, {} removed",
                        l.library,
                        c.sequence,
                        c.diff.added.len(),
                        c.diff.changed.len(),
                        c.diff.removed.len()
                    );
                }
            }
            (None, Some(e)) if l.needs_token => outln!(
                "{}: {e}. It is a private library: run `stowaway token {}` to give your access token.",
                l.library, l.library
            ),
            (None, Some(e)) => outln!("{}: {e}; cached content is still available", l.library),
            _ => {}
        }
        if l.expired {
            outln!("{}: warning: the catalog has expired; the publisher has not refreshed it. Cached content stays playable.", l.library);
        }
        for w in &l.warnings {
            outln!("{}: note: {w}", l.library);
        }
        for m in &l.stale_mirrors {
            outln!(
                "{}: warning: {m} serves an older catalog than another mirror (stale)",
                l.library
            );
        }
        outln!(
            "{}: downloaded {} file(s), {} in {:.1} s{}",
            l.library,
            l.files_downloaded,
            bytes(l.bytes_downloaded),
            l.elapsed_ms as f64 / 1000.0,
            if l.files_resumed > 0 {
                format!(" ({} resumed)", l.files_resumed)
            } else {
                String::new()
            }
        );
        if l.paused {
            outln!(
                "{}: downloads are paused (`stowaway resume` continues them)",
                l.library
            );
        }
        if l.cancelled > 0 {
            outln!(
                "{}: {} download(s) stopped (paused or removed)",
                l.library,
                l.cancelled
            );
        }
        if l.evicted_bytes > 0 {
            outln!(
                "{}: freed {} of played items for the storage budget",
                l.library,
                bytes(l.evicted_bytes)
            );
        }
        if l.garbage_bytes > 0 {
            outln!(
                "{}: freed {} of files the library no longer has",
                l.library,
                bytes(l.garbage_bytes)
            );
        }
        if l.deferred_files > 0 {
            outln!(
                "{}: {} file(s), {}, wait: the storage budget is reached (`stowaway budget`)",
                l.library,
                l.deferred_files,
                bytes(l.deferred_bytes)
            );
        }
        for (label, e) in &l.failed {
            outln!("{}: FAILED {label}: {e}", l.library);
        }
    }
    Ok(())
}

/// Items read from the index at once while listing.
const LIST_WINDOW: usize = 500;

/// `list`: the libraries (or one), their collections a page at a time with
/// counts from the index, and of each collection `limit` items from index
/// `from`, read a window at a time (text is written as it is read; only
/// `--json` holds what it prints). Never the whole library unless asked.
pub fn list(
    api: &Api,
    json: bool,
    library: Option<&str>,
    collection: Option<&str>,
    from: u64,
    limit: usize,
) -> Result<()> {
    let libs: Vec<LibraryView> = match library {
        Some(id) => vec![api.library(id)?],
        None => api.libraries()?,
    };
    if let (Some(l), Some(c)) = (library, collection) {
        api.collection(l, c)?;
    }
    if libs.is_empty() && !json {
        outln!("No subscriptions yet. Run `stowaway subscribe FILE_OR_URL`.");
        return Ok(());
    }
    let mut listed = Vec::new();
    for lib in &libs {
        if !json {
            outln!("{} ({})", lib.title, lib.id);
            if lib.sequence.is_none() && lib.feed_url.is_none() {
                outln!("  (no catalog yet: run `stowaway sync`)");
            }
        }
        let mut after: Option<CollectionAfter> = None;
        loop {
            let (page, more) = api.collections(Some(&lib.id), after.as_ref())?;
            for c in page
                .iter()
                .filter(|c| collection.is_none_or(|id| c.id == id))
            {
                let items = collection_items(api, json, c, from, limit)?;
                if json {
                    let mut v = serde_json::to_value(c)?;
                    v["item_count"] = v["items"].take();
                    v["from"] = (from + 1).into();
                    v["items"] = serde_json::to_value(items)?;
                    listed.push(v);
                }
            }
            match (more, page.last()) {
                (true, Some(last)) => {
                    after = Some(CollectionAfter {
                        library: last.library_id.clone(),
                        position: last.position,
                    })
                }
                _ => break,
            }
        }
    }
    if json {
        print_json(&listed)?;
    }
    Ok(())
}

/// One collection's header and items `from`.. (at most `limit`); the items
/// are returned only for `--json`.
fn collection_items(
    api: &Api,
    json: bool,
    c: &CollectionView,
    from: u64,
    limit: usize,
) -> Result<Vec<ItemView>> {
    let course = c.kind == "course";
    if !json {
        outln!(
            "  {} {} — {} {}, {} downloaded",
            if course { "Course:" } else { "Show:" },
            c.title,
            c.items,
            if course { "lessons" } else { "episodes" },
            c.downloaded
        );
    }
    let mut kept = Vec::new();
    let mut seek = Seek::At { index: from };
    let mut shown = 0usize;
    let mut n = from;
    while shown < limit && n < c.items {
        let want = (limit - shown).min(LIST_WINDOW);
        let w = api.items(&c.library_id, &c.id, Filter::All, seek, want)?;
        let Some(last) = w.items.last() else { break };
        seek = Seek::After {
            cursor: last.cursor,
        };
        for i in &w.items {
            n += 1;
            shown += 1;
            if !json {
                let mark = match i.state {
                    DownloadState::Downloaded => "✓",
                    DownloadState::Partial => "…",
                    DownloadState::Queued => "◌",
                    DownloadState::NotDownloaded => "·",
                };
                outln!(
                    "    {mark} {n:>2}. {:<52} {:>8}  {:>9}  {}",
                    i.title,
                    duration(i.duration_ms),
                    bytes(i.bytes),
                    i.id
                );
            }
        }
        if json {
            kept.extend(w.items);
        }
    }
    if !json && n < c.items {
        outln!(
            "    … {} more: stowaway list {}/{} --from {}",
            c.items - n,
            c.library_id,
            c.id,
            n + 1
        );
    }
    Ok(kept)
}

/// Missing items `ready` lists on a terminal (`--json` has up to 200).
const MISSING_LISTED: usize = 20;

pub fn ready(json: bool, v: &ReadyView) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(v)?;
        value["ok"] = v.ready.into();
        return print_json(&value);
    }
    outln!("{}", v.summary);
    for m in v.missing.iter().take(MISSING_LISTED) {
        outln!(
            "  missing: {}/{}/{}  {} ({})",
            m.library_id,
            m.collection_id,
            m.item_id,
            m.title,
            bytes(m.bytes_missing)
        );
    }
    if v.missing_items > MISSING_LISTED as u64 {
        outln!("  … and {} more", v.missing_items - MISSING_LISTED as u64);
    }
    if !v.ready {
        outln!("Run `stowaway sync` to fetch what is missing.");
    }
    Ok(())
}

pub fn search(json: bool, q: &str, hits: &[SearchHit]) -> Result<()> {
    if json {
        return print_json(&hits);
    }
    if hits.is_empty() {
        outln!("No results for {q:?}.");
    }
    for h in hits {
        outln!(
            "{} {} — {}  [{}/{}/{}]",
            if h.downloaded { "✓" } else { "·" },
            h.title,
            h.collection_title,
            h.library_id,
            h.collection_id,
            h.item_id
        );
        outln!("    {}", h.snippet.replace('\n', " "));
    }
    Ok(())
}

/// One mirror of one library, for `status` and `mirrors`.
#[derive(Clone, Debug, Serialize)]
pub struct MirrorRow {
    pub library: String,
    pub url: String,
    /// ok | failing | open (circuit open: skipped) | half_open | retry_after
    /// | stale; not_allowed (a network share the member did not allow) |
    /// unusable (this computer cannot open it), said why in `note`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub health: MirrorHealth,
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl MirrorRow {
    pub fn new(m: MirrorView) -> MirrorRow {
        let note = matches!(m.state.as_str(), "not_allowed" | "unusable")
            .then_some(m.last_error)
            .flatten();
        MirrorRow {
            library: m.library,
            url: m.url,
            state: m.state,
            note,
            health: m.health,
        }
    }

    fn summary(&self) -> String {
        let h = &self.health;
        let mut parts = vec![match self.state.as_str() {
            "open" => format!(
                "circuit open (retry in {}s)",
                (h.open_until.unwrap_or(0) - now_ms()).max(0) / 1000
            ),
            "retry_after" => format!(
                "asked us to wait {}s",
                (h.retry_after_until.unwrap_or(0) - now_ms()).max(0) / 1000
            ),
            "stale" => format!(
                "stale (serves catalog {}, the newest is {})",
                h.catalog_sequence.unwrap_or(0),
                h.newest_sequence.unwrap_or(0)
            ),
            "not_allowed" => "not used".to_owned(),
            other => other.replace('_', "-"),
        }];
        if let Some(l) = h.latency_ms {
            parts.push(format!("{l:.0} ms"));
        }
        if let Some(t) = h.throughput_bps {
            parts.push(format!("{}/s", bytes(t as u64)));
        }
        parts.push(format!("{} ok / {} failed", h.successes, h.failures));
        if h.bad_bytes > 0 {
            parts.push(format!("{} bad", h.bad_bytes));
        }
        parts.join(", ")
    }
}

pub fn mirrors(json: bool, rows: &[MirrorRow]) -> Result<()> {
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("No mirrors: no subscriptions yet.");
    }
    let mut lib = "";
    for r in rows {
        if r.library != lib {
            lib = &r.library;
            outln!("{lib}");
        }
        outln!("  {}\n      {}", r.url, r.summary());
        if let Some(n) = &r.note {
            outln!("      {n}");
        } else if let (Some(e), true) = (&r.health.last_error, r.state != "ok") {
            outln!("      last error: {e}");
        }
    }
    Ok(())
}

pub fn status(
    json: bool,
    libs: &[LibraryView],
    mirrors: &[MirrorRow],
    partials: &[PartialDownload],
    dir: &Path,
) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "data_dir": dir, "libraries": libs, "mirrors": mirrors, "partial_downloads": partials,
        }));
    }
    outln!("Data directory: {}", dir.display());
    if libs.is_empty() {
        outln!("No subscriptions yet.");
    }
    for l in libs {
        outln!("\n{} ({})", l.title, l.id);
        match (&l.feed_url, l.sequence) {
            (Some(url), _) => outln!("  feed:      {url}"),
            (None, Some(s)) => outln!(
                "  catalog:   sequence {s}{}",
                if l.expired {
                    " — EXPIRED (cached content stays playable)"
                } else {
                    ""
                }
            ),
            (None, None) => outln!("  catalog:   none yet"),
        }
        let state = match l.last_sync_ok {
            Some(true) => "ok".to_string(),
            Some(false) => format!("failed: {}", l.last_sync_error.as_deref().unwrap_or("?")),
            None => String::new(),
        };
        outln!("  last sync: {} {state}", ago(l.last_sync_at));
        if let Some(m) = &l.last_sync_mirror {
            outln!("  served by: {m}");
        }
        outln!(
            "  content:   {} collections, {} items",
            l.collections,
            l.items
        );
        outln!(
            "  cached:    {}/{} files, {} of {}",
            l.blobs_stored,
            l.blobs_wanted,
            bytes(l.bytes_stored),
            bytes(l.bytes_wanted)
        );
        outln!("  mirrors:");
        for m in mirrors.iter().filter(|m| m.library == l.id) {
            outln!("    {:<40} {}", m.url, m.summary());
        }
    }
    if !partials.is_empty() {
        let b: u64 = partials.iter().map(|p| p.bytes).sum();
        outln!(
            "\n{} partial download(s), {} so far: the next sync resumes them",
            partials.len(),
            bytes(b)
        );
    }
    Ok(())
}

/// Files under `dir/blobs/sha256` (what an unreadable index would know of).
fn files_on_disk(dir: &Path) -> u64 {
    let Ok(prefixes) = std::fs::read_dir(dir.join("blobs/sha256")) else {
        return 0;
    };
    prefixes
        .flatten()
        .filter_map(|p| std::fs::read_dir(p.path()).ok())
        .map(|files| files.count() as u64)
        .sum()
}

pub fn index_unreadable(json: bool, dir: &Path, error: &str) -> Result<()> {
    let files = files_on_disk(dir);
    if json {
        return print_json(&serde_json::json!({
            "database_ok": false, "database_messages": [error], "files_on_disk": files,
        }));
    }
    outln!("database: cannot be read: {error}");
    outln!(
        "{files} downloaded file(s) on disk, untouched. Run `stowaway fsck --repair` to rebuild the index from your subscriptions and the files it can verify."
    );
    Ok(())
}

pub fn rebuilt(json: bool, error: &str, r: &Rebuilt) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "database_ok": false, "database_messages": [error], "rebuilt": r,
        }));
    }
    outln!("database: {error}");
    if !r.moved_to.is_empty() {
        outln!("moved the unreadable index to {}", r.moved_to);
    }
    outln!(
        "rebuilt: {} librar(ies) subscribed again, {} catalog(s) verified and applied, {} file(s) verified and kept",
        r.libraries.len(),
        r.catalogs,
        r.blobs
    );
    if r.unreferenced > 0 {
        outln!(
            "{} file(s) no catalog names yet (podcast episodes are known again after the next sync) left in place",
            r.unreferenced
        );
    }
    for p in &r.problems {
        outln!("not restored: {p}");
    }
    for l in &r.tokens_to_give {
        outln!("{l} is private: give its access token again (`stowaway token {l}`) to confirm its mirrors");
    }
    outln!("Playback positions and download choices were in the old index and start afresh. Run `stowaway sync`.");
    Ok(())
}

pub fn fsck(json: bool, r: &FsckReport, repair: bool) -> Result<()> {
    if json {
        return print_json(r);
    }
    outln!(
        "database: {}",
        if r.database_ok {
            "ok".to_string()
        } else {
            r.database_messages.join("; ")
        }
    );
    outln!(
        "checked {} blob(s), {}",
        r.blobs_checked,
        bytes(r.bytes_checked)
    );
    for p in &r.problems {
        match p {
            FsckProblem::Missing { sha256 } => outln!("MISSING  {sha256}"),
            FsckProblem::Corrupt {
                sha256,
                actual_sha256,
                ..
            } => {
                outln!("CORRUPT  {sha256} (hashes to {actual_sha256})")
            }
            FsckProblem::Stray { path } => outln!("STRAY    {path}"),
        }
    }
    for line in &r.repaired {
        outln!("repaired: {line}");
    }
    if r.problems.is_empty() {
        outln!("all blobs verify");
    } else if !repair {
        outln!(
            "{} problem(s); run `stowaway fsck --repair` to fix them",
            r.problems.len()
        );
    }
    Ok(())
}

pub fn removed(json: bool, target: &str, f: &Freed) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({ "ok": true, "freed": f }));
    }
    outln!(
        "Removed the download of {target}: freed {} ({} file(s)). `stowaway download {target}` brings it back.",
        bytes(f.bytes),
        f.files
    );
    Ok(())
}

pub fn downloads(json: bool, d: &DownloadsView) -> Result<()> {
    let (u, queue) = (&d.usage, &d.queue);
    if json {
        return print_json(
            &serde_json::json!({ "ok": true, "storage": u, "queue": queue, "more": d.more }),
        );
    }
    outln!(
        "Stored: {} in {} file(s); budget: {}{}",
        bytes(u.bytes_stored),
        u.blobs_stored,
        u.budget.map(bytes).unwrap_or_else(|| "none".into()),
        if u.paused { "; downloads PAUSED" } else { "" }
    );
    if queue.is_empty() {
        outln!("Nothing queued.");
        return Ok(());
    }
    outln!(
        "Queued: {} item(s), {}",
        queue.len() as u64 + d.more,
        bytes(u.bytes_queued)
    );
    for q in queue {
        let partial = if q.bytes_partial > 0 {
            format!(", {} done", bytes(q.bytes_partial))
        } else {
            String::new()
        };
        outln!(
            "  {}/{}/{}  {}  ({}{partial}){}",
            q.library_id,
            q.collection_id,
            q.item_id,
            q.title,
            bytes(q.bytes_missing),
            if q.explicit { "" } else { "  [auto]" }
        );
    }
    if d.more > 0 {
        outln!("  … and {} more", d.more);
    }
    Ok(())
}
