//! A file with a chunk list (catalog format 2) downloaded in pieces: chunks
//! arrive in any order, from any mirror, each as a run of pieces from one
//! stream, written at their place in `blobs/partial/<sha256>` as they come
//! and checked against the chunk's digest when the chunk is whole.
//!
//! Which chunks are in the file is kept in a journal beside it,
//! `blobs/partial/<sha256>.chunks`: a header, then the index of each chunk
//! as it checks out, how far each unfinished chunk is filled (noted every
//! moment, so a kill loses at most the last moment's bytes), and a
//! checkpoint mark each time the file's data was made durable (`fdatasync`)
//! first. After a crash the checked chunks before the last mark are known
//! good without reading them again; those after it are read and checked
//! once; an unfinished chunk's bytes are hashed again and the chunk goes on
//! where they stop (a chunk that then fails is fetched whole again: bytes
//! from two runs or two mirrors blame no one).
//!
//! Chunks prove the bytes are the ones the chunk list names. When anything
//! names the file other than through that list (another library, a feed),
//! the whole file is hashed once more, in order, by a [`PrefixHasher`] that
//! follows the chunks as they complete, and only a file whose whole hash
//! matches the name it is stored under reaches `blobs/sha256/`
//! ([`ChunkedPartial::finish`]). When only the list names it, the list is
//! the check, and the file is recorded as checked by that list
//! (`Store::keep_chunk_checked`): it serves the references that name the
//! list and no other. A catalog whose chunk list does not describe the file
//! it names (another library's file, say) can so place other bytes only
//! under its own items.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256 as Hasher};
use stowaway_catalog::{Sha256, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};

use crate::blobs::BlobStore;
use crate::StoreError;

/// A journal's header names the chunk list its chunks were checked against
/// (the list's SHA-256): a run under another list, or the media server
/// serving another library's item, trusts none of them.
const MAGIC: &[u8; 8] = b"STWYCHK3";
/// The journal of a file fetched in segments whose chunks nothing checks
/// (a feed's file, checked whole at its end): never read as checked chunks.
const SEGMENTS_MAGIC: &[u8; 8] = b"STWYSEG1";
const HEADER: usize = 8 + 8 + 4 + 32;
/// A checkpoint mark in the journal: every chunk named before it is durable.
const MARK: u32 = u32::MAX;
/// Followed by a chunk's index and how many of its bytes are in the file.
const HELD: u32 = u32::MAX - 1;
/// The journal is written afresh (compacted) past this many bytes of records.
const COMPACT_AT: u64 = 256 * 1024;

/// What a piece did to its chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The chunk is not whole yet.
    Partial,
    /// The chunk is whole and matches its digest.
    Checked,
    /// The chunk is whole and does not match (or the piece was not where the
    /// chunk stops): it is empty again. `spliced` when its bytes came from
    /// more than one source (streams, mirrors, an earlier run): no one is
    /// to blame.
    Bad { spliced: bool },
}

/// Which chunks of a file still arriving are in, checked (read from its
/// journal, as another thread or process writes it).
#[derive(Clone, Debug)]
pub struct ChunksIn {
    pub size: u64,
    pub chunk: u64,
    pub done: Vec<bool>,
}

impl ChunksIn {
    /// The bytes from `offset` that are in checked chunks, one after the
    /// other: `offset..end` (empty when the chunk at `offset` is not in).
    pub fn run_from(&self, offset: u64) -> std::ops::Range<u64> {
        let first = (offset / self.chunk) as usize;
        let n = self.done[first.min(self.done.len())..]
            .iter()
            .take_while(|d| **d)
            .count();
        let end = ((first + n) as u64 * self.chunk).min(self.size);
        offset..end.max(offset)
    }
}

/// A record of a journal, read back.
enum Record {
    /// Chunk `i` was checked and written.
    Done(usize),
    /// Chunk `i` held this many bytes.
    Held(usize, u64),
}

/// A journal read back: the file size and chunk size of its header, and
/// its records in order, each with whether a checkpoint mark follows it
/// (its chunk's bytes were durable). `None` when it is not a journal.
struct JournalRecords {
    size: u64,
    chunk: u64,
    /// The chunk list's hash (zeros: pieces nothing checks).
    list: [u8; 32],
    records: Vec<(Record, bool)>,
}

fn read_journal(j: &[u8], magic: &[u8; 8]) -> Option<JournalRecords> {
    if j.len() < HEADER || &j[..8] != magic {
        return None;
    }
    let size = u64::from_le_bytes(j[8..16].try_into().ok()?);
    let chunk = u64::from(u32::from_le_bytes(j[16..20].try_into().ok()?));
    let list: [u8; 32] = j[20..52].try_into().ok()?;
    // A torn last record (a kill mid-append) is left out.
    let raw: Vec<u32> = j[HEADER..]
        .chunks_exact(4)
        .map(|r| u32::from_le_bytes([r[0], r[1], r[2], r[3]]))
        .collect();
    let last_mark = raw.iter().rposition(|r| *r == MARK);
    let mut records = Vec::new();
    let mut k = 0;
    while k < raw.len() {
        let durable = last_mark.is_some_and(|m| k < m);
        match raw[k] {
            MARK => k += 1,
            HELD => {
                if let (Some(&i), Some(&n)) = (raw.get(k + 1), raw.get(k + 2)) {
                    records.push((Record::Held(i as usize, u64::from(n)), durable));
                }
                k += 3;
            }
            i => {
                records.push((Record::Done(i as usize), durable));
                k += 1;
            }
        }
    }
    Some(JournalRecords {
        size,
        chunk,
        list,
        records,
    })
}

