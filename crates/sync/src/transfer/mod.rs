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
//! The first three are fetched by one loop, in segments from every source
//! at once (`segmented`: the Plan, streams, the writer thread, the journal).
//! The last, and a feed's file of unknown size or on one host, comes from
//! one source at a time, front to back, here (`feed_file`): a stream that
//! fails, stalls, or runs far slower than another source does is continued
//! at the same offset on the next with a Range request only when a digest or
//! a learned hash will check the join; otherwise the file starts over.
//! Small files are fetched whole, hedged. `now` starts one at once for the
//! player. The sources (`crate::sources`) say which files and where.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stowaway_catalog::{blob_path, Sha256};
use stowaway_mirrors::{BodyStream, MirrorError, MirrorPool, Pace, RateLimiter};
use stowaway_store::{BlobWriter, FeedFile, FileDigest, Store, StoreError, WantedBlob};
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

/// The file being written, fed through a channel to a blocking thread that
/// hashes, writes and (every 2 s) fdatasyncs, so receiving overlaps hashing
/// and disk I/O and no async worker thread ever blocks on the disk.
struct Sink {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    task: tokio::task::JoinHandle<Result<BlobWriter, StoreError>>,
    accepted: u64,
    size: u64,
}

impl Sink {
    fn new(mut writer: BlobWriter) -> Sink {
        let accepted = writer.written();
        let size = writer.limit();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(32);
        let task = tokio::task::spawn_blocking(move || {
            let mut last = std::time::Instant::now();
            while let Some(chunk) = rx.blocking_recv() {
                writer.write(&chunk)?;
                if last.elapsed() >= Duration::from_secs(2) {
                    writer.checkpoint()?;
                    last = std::time::Instant::now();
                }
            }
            Ok(writer)
        });
        Sink {
            tx,
            task,
            accepted,
            size,
        }
    }

    /// Bytes handed to the writer so far (including a resumed prefix).
    fn written(&self) -> u64 {
        self.accepted
    }

