//! The one transfer loop (`fetch_segments`). A file with a chunk list
//! (catalog format 2), a known hash (format 1) or a feed's digest is
//! fetched in segments from every healthy mirror at once; any other feed
//! file (no digest, under 4 MiB, on one host, of unknown size, or whose
//! joined copy failed) comes front to back from one source at a time
//! (`Front`: the file is one piece whose length is known when a response
//! ends). The rest of this note is about segments.
//!
//! The file's chunks are shared out as segments (runs of chunks, lowest
//! first) among up to [`MAX_STREAMS`] streams, at most [`PER_MIRROR`] on one
//! mirror. Each stream asks its mirror for its segment's bytes with a
//! bounded Range and hands them, piece by piece, to the writer thread, which
//! writes each at its place and checks a chunk against its digest when it
//! is whole ([`stowaway_store::ChunkedPartial`]). A stream that has nothing left to take steals
//! the back half of the segment with the most chunks left, so a slow mirror
//! ends up with less of the file and a fast one with more; a stream that
//! stalls, crawls or fails gives its chunks back and its place to a stream
//! on the best other mirror. A chunk that fails its hash is fetched again
//! from another mirror and its mirror is blamed and left for this file: a
//! lying mirror costs a chunk, not the file.
//!
//! When anything names the file other than through its chunk list (another
//! library, a feed), the file's own SHA-256 is taken in order on a third
//! thread as the checked chunks join up from the start ([`PrefixHasher`]),
//! and the file is stored only when that matches too. When only its list
//! names it, the list is the check (one SHA-256 pass, not two) and the file
//! is recorded as checked by it (`Store::keep_chunk_checked`, which takes
//! the whole hash after all if another name came meanwhile). Its journal
//! lets a killed download go on with the chunks it had, without checking
//! them again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use stowaway_catalog::{blob_path, AssetRole, Chunks, CHUNK_SIZE};
use stowaway_mirrors::{MirrorError, MirrorPool};
use stowaway_store::{
    BlobWriter, ChunkChecked, ChunkedPartial, FeedFile, PrefixHasher, StoreError, WantedBlob,
    Written,
};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Downloads, NoRound, RateWindow, Rounds, StreamEnd};
use crate::SyncEvent;

/// Streams for one file at once, over all its mirrors.
pub(crate) const MAX_STREAMS: usize = 8;
/// Streams for one file on one mirror.
pub(crate) const PER_MIRROR: usize = 4;
/// Most chunks a stream takes at once (a segment): small enough that idle
/// streams mostly take fresh segments rather than steal.
const MAX_SEGMENT: usize = 16;
/// Most chunks one request asks for: a stream asks for its segment this
/// many chunks at a time, and an idle stream steals only chunks not yet
/// asked for, so a stream is never cut short inside a request (what the
/// server pushed past a cut would be fetched twice).
const REQUEST: usize = 4;
/// A segment is split for an idle stream only when this many chunks not
/// yet asked for are left in it.
const MIN_STEAL: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Missing,
    /// In a stream's segment.
    Taken,
    /// Received whole and handed to the writer; its check is awaited.
    Sent,
    Done,
}

/// The chunks a stream is fetching: `next` is being received, `end` may
/// be lowered by a stream that steals the rest.
#[derive(Clone, Copy, Debug)]
struct Segment {
    next: usize,
    end: usize,
    /// Where the stream's current request ends (chunks before it are on
    /// their way: never stolen).
    asked: usize,
}

/// Which chunk is where: the scheduler the streams share.
#[derive(Debug)]
pub(crate) struct Plan {
    chunks: Vec<State>,
    /// Bytes of an unfinished chunk in the file (a stream that stopped, or
    /// an earlier run): fetched from there on.
    held: Vec<u64>,
    segments: HashMap<usize, Segment>,
    segment_len: usize,
    done: usize,
    /// Mirrors that sent a chunk failing its hash (for this file).
    liars: HashSet<usize>,
    /// A chunk a player waits for: the next stream to take starts there.
    priority: Option<usize>,
}

impl Plan {
    pub(crate) fn new(present: &[bool], held: &[(usize, u64)], streams: usize) -> Plan {
        let mut held_at = vec![0; present.len()];
        for &(i, n) in held {
            if let Some(h) = held_at.get_mut(i) {
                *h = n;
            }
        }
        let chunks: Vec<State> = present
            .iter()
            .map(|p| if *p { State::Done } else { State::Missing })
            .collect();
        let done = present.iter().filter(|p| **p).count();
        let missing = chunks.len() - done;
        Plan {
            chunks,
            held: held_at,
            segments: HashMap::new(),
            segment_len: missing.div_ceil(streams.max(1)).clamp(1, MAX_SEGMENT),
            done,
            liars: HashSet::new(),
            priority: None,
        }
    }

    /// Segments of one request each (see [`REQUEST`]), taken lowest first.
    pub(crate) fn in_order(&mut self) {
        self.segment_len = self.segment_len.min(REQUEST);
    }

    /// A player waits for chunk `c`: whether a stream should be started for
    /// it (it is neither in, nor on its way, nor being received).
    pub(crate) fn prioritise(&mut self, c: usize) -> bool {
        let wanted = match self.chunks.get(c) {
            Some(State::Missing) => true,
            Some(State::Taken) => self.segments.values().all(|g| g.next != c),
            _ => false,
        };
        if wanted {
            self.priority = Some(c);
        }
        wanted
    }

    /// A segment for stream `s`: the first run of missing chunks (at most
    /// a segment's length; a chunk with bytes held starts a run of its
    /// own), else the back half of the segment with the most chunks left.
    /// Returns the chunks and how many bytes of the first are in already;
    /// `None` when there is nothing to take.
    pub(crate) fn take(&mut self, s: usize) -> Option<(usize, usize, u64)> {
        self.segments.remove(&s);
        // A chunk a player waits for: from there, split off the segment
        // that holds it if need be.
        if let Some(c) = self.priority.take() {
            if self.chunks.get(c) == Some(&State::Taken) {
                let victim = self
                    .segments
                    .iter()
                    .find(|(_, g)| g.next < c && c < g.end)
                    .map(|(v, g)| (*v, g.end));
                if let Some((v, end)) = victim {
                    if let Some(g) = self.segments.get_mut(&v) {
                        g.end = c;
                    }
                    self.segments.insert(
                        s,
                        Segment {
                            next: c,
                            end,
                            asked: c,
                        },
                    );
                    return Some((c, end, 0));
                }
            }
            if self.chunks.get(c) == Some(&State::Missing) {
                return Some(self.run_from(s, c));
            }
        }
        if let Some(start) = self.chunks.iter().position(|c| *c == State::Missing) {
            return Some(self.run_from(s, start));
        }

        // Steal: only chunks the victim has not asked for yet (those on
        // their way stay with it, as does the one being received).
        let unasked = |g: &Segment| g.end - g.asked.max(g.next).min(g.end);
        let (&victim, seg) = self
            .segments
            .iter()
            .filter(|(_, g)| unasked(g) >= MIN_STEAL)
            .max_by_key(|(v, g)| (unasked(g), std::cmp::Reverse(**v)))?;
        let from = seg.asked.max(seg.next);
        let mid = from + (unasked(seg) / 2).max(1);
        let end = seg.end;
        if let Some(v) = self.segments.get_mut(&victim) {
            v.end = mid;
        }
        self.segments.insert(
            s,
            Segment {
                next: mid,
                end,
                asked: mid,
            },
        );
        Some((mid, end, 0))
    }

    /// A segment for stream `s`: the run of missing chunks from `start`.
    fn run_from(&mut self, s: usize, start: usize) -> (usize, usize, u64) {
        let mut end = start;
        while end < self.chunks.len()
            && end - start < self.segment_len
            && self.chunks[end] == State::Missing
            && (end == start || self.held[end] == 0)
        {
            self.chunks[end] = State::Taken;
            end += 1;
        }
        self.segments.insert(
            s,
            Segment {
                next: start,
                end,
                asked: start,
            },
        );
        (start, end, self.held[start])
    }

    /// Stream `s` asks its mirror for the next chunks of its segment: the
    /// end of that request (at most [`REQUEST`] chunks), `None` when its
    /// segment has none left (cut short by a steal).
    pub(crate) fn ask(&mut self, s: usize) -> Option<usize> {
        let g = self.segments.get_mut(&s)?;
        if g.next >= g.end {
            return None;
        }
        g.asked = (g.next + REQUEST).min(g.end);
        Some(g.asked)
    }

    /// Stream `s` handed chunk `i` to the writer: whether its segment goes
    /// on (it may have been cut short by a steal).
    pub(crate) fn sent(&mut self, s: usize, i: usize) -> bool {
        if self.chunks[i] == State::Taken {
            self.chunks[i] = State::Sent;
        }
        match self.segments.get_mut(&s) {
            Some(g) => {
                g.next = i + 1;
                g.next < g.end
            }
            None => false,
        }
    }

    /// Stream `s` stops, having sent `at` bytes of the chunk it was
    /// receiving: the chunks of its segment not yet sent are missing again
    /// (that one from where it stopped).
    pub(crate) fn release(&mut self, s: usize, at: u64) {
        if let Some(g) = self.segments.remove(&s) {
            if g.next < g.end && self.chunks[g.next] == State::Taken {
                self.held[g.next] = at;
            }
            for c in &mut self.chunks[g.next..g.end] {
                if *c == State::Taken {
                    *c = State::Missing;
                }
            }
        }
    }

    /// The writer's word on chunk `i`.
    pub(crate) fn checked(&mut self, i: usize, ok: bool) {
        match (self.chunks[i], ok) {
            (State::Done, _) => {}
            (_, true) => {
                self.chunks[i] = State::Done;
                self.done += 1;
            }
            (_, false) => {
                self.chunks[i] = State::Missing;
                self.held[i] = 0;
            }
        }
    }