impl crate::Store {
    /// A player waits at `offset` of `sha`, which is still arriving: the
    /// download fetches the chunk there first (see [`wanted`](Self::wanted)).
    pub fn want(&self, sha: &Sha256, offset: u64) {
        self.wants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha.clone(), offset);
    }

    /// A download of `sha` in chunks runs in this process (`true`) or
    /// ended; the media server trusts its newest journal records only then.
    pub fn set_arriving(&self, sha: &Sha256, running: bool) {
        let mut a = self.arriving.lock().unwrap_or_else(|p| p.into_inner());
        if running {
            a.insert(sha.clone());
        } else {
            a.remove(sha);
        }
    }

    /// Whether a download of `sha` in chunks runs in this process.
    pub fn is_arriving(&self, sha: &Sha256) -> bool {
        self.arriving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(sha)
    }

    /// A player asked for `sha` and its download is starting in this
    /// process (`true`), or that start is over. The media server waits for
    /// it meanwhile, trusting no more of an earlier journal than after a
    /// crash: the download's own records count once it runs
    /// ([`set_arriving`](Self::set_arriving)).
    pub fn set_starting(&self, sha: &Sha256, starting: bool) {
        let mut s = self.starting.lock().unwrap_or_else(|p| p.into_inner());
        if starting {
            s.insert(sha.clone());
        } else {
            s.remove(sha);
        }
    }

    /// Whether a download of `sha` a player asked for is starting or runs.
    pub fn is_starting(&self, sha: &Sha256) -> bool {
        self.is_arriving(sha)
            || self
                .starting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(sha)
    }

    /// Where a player waits in `sha`, once (the download takes it).
    pub fn wanted(&self, sha: &Sha256) -> Option<u64> {
        self.wants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sha)
    }
}

impl BlobStore {
    /// The chunks of `sha` (`size` bytes) that are in, checked, while it
    /// downloads in chunks; `None` when no chunked download of it is on
    /// disk. Only what the journal names as checked counts: its records
    /// are written after the chunk's bytes.
    /// `list`: the chunk list the asking item names; a journal of chunks
    /// checked against another list counts for nothing.
    pub fn chunks_in(&self, sha: &Sha256, size: u64, all: bool, list: &Sha256) -> Option<ChunksIn> {
        let bytes = crate::private::read_own(&self.chunk_journal_path(sha), 64 << 20)?;
        let j = read_journal(&bytes, MAGIC)?;
        if hex::encode(j.list) != list.as_str() {
            return None;
        }
        // The format's chunk sizes only: a journal that says otherwise is
        // not ours.
        let sizes = u64::from(MIN_CHUNK_SIZE)..=u64::from(MAX_CHUNK_SIZE);
        if j.size != size || !sizes.contains(&j.chunk) {
            return None;
        }
        let mut done = vec![false; size.div_ceil(j.chunk) as usize];
        for (r, durable) in j.records {
            // Without a download of it running here, only chunks before
            // the last mark: those after it may not have reached the disk
            // before a crash (the next download checks them again).
            if let (Record::Done(i), true) = (r, all || durable) {
                if let Some(d) = done.get_mut(i) {
                    *d = true;
                }
            }
        }
        Some(ChunksIn {
            size,
            chunk: j.chunk,
            done,
        })
    }

    /// Where the journal of a chunked partial file lives.
    pub fn chunk_journal_path(&self, sha: &Sha256) -> PathBuf {
        self.partial_dir().join(format!("{}.chunks", sha.as_str()))
    }

    /// Opens (or starts) the chunked download of `sha`: `size` bytes in
    /// chunks of `chunk_size`, each matching its entry in `digests`.
    ///
    /// A journal left by an earlier run says which chunks are in (see the
    /// module's notes); a partial file with no journal (written front to
    /// back by the whole-file download) keeps the whole chunks of its prefix
    /// that match their digests, and the bytes of the chunk after them.
    pub fn open_chunked(
        &self,
        sha: &Sha256,
        size: u64,
        chunk_size: u32,
        digests: Arc<[[u8; 32]]>,
    ) -> Result<ChunkedPartial, StoreError> {
        let chunk = u64::from(chunk_size.max(1));
        if size.div_ceil(chunk) != digests.len() as u64 || digests.len() >= HELD as usize {
            return Err(StoreError::Unverified(format!(
                "a chunk list of {} entries does not describe {size} bytes in chunks of {chunk}",
                digests.len()
            )));
        }
        self.open_pieces(sha, size, chunk, Some(digests))
    }

