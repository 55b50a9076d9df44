//! The transfer: downloading one file, resumable and verified, from
//! whichever of its sources delivers (a signed library's mirrors, a feed's
//! hosts). What differs between files is what checks them:
//! - a chunk list (catalog format 2): each chunk as it lands;
//! - a known hash (format 1): the whole file at its end;
//! - a feed's integrity digest: the whole file at its end, stored under
//!   its own hash;
//! - a hash to learn (a feed's file no digest checks): nothing but the
//!   feed's word, so its bytes are never joined across sources.
//!
//! Every one of them goes through one loop (`segmented::fetch_segments`:
//! the Plan, streams, rounds over the sources, failover, the writer thread,
//! checkpoints). What checks a file decides only how its bytes may come:
//! - in segments from every source at once, when the list, the hash or the
//!   digest will check the join (a feed's file: 4 MiB or more, on two or
//!   more hosts);
//! - otherwise front to back from one source at a time (`front_file`): a
//!   stream that fails, stalls or runs far slower than another source does
//!   is continued at the same offset on the next with a Range request only
//!   when a digest or a learned hash will check the join; otherwise the
//!   file starts over. Its size may be unknown until its body ends, and the
//!   media server plays it from the front as it comes.
//!
//! Small files are fetched whole, hedged. `now` starts one at once for the
//! player. The sources (`crate::sources`) say which files and where.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stowaway_catalog::{blob_path, Sha256};
use stowaway_mirrors::{BodyStream, MirrorError, MirrorPool, Pace, RateLimiter};
use stowaway_store::{FeedFile, FileDigest, Store, StoreError, WantedBlob};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{Engine, SyncEvent};

mod now;
mod segmented;

pub use now::{FetchNow, PlayNow};

/// Shared state of one library's downloads (copied per blob, each copy with
/// that blob's own cancellation token).
#[derive(Clone, Copy)]
pub(crate) struct Downloads<'a> {
    pub engine: &'a Engine,
    pub pool: &'a MirrorPool,
    pub limiter: Option<&'a RateLimiter>,
    pub cancel: &'a CancellationToken,
    /// Bytes of wanted blobs present (resumed or downloaded) so far.
    pub done: &'a AtomicU64,
    /// Bytes received from mirrors (including any later discarded).
    pub received: &'a AtomicU64,
    pub max_rounds: u32,
    pub slow_ratio: f64,
    /// What the member should know of this sync's files (a feed's wrong
    /// lengths, …), for the report.
    pub notes: &'a std::sync::Mutex<Vec<String>>,
    /// The storage budget, if the member set one.
    pub budget: Option<&'a Budget>,
    /// No byte for this long, with another mirror to go to: move on.
    pub stall_timeout: Duration,
}

/// A file's download runs in this process (`Store::set_arriving`) while
/// this lives: the media server follows it (a chunked file's newest
/// records, a feed file's bytes as they come).
pub(crate) struct Arriving<'a>(&'a stowaway_store::Store, &'a Sha256);

impl<'a> Arriving<'a> {
    pub(crate) fn new(store: &'a stowaway_store::Store, sha: &'a Sha256) -> Arriving<'a> {
        store.set_arriving(sha, true);
        Arriving(store, sha)
    }
}

impl Drop for Arriving<'_> {
    fn drop(&mut self) {
        self.0.set_arriving(self.1, false);
    }
}

/// Blobs up to this size are fetched whole with a hedged request.
pub(crate) const SMALL_BLOB: u64 = 512 * 1024;

/// Below this rate (bytes/s) a stream is worth moving even when nothing is
/// known yet of the other mirrors.
const FLOOR_BPS: f64 = 32.0 * 1024.0;

/// The slowest any stream may be, even with no other source to move to: a
/// source that drips a byte now and then is left (the partial file stays for
/// the next round or sync) instead of holding the sync, and its lock, for
/// ever. Lowered under a bandwidth cap the member set.
const STREAM_PACE: Pace = Pace {
    floor_bps: 4 * 1024,
    grace: Duration::from_secs(10),
};

