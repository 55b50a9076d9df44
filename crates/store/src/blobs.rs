//! The content-addressed blob store on disk.
//!
//! A blob reaches its final path only through [`BlobWriter::finish`]: bytes are
//! hashed while they stream into `partial/`, the file is fsynced, and it is
//! renamed into `sha256/ab/…` only when size and hash match. A crash leaves at
//! most a partial file, never a wrong blob under a hash name.
//!
//! A file with a chunk list (catalog format 2) is also checked chunk by
//! chunk as it arrives ([`BlobStore::resume_chunked`]): the partial file
//! holds checked chunks and at most the one chunk being received; a chunk
//! that fails its hash is cut off the file at once, so a mirror that sends a
//! bad one costs that chunk only.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256 as Hasher};
use stowaway_catalog::Sha256;

use crate::StoreError;

#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub(crate) fn open(root: &Path) -> Result<BlobStore, StoreError> {
        crate::private::create_dir(root)?;
        for sub in ["sha256", "partial", "quarantine"] {
            crate::private::create_dir(&root.join(sub))?;
        }
        Ok(BlobStore {
            root: root.to_path_buf(),
        })
    }

    /// Where the verified blob lives (whether or not it is there).
    pub fn path(&self, sha: &Sha256) -> PathBuf {
        let hex = sha.as_str();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// Where a download of this blob in progress lives.
    pub fn partial_path(&self, sha: &Sha256) -> PathBuf {
        self.root.join("partial").join(sha.as_str())
    }

    pub(crate) fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    pub(crate) fn sha_dir(&self) -> PathBuf {
        self.root.join("sha256")
    }

    pub(crate) fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    /// Starts writing a blob expected to hash to `sha` with `size` bytes,
    /// discarding any earlier partial file of it.
    pub fn begin(&self, sha: &Sha256, size: u64) -> Result<BlobWriter, StoreError> {
        let partial = self.partial_path(sha);
        let file = crate::private::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&partial)
            .map_err(|e| StoreError::io(&partial, e))?;
        Ok(self.writer(file, partial, sha, size, Hasher::new(), 0))
    }

    /// Continues a partial download of `sha` where its bytes stop: the prefix
    /// already on disk is re-hashed (so the final check still covers every
    /// byte), and writing goes on at its end. A partial file longer than the
    /// blob is discarded. With no partial file this is [`begin`](Self::begin).
    pub fn resume(&self, sha: &Sha256, size: u64) -> Result<BlobWriter, StoreError> {
        let partial = self.partial_path(sha);
        let mut file = match OpenOptions::new().read(true).write(true).open(&partial) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.begin(sha, size),
            Err(e) => return Err(StoreError::io(&partial, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| StoreError::io(&partial, e))?
            .len();
        if len > size {
            drop(file);
            return self.begin(sha, size);
        }
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        while n < len {
            let k = file
                .read(&mut buf)
                .map_err(|e| StoreError::io(&partial, e))?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            n += k as u64;
        }
        // Anything after what was hashed (a file that changed under us) goes.
        file.set_len(n).map_err(|e| StoreError::io(&partial, e))?;
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(n))
            .map_err(|e| StoreError::io(&partial, e))?;
        Ok(self.writer(file, partial, sha, size, hasher, n))
    }

    /// Like [`begin`](Self::begin), with every chunk checked as it completes
    /// (see [`resume_chunked`](Self::resume_chunked)).
    pub fn begin_chunked(
        &self,
        sha: &Sha256,
        size: u64,
        chunk_size: u32,
        digests: std::sync::Arc<[[u8; 32]]>,
    ) -> Result<BlobWriter, StoreError> {
        let chunk = u64::from(chunk_size.max(1));
        if size.div_ceil(chunk) != digests.len() as u64 {
            return self.begin(sha, size);
        }
        Ok(self.begin(sha, size)?.chunked(chunk, digests))
    }

    /// Like [`resume`](Self::resume), for a file whose catalog gives a chunk
    /// list: the partial file's whole chunks are checked against `digests`
    /// (it is cut at the first that does not match); the bytes of a last,
    /// unfinished chunk are kept and checked when it is complete. Every chunk
    /// written from here on is checked as it completes
    /// ([`StoreError::BadChunk`] otherwise: it is cut off the file and the
    /// writer goes on at the last good chunk).
    pub fn resume_chunked(
        &self,
        sha: &Sha256,
        size: u64,
        chunk_size: u32,
        digests: std::sync::Arc<[[u8; 32]]>,
    ) -> Result<BlobWriter, StoreError> {
        let chunk = u64::from(chunk_size.max(1));
        let partial = self.partial_path(sha);
        let mut file = match OpenOptions::new().read(true).write(true).open(&partial) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(self.begin(sha, size)?.chunked(chunk, digests))
            }
            Err(e) => return Err(StoreError::io(&partial, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| StoreError::io(&partial, e))?
            .len();
        if size.div_ceil(chunk) != digests.len() as u64 {
            // Not this file's list (cannot be: the list's length is checked
            // before it is kept): checked whole only.
            drop(file);
            return self.resume(sha, size);
        }
        if len > size {
            drop(file);
            return Ok(self.begin(sha, size)?.chunked(chunk, digests));
        }
        let whole_chunks = if len == size { len } else { len - len % chunk };
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; chunk as usize];
        let mut good = 0u64;
        while good < whole_chunks {
            let want = chunk.min(size - good) as usize;
            if file.read_exact(&mut buf[..want]).is_err() {
                break;
            }
            if Hasher::digest(&buf[..want])[..] != digests[(good / chunk) as usize][..] {
                break; // this chunk and what follows go
            }
            hasher.update(&buf[..want]);
            good += want as u64;
        }
        // The unfinished last chunk stays (checked when it completes) if
        // every whole chunk before it was good.
        let mut held = Vec::new();
        if good == whole_chunks && len > good {
            held.resize((len - good) as usize, 0);
            if file.read_exact(&mut held).is_err() {
                held.clear();
            }
        }
        let end = good + held.len() as u64;
        file.set_len(end).map_err(|e| StoreError::io(&partial, e))?;
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(end))
            .map_err(|e| StoreError::io(&partial, e))?;
        let mut w = self
            .writer(file, partial, sha, size, hasher, end)
            .chunked(chunk, digests);
        if let Some(c) = w.chunks.as_mut() {
            c.held = held;
        }
        Ok(w)
    }

    fn writer(
        &self,
        file: File,
        partial: PathBuf,
        sha: &Sha256,
        size: u64,
        hasher: Hasher,
        written: u64,
    ) -> BlobWriter {
        BlobWriter {
            file,
            partial,
            root: self.root.join("sha256"),
            expected: Some(sha.clone()),
            expected_size: Some(size),
            limit: size,
            hasher,
            written,
            chunks: None,
        }
    }

    /// Continues (or starts) a download whose hash is not known yet: a feed
    /// episode before its first download. `key` names the partial file;
    /// `size` is the length the publisher declared, if any; `limit` caps an
    /// undeclared one. The bytes reach the store only through
    /// [`BlobWriter::finish_unknown`], under their own hash.
    pub fn resume_unknown(
        &self,
        key: &Sha256,
        size: Option<u64>,
        limit: u64,
    ) -> Result<BlobWriter, StoreError> {
        Ok(self.resume(key, size.unwrap_or(limit))?.unknown(size))
    }

    /// Starts such a download over from nothing.
    pub fn begin_unknown(
        &self,
        key: &Sha256,
        size: Option<u64>,
        limit: u64,
    ) -> Result<BlobWriter, StoreError> {
        Ok(self.begin(key, size.unwrap_or(limit))?.unknown(size))
    }

    /// Hashes the file at `path` (streaming). Returns its SHA-256 and size.
    pub fn hash_file(path: &Path) -> io::Result<(Sha256, u64)> {
        Sha256::digest_reader(File::open(path)?)
    }
}