    /// Opens (or starts) the download in segments of a file no chunk list
    /// checks (a feed's file whose digest or learned hash checks it whole):
    /// `key` names the partial; `size` bytes in pieces of `chunk_size`,
    /// each "in" once all its bytes are written. Its journal is never read
    /// as one of checked chunks ([`chunks_in`](Self::chunks_in)), and the
    /// file is stored only through [`ChunkedPartial::finish_unknown`].
    pub fn open_segments(
        &self,
        key: &Sha256,
        size: u64,
        chunk_size: u32,
    ) -> Result<ChunkedPartial, StoreError> {
        let chunk = u64::from(chunk_size.max(1));
        if size == 0 || size.div_ceil(chunk) >= u64::from(HELD) {
            return Err(StoreError::Unverified(format!(
                "{size} bytes cannot be fetched in pieces of {chunk}"
            )));
        }
        self.open_pieces(key, size, chunk, None)
    }

    fn open_pieces(
        &self,
        sha: &Sha256,
        size: u64,
        chunk: u64,
        digests: Option<Arc<[[u8; 32]]>>,
    ) -> Result<ChunkedPartial, StoreError> {
        let partial = self.partial_path(sha);
        let journal_path = self.chunk_journal_path(sha);
        let existing = fs::symlink_metadata(&partial)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let file = crate::private::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&partial)
            .map_err(|e| StoreError::io(&partial, e))?;
        let n = size.div_ceil(chunk) as usize;
        let mut p = ChunkedPartial {
            flusher: crate::blobs::Flusher::new(&file),
            file,
            partial,
            journal_path,
            journal: None,
            journal_len: 0,
            root: self.sha_dir(),
            sha: sha.clone(),
            size,
            chunk,
            digests,
            done: vec![false; n],
            done_count: 0,
            prefix: 0,
            open: BTreeMap::new(),
            dirty: false,
        };
        let journaled = crate::private::read_own(&p.journal_path, COMPACT_AT * 4 + 8 * n as u64);
        match (existing, journaled) {
            (Some(len), Some(j)) if len == size => p.load_journal(&j)?,
            (Some(len), _) if len > 0 && len <= size && !p.journal_path.exists() => {
                p.keep_good_prefix(len)?
            }
            _ => {}
        }
        p.file
            .set_len(size)
            .map_err(|e| StoreError::io(&p.partial, e))?;
        // A fresh journal holding what is known, durable before it says so.
        p.file
            .sync_data()
            .map_err(|e| StoreError::io(&p.partial, e))?;
        p.rewrite_journal()?;
        Ok(p)
    }
}

/// An unfinished chunk: its bytes so far, hashed.
struct Open {
    hasher: Hasher,
    filled: u64,
    /// Who sent its bytes (`None`: an earlier run).
    source: Option<u32>,
    spliced: bool,
}

/// A chunked download in progress (see the module's notes). Dropping it
/// keeps the file and its journal for the next run.
pub struct ChunkedPartial {
    file: File,
    partial: PathBuf,
    journal_path: PathBuf,
    journal: Option<File>,
    journal_len: u64,
    /// `blobs/sha256`.
    root: PathBuf,
    sha: Sha256,
    size: u64,
    chunk: u64,
    /// `None`: pieces nothing checks (`open_segments`).
    digests: Option<Arc<[[u8; 32]]>>,
    done: Vec<bool>,
    done_count: usize,
    /// Chunks from the start that are all in.
    prefix: usize,
    open: BTreeMap<usize, Open>,
    /// Chunks were checked since the last checkpoint.
    dirty: bool,
    /// Starts the disk on the bytes as they come (see `Flusher`).
    flusher: crate::blobs::Flusher,
}

impl ChunkedPartial {
    /// The size of its chunks (the last may be shorter).
    pub fn chunk_size(&self) -> u32 {
        self.chunk as u32
    }

    /// The file's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes of chunk `index` (the last may be short).
    fn chunk_len(&self, index: usize) -> u64 {
        let start = index as u64 * self.chunk;
        self.chunk.min(self.size.saturating_sub(start))
    }

    /// Whether chunk `index` is in the file, checked.
    #[cfg(test)]
    fn has(&self, index: usize) -> bool {
        self.done.get(index).copied().unwrap_or(false)
    }

    /// Which chunks are in the file.
    pub fn present(&self) -> &[bool] {
        &self.done
    }

    /// Bytes of unfinished chunk `index` in the file (0 for a chunk that is
    /// in, or not started).
    #[cfg(test)]
    fn held(&self, index: usize) -> u64 {
        self.open.get(&index).map_or(0, |o| o.filled)
    }

    /// Unfinished chunks and how many of their bytes are in.
    pub fn held_chunks(&self) -> Vec<(usize, u64)> {
        self.open
            .iter()
            .filter(|(_, o)| o.filled > 0)
            .map(|(i, o)| (*i, o.filled))
            .collect()
    }