/// A stream's rate over windows of 2 s, to tell a crawl from a stream
/// worth keeping.
struct RateWindow {
    start: Instant,
    bytes: u64,
}

impl RateWindow {
    fn new() -> RateWindow {
        RateWindow {
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// Counts `n` bytes from mirror `m`; at the end of a window, whether
    /// `m` is far slower than the best of `others` is known to be (or a
    /// crawl, when nothing is known of them). A mirror found slow is
    /// demoted (its transfer and a failure recorded), so the next files do
    /// not start there; the reason is returned. `others` (the sources it
    /// could move to) is asked only when a window ends, not per read.
    fn slow(
        &mut self,
        d: &Downloads<'_>,
        m: usize,
        n: u64,
        others: impl FnOnce() -> Vec<usize>,
    ) -> Option<String> {
        self.bytes += n;
        let window = self.start.elapsed();
        if window < Duration::from_secs(2) {
            return None;
        }
        let rate = self.bytes as f64 / window.as_secs_f64();
        if let Some(reason) = d.too_slow_among(m, rate, &others()) {
            d.pool.record_transfer(m, self.bytes, window);
            d.pool
                .record_failure(m, &MirrorError::Transfer(reason.clone()));
            return Some(reason);
        }
        *self = RateWindow::new();
        None
    }
}

/// Rounds over a file's sources: a round that brought bytes that stay
/// earns another, one that did not counts toward the engine's limit.
struct Rounds {
    round: u32,
    progressed: bool,
}

/// Why no other round starts.
enum NoRound {
    Exhausted,
    Cancelled,
}

impl Rounds {
    fn new() -> Rounds {
        Rounds {
            round: 0,
            progressed: false,
        }
    }

    /// The round that ends brought bytes that stay.
    fn progress(&mut self) {
        self.progressed = true;
    }

    /// Ends a round: counts it, and waits before the next
    /// ([`Downloads::round_wait`]; `none_open`: every source's circuit is
    /// open).
    async fn next(&mut self, d: &Downloads<'_>, none_open: bool) -> Result<(), NoRound> {
        if std::mem::take(&mut self.progressed) {
            self.round = 0;
        } else {
            self.round += 1;
        }
        if self.round >= d.max_rounds {
            return Err(NoRound::Exhausted);
        }
        let wait = d.round_wait(self.round, none_open);
        debug!(
            ?wait,
            round = self.round,
            "every source tried; waiting before the next round"
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            () = d.cancel.cancelled() => Err(NoRound::Cancelled),
        }
    }
}

/// A file's chunk list as the catalog names it (chunk size, the list's
/// hash) and the digests of its chunks, when it has one.
type Digests = Option<(stowaway_catalog::Chunks, std::sync::Arc<[[u8; 32]]>)>;

/// Why a stream from one mirror ended early.
enum StreamEnd {
    Failed(String),
    Slow(String),
    Cancelled,
}

/// The storage budget while files arrive. A file is planned at the size the
/// catalog or feed declares; a feed's declared length is advice (or absent:
/// 0 bytes), so every byte past it is charged here as it arrives, and a
/// download the member did not ask for stops when the room is gone.
pub(crate) struct Budget {
    /// Bytes of room left beyond what the plan reserved.
    spare: std::sync::atomic::AtomicI64,
    /// Bytes charged so far per file (past its reservation).
    charged: std::sync::Mutex<std::collections::HashMap<Sha256, u64>>,
    /// Files stopped for the budget (reported as deferred).
    pub(crate) stopped: std::sync::Mutex<HashSet<Sha256>>,
    /// Files of unknown size go one at a time (concurrent ones would share
    /// the room and all stop), and none starts once one ran out of room.
    one_at_a_time: tokio::sync::Semaphore,
    exhausted: std::sync::atomic::AtomicBool,
}

impl Budget {
    pub(crate) fn new(spare: u64) -> Budget {
        Budget {
            spare: std::sync::atomic::AtomicI64::new(spare.min(i64::MAX as u64) as i64),
            charged: Default::default(),
            stopped: Default::default(),
            one_at_a_time: tokio::sync::Semaphore::new(1),
            exhausted: Default::default(),
        }
    }

    fn stop(&self, w: &WantedBlob) {
        self.exhausted.store(true, Ordering::SeqCst);
        let past = self
            .charged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&w.sha256)
            .unwrap_or(0);
        // Its bytes are deleted: their room is free again.
        self.spare.fetch_add(past as i64, Ordering::SeqCst);
        self.stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(w.sha256.clone());
    }

    /// Charges what of `written` bytes of `w` lies past its reservation;
    /// false (and nothing charged) when the room is gone.
    fn charge(&self, w: &WantedBlob, written: u64) -> bool {
        let past = written.saturating_sub(w.size);
        let mut charged = self.charged.lock().unwrap_or_else(|p| p.into_inner());
        let before = charged.get(&w.sha256).copied().unwrap_or(0);
        let delta = past.saturating_sub(before) as i64;
        if delta == 0 {
            return true;
        }
        if self.spare.fetch_sub(delta, Ordering::SeqCst) < delta {
            self.spare.fetch_add(delta, Ordering::SeqCst);
            return false;
        }
        charged.insert(w.sha256.clone(), past);
        true
    }
}

impl Downloads<'_> {
    /// The index no longer wants `w` (removed, maybe by another process):
    /// this download stops, as if cancelled here.
    fn removed_in_store(&self, w: &WantedBlob) -> bool {
        let gone = matches!(self.engine.store().is_wanted(&w.sha256), Ok(false));
        if gone {
            info!(file = %w.label, "no longer wanted in the store (removed elsewhere); stopping");
            self.cancel.cancel();
        }
        gone
    }

