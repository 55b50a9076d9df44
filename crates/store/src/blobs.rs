//! The content-addressed blob store on disk.
//!
//! A blob reaches its final path only through [`BlobWriter::finish`]: bytes are
//! hashed while they stream into `partial/`, the file is fsynced, and it is
//! renamed into `sha256/ab/…` only when size and hash match. A crash leaves at
//! most a partial file, never a wrong blob under a hash name.

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
        for sub in ["sha256", "partial", "quarantine"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| StoreError::io(&p, e))?;
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

    /// Starts writing a blob expected to hash to `sha` with `size` bytes.
    /// Any earlier partial file of it is discarded.
    pub fn begin(&self, sha: &Sha256, size: u64) -> Result<BlobWriter, StoreError> {
        let partial = self.partial_path(sha);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&partial)
            .map_err(|e| StoreError::io(&partial, e))?;
        Ok(BlobWriter {
            file,
            partial,
            final_path: self.path(sha),
            expected: sha.clone(),
            expected_size: size,
            hasher: Hasher::new(),
            written: 0,
        })
    }

    /// Hashes the file at `path` (streaming). Returns its SHA-256 and size.
    pub fn hash_file(path: &Path) -> io::Result<(Sha256, u64)> {
        let mut f = File::open(path)?;
        let mut h = Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf)?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
        Ok((Sha256::from_digest(&h.finalize().into()), n))
    }
}

/// A blob being written. Dropping it without [`finish`](Self::finish) removes
/// the partial file.
pub struct BlobWriter {
    file: File,
    partial: PathBuf,
    final_path: PathBuf,
    expected: Sha256,
    expected_size: u64,
    hasher: Hasher,
    written: u64,
}

impl BlobWriter {
    /// Appends bytes, hashing them. Refuses to grow past the expected size.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.written + bytes.len() as u64 > self.expected_size {
            return Err(StoreError::TooLong {
                sha256: self.expected.to_string(),
                expected_size: self.expected_size,
            });
        }
        self.hasher.update(bytes);
        self.file
            .write_all(bytes)
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks size and hash, fsyncs, and renames into place. On mismatch the
    /// partial file is removed and nothing is stored.
    pub fn finish(mut self) -> Result<PathBuf, StoreError> {
        let actual = Sha256::from_digest(&std::mem::take(&mut self.hasher).finalize().into());
        if actual != self.expected || self.written != self.expected_size {
            return Err(StoreError::HashMismatch {
                sha256: self.expected.to_string(),
                expected_size: self.expected_size,
                actual_size: self.written,
                actual_sha256: actual.to_string(),
            });
        }
        self.file
            .sync_all()
            .map_err(|e| StoreError::io(&self.partial, e))?;
        let dir = self.final_path.parent().expect("blob path has a parent");
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        fs::rename(&self.partial, &self.final_path)
            .map_err(|e| StoreError::io(&self.final_path, e))?;
        sync_dir(dir);
        self.written = u64::MAX; // mark as moved: Drop must not remove anything
        Ok(self.final_path.clone())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.written != u64::MAX {
            let _ = fs::remove_file(&self.partial);
        }
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
        drop(w);
        assert!(!store.partial_path(&sha).exists());

        let mut w = store.begin(&sha, data.len() as u64).unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"blob").unwrap();
        let p = w.finish().unwrap();
        assert_eq!(fs::read(&p).unwrap(), data);
        assert_eq!(BlobStore::hash_file(&p).unwrap(), (sha, data.len() as u64));
    }
}