    /// Bytes in the file that will not be fetched again: checked chunks,
    /// and what unfinished ones hold.
    pub fn done_bytes(&self) -> u64 {
        let checked: u64 = (0..self.done.len())
            .filter(|&i| self.done[i])
            .map(|i| self.chunk_len(i))
            .sum();
        checked + self.open.values().map(|o| o.filled).sum::<u64>()
    }

    /// Whether every chunk is in.
    pub fn complete(&self) -> bool {
        self.done_count == self.done.len()
    }

    /// Bytes from the start of the file that are all in checked chunks.
    pub fn contiguous(&self) -> u64 {
        (self.prefix as u64 * self.chunk).min(self.size)
    }

    /// Writes `bytes` at offset `at` of chunk `index`, from `source` (a
    /// stream): the next bytes of the chunk. When the chunk is whole it is
    /// checked against its digest; one that does not match is emptied
    /// (its place in the file is written again when it comes again).
    pub fn write(
        &mut self,
        index: usize,
        at: u64,
        bytes: &[u8],
        source: u32,
    ) -> Result<Written, StoreError> {
        if index >= self.done.len() {
            return Err(StoreError::OutOfRange(format!("no chunk {index}")));
        }
        if self.done[index] {
            return Ok(Written::Checked);
        }
        let len = self.chunk_len(index);
        let open = self.open.entry(index).or_insert_with(|| Open {
            hasher: Hasher::new(),
            filled: 0,
            source: Some(source),
            spliced: false,
        });
        if at != open.filled || at + bytes.len() as u64 > len {
            self.open.remove(&index);
            return Ok(Written::Bad { spliced: true });
        }
        if open.source != Some(source) {
            open.spliced = true;
            open.source = Some(source);
        }
        let offset = index as u64 * self.chunk + at;
        (&self.file)
            .seek(SeekFrom::Start(offset))
            .and_then(|_| (&self.file).write_all(bytes))
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.flusher.wrote(bytes.len() as u64);
        if self.digests.is_some() {
            open.hasher.update(bytes);
        }
        open.filled += bytes.len() as u64;
        if open.filled < len {
            return Ok(Written::Partial);
        }
        let Some(o) = self.open.remove(&index) else {
            return Ok(Written::Partial);
        };
        if !self.digest_ok(index, &o.hasher.finalize()) {
            // Emptied: a kill now must not resume it from these bytes.
            self.append(&[HELD, index as u32, 0])?;
            return Ok(Written::Bad { spliced: o.spliced });
        }
        self.append(&[index as u32])?;
        self.mark_done(index);
        self.dirty = true;
        Ok(Written::Checked)
    }

    /// Notes in the journal how far each unfinished chunk is filled (no
    /// fsync: this is what a killed process leaves; the bytes are checked
    /// when their chunk is whole).
    pub fn note_held(&mut self) -> Result<(), StoreError> {
        if self.journal_len > COMPACT_AT + 8 * self.done.len() as u64 {
            self.file
                .sync_data()
                .map_err(|e| StoreError::io(&self.partial, e))?;
            self.dirty = false;
            return self.rewrite_journal();
        }
        let records = self.held_records();
        self.append(&records)
    }

