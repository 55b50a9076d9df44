//! The cache belongs to the member alone: another user of the laptop must
//! not read what they keep (a private library's lessons, what they listen
//! to). Directories are created `0700` and files `0600` on Unix (an existing
//! cache is tightened when it is opened); on Windows the per-user profile
//! folder the shells choose already keeps other users out.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::StoreError;

/// Creates `dir` (and its parents) if needed, and makes it the member's only
/// (for a shell's own folder in the cache, such as its logs).
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    create_dir(dir)
}

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
    rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
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

/// How long a rename refused because another program holds the file is
/// waited for, attempt after attempt (about 0.8 s in all).
const HELD_WAITS_MS: [u64; 6] = [10, 20, 50, 100, 200, 400];

/// Renames `from` to `to`, replacing it. On Windows an antivirus or indexer
/// may hold a file just written for a moment (the rename is then refused
/// with `ERROR_ACCESS_DENIED`, `ERROR_SHARING_VIOLATION` or
/// `ERROR_LOCK_VIOLATION`): it is tried again for a little while before it
/// counts as failed. Elsewhere no error is passing: one try.
pub(crate) fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    retry_while(
        || std::fs::rename(from, to),
        held_by_another_program,
        &HELD_WAITS_MS,
    )
}

/// Whether an error says another program holds the file for now.
fn held_by_another_program(e: &std::io::Error) -> bool {
    // ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION.
    cfg!(windows) && matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

/// `op`, tried again after each of `waits_ms` while `passing` says its error
/// will pass; the last error if it does not.
fn retry_while<T>(
    mut op: impl FnMut() -> std::io::Result<T>,
    passing: impl Fn(&std::io::Error) -> bool,
    waits_ms: &[u64],
) -> std::io::Result<T> {
    let mut waits = waits_ms.iter();
    loop {
        match op() {
            Err(e) if passing(&e) => match waits.next() {
                Some(ms) => std::thread::sleep(std::time::Duration::from_millis(*ms)),
                None => return Err(e),
            },
            done => return done,
        }
    }
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::{Error, ErrorKind};

    use super::*;

    /// A rename held for a moment goes through once the holder lets go; one
    /// held for good, or refused for another reason, fails with its error
    /// after every wait, or at once.
    #[test]
    fn a_rename_is_tried_again_only_while_the_file_is_held() {
        let held = |e: &Error| e.kind() == ErrorKind::ResourceBusy;
        let tries = Cell::new(0);
        let twice_held = || {
            tries.set(tries.get() + 1);
            if tries.get() <= 2 {
                Err(Error::from(ErrorKind::ResourceBusy))
            } else {
                Ok("renamed")
            }
        };
        assert_eq!(
            retry_while(twice_held, held, &[1, 1, 1]).unwrap(),
            "renamed"
        );
        assert_eq!(tries.get(), 3);

        tries.set(0);
        let always_held = || -> std::io::Result<()> {
            tries.set(tries.get() + 1);
            Err(Error::from(ErrorKind::ResourceBusy))
        };
        let e = retry_while(always_held, held, &[1, 1, 1]).unwrap_err();
        assert_eq!((e.kind(), tries.get()), (ErrorKind::ResourceBusy, 4));

        tries.set(0);
        let missing = || -> std::io::Result<()> {
            tries.set(tries.get() + 1);
            Err(Error::from(ErrorKind::NotFound))
        };
        retry_while(missing, held, &[1, 1, 1]).unwrap_err();
        assert_eq!(tries.get(), 1, "not a passing error: one try");
    }

    /// Only Windows' "held by another program" errors are passing, and only
    /// on Windows (error 5 is EIO on Linux).
    #[test]
    fn only_windows_holds_are_waited_for() {
        for code in [5, 32, 33] {
            assert_eq!(
                held_by_another_program(&Error::from_raw_os_error(code)),
                cfg!(windows),
                "{code}"
            );
        }
        assert!(!held_by_another_program(&Error::from_raw_os_error(2)));
    }
}