    /// A download finished after the member removed its item elsewhere: the
    /// file is not kept, and the download counts as cancelled.
    fn removed_elsewhere(&self) -> String {
        self.cancel.cancel();
        "cancelled: removed while it downloaded".into()
    }

    fn note(&self, text: String) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text);
    }

    /// [`STREAM_PACE`], or lower under the member's bandwidth cap (which
    /// the downloads running at once share).
    fn pace(&self) -> Pace {
        let floor = match self.limiter {
            Some(l) => STREAM_PACE.floor_bps.min(l.rate() / 16).max(1),
            None => STREAM_PACE.floor_bps,
        };
        Pace {
            floor_bps: floor,
            ..STREAM_PACE
        }
    }

    /// The chunk list of a file whose catalog gives one (format 2): kept in
    /// the index, else fetched whole from whichever mirror answers first
    /// with the bytes the catalog names (hedged, like a small blob). `None`
    /// when there is none or no mirror has it: the file is then checked
    /// whole, at its end, as in format 1.
    async fn chunk_digests(&self, w: &WantedBlob) -> Digests {
        let store = self.engine.store();
        let chunks = store
            .asset_chunks(&w.library_id, &w.sha256)
            .ok()
            .flatten()?;
        if let Ok(Some(d)) = store.chunk_list(&chunks, w.size) {
            return Some((chunks, d.into()));
        }
        let path = blob_path(&chunks.sha256);
        let len = chunks.count(w.size) * 32;
        let attempt = |id: usize| {
            let path = path.clone();
            let chunks = chunks.clone();
            async move {
                let bytes = self
                    .pool
                    .fetch_whole(id, &path, len)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Err(e) = chunks.parse_list(&bytes, w.size) {
                    self.pool.record_bad_bytes(id, &e);
                    return Err(e);
                }
                Ok(bytes)
            }
        };
        let fetched = tokio::select! {
            r = self.pool.hedged(attempt) => r,
            () = self.cancel.cancelled() => return None,
        };
        match fetched {
            Ok((_, bytes)) => match store.put_chunk_list(&chunks, w.size, &bytes) {
                Ok(d) => Some((chunks, d.into())),
                Err(e) => {
                    warn!(blob = %w.sha256, error = %e, "could not keep a chunk list");
                    None
                }
            },
            Err(errors) => {
                warn!(blob = %w.sha256, ?errors, "no mirror served the chunk list; checking the file whole");
                None
            }
        }
    }

    /// A small blob, whole, from whichever mirror answers first with the
    /// right bytes (hedged like the catalog).
    async fn small(&self, w: &WantedBlob) -> Result<u64, String> {
        let path = blob_path(&w.sha256);
        let attempt = |id: usize| {
            let path = path.clone();
            async move {
                if let Some(l) = self.limiter {
                    l.take(w.size as usize).await;
                }
                let bytes = self
                    .pool
                    .fetch_whole(id, &path, w.size)
                    .await
                    .map_err(|e| e.to_string())?;
                self.received
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                let actual = Sha256::digest(&bytes);
                if actual != w.sha256 || bytes.len() as u64 != w.size {
                    let e = format!("served {} bytes hashing to {actual}", bytes.len());
                    self.pool.record_bad_bytes(id, &e);
                    return Err(e);
                }
                Ok(bytes)
            }
        };
        let fetched = tokio::select! {
            r = self.pool.hedged(attempt) => r,
            () = self.cancel.cancelled() => return Err("cancelled".into()),
        };
        let (id, bytes) = fetched.map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.mirror, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        if self.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let url = self.pool.url(id).to_owned();
        self.engine.emit(SyncEvent::DownloadStarted {
            sha256: w.sha256.to_string(),
            label: w.label.clone(),
            size: w.size,
            offset: 0,
            mirror: url.clone(),
        });
        let store = self.engine.store().clone();
        let (sha, size) = (w.sha256.clone(), w.size);
        let n = bytes.len() as u64;
        let kept = tokio::task::spawn_blocking(move || {
            let mut writer = store.blobs().begin(&sha, size)?;
            writer.write(&bytes)?;
            writer.finish()?;
            store.keep_blob_if_wanted(&sha, size)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if !kept {
            return Err(self.removed_elsewhere());
        }
        self.engine.index_transcript(&w.sha256).await;
        self.engine.index_media(&w.sha256).await;
        self.done.fetch_add(n, Ordering::Relaxed);
        self.engine.emit(SyncEvent::DownloadFinished {
            sha256: w.sha256.to_string(),
            mirror: url,
            size: n,
        });
        Ok(n)
    }

    /// Downloads `w` into the store. Returns the size of the stored file
    /// (bytes received are counted in `received`).
    pub async fn blob(&self, w: &WantedBlob) -> Result<u64, String> {
        let store = self.engine.store();
        if let Some(file) = store
            .feed_file(&w.library_id, &w.sha256)
            .map_err(|e| e.to_string())?
        {
            return self.feed_file(w, file).await;
        }
        let sha = w.sha256.to_string();
        if w.size <= SMALL_BLOB && !store.blobs().partial_path(&w.sha256).exists() {
            match self.small(w).await {
                Ok(n) => return Ok(n),
                // Fall through to the patient path: rounds, back-off, resume.
                Err(e) => debug!(blob = %sha, error = %e, "hedged fetch of a small blob failed"),
            }
        }
        if let Some((chunks, digests)) = self.chunk_digests(w).await {
            return self.segmented(w, chunks, digests).await;
        }
        self.hashed_file(w).await
    }

    /// The pause before round `round` over a file's sources: a growing,
    /// jittered back-off; when none of them is open (`none_open`: every
    /// circuit open), until the first reopens, within 30 s.
    fn round_wait(&self, round: u32, none_open: bool) -> Duration {
        let backoff =
            Duration::from_millis(250 * (1 << round.min(6))).mul_f64(0.5 + fastrand::f64());
        match self.pool.next_available_in() {
            Some(d) if none_open && d <= Duration::from_secs(30) => d.max(backoff),
            _ => backoff,
        }
    }

    /// A download of `w` (`size` bytes, 0: unknown) starts with `resumed`
    /// bytes already on disk: the shells are told, the bytes count as
    /// present, the index records it.
    fn resuming(&self, w: &WantedBlob, resumed: u64, size: u64) {
        if resumed > 0 {
            info!(blob = %w.sha256, bytes = resumed, "resuming a partial download");
            self.engine.emit(SyncEvent::DownloadResumed {
                sha256: w.sha256.to_string(),
                offset: resumed,
                size,
            });
        }
        self.done.fetch_add(resumed, Ordering::Relaxed);
        let _ = self
            .engine
            .store()
            .record_partial(&w.sha256, size, resumed, None);
    }

    /// `w` is in `blobs/sha256/`, verified: kept if the index still wants
    /// it, read for search and for what it says of itself, its partial row
    /// gone, and the shells told (`by`: the mirror that served it, or the
    /// most of it).
    async fn stored(&self, w: &WantedBlob, by: Option<usize>) -> Result<u64, String> {
        let store = self.engine.store();
        let kept = store
            .keep_blob_if_wanted(&w.sha256, w.size)
            .map_err(|e| e.to_string())?;
        if !kept {
            return Err(self.removed_elsewhere());
        }
        self.announce_stored(w, by).await
    }

    /// After `w` is recorded in the index: what is read from a stored file,
    /// and the shells told.
    async fn announce_stored(&self, w: &WantedBlob, by: Option<usize>) -> Result<u64, String> {
        let store = self.engine.store();
        self.engine.index_transcript(&w.sha256).await;
        self.engine.index_media(&w.sha256).await;
        let _ = store.remove_partial(&w.sha256);
        self.engine.emit(SyncEvent::DownloadFinished {
            sha256: w.sha256.to_string(),
            mirror: by.map(|m| self.pool.url(m).to_owned()).unwrap_or_default(),
            size: w.size,
        });
        Ok(w.size)
    }

    /// Moves a body that starts before `offset` (a server that ignored
    /// Range) up to it; returns the part of its chunk past `offset`. A
    /// failure is recorded against mirror `m`.
    async fn skip_to(
        &self,
        body: &mut BodyStream,
        m: usize,
        offset: u64,
    ) -> Result<Option<bytes::Bytes>, MirrorError> {
        if body.start >= offset {
            return Ok(None);
        }
        body.skip_to(offset)
            .await
            .inspect_err(|e| self.pool.record_failure(m, e))
    }

    /// The next chunk from mirror `m`. A stall costs the stall timeout when
    /// another source could take over (`others`), the transport's idle
    /// timeout otherwise; a stall or an error is recorded against `m` and
    /// ends the stream, as does the member cancelling.
    async fn next_chunk(
        &self,
        body: &mut BodyStream,
        m: usize,
        others: bool,
    ) -> Result<Option<bytes::Bytes>, StreamEnd> {
        let stall = if others {
            self.stall_timeout
        } else {
            Duration::from_secs(3600)
        };
        let next = tokio::select! {
            c = tokio::time::timeout(stall, body.next_chunk()) => match c {
                Ok(c) => c,
                Err(_) => Err(MirrorError::Stalled(stall)),
            },
            () = self.cancel.cancelled() => return Err(StreamEnd::Cancelled),
        };
        next.map_err(|e| {
            self.pool.record_failure(m, &e);
            match e {
                MirrorError::TooSlow { .. } => StreamEnd::Slow(e.to_string()),
                e => StreamEnd::Failed(e.to_string()),
            }
        })
    }

    /// Is `rate` (bytes/s on mirror `m`) far below what one of `others` (the
    /// mirrors or sources we could switch to) is known to do?
    fn too_slow_among(&self, m: usize, rate: f64, others: &[usize]) -> Option<String> {
        let best_other = others
            .iter()
            .copied()
            .filter(|o| *o != m)
            .map(|o| (o, self.pool.health(o).throughput_bps))
            .max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))?;
        let best_other = match best_other {
            (o, Some(t)) => (o, t),
            // Nothing known of the others: only a crawl is worth a switch.
            (o, None) => (o, FLOOR_BPS * self.slow_ratio),
        };
        (rate * self.slow_ratio < best_other.1).then(|| {
            format!(
                "too slow: {:.0} KB/s while {} does {:.0} KB/s",
                rate / 1000.0,
                self.pool.url(best_other.0),
                best_other.1 / 1000.0
            )
        })
    }
}