    /// Makes the chunks written so far durable, and says so in the journal.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            return self.note_held();
        }
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.partial, e))?;
        let mut records = self.held_records();
        records.push(MARK);
        self.append(&records)?;
        self.dirty = false;
        Ok(())
    }

    /// A hasher of the file's bytes in order, on its own handle (so it can
    /// run on another thread while chunks arrive).
    pub fn prefix_hasher(&self) -> Result<PrefixHasher, StoreError> {
        let file = File::open(&self.partial).map_err(|e| StoreError::io(&self.partial, e))?;
        Ok(PrefixHasher {
            file,
            path: self.partial.clone(),
            hasher: Hasher::new(),
            hashed: 0,
            buf: Vec::new(),
        })
    }

    /// Moves the complete file into place under its hash, once `whole`
    /// (the [`PrefixHasher`] of this file, run to its end) shows that the
    /// bytes hash to the name. A file whose chunks all matched but whose
    /// whole hash does not (a chunk list that does not describe the file)
    /// is removed, with its journal: nothing is stored.
    ///
    /// With `whole` `None`, the file is checked by its chunks only: the
    /// caller records it with [`Store::keep_chunk_checked`](crate::Store::keep_chunk_checked),
    /// which keeps it for the references that name this list alone (and
    /// has its whole hash taken otherwise).
    pub fn finish(self, whole: Option<PrefixHasher>) -> Result<PathBuf, StoreError> {
        if !self.complete() {
            return Err(StoreError::Unverified(format!(
                "{} of {} chunks are in",
                self.done_count,
                self.done.len()
            )));
        }
        let hashed = whole.map(PrefixHasher::finalize);
        let whole_checked = hashed.is_some();
        if let Some((actual, hashed)) = hashed.filter(|(a, n)| *n != self.size || *a != self.sha) {
            let e = StoreError::HashMismatch {
                sha256: self.sha.to_string(),
                expected_size: self.size,
                actual_size: hashed,
                actual_sha256: actual.to_string(),
            };
            self.discard();
            return Err(e);
        }
        self.file
            .sync_all()
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.flusher.check(&self.partial)?;
        let final_path = if whole_checked {
            crate::blobs::place(&self.partial, &self.root, &self.sha)?
        } else {
            // Checked by its list alone: never over a file already there
            // (one stored meanwhile, checked whole, stays; the caller's
            // record decides what this one is).
            let final_path = crate::blobs::place_if_free(&self.partial, &self.root, &self.sha)?;
            if final_path.is_none() {
                self.discard();
                return Err(StoreError::Unverified(
                    "a copy of the file was stored meanwhile".into(),
                ));
            }
            final_path.unwrap_or_default()
        };
        let _ = fs::remove_file(&self.journal_path);
        Ok(final_path)
    }

    /// Stores a file fetched in segments ([`BlobStore::open_segments`])
    /// under its own SHA-256 (`whole`, run to its end), once `check` (a
    /// learned hash, the feed's integrity digests) accepts the complete
    /// file; returns that hash, the size and the path. A file refused is
    /// removed, with its journal.
    pub fn finish_unknown(
        self,
        whole: PrefixHasher,
        check: impl FnOnce(&Path, &Sha256, u64) -> Result<(), String>,
    ) -> Result<(Sha256, u64, PathBuf), StoreError> {
        if !self.complete() {
            return Err(StoreError::Unverified(format!(
                "{} of {} pieces are in",
                self.done_count,
                self.done.len()
            )));
        }
        let (actual, hashed) = whole.finalize();
        let refused = if hashed != self.size {
            Some(format!("hashed {hashed} of {} bytes", self.size))
        } else {
            check(&self.partial, &actual, hashed).err()
        };
        if let Some(e) = refused {
            self.discard();
            return Err(StoreError::Unverified(e));
        }
        self.file
            .sync_all()
            .map_err(|e| StoreError::io(&self.partial, e))?;
        let final_path = crate::blobs::place(&self.partial, &self.root, &actual)?;
        let _ = fs::remove_file(&self.journal_path);
        Ok((actual, hashed, final_path))
    }

    /// Removes the partial file and its journal.
    fn discard(self) {
        let _ = fs::remove_file(&self.partial);
        let _ = fs::remove_file(&self.journal_path);
    }

    /// Whether chunk `i`'s bytes, hashing to `got`, are the list's (any
    /// bytes, when nothing checks the pieces).
    fn digest_ok(&self, i: usize, got: &[u8]) -> bool {
        self.digests.as_ref().is_none_or(|d| d[i][..] == got[..])
    }

    fn magic(&self) -> &'static [u8; 8] {
        if self.digests.is_some() {
            MAGIC
        } else {
            SEGMENTS_MAGIC
        }
    }

    /// The chunk list's hash (the SHA-256 of its digests in order, as the
    /// catalog names it); zeros when nothing checks the pieces.
    fn list_id(&self) -> [u8; 32] {
        match &self.digests {
            Some(d) => {
                let mut h = Hasher::new();
                for digest in d.iter() {
                    h.update(digest);
                }
                h.finalize().into()
            }
            None => [0; 32],
        }
    }

    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER);
        h.extend_from_slice(self.magic());
        h.extend_from_slice(&self.size.to_le_bytes());
        h.extend_from_slice(&(self.chunk as u32).to_le_bytes());
        h.extend_from_slice(&self.list_id());
        h
    }

    fn held_records(&self) -> Vec<u32> {
        self.open
            .iter()
            .filter(|(_, o)| o.filled > 0)
            .flat_map(|(i, o)| [HELD, *i as u32, o.filled as u32])
            .collect()
    }

    fn append(&mut self, records: &[u32]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        if self.journal.is_none() {
            let f = OpenOptions::new()
                .append(true)
                .open(&self.journal_path)
                .map_err(|e| StoreError::io(&self.journal_path, e))?;
            self.journal = Some(f);
        }
        let bytes: Vec<u8> = records.iter().flat_map(|r| r.to_le_bytes()).collect();
        if let Some(j) = self.journal.as_mut() {
            j.write_all(&bytes)
                .map_err(|e| StoreError::io(&self.journal_path, e))?;
        }
        self.journal_len += bytes.len() as u64;
        Ok(())
    }

    /// Writes the journal afresh: the header, the chunks known good (the
    /// file's data durable first), how far unfinished ones are, a mark.
    fn rewrite_journal(&mut self) -> Result<(), StoreError> {
        let mut records: Vec<u32> = (0..self.done.len())
            .filter(|&i| self.done[i])
            .map(|i| i as u32)
            .collect();
        records.extend(self.held_records());
        records.push(MARK);
        let mut bytes = self.header();
        bytes.extend(records.iter().flat_map(|r| r.to_le_bytes()));
        self.journal = None;
        self.journal_len = (bytes.len() - HEADER) as u64;
        crate::private::write_atomic(&self.journal_path, &bytes)
    }

    /// Reads an earlier run's journal: chunks before its last mark are
    /// durable and were checked; those after it are read and checked now;
    /// unfinished chunks are hashed up to where they were last noted.
    fn load_journal(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let list = self.list_id();
        let Some(j) = read_journal(bytes, self.magic())
            .filter(|j| j.size == self.size && j.chunk == self.chunk && j.list == list)
        else {
            return Ok(()); // not this file's journal: nothing is trusted
        };
        let mut unsure = std::collections::BTreeSet::new();
        let mut held: BTreeMap<usize, u64> = BTreeMap::new();
        for (r, durable) in j.records {
            match r {
                Record::Held(i, n) => {
                    held.insert(i, n);
                }
                Record::Done(i) if i < self.done.len() => {
                    if durable {
                        self.mark_done(i);
                    } else {
                        unsure.insert(i);
                    }
                }
                Record::Done(_) => {}
            }
        }
        let mut buf = Vec::new();
        for i in unsure {
            if self.done[i] || !self.read_chunk_prefix(i, self.chunk_len(i), &mut buf) {
                continue;
            }
            if self.digest_ok(i, &Hasher::digest(&buf)) {
                self.mark_done(i);
            }
        }
        for (i, n) in held {
            if i < self.done.len() && !self.done[i] && n > 0 && n < self.chunk_len(i) {
                self.hold(i, n, &mut buf);
            }
        }
        Ok(())
    }

    /// A partial file written front to back (no journal): its whole chunks
    /// that match are kept, up to the first that does not, and the bytes
    /// of the chunk after them.
    fn keep_good_prefix(&mut self, len: u64) -> Result<(), StoreError> {
        let mut buf = Vec::new();
        for i in 0..self.done.len() {
            let n = self.chunk_len(i);
            let start = i as u64 * self.chunk;
            if start + n > len {
                if len > start {
                    self.hold(i, len - start, &mut buf);
                }
                break;
            }
            if !self.read_chunk_prefix(i, n, &mut buf) || !self.digest_ok(i, &Hasher::digest(&buf))
            {
                break;
            }
            self.mark_done(i);
        }
        Ok(())
    }

    /// Takes the first `n` bytes of chunk `i` on disk as its start.
    fn hold(&mut self, i: usize, n: u64, buf: &mut Vec<u8>) {
        if self.read_chunk_prefix(i, n, buf) {
            let mut hasher = Hasher::new();
            hasher.update(&buf[..]);
            self.open.insert(
                i,
                Open {
                    hasher,
                    filled: n,
                    source: None,
                    spliced: true,
                },
            );
        }
    }

    fn read_chunk_prefix(&self, i: usize, n: u64, buf: &mut Vec<u8>) -> bool {
        buf.resize(n as usize, 0);
        (&self.file)
            .seek(SeekFrom::Start(i as u64 * self.chunk))
            .and_then(|_| (&self.file).read_exact(buf))
            .is_ok()
    }

    fn mark_done(&mut self, i: usize) {
        if !self.done[i] {
            self.done[i] = true;
            self.done_count += 1;
            while self.prefix < self.done.len() && self.done[self.prefix] {
                self.prefix += 1;
            }
        }
    }
}

