//! The cache belongs to the member alone: another user of the laptop must
//! not read what they keep (a private library's lessons, what they listen
//! to). Directories are created `0700` and files `0600` on Unix (an existing
//! cache is tightened when it is opened); on Windows the per-user profile
//! folder the shells choose already keeps other users out.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::StoreError;

/// Creates `dir` (and its parents) if needed, and makes it the member's only.
pub(crate) fn create_dir(dir: &Path) -> Result<(), StoreError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| StoreError::io(dir, e))?;
    restrict(dir, 0o700)
}

/// Creates `path` empty if it does not exist; either way only the member
/// may read or write it.
pub(crate) fn create_file(path: &Path) -> Result<(), StoreError> {
    options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    restrict(path, 0o600)
}

/// Open options that create files readable by the member only.
pub(crate) fn options() -> OpenOptions {
    #[cfg(unix)]
    {
        let mut o = OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o
    }
    // Elsewhere the data folder's own access rules decide (see ARCHITECTURE,
    // "Portability").
    #[cfg(not(unix))]
    OpenOptions::new()
}

/// Writes `bytes` to `path` atomically (a temporary file in the same
/// directory, fsync, rename), readable by the member only.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f: File = options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| StoreError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    if let Some(dir) = path.parent() {
        crate::blobs::sync_dir(dir);
    }
    Ok(())
}

/// One of our own small files in the data directory, if it is there as a
/// regular file of at most `max` bytes (not a link or a device put there).
pub(crate) fn read_own(path: &Path, max: u64) -> Option<Vec<u8>> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file() && m.len() <= max)
        .and_then(|_| std::fs::read(path).ok())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| StoreError::io(path, e))?;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| StoreError::io(path, e))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<(), StoreError> {
    Ok(())
}
