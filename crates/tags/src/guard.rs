//! What a third-party parser may see of a file, how much of it it may read,
//! and what happens when it panics.

use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::TagError;

/// A `Read + Seek` view of a file that starts at `origin` (so a parser never
/// sees the bytes before it, such as an ID3v2 tag it would parse unsafely)
/// and that fails every read once `budget` bytes have been read through it.
///
/// The budget bounds what a parser can be made to do by a hostile file: the
/// chapter-track reader of `mp4ameta` reads one title per sample with no
/// limit on the sample count, and lofty's Ogg reader gathers a comment packet
/// across any number of pages. No real file needs more than a few megabytes
/// of reads for its metadata (parsers seek past audio, they do not read it).
pub(crate) struct Bounded<R> {
    inner: R,
    origin: u64,
    remaining: u64,
    exhausted: bool,
}

impl<R: Read + Seek> Bounded<R> {
    /// `inner` is positioned at `origin` (position 0 of the view).
    pub(crate) fn new(mut inner: R, origin: u64, budget: u64) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(origin))?;
        Ok(Bounded {
            inner,
            origin,
            remaining: budget,
            exhausted: false,
        })
    }
}

impl<R> Bounded<R> {
    /// Whether a read was refused because the budget ran out.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            self.exhausted = true;
            return Err(io::Error::other("metadata read limit reached"));
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.remaining = self.remaining.saturating_sub(n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Bounded<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => SeekFrom::Start(self.origin.checked_add(n).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "seek offset overflows")
            })?),
            relative => relative,
        };
        let now = self.inner.seek(target)?;
        if now < self.origin {
            self.inner.seek(SeekFrom::Start(self.origin))?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the stream",
            ));
        }
        Ok(now - self.origin)
    }
}

/// Runs a third-party parser over `reader`, turning its error, its running
/// out of budget, or its panic into a [`TagError`].
///
/// Why `catch_unwind`: the crates we call are well kept and fuzzed, but they
/// are large, and a hostile publisher can craft a file for whichever panic
/// (an unchecked subtraction, a slice out of range, a division by a zero
/// timescale) is left in them; a panic must cost that one file its metadata,
/// never the caller's thread. It is the second line of defence: the first is
/// what the parsers are allowed to see and read (see [`Bounded`] and the
/// crate documentation). It cannot catch a stack overflow or an allocation
/// failure, which abort; those are kept out by what we do not hand to them.
///
/// `AssertUnwindSafe` is sound here: after a panic the reader and any
/// partial results are dropped, never looked at again except for the
/// reader's `exhausted` flag, a plain `bool`.
pub(crate) fn guarded<R, T, E>(
    format: &'static str,
    reader: &mut Bounded<R>,
    parse: impl FnOnce(&mut Bounded<R>) -> Result<T, E>,
) -> Result<T, TagError>
where
    E: std::fmt::Display,
{
    let outcome = catch_unwind(AssertUnwindSafe(|| parse(&mut *reader)));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) if reader.exhausted() => Err(TagError::ReadLimit {
            format,
            limit: crate::MAX_READ_BYTES,
        }),
        Ok(Err(error)) => Err(TagError::malformed(format, error)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            tracing::warn!(format, %message, "media parser panicked; file skipped");
            Err(TagError::ParserPanicked { format, message })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn the_view_hides_what_is_before_its_origin() {
        let mut view = Bounded::new(Cursor::new(b"ID3junkfLaC".to_vec()), 7, 100).unwrap();
        let mut head = [0u8; 4];
        view.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"fLaC");
        assert_eq!(view.seek(SeekFrom::Start(1)).unwrap(), 1);
        assert_eq!(view.seek(SeekFrom::End(0)).unwrap(), 4);
        assert!(view.seek(SeekFrom::Current(-6)).is_err());
        assert_eq!(view.stream_position().unwrap(), 0);
        assert!(view.seek(SeekFrom::Start(u64::MAX)).is_err());
    }

    #[test]
    fn reads_stop_at_the_budget_and_say_so() {
        let mut view = Bounded::new(Cursor::new(vec![7u8; 100]), 0, 10).unwrap();
        let mut all = Vec::new();
        let err = view.read_to_end(&mut all).unwrap_err();
        assert_eq!(all.len(), 10);
        assert!(view.exhausted());
        assert_eq!(err.to_string(), "metadata read limit reached");
        let outcome: Result<(), TagError> =
            guarded("test", &mut view, |r| r.read_exact(&mut [0u8; 1]));
        assert_eq!(outcome.unwrap_err().code(), "media_read_limit");
    }

    #[test]
    fn panics_and_errors_become_tag_errors() {
        let mut view = Bounded::new(Cursor::new(vec![0u8; 4]), 0, 10).unwrap();
        let panicked: Result<(), TagError> =
            guarded("test", &mut view, |_| -> Result<(), String> {
                panic!("boom")
            });
        assert_eq!(
            panicked.unwrap_err(),
            TagError::ParserPanicked {
                format: "test",
                message: "boom".into()
            }
        );
        let failed: Result<(), TagError> = guarded("test", &mut view, |_| Err("bad box"));
        assert_eq!(failed.unwrap_err().code(), "media_malformed");
        let fine = guarded("test", &mut view, |_| Ok::<_, String>(5));
        assert_eq!(fine.unwrap(), 5);
    }
}