/// Checks a complete feed file against the publisher's `podcast:integrity`
/// digests (Subresource Integrity: the strongest algorithm given decides,
/// and any of its digests may match).
/// What a complete feed file must pass: the hash learned at its first
/// download, if any, and the feed's integrity digests.
pub(super) fn feed_check(
    learned: Option<Sha256>,
    digests: Vec<FileDigest>,
) -> impl FnOnce(&std::path::Path, &Sha256, u64) -> Result<(), String> {
    move |path, sha, _| {
        if let Some(l) = learned.as_ref().filter(|l| *l != sha) {
            return Err(format!(
                "hash mismatch: this copy hashes to {sha}, the one first downloaded to {l}"
            ));
        }
        check_integrity(path, sha, &digests)
    }
}

/// Records a feed file just stored under `sha` at `path` (with the type its
/// first bytes show, for a feed that did not say); `Unwanted` when nothing
/// wants it any more (the file is then deleted).
pub(super) fn learn_stored(
    store: &Store,
    key: &Sha256,
    role: Option<stowaway_catalog::AssetRole>,
    path: &std::path::Path,
    sha: &Sha256,
    n: u64,
) -> Result<(), StoreError> {
    let sniffed = role.and_then(|role| {
        use std::io::Read;
        let mut head = Vec::with_capacity(8192);
        std::fs::File::open(path)
            .and_then(|f| f.take(8192).read_to_end(&mut head))
            .ok()?;
        crate::sources::feed::sniffed_type(role, &head)
    });
    if !store.learn_feed_file(key, sha, n, sniffed.as_deref())? {
        return Err(StoreError::Unwanted);
    }
    Ok(())
}