    pub(crate) fn complete(&self) -> bool {
        self.done == self.chunks.len()
    }

    /// Chunks that are neither in nor on their way.
    fn missing(&self) -> usize {
        self.chunks.iter().filter(|c| **c == State::Missing).count()
    }
}

/// How one stream ended.
enum End {
    /// Nothing left to take.
    Done,
    Failed(String),
    Slow(String),
    /// Its mirror sent a chunk that failed its hash (or bytes that are not
    /// the file).
    Liar,
    /// Its source sent what cannot be the file (a file front to back):
    /// what it sent is not kept, and it is not asked again for this file.
    Refused(String),
    Cancelled,
    /// More bytes came than the storage budget has room for.
    OverBudget,
}

/// Why the streams of a file stopped before it was whole.
#[derive(Debug)]
pub(super) enum Stop {
    Failed(String),
    /// A feed's host gave the file another size than it was fetched at
    /// (the feed's length was wrong): nobody is blamed.
    WrongSize,
    /// More bytes came than the storage budget has room for.
    OverBudget,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Failed(e) => f.write_str(e),
            Stop::WrongSize => {
                f.write_str("a host serves the file at another size than the feed declares")
            }
            Stop::OverBudget => f.write_str("larger than the storage budget has room for"),
        }
    }
}

impl From<String> for Stop {
    fn from(e: String) -> Stop {
        Stop::Failed(e)
    }
}

impl From<&str> for Stop {
    fn from(e: &str) -> Stop {
        Stop::Failed(e.to_owned())
    }
}

/// The "chunk" of a piece that tells a file front to back to start over
/// from nothing (what it holds is not kept).
const START_OVER: usize = usize::MAX;

/// Where a file's bytes go as they come, and what checks them there.
pub(super) enum Pieces {
    /// At their place, in chunks: each checked against a chunk list, or
    /// (`open_segments`) whole only at the end.
    Chunks(ChunkedPartial),
    /// Front to back, one source at a time (a feed file not fetched in
    /// segments): the file is
    /// one piece of a length known only when a response ends, checked whole
    /// at its end. A piece at offset 0 of a file with bytes in starts it over.
    Front(BlobWriter),
}

impl Pieces {
    fn write(
        &mut self,
        index: usize,
        at: u64,
        bytes: &[u8],
        source: u32,
    ) -> Result<Written, StoreError> {
        match self {
            Pieces::Chunks(p) => p.write(index, at, bytes, source),
            Pieces::Front(w) => {
                if index == START_OVER || (at == 0 && w.written() > 0) {
                    w.restart()?;
                    if index == START_OVER {
                        return Ok(Written::Partial);
                    }
                }
                if index != 0 || at != w.written() {
                    return Err(StoreError::OutOfRange(format!(
                        "bytes at {at} of a file written to {}",
                        w.written()
                    )));
                }
                // The end of a response that brought the file whole.
                if bytes.is_empty() {
                    return Ok(Written::Checked);
                }
                w.write(bytes)?;
                Ok(Written::Partial)
            }
        }
    }

    fn note_held(&mut self) -> Result<(), StoreError> {
        match self {
            Pieces::Chunks(p) => p.note_held(),
            Pieces::Front(_) => Ok(()),
        }
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        match self {
            Pieces::Chunks(p) => p.checkpoint(),
            Pieces::Front(w) => w.checkpoint(),
        }
    }

    /// Bytes from the start that are in.
    fn contiguous(&self) -> u64 {
        match self {
            Pieces::Chunks(p) => p.contiguous(),
            Pieces::Front(w) => w.written(),
        }
    }

    /// Bytes in that will not be fetched again.
    fn done_bytes(&self) -> u64 {
        match self {
            Pieces::Chunks(p) => p.done_bytes(),
            Pieces::Front(w) => w.written(),
        }
    }

    fn into_chunks(self) -> Result<ChunkedPartial, String> {
        match self {
            Pieces::Chunks(p) => Ok(p),
            Pieces::Front(_) => Err("a file in chunks came back front to back".into()),
        }
    }
}

/// A file that comes front to back from one source at a time: a feed's
/// file not fetched in segments (no digest, under 4 MiB, one host, no size
/// known, or a joined copy that failed).
pub(super) struct Front {
    /// Its exact size, learned with its hash.
    pub(super) exact: Option<u64>,
    /// The size the feed declares: advice, shown as progress.
    pub(super) declared: Option<u64>,
    /// Whether bytes of two responses may be joined: only when a hash
    /// (learned) or a digest checks the whole at its end.
    pub(super) resumable: bool,
    /// The enclosure's own address when no digest checks the file: what
    /// it serves may be the publisher's new copy, of another size.
    pub(super) relearnable: Option<url::Url>,
    /// Most bytes accepted.
    pub(super) limit: u64,
}

impl Front {
    /// The size as far as it is known: the exact one learned with the
    /// hash, else what the feed declares.
    fn size_hint(&self) -> Option<u64> {
        self.exact.or(self.declared)
    }
}

/// What the writer thread says of a chunk.
enum Verdict {
    Checked {
        index: usize,
    },
    Bad {
        index: usize,
        mirror: usize,
        spliced: bool,
    },
    Failed(StoreError),
}

/// A piece of a chunk for the writer: chunk, offset in it, bytes, mirror.
type Piece = (usize, u64, Bytes, usize);

/// What the streams of one file share.
struct Shared<'a> {
    w: &'a WantedBlob,
    /// Where each source has the file: one path below every mirror (a
    /// signed file), or a URL per source (a feed's file).
    target: Target,
    chunk: u64,
    plan: Mutex<Plan>,
    tx: tokio::sync::mpsc::Sender<Piece>,
    /// Bytes handed to the writer in this run.
    arrived: AtomicU64,
    /// A feed's host gave the file another size than it was fetched at
    /// (the feed's length was wrong): the segments stop, nobody blamed.
    wrong_size: std::sync::atomic::AtomicBool,
    /// A mirror whose first stream for this file sent bytes: it gets its
    /// other streams (each mirror starts with one).
    grow: tokio::sync::mpsc::UnboundedSender<usize>,
    /// Bytes each source handed to the writer in this run (any piece, not
    /// only a chunk's last): who made the copy.
    sent_by: Mutex<HashMap<usize, u64>>,
    /// Set when a stream finds nothing left to take: from then on, streams
    /// waiting for an unproven mirror's first answer give their chunks up.
    endgame: tokio::sync::watch::Sender<bool>,
    /// The file comes front to back, from one source at a time.
    front: Option<Front>,
    /// A front-to-back stream brought bytes that stay (they earn a round).
    progressed: std::sync::atomic::AtomicBool,
    /// A feed file's URLs without credentials, by source: what events name.
    shown: HashMap<usize, String>,
    /// Bytes that arrived and were counted off `done` again: a chunk that
    /// failed its check, or what a front-to-back file started over from.
    dropped: AtomicU64,
    /// Sources a file front to back was asked from in this round: not
    /// ones to move to when its stream is slow.
    tried: Mutex<HashSet<usize>>,
}

/// A feed's file this large or larger, with a digest and several hosts, is
/// fetched in segments from all of them ([`Downloads::feed_segments`]).
pub(super) const FEED_SEGMENTS_FROM: u64 = 4 << 20;

/// How long a stream waits for an unproven mirror's first answer before the
/// end game may take its chunks.
const ENDGAME_GRACE: Duration = Duration::from_millis(100);

/// Bytes written between two notes of how far unfinished chunks are.
const NOTE_EVERY: u64 = 64 << 10;

/// Each mirror of `streams` once, in order.
fn one_each(streams: Vec<usize>) -> Vec<usize> {
    let mut seen = HashSet::new();
    streams.into_iter().filter(|m| seen.insert(*m)).collect()
}

/// The source that sent the most pieces.
fn most(served: &HashMap<usize, u64>) -> Option<usize> {
    served.iter().max_by_key(|(_, n)| **n).map(|(m, _)| *m)
}

/// Where a file's sources have it.
pub(super) enum Target {
    /// The same path below every mirror of the pool.
    Path(String),
    /// That path on one mirror only.
    PathOn(String, usize),
    /// A URL per source (pool index), for a feed's file: only these.
    Urls(HashMap<usize, url::Url>),
}

impl Target {
    /// Every source of the file (those of the pool for a path), best first:
    /// a file front to back tries those behind an open circuit too, after
    /// the others, as a last resort.
    fn all(&self, pool: &MirrorPool) -> Vec<usize> {
        let mut a = self.available(pool);
        let rest: Vec<usize> = match self {
            Target::Path(_) => (0..pool.len()).collect(),
            Target::PathOn(_, only) => vec![*only],
            Target::Urls(urls) => {
                let mut k: Vec<usize> = urls.keys().copied().collect();
                k.sort_unstable();
                k
            }
        };
        for m in rest {
            if !a.contains(&m) {
                a.push(m);
            }
        }
        a
    }

    /// The sources that may be asked now, best first.
    fn available(&self, pool: &MirrorPool) -> Vec<usize> {
        let mut a = pool.available();
        match self {
            Target::Path(_) => {}
            Target::PathOn(_, only) => a.retain(|m| m == only),
            Target::Urls(urls) => a.retain(|m| urls.contains_key(m)),
        }
        a
    }
}