/// A blob being written to its partial file. Dropping it keeps the partial
/// file (a later sync resumes it); [`discard`](Self::discard) removes it.
pub struct BlobWriter {
    file: File,
    partial: PathBuf,
    /// `blobs/sha256`: the final path follows from the hash.
    root: PathBuf,
    /// `None` while a feed file's hash is not known yet.
    expected: Option<Sha256>,
    expected_size: Option<u64>,
    /// Most bytes accepted: the expected size, or a cap when it is unknown.
    limit: u64,
    hasher: Hasher,
    written: u64,
    /// Chunk checking, for a file with a chunk list.
    chunks: Option<ChunkCheck>,
}

/// The chunk being received and the digests it must match.
struct ChunkCheck {
    size: u64,
    digests: std::sync::Arc<[[u8; 32]]>,
    /// The bytes of the chunk being received: on disk already (so a pause
    /// keeps them), hashed into the file's hash only once checked.
    held: Vec<u8>,
}

impl BlobWriter {
    fn chunked(mut self, size: u64, digests: std::sync::Arc<[[u8; 32]]>) -> BlobWriter {
        self.chunks = Some(ChunkCheck {
            size,
            digests,
            held: Vec::with_capacity(size as usize),
        });
        self
    }

    /// Chunk-checked writing: bytes go to the disk as they come; each chunk
    /// is checked as it completes, and one that does not match is cut off
    /// the file ([`StoreError::BadChunk`], with the last good chunk's end).
    fn write_chunked(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.file
            .write_all(bytes)
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.written += bytes.len() as u64;
        let Some(c) = self.chunks.as_mut() else {
            return Ok(()); // cannot happen: only called when chunked
        };
        c.held.extend_from_slice(bytes);
        loop {
            let checked = self.written - c.held.len() as u64;
            let want = c.size.min(self.limit - checked) as usize;
            if want == 0 || c.held.len() < want {
                return Ok(());
            }
            let index = (checked / c.size) as usize;
            let ok = c
                .digests
                .get(index)
                .is_some_and(|d| Hasher::digest(&c.held[..want])[..] == d[..]);
            if !ok {
                self.drop_unchecked()?;
                return Err(StoreError::BadChunk {
                    index: index as u64,
                    offset: checked,
                });
            }
            self.hasher.update(&c.held[..want]);
            c.held.drain(..want);
        }
    }