fn check_integrity(
    path: &std::path::Path,
    sha: &Sha256,
    digests: &[FileDigest],
) -> Result<(), String> {
    let strength = |a: &str| match a {
        "sha512" => 3,
        "sha384" => 2,
        "sha256" => 1,
        _ => 0,
    };
    let Some(best) = digests.iter().map(|d| strength(&d.algorithm)).max() else {
        return Ok(());
    };
    let wanted: Vec<&FileDigest> = digests
        .iter()
        .filter(|d| strength(&d.algorithm) == best)
        .collect();
    fn hex_of<D: sha2::Digest + std::io::Write>(path: &std::path::Path) -> Result<String, String> {
        let mut h = D::new();
        std::fs::File::open(path)
            .and_then(|mut f| std::io::copy(&mut f, &mut h))
            .map_err(|e| e.to_string())?;
        Ok(hex::encode(h.finalize()))
    }
    let actual = match best {
        1 => sha.to_string(),
        2 => hex_of::<sha2::Sha384>(path)?,
        _ => hex_of::<sha2::Sha512>(path)?,
    };
    if wanted.iter().any(|d| d.hex == actual) {
        Ok(())
    } else {
        Err(format!(
            "integrity mismatch: the file's {} is not the one the feed gives",
            wanted[0].algorithm
        ))
    }
}