impl Shared<'_> {
    fn available(&self, pool: &MirrorPool) -> Vec<usize> {
        self.target.available(pool)
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn chunk_len(&self, i: usize) -> u64 {
        if self.front.is_some() {
            // One piece, as long as the response is.
            return u64::MAX;
        }
        self.chunk
            .min(self.w.size.saturating_sub(i as u64 * self.chunk))
    }

    /// The sources a stream on `m` could leave it for: available, honest,
    /// and (a file front to back) not asked already in this round.
    fn others(&self, pool: &MirrorPool, m: usize) -> Vec<usize> {
        let liars = self.plan().liars.clone();
        let tried = self.tried.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.available(pool)
            .into_iter()
            .filter(|o| *o != m && !liars.contains(o))
            .filter(|o| self.front.is_none() || !tried.contains(o))
            .collect()
    }

    /// Where source `m` has the file, for the shells.
    fn source(&self, pool: &MirrorPool, m: usize) -> String {
        self.shown
            .get(&m)
            .cloned()
            .unwrap_or_else(|| pool.url(m).to_owned())
    }

    /// The file's size as far as it is known, for progress (0: unknown).
    fn total(&self) -> u64 {
        match &self.front {
            Some(f) => f.size_hint().unwrap_or(0),
            None => self.w.size,
        }
    }
}