/// The SHA-256 of a chunked file, taken in order as its checked chunks come
/// in: [`hash_to`](Self::hash_to) a point every byte before which is in.
pub struct PrefixHasher {
    file: File,
    path: PathBuf,
    hasher: Hasher,
    hashed: u64,
    buf: Vec<u8>,
}

impl PrefixHasher {
    /// Hashes the file's bytes up to `end` (bytes already written and
    /// checked: the caller's [`ChunkedPartial::contiguous`]).
    pub fn hash_to(&mut self, end: u64) -> Result<(), StoreError> {
        if end <= self.hashed {
            return Ok(());
        }
        self.file
            .seek(SeekFrom::Start(self.hashed))
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.buf.resize(1 << 20, 0);
        while self.hashed < end {
            let want = (end - self.hashed).min(self.buf.len() as u64) as usize;
            self.file
                .read_exact(&mut self.buf[..want])
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.hasher.update(&self.buf[..want]);
            self.hashed += want as u64;
        }
        Ok(())
    }

    fn finalize(self) -> (Sha256, u64) {
        (
            Sha256::from_digest(&self.hasher.finalize().into()),
            self.hashed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: usize = 65536;

    fn sha_of(bytes: &[u8]) -> Sha256 {
        Sha256::from_digest(&Hasher::digest(bytes).into())
    }

    /// 5 chunks of 64 KiB and a short last one.
    fn file() -> (Vec<u8>, Arc<[[u8; 32]]>) {
        let data: Vec<u8> = (0..(5 * C + 1000) as u32)
            .map(|i| (i * 7 + i / C as u32) as u8)
            .collect();
        let digests: Vec<[u8; 32]> = data.chunks(C).map(|c| Hasher::digest(c).into()).collect();
        (data, digests.into())
    }

    fn chunk(data: &[u8], i: usize) -> &[u8] {
        &data[i * C..((i + 1) * C).min(data.len())]
    }

    /// A whole chunk, in two pieces from one source.
    fn put(p: &mut ChunkedPartial, i: usize, bytes: &[u8], source: u32) -> Written {
        let half = bytes.len() / 2;
        assert_eq!(
            p.write(i, 0, &bytes[..half], source).unwrap(),
            Written::Partial
        );
        p.write(i, half as u64, &bytes[half..], source).unwrap()
    }

    #[test]
    fn chunks_in_any_order_make_the_file_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let sha = sha_of(&data);
        let mut p = blobs
            .open_chunked(&sha, data.len() as u64, C as u32, digests)
            .unwrap();
        let mut hasher = p.prefix_hasher().unwrap();
        for i in [3, 5, 0] {
            assert_eq!(put(&mut p, i, chunk(&data, i), 1), Written::Checked);
        }
        let mut bad = chunk(&data, 1).to_vec();
        bad[10] ^= 1;
        assert_eq!(put(&mut p, 1, &bad, 1), Written::Bad { spliced: false });
        assert!(!p.has(1));
        assert_eq!(p.held(1), 0, "a bad chunk is emptied");
        assert_eq!(
            put(&mut p, 2, chunk(&data, 1), 2),
            Written::Bad { spliced: false },
            "a chunk at another's place"
        );
        // A piece that is not where its chunk stops.
        assert_eq!(
            p.write(4, 5, &chunk(&data, 4)[5..9], 1).unwrap(),
            Written::Bad { spliced: true }
        );
        assert_eq!(p.contiguous(), C as u64);
        hasher.hash_to(p.contiguous()).unwrap();
        for i in [1, 2, 4] {
            assert_eq!(put(&mut p, i, chunk(&data, i), 1), Written::Checked);
        }
        assert!(p.complete());
        hasher.hash_to(p.contiguous()).unwrap();
        let path = p.finish(Some(hasher)).unwrap();
        assert_eq!(fs::read(path).unwrap(), data);
        assert!(!blobs.chunk_journal_path(&sha).exists());
    }

    #[test]
    fn a_chunk_from_two_sources_that_fails_blames_no_one() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let mut p = blobs
            .open_chunked(&sha_of(&data), data.len() as u64, C as u32, digests)
            .unwrap();
        let mut bad = chunk(&data, 0).to_vec();
        bad[C - 1] ^= 1;
        assert_eq!(p.write(0, 0, &bad[..100], 1).unwrap(), Written::Partial);
        assert_eq!(p.held(0), 100);
        assert_eq!(
            p.write(0, 100, &bad[100..], 2).unwrap(),
            Written::Bad { spliced: true }
        );
        // Continued from another source, good: it checks.
        let good = chunk(&data, 1);
        assert_eq!(p.write(1, 0, &good[..100], 1).unwrap(), Written::Partial);
        assert_eq!(p.write(1, 100, &good[100..], 2).unwrap(), Written::Checked);
    }

