//! The content-addressed blob store on disk.
//!
//! A blob reaches its final path only through [`BlobWriter::finish`]: bytes are
//! hashed while they stream into `partial/`, the file is fsynced, and it is
//! renamed into `sha256/ab/…` only when size and hash match. A crash leaves at
//! most a partial file, never a wrong blob under a hash name.
//!
//! A file with a chunk list (catalog format 2) is downloaded in pieces
//! instead, each chunk checked as it completes: see `partial.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256 as Hasher};
use stowaway_catalog::Sha256;

use crate::StoreError;

/// Starts the disk writing a file back while it is still being written: an
/// `fdatasync` on a thread of its own each time [`FLUSH_EVERY`] more bytes
/// have been written. The `fsync` that makes the whole file durable at its
/// end then waits for the tail only, not for every byte (on this machine a
/// 200 MiB file's last `fdatasync` took 77 ms). The writer's own syncs
/// (checkpoints, the one before the rename) still decide durability; an
/// error a background sync met is reported by [`check`](Self::check), since
/// the descriptors share one error record. Linux only: elsewhere a sync
/// flushes the drive's whole cache (macOS `F_FULLFSYNC`, Windows
/// `FlushFileBuffers`), too dear to repeat. The thread starts with the
/// first flush, so a small file never has one; it ends when its `Flusher`
/// is dropped.
pub(crate) struct Flusher {
    file: Option<File>,
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    pending: u64,
    failed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Bytes written between two background flushes.
const FLUSH_EVERY: u64 = 16 << 20;

impl Flusher {
    pub(crate) fn new(file: &File) -> Flusher {
        Flusher {
            file: cfg!(target_os = "linux")
                .then(|| file.try_clone().ok())
                .flatten(),
            tx: None,
            pending: 0,
            failed: Default::default(),
        }
    }

    /// `n` more bytes were written.
    pub(crate) fn wrote(&mut self, n: u64) {
        self.pending += n;
        if self.pending < FLUSH_EVERY {
            return;
        }
        self.pending = 0;
        if self.tx.is_none() {
            let Some(file) = self.file.take() else {
                return;
            };
            // One flush waiting at most: requests that come while one runs
            // are folded into the next.
            let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
            let failed = self.failed.clone();
            let spawned = std::thread::Builder::new()
                .name("stowaway-flush".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        if file.sync_data().is_err() {
                            failed.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            if spawned.is_err() {
                return;
            }
            self.tx = Some(tx);
        }
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    /// An error a background sync of `path` met, if any: the data may not
    /// be on disk whatever a later sync says.
    pub(crate) fn check(&self, path: &Path) -> Result<(), StoreError> {
        if self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::io(
                path,
                io::Error::other("writing the file to disk failed"),
            ));
        }
        Ok(())
    }
}

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
        // A file downloaded in chunks (out of order) is no prefix.
        if self.chunk_journal_path(sha).exists() {
            let _ = fs::remove_file(self.chunk_journal_path(sha));
            return self.begin(sha, size);
        }
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
            flusher: Flusher::new(&file),
            file,
            partial,
            root: self.root.join("sha256"),
            expected: Some(sha.clone()),
            expected_size: Some(size),
            limit: size,
            hasher,
            written,
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
    flusher: Flusher,
}

impl BlobWriter {
    /// The same writer, for bytes whose hash is not known (and whose size
    /// may not be): they are checked by [`finish_unknown`](Self::finish_unknown).
    fn unknown(mut self, size: Option<u64>) -> BlobWriter {
        self.expected = None;
        self.expected_size = size;
        self
    }

    /// Appends bytes, hashing them. Refuses to grow past the expected size.
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
        self.hasher.update(bytes);
        self.file
            .write_all(bytes)
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.written += bytes.len() as u64;
        self.flusher.wrote(bytes.len() as u64);
        Ok(())
    }

    /// Bytes in the partial file so far (including a resumed prefix).
    pub fn written(&self) -> u64 {
        self.written
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

    /// Starts over from nothing in the same partial file (a file whose
    /// bytes may not be joined across responses, after an interruption).
    pub fn restart(&mut self) -> Result<(), StoreError> {
        use std::io::Seek;
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(io::SeekFrom::Start(0)).map(|_| ()))
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.hasher = Hasher::new();
        self.written = 0;
        Ok(())
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
            flusher,
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
        flusher.check(&partial)?;
        if let Err(message) = check(&partial, &actual, written) {
            return fail(file, StoreError::Unverified(message));
        }
        drop(file);
        let final_path = place(&partial, &root, &actual)?;
        Ok((actual, written, final_path))
    }
}

/// Moves a checked partial file to its place under `root` (the `sha256`
/// directory), made durable; its path there.
pub(crate) fn place(partial: &Path, root: &Path, sha: &Sha256) -> Result<PathBuf, StoreError> {
    let hex = sha.as_str();
    let dir = root.join(&hex[..2]);
    let final_path = dir.join(hex);
    crate::private::create_dir(&dir)?;
    crate::private::rename(partial, &final_path).map_err(|e| StoreError::io(&final_path, e))?;
    sync_dir(&dir);
    Ok(final_path)
}

/// Moves a checked partial file into place under its hash only if nothing
/// is there yet (`None`: something is; the partial stays for the caller).
pub(crate) fn place_if_free(
    partial: &Path,
    root: &Path,
    sha: &Sha256,
) -> Result<Option<PathBuf>, StoreError> {
    let hex = sha.as_str();
    let dir = root.join(&hex[..2]);
    let final_path = dir.join(hex);
    crate::private::create_dir(&dir)?;
    match fs::hard_link(partial, &final_path) {
        Ok(()) => {
            let _ = fs::remove_file(partial);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        // A filesystem without hard links: the same check, not atomic.
        Err(_) if final_path.exists() => return Ok(None),
        Err(_) => crate::private::rename(partial, &final_path)
            .map_err(|e| StoreError::io(&final_path, e))?,
    }
    sync_dir(&dir);
    Ok(Some(final_path))
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