impl Downloads<'_> {
    /// A feed file: from its sources (the enclosure, then the alternates
    /// that are the same file), on whichever host answers, resuming with
    /// Range across sources when a hash will check the whole. Before its
    /// hash is known the file is checked by the integrity digests (the
    /// declared length is advice), then stored under its SHA-256, which is
    /// recorded;
    /// after, a copy must match it, except one the enclosure's own address
    /// serves whole with no digest to check: for an unsigned feed that is the
    /// publisher's word (a re-upload), and it is learned anew.
    async fn feed_file(&self, w: &WantedBlob, file: FeedFile) -> Result<u64, String> {
        // Under a budget, a file of unknown size waits its turn, and does
        // not start once one found the room gone.
        let _turn = match self.budget.filter(|_| !w.explicit && w.size == 0) {
            Some(b) => {
                let turn = tokio::select! {
                    t = b.one_at_a_time.acquire() => t.ok(),
                    () = self.cancel.cancelled() => return Err("cancelled".into()),
                };
                if b.exhausted.load(Ordering::SeqCst) {
                    b.stop(w);
                    return Err("the storage budget has no room left".into());
                }
                turn
            }
            None => None,
        };
        let store = self.engine.store().clone();
        // The size learned with the hash is exact; the length the feed
        // declares is advice (hosts get it wrong: ad insertion, re-encodes, a
        // duration in seconds): shown as progress, reported if it differs,
        // never a reason to refuse the file. A digest or a hash decides.
        let size = file.size;
        // Only media may be large; a transcript, chapters or artwork that
        // keeps coming is cut off.
        let role = store.asset_role(&w.sha256).map_err(|e| e.to_string())?;
        let limit = match role {
            Some(stowaway_catalog::AssetRole::Media | stowaway_catalog::AssetRole::Attachment) => {
                crate::sources::feed::MAX_UNDECLARED_FILE
            }
            _ => crate::sources::feed::MAX_SMALL_FILE,
        };
        let label = w.sha256.to_string();
        // Each source on its host in the pool (the first is the enclosure).
        let sources: Vec<(usize, url::Url)> = file
            .urls
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .filter_map(|u| {
                let origin = crate::sources::feed::origin_of(&u);
                (0..self.pool.len())
                    .find(|&i| self.pool.url(i) == origin)
                    .map(|i| (i, u))
            })
            .collect();
        if sources.is_empty() {
            return Err("none of the feed's sources is usable".into());
        }
        // Each host's sources in the feed's order: its first, then (when
        // every first one failed) its second, and so on.
        let mut layers: Vec<std::collections::HashMap<usize, url::Url>> = Vec::new();
        for (m, u) in sources {
            match layers.iter_mut().find(|l| !l.contains_key(&m)) {
                Some(l) => {
                    l.insert(m, u);
                }
                None => layers.push([(m, u)].into_iter().collect()),
            }
        }
        // Several hosts of a file its digest checks whole, of a known size:
        // fetched in segments from all of them at once (each host's first
        // URL: an alternate on the enclosure's host is the same server). The
        // join of their bytes is checked by the digest; when it fails, no
        // host can be blamed, and the file is fetched from one at a time
        // below.
        let hosts = layers.first().cloned().unwrap_or_default();
        if !file.integrity.is_empty()
            && hosts.len() >= 2
            && w.size >= segmented::FEED_SEGMENTS_FROM
            && size.is_none_or(|n| n == w.size)
        {
            match self.feed_segments(w, &file, role, hosts).await {
                Ok(Some(n)) => return Ok(n),
                Ok(None) => {}
                Err(e) if self.cancel.is_cancelled() => return Err(e),
                // The hosts did not give the segments (a wrong length, a
                // host that refuses ranges…): one at a time, below.
                Err(e) => debug!(file = %label, error = %e, "segments from several hosts failed"),
            }
        }
        // A partial left in segments has holes: it is not continued front
        // to back.
        let journal = store.blobs().chunk_journal_path(&w.sha256);
        if journal.exists() {
            let _ = std::fs::remove_file(store.blobs().partial_path(&w.sha256));
            let _ = std::fs::remove_file(&journal);
        }
        self.front_file(w, &file, role, layers, limit).await
    }
}