    #[test]
    fn a_chunk_list_that_is_not_the_files_stores_nothing() {
        // Chunks that match their list, under the name of another file.
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let other = sha_of(b"another library's lesson");
        let mut p = blobs
            .open_chunked(&other, data.len() as u64, C as u32, digests)
            .unwrap();
        let mut hasher = p.prefix_hasher().unwrap();
        for i in 0..6 {
            assert_eq!(put(&mut p, i, chunk(&data, i), 1), Written::Checked);
        }
        hasher.hash_to(p.contiguous()).unwrap();
        assert!(matches!(
            p.finish(Some(hasher)),
            Err(StoreError::HashMismatch { .. })
        ));
        assert!(!blobs.path(&other).exists());
        assert!(!blobs.partial_path(&other).exists());
        assert!(!blobs.chunk_journal_path(&other).exists());
    }

    #[test]
    fn a_reopened_partial_trusts_its_journal_and_goes_on_where_chunks_stop() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let sha = sha_of(&data);
        let size = data.len() as u64;
        {
            let mut p = blobs
                .open_chunked(&sha, size, C as u32, digests.clone())
                .unwrap();
            put(&mut p, 4, chunk(&data, 4), 1);
            p.checkpoint().unwrap();
            put(&mut p, 0, chunk(&data, 0), 1);
            put(&mut p, 2, chunk(&data, 2), 1);
            p.write(3, 0, &chunk(&data, 3)[..1000], 1).unwrap();
            p.note_held().unwrap();
            p.write(3, 1000, &chunk(&data, 3)[1000..2000], 1).unwrap();
            // Dropped without a checkpoint: as if killed.
        }
        // Chunk 2 was damaged on disk after it was written (it was not
        // durable yet); chunk 4 too, but it was checkpointed: trusted
        // without reading (the final hash is the net under that).
        let partial = blobs.partial_path(&sha);
        let mut bytes = fs::read(&partial).unwrap();
        bytes[2 * C + 5] ^= 1;
        bytes[4 * C + 5] ^= 1;
        fs::write(&partial, &bytes).unwrap();
        let mut p = blobs
            .open_chunked(&sha, size, C as u32, digests.clone())
            .unwrap();
        assert_eq!(p.present(), &[true, false, false, false, true, false]);
        // Chunk 3 goes on from the bytes last noted (1000, not 2000).
        assert_eq!(p.held_chunks(), vec![(3, 1000)]);
        assert_eq!(p.done_bytes(), 2 * C as u64 + 1000);
        assert_eq!(
            p.write(3, 1000, &chunk(&data, 3)[1000..], 1).unwrap(),
            Written::Checked
        );
        drop(p);
        // A journal that is not this file's (another size) trusts nothing.
        let j = blobs.chunk_journal_path(&sha);
        let mut jb = fs::read(&j).unwrap();
        jb[8] ^= 1;
        fs::write(&j, &jb).unwrap();
        let p = blobs.open_chunked(&sha, size, C as u32, digests).unwrap();
        assert!(p.present().iter().all(|d| !d));
        assert!(p.held_chunks().is_empty());
    }

    #[test]
    fn chunks_checked_against_another_list_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let sha = sha_of(&data);
        let size = data.len() as u64;
        {
            let mut p = blobs
                .open_chunked(&sha, size, C as u32, digests.clone())
                .unwrap();
            for i in 0..5 {
                put(&mut p, i, chunk(&data, i), 1);
            }
            p.checkpoint().unwrap();
        }
        let own = blobs.chunks_in(&sha, size, false, &Sha256::digest(&digests.concat()));
        assert_eq!(own.unwrap().done.iter().filter(|d| **d).count(), 5);
        // Another list for the same name and sizes (a hostile library's).
        let mut other: Vec<[u8; 32]> = digests.to_vec();
        other[5][0] ^= 1;
        let other_id = Sha256::digest(&other.concat());
        assert!(blobs.chunks_in(&sha, size, true, &other_id).is_none());
        let p = blobs
            .open_chunked(&sha, size, C as u32, other.into())
            .unwrap();
        assert_eq!(p.done_bytes(), 0, "nothing of the first run is trusted");
    }

    #[test]
    fn an_emptied_chunk_is_not_resumed_and_a_torn_journal_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let sha = sha_of(&data);
        let size = data.len() as u64;
        {
            let mut p = blobs
                .open_chunked(&sha, size, C as u32, digests.clone())
                .unwrap();
            put(&mut p, 0, chunk(&data, 0), 1);
            p.checkpoint().unwrap();
            let mut bad = chunk(&data, 1).to_vec();
            bad[C - 1] ^= 1;
            p.write(1, 0, &bad[..100], 1).unwrap();
            p.note_held().unwrap();
            assert_eq!(
                p.write(1, 100, &bad[100..], 1).unwrap(),
                Written::Bad { spliced: false }
            );
        }
        // A kill mid-append leaves part of a record.
        let j = blobs.chunk_journal_path(&sha);
        let mut jb = fs::read(&j).unwrap();
        jb.extend_from_slice(&[7, 0]);
        fs::write(&j, &jb).unwrap();
        let p = blobs.open_chunked(&sha, size, C as u32, digests).unwrap();
        assert_eq!(p.present(), &[true, false, false, false, false, false]);
        assert!(p.held_chunks().is_empty(), "not resumed from the bad bytes");
    }

    #[test]
    fn a_front_to_back_partial_keeps_its_good_whole_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = file();
        let sha = sha_of(&data);
        let mut prefix = data[..3 * C + 100].to_vec();
        prefix[C * 2 + 1] ^= 1; // chunk 2 is bad
        fs::write(blobs.partial_path(&sha), &prefix).unwrap();
        let mut p = blobs
            .open_chunked(&sha, data.len() as u64, C as u32, digests.clone())
            .unwrap();
        assert_eq!(p.present(), &[true, true, false, false, false, false]);
        assert!(p.held_chunks().is_empty(), "nothing after a bad chunk");
        let mut hasher = p.prefix_hasher().unwrap();
        for i in 2..6 {
            put(&mut p, i, chunk(&data, i), 1);
        }
        hasher.hash_to(p.contiguous()).unwrap();
        assert_eq!(fs::read(p.finish(Some(hasher)).unwrap()).unwrap(), data);
        // A good prefix that ends inside a chunk: that chunk goes on.
        fs::write(blobs.partial_path(&sha), &data[..C + 10]).unwrap();
        let p = blobs
            .open_chunked(&sha, data.len() as u64, C as u32, digests)
            .unwrap();
        assert_eq!(p.held_chunks(), vec![(1, 10)]);
    }
}