    /// Queues a chunk; refuses to grow past the blob's size.
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), StoreError> {
        if self.accepted + chunk.len() as u64 > self.size {
            return Err(StoreError::TooLong {
                sha256: String::new(),
                expected_size: self.size,
            });
        }
        self.accepted += chunk.len() as u64;
        if self.tx.send(chunk).await.is_err() {
            // The writer stopped: its error says why.
            return Err(self.close_err().await);
        }
        Ok(())
    }

    async fn close_err(&mut self) -> StoreError {
        match (&mut self.task).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => StoreError::Io {
                path: "partial".into(),
                source: std::io::Error::other("the writer stopped"),
            },
            Err(e) => StoreError::Io {
                path: "partial".into(),
                source: std::io::Error::other(e.to_string()),
            },
        }
    }

    /// Waits for every queued byte to be written and returns the writer.
    async fn finish_writing(self) -> Result<BlobWriter, StoreError> {
        let Sink { tx, task, .. } = self;
        drop(tx);
        match task.await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Io {
                path: "partial".into(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

/// A file's chunk list as the catalog names it (chunk size, the list's
/// hash) and the digests of its chunks, when it has one.
type Digests = Option<(stowaway_catalog::Chunks, std::sync::Arc<[[u8; 32]]>)>;

/// Why a stream from one mirror ended early.
enum StreamEnd {
    Complete,
    Failed(String),
    Slow(String),
    BadBytes(String),
    Cancelled,
    /// More bytes came than the storage budget has room for.
    OverBudget,
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

    /// A download of `w` starts with `resumed` bytes already on disk: the
    /// shells are told, the bytes count as present, the index records it.
    fn resuming(&self, w: &WantedBlob, resumed: u64) {
        if resumed > 0 {
            info!(blob = %w.sha256, bytes = resumed, "resuming a partial download");
            self.engine.emit(SyncEvent::DownloadResumed {
                sha256: w.sha256.to_string(),
                offset: resumed,
                size: w.size,
            });
        }
        self.done.fetch_add(resumed, Ordering::Relaxed);
        let _ = self
            .engine
            .store()
            .record_partial(&w.sha256, w.size, resumed, None);
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

    /// Tells the shells a stream starts: the first from any mirror, or a
    /// move from the `previous` one (with the last error as its reason).
    #[allow(clippy::too_many_arguments)]
    fn announce(
        &self,
        previous: Option<usize>,
        m: usize,
        id: &str,
        w: &WantedBlob,
        size: u64,
        offset: u64,
        url: &str,
        errors: &[String],
    ) {
        self.engine.emit(match previous {
            Some(from) if from != m => SyncEvent::Failover {
                sha256: id.to_owned(),
                from: self.pool.url(from).to_owned(),
                to: url.to_owned(),
                offset,
                reason: errors.last().cloned().unwrap_or_default(),
            },
            _ => SyncEvent::DownloadStarted {
                sha256: id.to_owned(),
                label: w.label.clone(),
                size,
                offset,
                mirror: url.to_owned(),
            },
        });
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
    /// hash is known the file is checked against the declared length and the
    /// integrity digests, then stored under its SHA-256, which is recorded;
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
        let learned = file.sha256.clone();
        // The size learned with the hash is exact; the length the feed
        // declares is advice (hosts get it wrong: ad insertion, re-encodes, a
        // duration in seconds): shown as progress, reported if it differs,
        // never a reason to refuse the file. A digest or a hash decides.
        let size = file.size;
        let declared = file.length;
        // Only media may be large; a transcript, chapters or artwork that
        // keeps coming is cut off.
        let role = store.asset_role(&w.sha256).map_err(|e| e.to_string())?;
        let limit = match role {
            Some(stowaway_catalog::AssetRole::Media | stowaway_catalog::AssetRole::Attachment) => {
                crate::sources::feed::MAX_UNDECLARED_FILE
            }
            _ => crate::sources::feed::MAX_SMALL_FILE,
        };
        // Bytes from two responses may be joined only when the whole file is
        // checked at the end by a hash: with nothing but a length (or not even
        // that), a server that serves other bytes each time (dynamic ad
        // insertion) would be spliced into a file that passes. Such a file
        // starts over after any interruption.
        let resumable = learned.is_some() || !file.integrity.is_empty();
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
        // Several hosts of a file its digest checks whole, of a known size:
        // fetched in segments from all of them at once. The join of their
        // bytes is checked by the digest; when it fails, no host can be
        // blamed, and the file is fetched from one at a time below.
        let mut hosts: std::collections::HashMap<usize, url::Url> = Default::default();
        for (m, u) in &sources {
            hosts.entry(*m).or_insert_with(|| u.clone());
        }
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
        let primary = file.urls.first().cloned().unwrap_or_default();
        let open_writer = |fresh: bool| {
            let store = store.clone();
            let partial = w.sha256.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    if fresh {
                        store.blobs().begin_unknown(&partial, None, limit)
                    } else {
                        store.blobs().resume_unknown(&partial, None, limit)
                    }
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
            }
        };
        let mut writer = Sink::new(open_writer(!resumable).await?);
        // The media server may play it from the front as it comes.
        let _arriving = Arriving::new(&store, &w.sha256);
        let resumed = writer.written();
        if resumed > 0 {
            info!(file = %label, offset = resumed, "resuming partial download");
            self.engine.emit(SyncEvent::DownloadResumed {
                sha256: label.clone(),
                offset: resumed,
                size: size.or(declared).unwrap_or(0),
            });
        }
        self.done.fetch_add(resumed, Ordering::Relaxed);
        let mut counted = resumed;
        // Every byte so far came from the enclosure's own address (a resumed
        // prefix of unknown origin does not count).
        let mut primary_only = resumed == 0;
        // Who served the bytes since the file last started from nothing.
        let mut contributors: HashSet<usize> = HashSet::new();
        let mut earlier_prefix = resumed > 0;
        let mut errors: Vec<String> = Vec::new();
        let mut bad: HashSet<usize> = HashSet::new();
        let mut previous: Option<usize> = None;
        // Rounds over the sources; a round that brought bytes earns
        // another (as for a signed file), one that did not counts.
        let mut rounds = Rounds::new();
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                // Every source's host behind an open circuit: wait for the
                // first to reopen (within reason), not a fixed back-off.
                let available = self.pool.available();
                let none_open = !sources.iter().any(|(m, _)| available.contains(m));
                match rounds.next(self, none_open).await {
                    Ok(()) => {}
                    Err(NoRound::Cancelled) => return Err("cancelled".into()),
                    Err(NoRound::Exhausted) => break,
                }
            }
            // Healthy hosts first, in the pool's order; the rest after.
            let order = self.pool.available();
            let mut queue: Vec<&(usize, url::Url)> =
                sources.iter().filter(|(m, _)| !bad.contains(m)).collect();
            queue.sort_by_key(|(m, _)| order.iter().position(|o| o == m).unwrap_or(usize::MAX));
            if queue.is_empty() {
                break;
            }
            let mut tried: HashSet<usize> = HashSet::new();
            for &(m, ref url) in queue {
                tried.insert(m);
                if self.cancel.is_cancelled() {
                    return Err("cancelled".into());
                }
                if !resumable && writer.written() > 0 {
                    if let Ok(inner) = writer.finish_writing().await {
                        inner.discard();
                    }
                    self.done.fetch_sub(counted, Ordering::Relaxed);
                    counted = 0;
                    primary_only = true;
                    contributors.clear();
                    earlier_prefix = false;
                    writer = Sink::new(open_writer(true).await?);
                }
                // A partial that is already whole (the last sync stopped
                // while checking it) is finished, not asked for again: only
                // when a hash or digest will check it, so the declared
                // length, which is only advice, is enough to try.
                let whole = resumable
                    && size
                        .or(declared)
                        .is_some_and(|n| n > 0 && writer.written() == n);
                let end = if whole {
                    StreamEnd::Complete
                } else {
                    let offset = writer.written();
                    let _permit = self.pool.permit(m).await;
                    let mut body = match self.pool.open_url(m, url, offset, None).await {
                        Ok(mut b) => {
                            b.set_pace(Some(self.pace()));
                            b
                        }
                        Err(e) => {
                            self.engine.emit(SyncEvent::DownloadMirrorFailed {
                                sha256: label.clone(),
                                mirror: url.to_string(),
                                error: e.to_string(),
                                code: e.code().to_owned(),
                            });
                            errors.push(format!("{url}: {e}"));
                            continue;
                        }
                    };
                    let mut pending = match self.skip_to(&mut body, m, offset).await {
                        Ok(c) => c,
                        Err(e) => {
                            errors.push(format!("{url}: {e}"));
                            continue;
                        }
                    };
                    // A source announcing another length than the copy whose
                    // hash was learned serves another file (the enclosure's
                    // own address without a digest may: the publisher's new
                    // copy is learned anew).
                    let relearnable = file.integrity.is_empty() && url.as_str() == primary;
                    if let (Some(size), Some(rem), false) = (size, body.remaining, relearnable) {
                        let rem = rem + pending.as_ref().map_or(0, |c| c.len() as u64);
                        if rem != size.saturating_sub(offset) {
                            let e = format!(
                                "announces {rem} bytes from offset {offset}, the copy first downloaded has {}",
                                size.saturating_sub(offset)
                            );
                            bad.insert(m);
                            errors.push(format!("{url}: {e}"));
                            continue;
                        }
                    }
                    let source = url.as_str();
                    self.announce(
                        previous,
                        m,
                        &label,
                        w,
                        size.or(declared).unwrap_or(0),
                        offset,
                        source,
                        &errors,
                    );
                    previous = Some(m);
                    let started = Instant::now();
                    let start_bytes = writer.written();
                    let mut last_event = Instant::now();
                    let mut last_check = Instant::now();
                    let mut window = RateWindow::new();
                    let end = loop {
                        let chunk = match pending.take() {
                            Some(c) => c,
                            None => {
                                let others =
                                    sources.iter().any(|(o, _)| *o != m && !bad.contains(o));
                                match self.next_chunk(&mut body, m, others).await {
                                    // A body shorter than it announced is cut, not complete.
                                    Ok(None) if body.remaining.is_some_and(|r| r > 0) => {
                                        let e = MirrorError::Transfer(
                                            "the body ended before its announced length".into(),
                                        );
                                        self.pool.record_failure(m, &e);
                                        break StreamEnd::Failed(e.to_string());
                                    }
                                    Ok(None) => break StreamEnd::Complete,
                                    Ok(Some(c)) => c,
                                    Err(end) => break end,
                                }
                            }
                        };
                        if let Some(l) = self.limiter {
                            l.take(chunk.len()).await;
                        }
                        let n = chunk.len() as u64;
                        self.received.fetch_add(n, Ordering::Relaxed);
                        let fits = w.explicit
                            || self
                                .budget
                                .is_none_or(|b| b.charge(w, writer.written() + n));
                        if !fits {
                            break StreamEnd::OverBudget;
                        }
                        if let Err(e) = writer.write(chunk).await {
                            if matches!(e, StoreError::TooLong { .. }) {
                                break StreamEnd::BadBytes(format!(
                                    "more bytes than the {} expected",
                                    writer.size
                                ));
                            }
                            return Err(e.to_string());
                        }
                        primary_only &= url.as_str() == primary;
                        contributors.insert(m);
                        self.done.fetch_add(n, Ordering::Relaxed);
                        counted += n;
                        if last_event.elapsed() >= Duration::from_millis(100) {
                            last_event = Instant::now();
                            self.engine.emit(SyncEvent::DownloadProgress {
                                sha256: label.clone(),
                                bytes: writer.written(),
                                size: size.or(declared).unwrap_or(0),
                                mirror: url.to_string(),
                            });
                        }
                        // The partial's progress in the index, and whether
                        // the store still wants it.
                        if last_check.elapsed() >= Duration::from_secs(2) {
                            last_check = Instant::now();
                            let _ = store.record_partial(
                                &w.sha256,
                                size.or(declared).unwrap_or(0),
                                writer.written(),
                                Some(url.as_str()),
                            );
                            if self.removed_in_store(w) {
                                break StreamEnd::Cancelled;
                            }
                        }
                        // Far slower than another of this file's sources is
                        // known to be (or a crawl, when nothing is known)?
                        // Move on: with a hash to check the whole, the next
                        // source continues where this one stopped.
                        let others = || {
                            let available = self.pool.available();
                            sources
                                .iter()
                                .map(|(o, _)| *o)
                                .filter(|o| !bad.contains(o) && !tried.contains(o))
                                .filter(|o| available.contains(o))
                                .collect()
                        };
                        if let Some(reason) = window.slow(self, m, n, others) {
                            break StreamEnd::Slow(reason);
                        }
                    };
                    // Bytes that stay earn another round: not those of a
                    // stream given up as too slow (a drip would earn rounds
                    // for ever), nor of a file that starts over after any
                    // interruption (no hash to check a join).
                    if resumable
                        && writer.written() >= start_bytes + (64 << 10)
                        && !matches!(end, StreamEnd::Slow(_))
                    {
                        rounds.progress();
                    }
                    if matches!(end, StreamEnd::Complete) {
                        self.pool.record_success(m, None);
                        self.pool.record_transfer(
                            m,
                            writer.written() - start_bytes,
                            started.elapsed(),
                        );
                    }
                    end
                };
                match end {
                    StreamEnd::Complete => {
                        // With no digest, what the enclosure's address serves
                        // whole is the publisher's word and may replace what
                        // was learned; a copy from anywhere else must match.
                        let relearn = file.integrity.is_empty() && primary_only;
                        let finished = self
                            .finish_feed_file(
                                writer,
                                &file,
                                role,
                                learned.clone().filter(|_| !relearn),
                            )
                            .await?;
                        match finished {
                            Ok((sha, n)) => {
                                if learned.as_ref().is_some_and(|l| *l != sha) {
                                    info!(file = %label, new = %sha, "the publisher's copy changed; learned anew");
                                }
                                if let Some(d) = declared.filter(|&d| d != n) {
                                    warn!(file = %label, declared = d, actual = n, "the feed declares another length than the file has; kept");
                                    self.note(format!(
                                        "{}: the feed says {d} bytes, the file has {n}; kept (checked by {})",
                                        w.label,
                                        if file.integrity.is_empty() { "its own hash from now on" } else { "the feed's integrity digest" }
                                    ));
                                }
                                let _ = store.remove_partial(&w.sha256);
                                self.engine.index_transcript(&sha).await;
                                self.engine.index_media(&sha).await;
                                self.engine.emit(SyncEvent::DownloadFinished {
                                    sha256: label.clone(),
                                    mirror: url.to_string(),
                                    size: counted,
                                });
                                return Ok(counted);
                            }
                            Err(StoreError::Unwanted) => return Err(self.removed_elsewhere()),
                            Err(e) => {
                                warn!(file = %label, source = %url, error = %e, "feed file failed verification; discarded");
                                // Blame the source only if it served every byte.
                                if !earlier_prefix && contributors.len() == 1 {
                                    self.pool.record_bad_bytes(m, &e.to_string());
                                }
                                bad.insert(m);
                                self.engine.emit(SyncEvent::DownloadMirrorFailed {
                                    sha256: label.clone(),
                                    mirror: url.to_string(),
                                    error: e.to_string(),
                                    code: e.code().to_owned(),
                                });
                                errors.push(format!("{url}: {e}"));
                                self.done.fetch_sub(counted, Ordering::Relaxed);
                                counted = 0;
                                primary_only = true;
                                contributors.clear();
                                earlier_prefix = false;
                                writer = Sink::new(open_writer(true).await?);
                            }
                        }
                    }
                    StreamEnd::Failed(e) | StreamEnd::Slow(e) => {
                        self.engine.emit(SyncEvent::DownloadMirrorFailed {
                            sha256: label.clone(),
                            mirror: url.to_string(),
                            error: e.clone(),
                            code: "interrupted".into(),
                        });
                        errors.push(format!("{url}: {e}"));
                        let _ = store.record_partial(
                            &w.sha256,
                            size.or(declared).unwrap_or(0),
                            writer.written(),
                            Some(url.as_str()),
                        );
                    }
                    StreamEnd::BadBytes(e) => {
                        self.pool.record_bad_bytes(m, &e);
                        bad.insert(m);
                        errors.push(format!("{url}: {e}"));
                        if let Ok(inner) = writer.finish_writing().await {
                            inner.discard();
                        }
                        self.done.fetch_sub(counted, Ordering::Relaxed);
                        counted = 0;
                        primary_only = true;
                        contributors.clear();
                        earlier_prefix = false;
                        writer = Sink::new(open_writer(true).await?);
                    }
                    StreamEnd::Cancelled => {
                        let _ = store.record_partial(
                            &w.sha256,
                            size.or(declared).unwrap_or(0),
                            writer.written(),
                            Some(url.as_str()),
                        );
                        return Err("cancelled".into());
                    }
                    StreamEnd::OverBudget => {
                        // Its space is what is short: nothing of it is kept.
                        if let Ok(inner) = writer.finish_writing().await {
                            inner.discard();
                        }
                        let _ = store.remove_partial(&w.sha256);
                        self.done.fetch_sub(counted, Ordering::Relaxed);
                        if let Some(b) = self.budget {
                            b.stop(w);
                        }
                        warn!(file = %label, bytes = counted, "stopped: the file is larger than the storage budget has room for");
                        return Err(format!(
                            "stopped at {counted} bytes: larger than the storage budget has room for"
                        ));
                    }
                }
            }
        }
        let _ = store.record_partial(
            &w.sha256,
            size.or(declared).unwrap_or(0),
            writer.written(),
            None,
        );
        Err(if errors.is_empty() {
            "no source is available".into()
        } else {
            errors.join("; ")
        })
    }

    /// Checks a complete feed file (the hash learned before if `learned`,
    /// the integrity digests) and stores it under its
    /// SHA-256, recording that hash. `Ok(Err(_))`: the bytes were refused
    /// and discarded.
    async fn finish_feed_file(
        &self,
        writer: Sink,
        file: &FeedFile,
        role: Option<stowaway_catalog::AssetRole>,
        learned: Option<Sha256>,
    ) -> Result<Result<(Sha256, u64), StoreError>, String> {
        let inner = writer.finish_writing().await.map_err(|e| e.to_string())?;
        let store = self.engine.store().clone();
        let (key, digests) = (file.key.clone(), file.integrity.clone());
        tokio::task::spawn_blocking(move || {
            let (sha, n, path) = inner.finish_unknown(feed_check(learned, digests))?;
            learn_stored(&store, &key, role, &path, &sha, n)?;
            Ok((sha, n))
        })
        .await
        .map_err(|e| e.to_string())
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