impl Engine {
    /// After a blob is stored: if it is an item's transcript, its text goes
    /// into the search index.
    pub(crate) async fn index_transcript(&self, sha: &Sha256) {
        let store = self.store().clone();
        let blob = sha.clone();
        let r = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let sha = blob;
            let Some(media_type) = store.transcript_type(&sha).map_err(|e| e.to_string())? else {
                return Ok(());
            };
            use std::io::Read;
            let mut bytes = Vec::new();
            std::fs::File::open(store.blobs().path(&sha))
                .and_then(|f| f.take(8 << 20).read_to_end(&mut bytes))
                .map_err(|e| e.to_string())?;
            let text = stowaway_feeds::transcript_text(&bytes, Some(&media_type));
            store
                .set_transcript_text(&sha, &text)
                .map_err(|e| e.to_string())?;
            Ok(())
        })
        .await;
        if let Ok(Err(e)) | Err(e) = r.map_err(|e| e.to_string()) {
            warn!(blob = %sha, error = %e, "could not index the transcript");
        }
    }

    /// Indexes transcripts stored before they were indexed (a cache from an
    /// earlier version), and reads media and chapters files not read yet,
    /// a bounded number of each per sync.
    pub(crate) async fn index_stored_files(&self) {
        match self.store().unindexed_transcripts(200) {
            Ok(list) => {
                for (sha, _) in list {
                    self.index_transcript(&sha).await;
                }
            }
            Err(e) => warn!(error = %e, "could not list transcripts to index"),
        }
        match self.store().unread_media(500) {
            Ok(list) => {
                for (sha, _, _) in list {
                    self.index_media(&sha).await;
                }
            }
            Err(e) => warn!(error = %e, "could not list media files to read"),
        }
    }

    /// After a blob is stored: if it is an item's media or chapters file,
    /// its duration and chapters are read (off the async threads).
    pub(crate) async fn index_media(&self, sha: &Sha256) {
        let store = self.store().clone();
        let blob = sha.clone();
        let _ = tokio::task::spawn_blocking(move || read_media_info(&store, &blob)).await;
    }
}