    /// The same writer, for bytes whose hash is not known (and whose size
    /// may not be): they are checked by [`finish_unknown`](Self::finish_unknown).
    fn unknown(mut self, size: Option<u64>) -> BlobWriter {
        self.expected = None;
        self.expected_size = size;
        self
    }

    /// Appends bytes, hashing them. Refuses to grow past the expected size.
    /// With a chunk list, each chunk is checked as it completes (and cut off
    /// the file if it does not match).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.written + bytes.len() as u64 > self.limit {
            return Err(StoreError::TooLong {
                sha256: self
                    .expected
                    .as_ref()
                    .map(Sha256::to_string)
                    .unwrap_or_default(),
                expected_size: self.limit,
            });
        }
        if self.chunks.is_some() {
            return self.write_chunked(bytes);
        }
        self.hasher.update(bytes);
        self.file
            .write_all(bytes)
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// The chunk size, when the file is checked chunk by chunk.
    pub fn chunk_size(&self) -> Option<u64> {
        self.chunks.as_ref().map(|c| c.size)
    }

    /// Bytes of whole chunks checked so far (with no chunk list: all).
    pub fn checked(&self) -> u64 {
        self.written - self.chunks.as_ref().map_or(0, |c| c.held.len() as u64)
    }

    /// Cuts off the bytes of the chunk being received (so that a chunk comes
    /// whole from one mirror, and a bad one is blamed on it); returns what
    /// is left, the checked chunks.
    pub fn drop_unchecked(&mut self) -> Result<u64, StoreError> {
        let checked = self.checked();
        if checked < self.written {
            use std::io::Seek;
            self.file
                .set_len(checked)
                .and_then(|()| self.file.seek(io::SeekFrom::Start(checked)).map(drop))
                .map_err(|e| StoreError::io(&self.partial, e))?;
            self.written = checked;
            if let Some(c) = self.chunks.as_mut() {
                c.held.clear();
            }
        }
        Ok(checked)
    }

    /// Bytes in the partial file so far (including a resumed prefix).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Most bytes this blob may have (its size, when known).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The size the bytes must have at the end, when known.
    pub fn expected_size(&self) -> Option<u64> {
        self.expected_size
    }

    /// Makes what was written so far durable.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.partial, e))
    }

    /// Removes the partial file.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.partial);
    }

    /// Checks size and hash, fsyncs, and renames into place. On mismatch the
    /// partial file is removed and nothing is stored.
    pub fn finish(self) -> Result<PathBuf, StoreError> {
        self.finish_checked(|_, _, _| Ok(()))
            .map(|(_, _, path)| path)
    }

    /// For a file whose hash was not known: hashes what was written, checks
    /// the declared size, lets `check` look at the complete file (the
    /// publisher's integrity digests), and only then moves it into place
    /// under its SHA-256. Returns that hash, the size and the path.
    pub fn finish_unknown(
        self,
        check: impl FnOnce(&Path, &Sha256, u64) -> Result<(), String>,
    ) -> Result<(Sha256, u64, PathBuf), StoreError> {
        self.finish_checked(check)
    }

    fn finish_checked(
        self,
        check: impl FnOnce(&Path, &Sha256, u64) -> Result<(), String>,
    ) -> Result<(Sha256, u64, PathBuf), StoreError> {
        let BlobWriter {
            file,
            partial,
            root,
            expected,
            expected_size,
            hasher,
            written,
            ..
        } = self;
        let actual = Sha256::from_digest(&hasher.finalize().into());
        let fail = |file: File, e: StoreError| {
            drop(file);
            let _ = fs::remove_file(&partial);
            Err(e)
        };
        if expected.as_ref().is_some_and(|e| *e != actual)
            || expected_size.is_some_and(|n| n != written)
        {
            return fail(
                file,
                StoreError::HashMismatch {
                    sha256: expected.as_ref().map(Sha256::to_string).unwrap_or_default(),
                    expected_size: expected_size.unwrap_or(written),
                    actual_size: written,
                    actual_sha256: actual.to_string(),
                },
            );
        }
        file.sync_all().map_err(|e| StoreError::io(&partial, e))?;
        if let Err(message) = check(&partial, &actual, written) {
            return fail(file, StoreError::Unverified(message));
        }
        drop(file);
        let hex = actual.as_str();
        let dir = root.join(&hex[..2]);
        let final_path = dir.join(hex);
        crate::private::create_dir(&dir)?;
        fs::rename(&partial, &final_path).map_err(|e| StoreError::io(&final_path, e))?;
        sync_dir(&dir);
        Ok((actual, written, final_path))
    }
}