impl Downloads<'_> {
    /// Downloads `w`, which has a chunk list, in segments from its mirrors.
    pub(super) async fn segmented(
        &self,
        w: &WantedBlob,
        chunks: Chunks,
        digests: Arc<[[u8; 32]]>,
    ) -> Result<u64, String> {
        let store = self.engine.store().clone();
        let sha = w.sha256.to_string();
        let chunk_size = chunks.size;
        let opened = {
            let (store, sha, size, list) = (
                store.clone(),
                w.sha256.clone(),
                w.size,
                chunks.sha256.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let p = store
                    .blobs()
                    .open_chunked(&sha, size, chunk_size, digests)?;
                // The file's own hash is taken only if something names it
                // other than through this list (another library, a feed):
                // the list checks every byte for those that name it.
                let h = if store.named_only_with(&sha, &list)? {
                    None
                } else {
                    Some(p.prefix_hasher()?)
                };
                Ok::<_, StoreError>((p, h))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
        };
        let (partial, hasher) = opened;
        let (partial, hasher, served) = self
            .fetch_segments(
                w,
                Pieces::Chunks(partial),
                hasher,
                Target::Path(blob_path(&w.sha256)),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        let partial = partial.into_chunks()?;
        let by = most(&served);
        let whole_hash = hasher.is_some();
        let finished = tokio::task::spawn_blocking(move || {
            let mut hasher = hasher;
            if let Some(h) = hasher.as_mut() {
                h.hash_to(partial.size())?;
            }
            partial.finish(hasher)
        })
        .await
        .map_err(|e| e.to_string())?;
        if let Err(e) = finished {
            self.done.fetch_sub(w.size, Ordering::Relaxed);
            if !matches!(e, StoreError::HashMismatch { .. }) {
                let _ = store.record_partial(&w.sha256, w.size, 0, None);
                return Err(e.to_string());
            }
            // Every chunk matched its list, and the whole does not match the
            // file's hash: the catalog's chunk list is not this file's (or a
            // chunk checked before a crash was damaged on disk since). The
            // file is gone; no mirror is to blame.
            let _ = store.remove_partial(&w.sha256);
            warn!(blob = %sha, error = %e, "chunks match their list but not the file's hash");
            return Err(format!(
                "the file's chunks match the catalog's chunk list but not its hash ({e})"
            ));
        }
        if whole_hash {
            return self.stored(w, by).await;
        }
        let kept = {
            let (store, sha, size, list) = (store.clone(), w.sha256.clone(), w.size, chunks.sha256);
            tokio::task::spawn_blocking(move || {
                match store.keep_chunk_checked(&sha, size, &list)? {
                    // Named otherwise since it started: its whole hash
                    // decides, and it is kept only if still wanted.
                    ChunkChecked::WholeHashNeeded => {
                        let path = store.blobs().path(&sha);
                        let whole = stowaway_store::BlobStore::hash_file(&path);
                        if !matches!(whole, Ok((a, n)) if a == sha && n == size) {
                            let _ = std::fs::remove_file(&path);
                            return Ok(ChunkChecked::WholeHashNeeded);
                        }
                        Ok(if store.keep_blob_if_wanted(&sha, size)? {
                            ChunkChecked::Kept
                        } else {
                            ChunkChecked::Unwanted
                        })
                    }
                    other => Ok::<_, StoreError>(other),
                }
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
        };
        match kept {
            ChunkChecked::Kept => self.announce_stored(w, by).await,
            ChunkChecked::Unwanted => Err(self.removed_elsewhere()),
            ChunkChecked::WholeHashNeeded => {
                self.done.fetch_sub(w.size, Ordering::Relaxed);
                warn!(blob = %sha, "chunks match their list but not the file's hash");
                Err("the file's chunks match the catalog's chunk list but not its hash".into())
            }
        }
    }

    /// Fetches the pieces `partial` lacks from the sources of `target`,
    /// with the writer (each piece at its place, each chunk checked when
    /// whole, the journal) and, when given, the file's own hash in order on
    /// threads of their own. Returns the complete partial, the hasher and
    /// how many bytes each source sent in this run.
    ///
    /// This is the one transfer loop: what checks the file decides only
    /// how its bytes may come (`partial`, `front`): in chunks from every
    /// mirror at once, or front to back from one source at a time.
    async fn fetch_segments(
        &self,
        w: &WantedBlob,
        mut partial: Pieces,
        mut hasher: Option<PrefixHasher>,
        target: Target,
        front: Option<Front>,
    ) -> Result<(Pieces, Option<PrefixHasher>, HashMap<usize, u64>), Stop> {
        let store = self.engine.store().clone();
        // The media server may serve its newest checked chunks (or a front
        // to back file's front) while this runs (see `chunks_in`).
        let _arriving = super::Arriving::new(&store, &w.sha256);
        let resumed = partial.done_bytes();
        let (chunk_size, mut plan) = match &partial {
            Pieces::Chunks(p) => (
                p.chunk_size(),
                Plan::new(p.present(), &p.held_chunks(), self.streams(&target).len()),
            ),
            Pieces::Front(f) => (CHUNK_SIZE, Plan::new(&[false], &[(0, f.written())], 1)),
        };
        let known = match &front {
            Some(f) => f.size_hint().unwrap_or(0),
            None => w.size,
        };
        self.resuming(w, resumed, known);
        if hasher.is_some() {
            // The file's own hash follows the pieces in order: segments of
            // one request each, lowest first, so what is in stays close to
            // a prefix and little is left to hash when the last piece lands.
            plan.in_order();
        }
        let prefix = partial.contiguous();

        // The writer: writes pieces, checks whole chunks, keeps the journal.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Piece>(4 * MAX_STREAMS);
        let (grow, mut grown) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let (vtx, mut verdicts) = tokio::sync::mpsc::unbounded_channel::<Verdict>();
        let (htx, hrx) = std::sync::mpsc::channel::<u64>();
        let _ = htx.send(prefix);
        let writer = tokio::task::spawn_blocking(move || {
            let mut noted = std::time::Instant::now();
            let mut synced = std::time::Instant::now();
            // Bytes written since the journal last said how far unfinished
            // chunks are: a kill loses at most these (checked chunks are
            // recorded as they check), so they stay under 64 KiB: a sync
            // killed again and again still gains what it received.
            let mut unnoted = 0u64;
            let note_every = NOTE_EVERY.min(u64::from(chunk_size / 2));
            while let Some((index, at, bytes, mirror)) = rx.blocking_recv() {
                unnoted += bytes.len() as u64;
                match partial.write(index, at, &bytes, mirror as u32) {
                    Ok(Written::Partial) => {}
                    Ok(Written::Checked) => {
                        let _ = htx.send(partial.contiguous());
                        let _ = vtx.send(Verdict::Checked { index });
                    }
                    Ok(Written::Bad { spliced }) => {
                        let _ = vtx.send(Verdict::Bad {
                            index,
                            mirror,
                            spliced,
                        });
                    }
                    Err(e) => {
                        let _ = partial.checkpoint();
                        let _ = vtx.send(Verdict::Failed(e));
                        return (partial, false);
                    }
                }
                // How far unfinished chunks are, often (a kill loses at
                // most what came since); the data made durable every 2 s.
                if unnoted >= note_every || noted.elapsed() >= Duration::from_millis(250) {
                    noted = std::time::Instant::now();
                    unnoted = 0;
                    let r = if synced.elapsed() >= Duration::from_secs(2) {
                        synced = noted;
                        partial.checkpoint()
                    } else {
                        partial.note_held()
                    };
                    if let Err(e) = r {
                        let _ = vtx.send(Verdict::Failed(e));
                        return (partial, false);
                    }
                }
            }
            if let Err(e) = partial.checkpoint() {
                warn!(error = %e, "could not checkpoint a chunked download");
            }
            (partial, true)
        });
        // The file's own hash, in order, on its own thread (when taken).
        let hashing = tokio::task::spawn_blocking(move || {
            while let Ok(mut end) = hrx.recv() {
                while let Ok(later) = hrx.try_recv() {
                    end = later;
                }
                if let Some(h) = hasher.as_mut() {
                    h.hash_to(end)?;
                }
            }
            Ok::<Option<PrefixHasher>, StoreError>(hasher)
        });

        // A feed file's URLs as events and logs show them, made once (the
        // progress shows one every tick).
        let shown = match &target {
            Target::Urls(urls) => urls
                .iter()
                .map(|(m, u)| (*m, stowaway_mirrors::redacted(u.as_str())))
                .collect(),
            _ => HashMap::new(),
        };
        let shared = Shared {
            w,
            target,
            shown,
            chunk: u64::from(chunk_size),
            plan: Mutex::new(plan),
            tx,
            arrived: AtomicU64::new(0),
            wrong_size: Default::default(),
            grow,
            sent_by: Default::default(),
            endgame: tokio::sync::watch::Sender::new(false),
            front,
            progressed: Default::default(),
            dropped: AtomicU64::new(0),
            tried: Default::default(),
        };
        let outcome = self
            .run_streams(&shared, &mut verdicts, &mut grown, resumed)
            .await;
        // Bytes counted as done in this run: the resumed prefix and what
        // came, less what was counted off already (failed chunks, and what
        // a file front to back started over from, the resumed prefix among
        // it). Before, a failed chunk was counted off again here.
        let counted = (resumed + shared.arrived.load(Ordering::Relaxed))
            .saturating_sub(shared.dropped.load(Ordering::Relaxed));
        let total = shared.total();
        let sent_by =
            std::mem::take(&mut *shared.sent_by.lock().unwrap_or_else(|p| p.into_inner()));
        drop(shared);
        let partial = writer.await.map_err(|e| e.to_string())?;
        let hasher = hashing.await.map_err(|e| e.to_string())?;
        let (partial, hasher, served) = match (outcome, partial, hasher) {
            (Ok(_), (p, true), Ok(h)) => (p, h, sent_by),
            (Err(e @ (Stop::WrongSize | Stop::OverBudget)), _, _) => {
                // Nothing of it is of use at this size, or kept.
                self.done.fetch_sub(counted, Ordering::Relaxed);
                return Err(e);
            }
            (outcome, (p, _), h) => {
                // What is on disk now, for the next run (which counts it as
                // present again when it resumes).
                let _ = store.record_partial(&w.sha256, total, p.done_bytes(), None);
                self.done.fetch_sub(counted, Ordering::Relaxed);
                return Err(match (outcome, h) {
                    (Err(e), _) => e,
                    (_, Err(e)) => Stop::Failed(e.to_string()),
                    _ => Stop::Failed("the chunked download's writer stopped".into()),
                });
            }
        };
        Ok((partial, hasher, served))
    }

    /// The partial of `w` in pieces nothing checks (from nothing when
    /// `fresh`), and the hasher of its whole, in order.
    async fn open_unchecked(
        &self,
        w: &WantedBlob,
        fresh: bool,
    ) -> Result<(ChunkedPartial, PrefixHasher), String> {
        let (store, key, size) = (self.engine.store().clone(), w.sha256.clone(), w.size);
        tokio::task::spawn_blocking(move || {
            let blobs = store.blobs();
            if fresh {
                let _ = std::fs::remove_file(blobs.partial_path(&key));
                let _ = std::fs::remove_file(blobs.chunk_journal_path(&key));
            }
            let p = blobs.open_segments(&key, size, CHUNK_SIZE)?;
            let h = p.prefix_hasher()?;
            Ok::<_, StoreError>((p, h))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }

    /// Downloads `w`, which has no chunk list (catalog format 1), in
    /// segments from every healthy mirror at once. The pieces are not
    /// checked as they land; the whole file is, against the catalog's hash,
    /// at its end. A copy that fails is not kept. A mirror is blamed only
    /// when it sent every byte of it (and not for a prefix an earlier run
    /// left); a copy joined from several mirrors blames none, and the file
    /// is then fetched from one mirror at a time, so the one that lies is
    /// the one caught.
    pub(super) async fn hashed_file(&self, w: &WantedBlob) -> Result<u64, String> {
        let store = self.engine.store().clone();
        let path = blob_path(&w.sha256);
        // After a joined copy failed: one mirror at a time, each once.
        let mut alone: Option<usize> = None;
        let mut tried_alone: HashSet<usize> = HashSet::new();
        let mut blamed: HashSet<usize> = HashSet::new();
        let mut errors: Vec<String> = Vec::new();
        let mut fresh = false;
        let mut first = true;
        // The next mirror to try alone: available, not blamed, not tried.
        let next_alone = |blamed: &HashSet<usize>, tried: &mut HashSet<usize>| {
            let m = self
                .pool
                .available()
                .into_iter()
                .find(|m| !blamed.contains(m) && !tried.contains(m))?;
            tried.insert(m);
            Some(m)
        };
        loop {
            let (partial, hasher) = self.open_unchecked(w, fresh).await?;
            let earlier = partial.done_bytes() > 0;
            let target = match alone {
                Some(m) => Target::PathOn(path.clone(), m),
                None => Target::Path(path.clone()),
            };
            let fetched = self
                .fetch_segments(w, Pieces::Chunks(partial), Some(hasher), target, None)
                .await
                .map_err(|e| e.to_string());
            let (partial, hasher, served) = match fetched {
                Ok((p, h, served)) => (p.into_chunks()?, h, served),
                // One mirror at a time, and that one failed (not a bad
                // copy): the next, keeping what came.
                Err(e) if alone.is_some() && !self.cancel.is_cancelled() => {
                    errors.push(e);
                    fresh = false;
                    alone = next_alone(&blamed, &mut tried_alone);
                    if alone.is_none() {
                        return Err(errors.join("; "));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(mut hasher) = hasher else {
                return Err("the file's hash was not taken".into());
            };
            let finished = {
                let (sha, size) = (w.sha256.clone(), w.size);
                tokio::task::spawn_blocking(move || {
                    hasher.hash_to(size)?;
                    partial.finish_unknown(hasher, move |_, actual, n| {
                        if *actual == sha && n == size {
                            Ok(())
                        } else {
                            Err(format!("hash mismatch: the bytes hash to {actual}"))
                        }
                    })
                })
                .await
                .map_err(|e| e.to_string())?
            };
            let e = match finished {
                Ok(_) => return self.stored(w, most(&served)).await,
                // Refused by the check: a bad copy. Anything else (the disk)
                // is no mirror's doing.
                Err(e @ StoreError::Unverified(_)) => e,
                Err(e) => {
                    let _ = store.record_partial(&w.sha256, w.size, 0, None);
                    return Err(e.to_string());
                }
            };
            self.done.fetch_sub(w.size, Ordering::Relaxed);
            warn!(blob = %w.sha256, error = %e, "downloaded bytes do not match the hash; discarding");
            errors.push(e.to_string());
            fresh = true;
            // A prefix from an earlier run may be what was wrong: once more
            // from nothing, blaming no one.
            if std::mem::take(&mut first) && earlier {
                continue;
            }
            if let [m] = served.keys().copied().collect::<Vec<_>>()[..] {
                let reason = "served bytes that fail verification";
                self.pool.record_bad_bytes(m, reason);
                blamed.insert(m);
                self.engine.emit(SyncEvent::DownloadMirrorFailed {
                    sha256: w.sha256.to_string(),
                    mirror: self.pool.url(m).to_owned(),
                    error: e.to_string(),
                    code: "hash_mismatch".into(),
                });
            }
            alone = next_alone(&blamed, &mut tried_alone);
            match alone {
                Some(_) => {}
                None => {
                    let _ = store.remove_partial(&w.sha256);
                    return Err(format!(
                        "no mirror served bytes matching the hash ({})",
                        errors.join("; ")
                    ));
                }
            }
        }
    }

    /// Downloads a feed's file in segments from several of its hosts at
    /// once (`hosts`: one URL per host in the pool): a file the feed's
    /// integrity digest checks whole, of the size `w` has. The pieces are
    /// not checked as they land (a feed gives no chunk list); the whole is,
    /// against the digest and any hash learned before, and only then is it
    /// stored under its SHA-256. When that fails, no host can be blamed
    /// (their bytes were joined): nothing is kept and `Ok(None)` sends the
    /// caller to fetch the file from one host at a time.
    pub(super) async fn feed_segments(
        &self,
        w: &WantedBlob,
        file: &FeedFile,
        role: Option<AssetRole>,
        hosts: HashMap<usize, url::Url>,
    ) -> Result<Option<u64>, String> {
        let store = self.engine.store().clone();
        let size = w.size;
        let (partial, hasher) = self.open_unchecked(w, false).await?;
        debug!(file = %w.label, hosts = hosts.len(), "a feed's file in segments from several hosts");
        let fetched = self
            .fetch_segments(
                w,
                Pieces::Chunks(partial),
                Some(hasher),
                Target::Urls(hosts.clone()),
                None,
            )
            .await;
        let (partial, hasher, by) = match fetched {
            Ok((p, h, served)) => (p.into_chunks()?, h, most(&served)),
            Err(Stop::WrongSize) => {
                // What came is of no use at this size.
                let blobs = store.blobs();
                let _ = std::fs::remove_file(blobs.partial_path(&w.sha256));
                let _ = std::fs::remove_file(blobs.chunk_journal_path(&w.sha256));
                debug!(file = %w.label, "{}; fetching it from one host at a time", Stop::WrongSize);
                return Ok(None);
            }
            Err(e) => return Err(e.to_string()),
        };
        let Some(mut hasher) = hasher else {
            return Err("the file's hash was not taken".into());
        };
        let finished = {
            let store = store.clone();
            let (key, learned, digests) = (
                file.key.clone(),
                file.sha256.clone(),
                file.integrity.clone(),
            );
            tokio::task::spawn_blocking(move || {
                hasher.hash_to(size)?;
                let (sha, n, path) =
                    partial.finish_unknown(hasher, super::feed_check(learned, digests))?;
                super::learn_stored(&store, &key, role, &path, &sha, n)?;
                Ok::<_, StoreError>((sha, n))
            })
            .await
            .map_err(|e| e.to_string())?
        };
        match finished {
            Ok((sha, n)) => {
                let _ = store.remove_partial(&w.sha256);
                self.engine.index_transcript(&sha).await;
                self.engine.index_media(&sha).await;
                self.engine.emit(SyncEvent::DownloadFinished {
                    sha256: w.sha256.to_string(),
                    mirror: by
                        .and_then(|m| hosts.get(&m))
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                    size: n,
                });
                Ok(Some(n))
            }
            Err(StoreError::Unwanted) => Err(self.removed_elsewhere()),
            Err(e) => {
                // Nothing of it is kept (finish_unknown removed it).
                self.done.fetch_sub(size, Ordering::Relaxed);
                warn!(file = %w.label, error = %e, "the file joined from several hosts fails its check; fetching it from one host at a time");
                self.note(format!(
                    "{}: the copy joined from several hosts failed its check ({e}); fetched from one host at a time",
                    w.label
                ));
                Ok(None)
            }
        }
    }

    /// Downloads a feed's file not fetched in segments (no digest, under
    /// 4 MiB, one host, no size known, or a joined copy that failed): front
    /// to back, from one of its hosts at a time,
    /// through the same loop as every other file. `layers` are its sources
    /// by host: the first URL of each host (the enclosure's first), then,
    /// if every one of those fails, the second URL of each host that has
    /// one, and so on. Bytes of two responses are joined
    /// only when a hash (learned before) or the feed's digest checks the
    /// whole; otherwise the file starts over after any interruption. The
    /// complete file is checked by those, then stored under its SHA-256,
    /// which is recorded. A copy refused blames its source when that source
    /// sent every byte of it, and the file is fetched again from the others.
    pub(super) async fn front_file(
        &self,
        w: &WantedBlob,
        file: &FeedFile,
        role: Option<AssetRole>,
        layers: Vec<HashMap<usize, url::Url>>,
        limit: u64,
    ) -> Result<u64, String> {
        let store = self.engine.store().clone();
        let learned = file.sha256.clone();
        // Bytes from two responses may be joined only when the whole file
        // is checked at the end by a hash: with nothing but a length (or not
        // even that), a server that serves other bytes each time (dynamic ad
        // insertion) would be spliced into a file that passes.
        let resumable = learned.is_some() || !file.integrity.is_empty();
        // With no digest, what the enclosure's own address serves whole is
        // the publisher's word (a re-upload) and may replace what was
        // learned; a copy from anywhere else must match.
        let relearnable = file
            .urls
            .first()
            .and_then(|u| url::Url::parse(u).ok())
            .filter(|_| file.integrity.is_empty());
        let mut errors: Vec<String> = Vec::new();
        let mut fresh = !resumable;
        let mut again_from_nothing = true;
        // Hosts that sent a copy that was refused: not asked again.
        let mut refused: HashSet<usize> = HashSet::new();
        let mut layer = 0;
        loop {
            let mut hosts = layers.get(layer).cloned().unwrap_or_default();
            hosts.retain(|m, _| !refused.contains(m));
            if hosts.is_empty() && layer + 1 < layers.len() {
                layer += 1;
                continue;
            }
            if hosts.is_empty() {
                let _ = store.remove_partial(&w.sha256);
                return Err(if errors.is_empty() {
                    "none of the feed's sources is usable".into()
                } else {
                    errors.join("; ")
                });
            }
            let writer = {
                // (The declared length is advice: only `limit` bounds it.)
                let (store, key) = (store.clone(), w.sha256.clone());
                tokio::task::spawn_blocking(move || {
                    if fresh {
                        store.blobs().begin_unknown(&key, None, limit)
                    } else {
                        store.blobs().resume_unknown(&key, None, limit)
                    }
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
            };
            let front = Front {
                exact: file.size,
                declared: file.length,
                resumable,
                relearnable: relearnable.clone(),
                limit,
            };
            let fetched = self
                .fetch_segments(
                    w,
                    Pieces::Front(writer),
                    None,
                    Target::Urls(hosts.clone()),
                    Some(front),
                )
                .await;
            let (writer, sent_by) = match fetched {
                Ok((Pieces::Front(writer), _, sent_by)) => (writer, sent_by),
                Ok(_) => return Err("a file front to back came back in chunks".into()),
                Err(Stop::OverBudget) => {
                    // Its space is what is short: nothing of it is kept.
                    let _ = std::fs::remove_file(store.blobs().partial_path(&w.sha256));
                    let _ = store.remove_partial(&w.sha256);
                    if let Some(b) = self.budget {
                        b.stop(w);
                    }
                    warn!(file = %w.label, "stopped: the file is larger than the storage budget has room for");
                    return Err(format!("stopped: {}", Stop::OverBudget));
                }
                Err(e) => {
                    if !resumable {
                        // Nothing of it will be continued.
                        let _ = std::fs::remove_file(store.blobs().partial_path(&w.sha256));
                        let _ = store.remove_partial(&w.sha256);
                    }
                    errors.push(e.to_string());
                    // Another URL on the same hosts (an alternate on the
                    // enclosure's CDN, say), if there is one.
                    if layer + 1 < layers.len() && !self.cancel.is_cancelled() {
                        layer += 1;
                        continue;
                    }
                    // (With what was refused before, if anything was.)
                    return Err(errors.join("; "));
                }
            };
            let written = writer.written();
            // A prefix from before this run is among its bytes (not one it
            // started over from): every byte that came is in `sent_by`.
            let earlier = written > sent_by.values().sum::<u64>();
            let by = most(&sent_by);
            let relearn = !earlier
                && !sent_by.is_empty()
                && relearnable
                    .as_ref()
                    .is_some_and(|p| sent_by.keys().all(|m| hosts.get(m) == Some(p)));
            let finished = {
                let store = store.clone();
                let (key, digests) = (file.key.clone(), file.integrity.clone());
                let check = super::feed_check(learned.clone().filter(|_| !relearn), digests);
                tokio::task::spawn_blocking(move || {
                    let (sha, n, path) = writer.finish_unknown(check)?;
                    super::learn_stored(&store, &key, role, &path, &sha, n)?;
                    Ok::<_, StoreError>((sha, n))
                })
                .await
                .map_err(|e| e.to_string())?
            };
            let source = |m: Option<usize>| {
                m.and_then(|m| hosts.get(&m))
                    .map(|u| stowaway_mirrors::redacted(u.as_str()))
                    .unwrap_or_default()
            };
            match finished {
                Ok((sha, n)) => {
                    if learned.as_ref().is_some_and(|l| *l != sha) {
                        info!(file = %w.label, new = %sha, "the publisher's copy changed; learned anew");
                    }
                    if let Some(d) = file.length.filter(|&d| d != n) {
                        warn!(file = %w.label, declared = d, actual = n, "the feed declares another length than the file has; kept");
                        self.note(format!(
                            "{}: the feed says {d} bytes, the file has {n}; kept (checked by {})",
                            w.label,
                            if file.integrity.is_empty() {
                                "its own hash from now on"
                            } else {
                                "the feed's integrity digest"
                            }
                        ));
                    }
                    let _ = store.remove_partial(&w.sha256);
                    self.engine.index_transcript(&sha).await;
                    self.engine.index_media(&sha).await;
                    self.engine.emit(SyncEvent::DownloadFinished {
                        sha256: w.sha256.to_string(),
                        mirror: source(by),
                        size: n,
                    });
                    return Ok(n);
                }
                Err(StoreError::Unwanted) => return Err(self.removed_elsewhere()),
                Err(e) => {
                    // Nothing of it is kept (finish_unknown removed it).
                    self.done.fetch_sub(written, Ordering::Relaxed);
                    warn!(file = %w.label, source = %source(by), error = %e, "feed file failed verification; discarded");
                    errors.push(format!("{}: {e}", source(by)));
                    fresh = true;
                    match by {
                        // Blamed only when it sent every byte.
                        Some(m) => {
                            if !earlier && sent_by.len() == 1 {
                                self.pool.record_bad_bytes(m, &e.to_string());
                            }
                            self.engine.emit(SyncEvent::DownloadMirrorFailed {
                                sha256: w.sha256.to_string(),
                                mirror: source(by),
                                error: e.to_string(),
                                code: e.code().to_owned(),
                            });
                            refused.insert(m);
                        }
                        // A partial from an earlier run, whole, that fails:
                        // once more from nothing, blaming no one.
                        None if std::mem::take(&mut again_from_nothing) => {}
                        None => return Err(errors.join("; ")),
                    }
                }
            }
        }
    }

    /// How many chunks of one file may fail their hash before it is given up
    /// for this sync: a few per mirror.
    fn max_bad_chunks(&self) -> usize {
        2 * self.pool.len() + 2
    }

    /// Mirror `m` sent a chunk that failed its hash: its health says so
    /// (the caller leaves it for this file), and the shells are told.
    fn bad_chunk_from(&self, m: usize, sha: &str, errors: &mut Vec<String>) {
        let e = "served a chunk that fails its hash";
        self.pool.record_bad_bytes(m, e);
        let url = self.pool.url(m).to_owned();
        self.engine.emit(SyncEvent::DownloadMirrorFailed {
            sha256: sha.to_owned(),
            mirror: url.clone(),
            error: e.into(),
            code: "bad_chunk".into(),
        });
        errors.push(format!("{url}: {e}"));
    }

    /// The mirrors to start streams on, best first, each as many times as
    /// it gets streams: [`PER_MIRROR`] each, [`MAX_STREAMS`] in all,
    /// shared out in turn.
    fn streams(&self, target: &Target) -> Vec<usize> {
        let mirrors = target.available(self.pool);
        let mut out = Vec::new();
        for _ in 0..PER_MIRROR {
            for &m in &mirrors {
                if out.len() < MAX_STREAMS {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Runs the streams until every chunk is in (the mirror that sent the
    /// most), or the file is given up for this sync.
    async fn run_streams(
        &self,
        shared: &Shared<'_>,
        verdicts: &mut tokio::sync::mpsc::UnboundedReceiver<Verdict>,
        grown: &mut tokio::sync::mpsc::UnboundedReceiver<usize>,
        resumed: u64,
    ) -> Result<(), Stop> {
        let w = shared.w;
        let sha = w.sha256.to_string();
        let mut streams = FuturesUnordered::new();
        let mut on: HashMap<usize, usize> = HashMap::new(); // streams per mirror
        let mut next_id = 0usize;
        let mut errors: Vec<String> = Vec::new();
        let mut left: HashSet<usize> = HashSet::new(); // failed this round
        let mut bad_chunks = 0usize;
        let mut rounds = Rounds::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut last_record = Instant::now();
        let shown = || {
            (resumed + shared.arrived.load(Ordering::Relaxed))
                .saturating_sub(shared.dropped.load(Ordering::Relaxed))
        };

        let spawn = |m: usize, id: usize| {
            let s = self.stream(shared, id, m, false);
            async move { (id, m, s.await) }
        };
        // A stream for a chunk a player waits for: on the best honest
        // mirror, past the streams' limits (its first segment takes no
        // connection slot, so it never waits behind the others).
        let urgent = |m: usize, id: usize| {
            let s = self.stream(shared, id, m, true);
            async move { (id, m, s.await) }
        };
        let mut urgent_streams = FuturesUnordered::new();
        if shared.plan().complete() {
            return Ok(());
        }
        // One stream on each mirror first: a mirror gets its others once
        // that one sends bytes (a mirror that does not answer, refuses with
        // 429 or stalls then holds one stream's chunks, not four).
        // A file front to back: one stream at a time.
        let one_at_a_time = shared.front.is_some();
        let first: Vec<usize> = if one_at_a_time {
            shared.target.all(self.pool).into_iter().take(1).collect()
        } else {
            one_each(self.streams(&shared.target))
        };
        if let Some(&m) = first.first() {
            self.engine.emit(SyncEvent::DownloadStarted {
                sha256: sha.clone(),
                label: w.label.clone(),
                size: shared.total(),
                offset: resumed,
                mirror: shared.source(self.pool, m),
            });
        }
        for m in first {
            *on.entry(m).or_default() += 1;
            streams.push(spawn(m, next_id));
            next_id += 1;
        }
        loop {
            if shared.plan().complete() {
                return Ok(());
            }
            if streams.is_empty() && urgent_streams.is_empty() && shared.plan().missing() > 0 {
                // Every stream stopped with chunks still missing: another
                // round after a pause, as long as rounds bring chunks.
                match rounds
                    .next(self, shared.available(self.pool).is_empty())
                    .await
                {
                    Ok(()) => {}
                    Err(NoRound::Cancelled) => return Err("cancelled".into()),
                    Err(NoRound::Exhausted) => {
                        return Err(if errors.is_empty() {
                            "no mirror is available".into()
                        } else {
                            errors.join("; ").into()
                        })
                    }
                }
                left.clear();
                on.clear();
                let liars = shared.plan().liars.clone();
                shared
                    .tried
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                let candidates = if one_at_a_time {
                    shared.target.all(self.pool)
                } else {
                    one_each(self.streams(&shared.target))
                };
                let mut mirrors: Vec<usize> = candidates
                    .into_iter()
                    .filter(|m| !liars.contains(m))
                    .collect();
                if mirrors.is_empty() && one_at_a_time {
                    // A file front to back has no chunks to lose: a source
                    // that sent what is not the file is not asked again.
                    return Err(if errors.is_empty() {
                        "no source is available".into()
                    } else {
                        errors.join("; ").into()
                    });
                }
                if mirrors.is_empty() {
                    // Only mirrors that lied are left: one is asked again
                    // (forgiven for this round; the bad chunks it may send
                    // are counted, so this ends).
                    shared.plan().liars.clear();
                    mirrors = shared.available(self.pool).into_iter().take(1).collect();
                }
                if one_at_a_time {
                    mirrors.truncate(1);
                }
                for m in mirrors {
                    *on.entry(m).or_default() += 1;
                    streams.push(spawn(m, next_id));
                    next_id += 1;
                }
                continue;
            }
            tokio::select! {
                Some((id, m, end)) = streams.next() => {
                    if let Some(n) = on.get_mut(&m) {
                        *n = n.saturating_sub(1);
                    }
                    if shared.wrong_size.load(Ordering::SeqCst) {
                        return Err(Stop::WrongSize);
                    }
                    // Bytes a front-to-back stream left that stay (not a
                    // drip given up as too slow: it would earn rounds for
                    // ever) earn another round, as chunks that check do.
                    if shared.progressed.swap(false, Ordering::SeqCst)
                        && !matches!(end, End::Slow(_))
                    {
                        rounds.progress();
                    }
                    let reason = match end {
                        End::Done => {
                            // A mirror that sent bytes has nothing left to
                            // take: a stream still waiting for another's first
                            // answer gives its chunks up.
                            let proven = shared
                                .sent_by
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .contains_key(&m);
                            if proven && !shared.plan().complete() {
                                shared.endgame.send_replace(true);
                            }
                            continue;
                        }
                        End::Cancelled => return Err("cancelled".into()),
                        End::OverBudget => return Err(Stop::OverBudget),
                        End::Failed(e) | End::Slow(e) | End::Refused(e) => e,
                        End::Liar => "served bytes that fail their check".into(),
                    };
                    debug!(blob = %sha, stream = id, mirror = %self.pool.url(m), %reason, "stream stopped");
                    errors.push(format!("{}: {reason}", shared.source(self.pool, m)));
                    left.insert(m);
                    self.engine.emit(SyncEvent::DownloadMirrorFailed {
                        sha256: sha.clone(),
                        mirror: shared.source(self.pool, m),
                        error: reason.clone(),
                        code: "interrupted".into(),
                    });
                    // Its place goes to the best other mirror with room.
                    if shared.plan().missing() == 0 {
                        continue;
                    }
                    if let Some(o) = self.next_mirror(shared, &on, &left) {
                        let offset = if one_at_a_time {
                            // Where the next stream goes on from.
                            shared.plan().held[0]
                        } else {
                            shared
                                .plan()
                                .chunks
                                .iter()
                                .position(|c| *c == State::Missing)
                                .map_or(0, |i| i as u64 * shared.chunk)
                        };
                        self.engine.emit(SyncEvent::Failover {
                            sha256: sha.clone(),
                            from: shared.source(self.pool, m),
                            to: shared.source(self.pool, o),
                            offset,
                            reason,
                        });
                        *on.entry(o).or_default() += 1;
                        streams.push(spawn(o, next_id));
                        next_id += 1;
                    }
                }
                v = verdicts.recv() => match v {
                    None => return Err("the chunked download's writer stopped".into()),
                    Some(v) => match v {
                    Verdict::Checked { index } => {
                        shared.plan().checked(index, true);
                        rounds.progress();
                    }
                    Verdict::Bad { index, mirror, spliced } => {
                        // A chunk from two sources is fetched whole next
                        // (from one, whose failure then counts): it does not
                        // count itself, so finishing a liar's chunk does not
                        // use up the file's allowance.
                        if !spliced {
                            bad_chunks += 1;
                        }
                        let len = shared.chunk_len(index);
                        shared.dropped.fetch_add(len, Ordering::Relaxed);
                        self.done.fetch_sub(len, Ordering::Relaxed);
                        shared.plan().checked(index, false);
                        if spliced {
                            // Bytes from more than one source: no one to
                            // blame; the chunk comes whole from one next.
                            errors.push(format!(
                                "chunk {index}, received in parts, failed its hash"
                            ));
                        } else {
                            shared.plan().liars.insert(mirror);
                            self.bad_chunk_from(mirror, &sha, &mut errors);
                        }
                        if bad_chunks > self.max_bad_chunks() {
                            return Err(format!(
                                "no mirror served chunks matching the file's chunk list ({})",
                                errors.join("; ")
                            )
                            .into());
                        }
                        // Fetched again by a stream with room: a new one on
                        // the best honest mirror, if there is room for it.
                        if streams.len() < MAX_STREAMS {
                            if let Some(o) = self.next_mirror(shared, &on, &HashSet::new()) {
                                *on.entry(o).or_default() += 1;
                                streams.push(spawn(o, next_id));
                                next_id += 1;
                            }
                        }
                    }
                    // Its files gone with it (removed in another process):
                    // cancelled, not failed.
                    Verdict::Failed(_) if self.removed_in_store(w) => {
                        return Err("cancelled".into())
                    }
                    Verdict::Failed(e) => return Err(e.to_string().into()),
                    },
                },
                Some(m) = grown.recv() => {
                    let liars = shared.plan().liars.clone();
                    while !one_at_a_time
                        && !liars.contains(&m)
                        && !left.contains(&m)
                        && on.get(&m).copied().unwrap_or(0) < PER_MIRROR
                        && streams.len() < MAX_STREAMS
                        && shared.plan().missing() > 0
                    {
                        *on.entry(m).or_default() += 1;
                        streams.push(spawn(m, next_id));
                        next_id += 1;
                    }
                }
                Some((id, m, end)) = urgent_streams.next() => {
                    if let End::Failed(e) | End::Slow(e) = end {
                        debug!(blob = %sha, stream = id, mirror = %self.pool.url(m), error = %e, "urgent stream stopped");
                        left.insert(m);
                        if shared.wrong_size.load(Ordering::SeqCst) {
                            return Err(Stop::WrongSize);
                        }
                    }
                }
                _ = tick.tick() => {
                    // A player waiting in this file: its chunk first.
                    // (A file front to back is played from its front.)
                    if let Some(offset) = self.engine.store().wanted(&w.sha256).filter(|_| !one_at_a_time) {
                        let c = (offset / shared.chunk) as usize;
                        if urgent_streams.len() < 2 && shared.plan().prioritise(c) {
                            let liars = shared.plan().liars.clone();
                            if let Some(m) = shared.available(self.pool).into_iter().find(|o| !liars.contains(o)) {
                                debug!(blob = %sha, chunk = c, mirror = %self.pool.url(m), "a player waits: fetching its chunk first");
                                urgent_streams.push(urgent(m, next_id));
                                next_id += 1;
                            }
                        }
                    }
                    let total = shared.total();
                    let bytes = if total > 0 { shown().min(total) } else { shown() };
                    self.engine.emit(SyncEvent::DownloadProgress {
                        sha256: sha.clone(),
                        bytes,
                        size: total,
                        mirror: most(&shared.sent_by.lock().unwrap_or_else(|p| p.into_inner()))
                            .map(|m| shared.source(self.pool, m))
                            .unwrap_or_default(),
                    });
                    if last_record.elapsed() >= Duration::from_secs(2) {
                        last_record = Instant::now();
                        let _ = self.engine.store().record_partial(
                            &w.sha256,
                            total,
                            bytes,
                            None,
                        );
                        if self.removed_in_store(w) {
                            return Err("cancelled".into());
                        }
                    }
                }
                () = self.cancel.cancelled() => return Err("cancelled".into()),
            }
        }
    }

    /// The best available mirror for another stream: not one that failed
    /// this round (`left`) or lied, with room for one more.
    fn next_mirror(
        &self,
        shared: &Shared<'_>,
        on: &HashMap<usize, usize>,
        left: &HashSet<usize>,
    ) -> Option<usize> {
        let liars = shared.plan().liars.clone();
        shared.available(self.pool).into_iter().find(|o| {
            !left.contains(o) && !liars.contains(o) && on.get(o).copied().unwrap_or(0) < PER_MIRROR
        })
    }

    /// One stream on mirror `m`: segments until there is none to take.
    async fn stream(&self, shared: &Shared<'_>, id: usize, m: usize, urgent: bool) -> End {
        let mut at = 0;
        let end = self.stream_inner(shared, id, m, urgent, &mut at).await;
        // A front-to-back file goes on from here only when a hash checks
        // the join, and never from a source caught sending what is not the
        // file.
        let keep = match &shared.front {
            Some(f) => {
                matches!(end, End::Done)
                    || (f.resumable
                        && !matches!(end, End::Liar | End::Refused(_) | End::OverBudget))
            }
            None => true,
        };
        if !keep && at > 0 {
            // Those bytes are not kept: not counted, and their sources no
            // longer made the copy.
            let _ = shared.tx.send((START_OVER, 0, Bytes::new(), m)).await;
            self.done.fetch_sub(at, Ordering::Relaxed);
            shared.dropped.fetch_add(at, Ordering::Relaxed);
            shared
                .sent_by
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        shared.plan().release(id, if keep { at } else { 0 });
        end
    }

    /// The stream's work; `at` is how many bytes of the chunk it is
    /// receiving it has handed to the writer.
    async fn stream_inner(
        &self,
        shared: &Shared<'_>,
        id: usize,
        m: usize,
        urgent: bool,
        at: &mut u64,
    ) -> End {
        let size = shared.w.size;
        let mut first = true;
        let mut first_bytes = !urgent;
        'segments: loop {
            *at = 0;
            let Some((start, _, skip)) = shared.plan().take(id) else {
                return End::Done;
            };
            *at = skip;
            if shared.plan().liars.contains(&m) {
                return End::Liar;
            }
            // This stream's bytes are the whole file so far.
            let from_nothing = *at == 0;
            if let Some(f) = &shared.front {
                shared
                    .tried
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(m);
                // A partial already whole (the last run stopped while
                // checking it) is checked, not asked for again: only when a
                // hash or digest will check it, so the declared length,
                // which is advice, is enough to try.
                let whole = f.size_hint().filter(|&n| n > 0);
                if f.resumable && whole == Some(*at) {
                    if shared.tx.send((start, *at, Bytes::new(), m)).await.is_err() {
                        return End::Failed("the writer stopped".into());
                    }
                    shared.plan().sent(id, start);
                    return End::Done;
                }
            }
            let _permit = if urgent && std::mem::take(&mut first) {
                None
            } else {
                tokio::select! {
                    p = self.pool.permit(m) => Some(p),
                    () = self.cancel.cancelled() => return End::Cancelled,
                }
            };
            let mut i = start;
            // The segment's rate, across its requests.
            let started = Instant::now();
            let mut window = RateWindow::new();
            let mut got = 0u64;
            // The segment, a request of at most REQUEST chunks at a time.
            'requests: loop {
                let Some(end) = shared.plan().ask(id) else {
                    continue 'segments;
                };
                let offset = i as u64 * shared.chunk + *at;
                let end_offset = (end as u64 * shared.chunk).min(size);
                // A file front to back is asked for to its end, whatever
                // its length turns out to be.
                let bounded = shared.front.is_none().then_some(end_offset);
                // With another (honest) mirror to go to, a request waits for
                // its headers at most: the stall timeout on a mirror that sent
                // bytes of this file already; on one that has not, 0.5 s (or
                // twice the hedge delay, or three times its own latency), and
                // less in the end game. Never a player's urgent stream.
                let (answer_within, unproven) = {
                    let others = !shared.others(self.pool, m).is_empty();
                    let proven = shared
                        .sent_by
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains_key(&m);
                    if !others || urgent {
                        (Duration::from_secs(3600), false)
                    } else if proven || shared.front.is_some() {
                        // (A feed's host may take its time to answer:
                        // redirects through analytics to a CDN.)
                        (self.stall_timeout, false)
                    } else {
                        let own = self.pool.health(m).latency_ms.map_or(Duration::ZERO, |ms| {
                            Duration::from_secs_f64(ms * 3.0 / 1000.0)
                        });
                        let wait = (self.pool.hedge_delay() * 2)
                            .max(own)
                            .max(Duration::from_millis(500));
                        (wait, true)
                    }
                };
                let opened = tokio::select! {
                    b = tokio::time::timeout(answer_within, async {
                        match &shared.target {
                            Target::Path(path) | Target::PathOn(path, _) => {
                                self.pool.open_range(m, path, offset, end_offset).await
                            }
                            Target::Urls(urls) => match urls.get(&m) {
                                Some(url) => self.pool.open_url(m, url, offset, bounded).await,
                                None => Err(MirrorError::Transfer("not a source of this file".into())),
                            },
                        }
                    }) => b.unwrap_or_else(|_| {
                        // Slow, not failed: its circuit is not opened for it
                        // (a loaded machine or a distant mirror is no fault).
                        self.pool.record_slow(m, answer_within);
                        Err(MirrorError::Stalled(answer_within))
                    }),
                    // The end game: every other stream has nothing left to
                    // take, and this one has not been answered yet.
                    _ = async {
                        // Not at once: a mirror asked a moment ago is given
                        // the time a request takes.
                        tokio::time::sleep(ENDGAME_GRACE).await;
                        let mut endgame = shared.endgame.subscribe();
                        let _ = endgame.wait_for(|e| *e).await;
                    }, if unproven => {
                        self.pool.record_slow(m, answer_within);
                        return End::Failed("no answer while the rest of the file came".into());
                    }
                    () = self.cancel.cancelled() => return End::Cancelled,
                };
                let mut body = match opened {
                    Ok(mut b) => {
                        b.set_pace(Some(self.pace()));
                        b
                    }
                    // A feed's file shorter than its declared length.
                    Err(MirrorError::Status { status: 416, .. })
                        if matches!(shared.target, Target::Urls(_)) && shared.front.is_none() =>
                    {
                        shared.wrong_size.store(true, Ordering::SeqCst);
                        return End::Failed(Stop::WrongSize.to_string());
                    }
                    Err(e) => return End::Failed(e.to_string()),
                };
                if body.start < offset && shared.front.is_none() {
                    // It ignores Range: each segment would cost the file up to
                    // it again. Left for this file while another mirror is
                    // there; else read up to the segment (the bytes before it
                    // are dropped, as in a whole-file download).
                    let liars = shared.plan().liars.clone();
                    let others = shared
                        .available(self.pool)
                        .into_iter()
                        .any(|o| o != m && !liars.contains(&o));
                    if others {
                        shared.plan().liars.insert(m);
                        return End::Failed(format!(
                            "ignores Range (answered from byte {})",
                            body.start
                        ));
                    }
                }
                let mut pending = match self.skip_to(&mut body, m, offset).await {
                    Ok(c) => c,
                    Err(e) => return End::Failed(e.to_string()),
                };
                if let Some(f) = &shared.front {
                    // A source announcing another length than the copy whose
                    // hash was learned serves another file (the enclosure's
                    // own address without a digest may: the publisher's new
                    // copy is learned anew).
                    let relearn = f
                        .relearnable
                        .as_ref()
                        .is_some_and(|u| match &shared.target {
                            Target::Urls(urls) => urls.get(&m) == Some(u),
                            _ => false,
                        });
                    if let (Some(exact), Some(rem), false) = (f.exact, body.remaining, relearn) {
                        let rem = rem + pending.as_ref().map_or(0, |c| c.len() as u64);
                        if rem != exact.saturating_sub(offset) {
                            shared.plan().liars.insert(m);
                            return End::Failed(format!(
                                "announces {rem} bytes from offset {offset}, the copy first downloaded has {}",
                                exact.saturating_sub(offset)
                            ));
                        }
                    }
                } else if let Some(rem) = body.remaining {
                    let rem = rem + pending.as_ref().map_or(0, |c| c.len() as u64);
                    // The range asked for, or (a server that ignored it) the
                    // rest of the file.
                    if rem != end_offset - offset && rem != size - offset {
                        let e = format!(
                            "announces {rem} bytes from offset {offset}, the catalog's file has {}",
                            size - offset
                        );
                        if let Target::Urls(_) = shared.target {
                            // A feed's length is advice: its file is
                            // another size, which its digest will judge.
                            shared.wrong_size.store(true, Ordering::SeqCst);
                            return End::Failed(e);
                        }
                        self.pool.record_bad_bytes(m, &e);
                        shared.plan().liars.insert(m);
                        return End::Failed(e);
                    }
                }
                loop {
                    let mut data = match pending.take() {
                        Some(c) => c,
                        None => {
                            let others = shared.available(self.pool).iter().any(|o| *o != m);
                            match self.next_chunk(&mut body, m, others).await {
                                Ok(Some(c)) => c,
                                // A file front to back ends where its body
                                // ends (whole when as long as announced).
                                Ok(None)
                                    if shared.front.is_some()
                                        && body.remaining.is_none_or(|r| r == 0) =>
                                {
                                    if shared.tx.send((i, *at, Bytes::new(), m)).await.is_err() {
                                        return End::Failed("the writer stopped".into());
                                    }
                                    shared.plan().sent(id, i);
                                    self.pool.record_success(m, None);
                                    self.pool.record_transfer(m, got, started.elapsed());
                                    return End::Done;
                                }
                                Ok(None) => {
                                    let e = MirrorError::Transfer(match bounded {
                                        Some(end) => format!(
                                            "body ended at byte {} of a segment ending at {end}",
                                            i as u64 * shared.chunk + *at
                                        ),
                                        None => format!(
                                            "body ended at byte {} before its announced length",
                                            *at
                                        ),
                                    });
                                    self.pool.record_failure(m, &e);
                                    return End::Failed(e.to_string());
                                }
                                Err(StreamEnd::Cancelled) => return End::Cancelled,
                                Err(StreamEnd::Slow(e)) => return End::Slow(e),
                                Err(StreamEnd::Failed(e)) => return End::Failed(e),
                            }
                        }
                    };
                    if let Some(l) = self.limiter {
                        l.take(data.len()).await;
                    }
                    self.received
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    let n_in = data.len() as u64;
                    if let Some(f) = &shared.front {
                        // Only media may be large; anything else that keeps
                        // coming is cut off, and its source is not the file.
                        if *at + n_in > f.limit {
                            let e = format!("more bytes than the {} expected", f.limit);
                            // (Blamed when it sent all of them.)
                            if from_nothing {
                                self.pool.record_bad_bytes(m, &e);
                            }
                            shared.plan().liars.insert(m);
                            return End::Refused(e);
                        }
                        // A feed's length is advice: every byte past what
                        // was planned is charged to the storage budget.
                        let fits = shared.w.explicit
                            || self.budget.is_none_or(|b| b.charge(shared.w, *at + n_in));
                        if !fits {
                            return End::OverBudget;
                        }
                    }
                    while !data.is_empty() {
                        let want = shared.chunk_len(i) - *at;
                        let piece = data.split_to((want as usize).min(data.len()));
                        let n = piece.len() as u64;
                        if shared.tx.send((i, *at, piece, m)).await.is_err() {
                            return End::Failed("the writer stopped".into());
                        }
                        *at += n;
                        got += n;
                        if got >= 64 << 10 && shared.front.as_ref().is_some_and(|f| f.resumable) {
                            shared.progressed.store(true, Ordering::Relaxed);
                        }
                        *shared
                            .sent_by
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(m)
                            .or_default() += n;
                        if std::mem::take(&mut first_bytes) {
                            let _ = shared.grow.send(m);
                        }
                        self.done.fetch_add(n, Ordering::Relaxed);
                        shared.arrived.fetch_add(n, Ordering::Relaxed);
                        if *at < shared.chunk_len(i) {
                            continue;
                        }
                        let more = shared.plan().sent(id, i);
                        i += 1;
                        *at = 0;
                        if !more || i == end {
                            self.pool.record_success(m, None);
                            self.pool.record_transfer(m, got, started.elapsed());
                            if !data.is_empty() || i < end {
                                // Cut short inside its request (a player's
                                // chunk split it): what was read past the new
                                // end is fetched again by the other stream.
                                debug!(
                                    stream = id,
                                    chunk = i,
                                    dropped = data.len(),
                                    "segment cut short"
                                );
                            }
                            if more {
                                continue 'requests;
                            }
                            continue 'segments;
                        }
                    }
                    // A mirror caught sending a bad chunk (by this stream or
                    // another) stops once the bytes in hand are written: they
                    // are checked with their chunks like any others (a chunk
                    // it leaves unfinished is finished by another mirror, and
                    // blames no one if it fails).
                    if shared.plan().liars.contains(&m) {
                        return End::Liar;
                    }
                    // Far slower than another mirror is known to be? Give the
                    // segment back to a better one.
                    let others = || shared.others(self.pool, m);
                    if let Some(reason) = window.slow(self, m, n_in, others) {
                        return End::Slow(reason);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(p: &Plan) -> String {
        p.chunks
            .iter()
            .map(|c| match c {
                State::Missing => '.',
                State::Taken => 't',
                State::Sent => 's',
                State::Done => 'D',
            })
            .collect()
    }

    #[test]
    fn segments_are_shared_out_lowest_first_and_skip_what_is_in() {
        let mut p = Plan::new(
            &[true, false, false, false, false, true, false, false],
            &[],
            2,
        );
        assert_eq!(p.segment_len, 3);
        assert_eq!(p.take(0), Some((1, 4, 0)));
        assert_eq!(p.take(1), Some((4, 5, 0)), "stops at a chunk that is in");
        assert_eq!(p.take(2), Some((6, 8, 0)));
        assert_eq!(states(&p), "DttttDtt");
        assert_eq!(p.take(3), None, "no segment has enough left to split");
        assert_eq!(states(&p), "DttttDtt");
    }

    #[test]
    fn an_idle_stream_steals_the_back_half_of_the_longest_segment() {
        let mut p = Plan::new(&[false; 10], &[], 1);
        assert_eq!(p.take(0), Some((0, 10, 0)));
        assert!(p.sent(0, 0));
        // Chunk 1 is being received by stream 0; 2..10 are left.
        assert_eq!(p.take(1), Some((5, 10, 0)));
        assert!(p.sent(0, 1));
        assert!(p.sent(0, 2));
        assert!(p.sent(0, 3));
        assert!(!p.sent(0, 4), "stream 0's segment now ends at 5");
        assert_eq!(p.take(2), Some((7, 10, 0)), "stream 1's segment is split");
        // A stream that stops gives back what it had not sent.
        assert!(p.sent(1, 5));
        p.release(1, 0);
        assert_eq!(states(&p), "ssssss.ttt");
        assert_eq!(p.take(1), Some((6, 7, 0)), "and it is taken first");
        // Nothing to steal from a segment with fewer than MIN_STEAL left.
        let mut q = Plan::new(&[false; 8], &[], 2);
        assert_eq!(q.take(0), Some((0, 4, 0)));
        assert_eq!(q.take(1), Some((4, 8, 0)));
        assert_eq!(q.take(2), Some((2, 4, 0)), "4 left of stream 0's: split");
        assert_eq!(q.take(3), Some((6, 8, 0)), "and of stream 1's");
        assert_eq!(q.take(4), None, "2 left of each: not split");
    }

    #[test]
    fn a_steal_never_takes_chunks_already_asked_for() {
        let mut p = Plan::new(&[false; 16], &[], 1);
        assert_eq!(p.take(0), Some((0, 16, 0)));
        // Stream 0 asks for its segment REQUEST chunks at a time.
        assert_eq!(p.ask(0), Some(REQUEST));
        // The back half of what is not asked for: 4..16 → from 10.
        assert_eq!(p.take(1), Some((10, 16, 0)));
        for i in 0..REQUEST - 1 {
            assert!(p.sent(0, i));
        }
        assert!(p.sent(0, REQUEST - 1), "the request goes on to its end");
        assert_eq!(p.ask(0), Some(8));
        // 8..10 of stream 0's are not asked for: too few to split; stream
        // 1's 10..16 are (6, none asked yet): split at 13.
        assert_eq!(p.take(2), Some((13, 16, 0)));
        assert_eq!(p.ask(1), Some(13));
        assert_eq!(p.take(3), None, "what is left is asked for");
        // A segment cut to nothing has no request left.
        for i in 4..8 {
            assert!(p.sent(0, i));
        }
        assert_eq!(p.ask(0), Some(10));
        assert!(p.sent(0, 8));
        assert!(!p.sent(0, 9));
        assert_eq!(p.ask(0), None);
    }

    #[test]
    fn a_stopped_stream_leaves_its_chunk_to_go_on_where_it_stopped() {
        let mut p = Plan::new(&[false; 6], &[(4, 77)], 1);
        assert_eq!(p.take(0), Some((0, 4, 0)), "a held chunk starts a run");
        assert!(p.sent(0, 0));
        p.release(0, 1000);
        assert_eq!(p.take(1), Some((1, 4, 1000)));
        assert_eq!(p.take(2), Some((4, 6, 77)));
        // A chunk that fails is fetched whole.
        p.sent(1, 1);
        p.checked(1, false);
        p.release(1, 0);
        assert_eq!(p.take(3), Some((1, 4, 0)));
    }

    #[test]
    fn a_chunk_a_player_waits_for_is_taken_first() {
        let mut p = Plan::new(&[false; 16], &[], 4);
        for s in 0..4 {
            assert_eq!(p.take(s), Some((4 * s, 4 * s + 4, 0)));
        }
        assert!(p.prioritise(9));
        assert_eq!(p.take(9), Some((9, 12, 0)), "split off stream 2's segment");
        assert!(!p.sent(2, 8), "stream 2 now ends at 9");
        assert!(!p.prioritise(9), "being received");
        assert!(!p.prioritise(8), "sent");
        // A missing chunk: the next segment starts there.
        let mut q = Plan::new(&[false; 4], &[], 1);
        assert!(q.prioritise(3));
        assert_eq!(q.take(0), Some((3, 4, 0)));
        assert_eq!(q.take(1), Some((0, 3, 0)));
    }

    #[test]
    fn a_bad_chunk_is_missing_again_and_the_file_is_complete_when_all_check() {
        let mut p = Plan::new(&[false; 3], &[], 1);
        assert_eq!(p.take(0), Some((0, 3, 0)));
        for i in 0..3 {
            p.sent(0, i);
        }
        p.checked(0, true);
        p.checked(1, false);
        p.checked(2, true);
        assert!(!p.complete());
        assert_eq!(p.take(1), Some((1, 2, 0)));
        p.sent(1, 1);
        p.checked(1, true);
        assert!(p.complete());
        assert_eq!(p.take(2), None);
    }
}