/// Reads a stored media or chapters file and keeps what it says (its
/// duration, its chapters, their titles for search). A file that cannot be
/// read is kept as having none, so it is not read again on every sync.
/// Returns whether the file is an item's media or chapters.
pub fn read_media_info(store: &Store, sha: &Sha256) -> bool {
    let role = match store.media_role(sha) {
        Ok(Some(r)) => r,
        Ok(None) => return false,
        Err(e) => {
            warn!(blob = %sha, error = %e, "could not look up a stored file");
            return false;
        }
    };
    let path = store.blobs().path(sha);
    let (duration, chapters) = if role.0 == "chapters" {
        use std::io::Read;
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&path).and_then(|f| {
            f.take(stowaway_tags::MAX_JSON_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        });
        let parsed = read
            .map_err(|e| e.to_string())
            .and_then(|_| stowaway_tags::parse_chapters_json(&bytes).map_err(|e| e.to_string()));
        match parsed {
            Ok(c) => (None, c),
            Err(e) => {
                warn!(blob = %sha, error = %e, "a chapters file could not be read");
                (None, Vec::new())
            }
        }
    } else {
        match stowaway_tags::read_media(&path, &role.1) {
            Ok(i) => (i.duration_ms, i.chapters),
            Err(e) => {
                debug!(blob = %sha, error = %e, "no duration or chapters read from a media file");
                (None, Vec::new())
            }
        }
    };
    let json = serde_json::to_string(&chapters).unwrap_or_else(|_| "[]".into());
    let titles: Vec<&str> = chapters.iter().map(|c| c.title.as_str()).collect();
    if let Err(e) = store.set_media_info(sha, duration, &json, &titles.join("\n")) {
        warn!(blob = %sha, error = %e, "could not keep what a media file says");
    }
    true
}
