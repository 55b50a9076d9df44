//! What a verified media file says about itself when the catalog or feed did
//! not: its real duration and its embedded chapters ([`read_media`]), plus
//! Podcasting 2.0 JSON chapters ([`parse_chapters_json`]).
//!
//! The files are verified by hash, but the publisher who hashed them can be
//! hostile, so everything here is a trust boundary in the `catalog` style: a
//! path (or bytes) in, cleaned and bounded values out. The crate writes
//! nothing, opens no socket and knows nothing of the store.
//!
//! ```
//! let json = br#"{"version":"1.2.0","chapters":[
//!     {"startTime":0,"title":"Intro"},
//!     {"startTime":90.5,"title":"Ad","toc":false,"img":"data:image/png;base64,AA"}]}"#;
//! let chapters = stowaway_tags::parse_chapters_json(json).unwrap();
//! assert_eq!(chapters[1].start_ms, 90_500);
//! assert!(!chapters[1].toc && chapters[1].image.is_none());
//! ```
//!
//! # Crates used, and why
//!
//! - **`lofty` 0.25** (MIT OR Apache-2.0): durations for MP3 (Xing/VBRI for
//!   VBR), Ogg Opus/Vorbis, FLAC, WAV and the rest, and Vorbis comments; pure
//!   Rust, maintained, bounds its own allocations (16 MiB each).
//! - **`mp4ameta` 0.13** (MIT OR Apache-2.0): MP4 duration and both MP4
//!   chapter kinds, the QuickTime chapter track and the Nero `chpl` list,
//!   which lofty does not read; pure Rust, no dependencies.
//! - **`serde_json`** (already ours) for JSON chapters, **`url`** for URLs.
//!
//! Not used: `symphonia` (MPL-2.0), `id3` (its chapter parsing recurses like
//! lofty's, below, and its zlib inflation cannot be turned off), `metaflac`
//! (lofty covers FLAC).
//!
//! **ID3v2 chapters are read by our own small reader** (`src/id3.rs`), not
//! by lofty or `id3`: both parse a `CHAP` frame's sub-frames by recursing
//! with no depth limit, and 1,000 nested `CHAP` frames (a 37 KB tag) made
//! lofty overflow an 8 MiB stack, an abort no `catch_unwind` can stop. lofty
//! also de-duplicates frames with a linear scan per frame (50,000 frames
//! took 3.3 s). So lofty is only ever called with tag reading off for
//! MP3/WAV/AAC (it then skips ID3v2 tags unread), and FLAC, whose Vorbis
//! comments we need from it, is shown to lofty only from after its leading
//! ID3v2 tags.
//!
//! # Limits (hostile input)
//!
//! - No input panics the caller: our own readers are written not to (checked
//!   indexing) and are fuzzed with the rest; the third-party calls also run
//!   inside `catch_unwind` (a caught panic is [`TagError::ParserPanicked`];
//!   a zero `mvhd` timescale makes `mp4ameta` 0.13 divide by zero).
//! - At most [`MAX_CHAPTERS`] chapters (the first by start time), sorted by
//!   start, same-start chapters in source order (for ID3v2, the order of the
//!   top-level `CTOC` when it is flagged ordered); a chapter starting after a
//!   known duration is dropped.
//! - Titles: control and bidi-override characters removed, whitespace
//!   collapsed, at most [`MAX_TITLE_CHARS`] characters. `url`/`image`: kept
//!   only if absolute `http`/`https` and at most [`MAX_URL_LEN`] bytes
//!   (`data:` images are dropped). Embedded chapter pictures are ignored
//!   (only an ID3 `APIC` that links to an http(s) picture becomes `image`).
//! - An ID3v2 tag or MP4 `moov` box above [`MAX_TAG_BYTES`] is refused before
//!   it is read; a third-party parser that reads more than
//!   [`MAX_READ_BYTES`] through us is stopped ([`TagError::ReadLimit`]).
//! - JSON documents above [`MAX_JSON_BYTES`] are refused; nesting is bounded
//!   by `serde_json`'s recursion limit.

#![forbid(unsafe_code)]

mod chapter;
mod error;
mod guard;
mod id3;
mod json;
mod media;
mod mp4;
mod vorbis;

pub use chapter::{Chapter, MediaInfo, MAX_CHAPTERS, MAX_TITLE_CHARS, MAX_URL_LEN};
pub use error::TagError;
pub use json::{parse_chapters_json, MAX_JSON_BYTES};
pub use media::read_media;

/// Largest ID3v2 tag or MP4 `moov` box read. A 40-hour audiobook's `moov` is
/// about 25 MB; chapter art embedded in ID3 rarely passes a few MB.
pub const MAX_TAG_BYTES: u64 = 64 * 1024 * 1024;

/// Most bytes a third-party parser may read from one file. They seek past
/// the audio; a few MB covers the metadata of any real file.
pub const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;