/// Makes a rename durable. Best effort: not every platform can open a directory.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha_of(bytes: &[u8]) -> Sha256 {
        Sha256::from_digest(&Hasher::digest(bytes).into())
    }

    /// 64 KiB chunks of a 200,000-byte file, and their digests.
    fn chunked_file() -> (Vec<u8>, std::sync::Arc<[[u8; 32]]>) {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let digests: Vec<[u8; 32]> = data
            .chunks(64 << 10)
            .map(|c| Hasher::digest(c).into())
            .collect();
        (data, digests.into())
    }

    #[test]
    fn a_bad_chunk_is_cut_off_and_the_file_goes_on_after_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = chunked_file();
        let sha = sha_of(&data);
        let size = data.len() as u64;
        let mut w = store
            .resume_chunked(&sha, size, 64 << 10, digests.clone())
            .unwrap();
        // Chunk 0 whole, in odd pieces; then chunk 1 with one byte flipped.
        for piece in data[..65536].chunks(7000) {
            w.write(piece).unwrap();
        }
        assert_eq!(w.written(), 65536);
        let mut bad = data[65536..131072].to_vec();
        bad[1000] ^= 0xff;
        w.write(&bad[..40000]).unwrap();
        assert_eq!(w.written(), 65536 + 40000, "on disk while it arrives");
        let e = w.write(&bad[40000..]).unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::BadChunk {
                    index: 1,
                    offset: 65536
                }
            ),
            "{e}"
        );
        assert_eq!(w.written(), 65536);
        assert_eq!(
            std::fs::metadata(store.partial_path(&sha)).unwrap().len(),
            65536,
            "cut off"
        );
        // Another mirror sends the rest from the last good chunk.
        w.write(&data[65536..]).unwrap();
        assert_eq!(w.written(), size);
        w.finish().unwrap();
        assert_eq!(std::fs::read(store.path(&sha)).unwrap(), data);
    }

    #[test]
    fn a_chunked_partial_keeps_its_good_chunks_and_checks_the_last_when_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let (data, digests) = chunked_file();
        let sha = sha_of(&data);
        let size = data.len() as u64;
        // Two good chunks and part of the third: all kept, the third
        // checked when it completes.
        std::fs::write(store.partial_path(&sha), &data[..65536 * 2 + 30000]).unwrap();
        let mut w = store
            .resume_chunked(&sha, size, 64 << 10, digests.clone())
            .unwrap();
        assert_eq!(w.written(), 65536 * 2 + 30000);
        let mut wrong = data[65536 * 2 + 30000..65536 * 3].to_vec();
        wrong[0] ^= 1;
        assert!(matches!(
            w.write(&wrong),
            Err(StoreError::BadChunk { index: 2, .. })
        ));
        assert_eq!(w.written(), 65536 * 2, "the whole third chunk goes");
        drop(w);
        // A damaged second chunk: resumes after the first.
        let mut damaged = data[..65536 * 3].to_vec();
        damaged[70000] ^= 1;
        std::fs::write(store.partial_path(&sha), &damaged).unwrap();
        let mut w = store.resume_chunked(&sha, size, 64 << 10, digests).unwrap();
        assert_eq!(w.written(), 65536);
        w.write(&data[65536..]).unwrap();
        w.finish().unwrap();
        assert_eq!(std::fs::read(store.path(&sha)).unwrap(), data);
    }

    #[test]
    fn stores_only_matching_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let data = b"hello blob";
        let sha = sha_of(data);

        let mut w = store.begin(&sha, data.len() as u64).unwrap();
        w.write(b"hello blub").unwrap();
        assert!(matches!(w.finish(), Err(StoreError::HashMismatch { .. })));
        assert!(!store.path(&sha).exists());
        assert!(!store.partial_path(&sha).exists());

        let mut w = store.begin(&sha, data.len() as u64).unwrap();
        assert!(w.write(b"hello blob!").is_err(), "longer than announced");
        w.discard();
        assert!(!store.partial_path(&sha).exists());

        // Interrupted after 6 bytes, then resumed: the prefix is re-hashed.
        let mut w = store.begin(&sha, data.len() as u64).unwrap();
        w.write(b"hello ").unwrap();
        drop(w);
        assert_eq!(fs::read(store.partial_path(&sha)).unwrap(), b"hello ");
        let mut w = store.resume(&sha, data.len() as u64).unwrap();
        assert_eq!(w.written(), 6);
        w.write(b"blob").unwrap();
        assert_eq!(w.finish().unwrap(), store.path(&sha));
        fs::remove_file(store.path(&sha)).unwrap();

        // A resumed prefix that is wrong makes the whole file fail, and go.
        fs::write(store.partial_path(&sha), b"HELLO ").unwrap();
        let mut w = store.resume(&sha, data.len() as u64).unwrap();
        w.write(b"blob").unwrap();
        assert!(matches!(w.finish(), Err(StoreError::HashMismatch { .. })));
        assert!(!store.partial_path(&sha).exists());
        // A partial longer than the blob is not resumed.
        fs::write(store.partial_path(&sha), b"hello blob and more").unwrap();
        assert_eq!(store.resume(&sha, data.len() as u64).unwrap().written(), 0);

        let mut w = store.begin(&sha, data.len() as u64).unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"blob").unwrap();
        let p = w.finish().unwrap();
        assert_eq!(fs::read(&p).unwrap(), data);
        assert_eq!(BlobStore::hash_file(&p).unwrap(), (sha, data.len() as u64));
    }

    /// A feed file: stored under the hash of what arrived, once the declared
    /// size and the caller's check agree; otherwise nothing is stored.
    #[test]
    fn files_of_unknown_hash_are_stored_under_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let key = sha_of(b"feed file key");
        let data = b"episode bytes";

        let mut w = store.begin_unknown(&key, Some(13), 1 << 20).unwrap();
        w.write(b"episode ").unwrap();
        drop(w);
        let mut w = store.resume_unknown(&key, Some(13), 1 << 20).unwrap();
        assert_eq!(w.written(), 8);
        w.write(b"bytes").unwrap();
        let (sha, n, path) = w
            .finish_unknown(|p, sha, n| {
                assert_eq!(fs::read(p).unwrap(), data, "the check sees the whole file");
                assert_eq!((sha, n), (&sha_of(data), 13));
                Ok(())
            })
            .unwrap();
        assert_eq!((sha.clone(), n), (sha_of(data), 13));
        assert_eq!(path, store.path(&sha));
        assert!(!store.partial_path(&key).exists());

        // Shorter than declared.
        let mut w = store.begin_unknown(&key, Some(13), 1 << 20).unwrap();
        w.write(b"episode").unwrap();
        assert!(matches!(
            w.finish_unknown(|_, _, _| Ok(())),
            Err(StoreError::HashMismatch { .. })
        ));
        assert!(!store.partial_path(&key).exists());
        // Refused by the check (an integrity digest): nothing stored.
        let other = b"other bytes";
        let mut w = store.begin_unknown(&key, None, 1 << 20).unwrap();
        w.write(other).unwrap();
        let e = w
            .finish_unknown(|_, _, _| Err("integrity".into()))
            .unwrap_err();
        assert!(matches!(e, StoreError::Unverified(_)), "{e}");
        assert!(!store.path(&sha_of(other)).exists());
        assert!(!store.partial_path(&key).exists());
        // No declared size: the cap holds.
        let mut w = store.begin_unknown(&key, None, 4).unwrap();
        assert!(w.write(b"12345").is_err());
    }
}
