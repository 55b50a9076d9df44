//! MP4 / M4A / M4B: duration and chapters through `mp4ameta`.
//!
//! Both chapter kinds are read: the QuickTime chapter track (a text track
//! referenced by `tref/chap`, what Apple's players use) and the Nero chapter
//! list (`moov/udta/chpl`). When a file has both (ffmpeg writes both) the
//! track wins; the list is the fallback.
//!
//! What `mp4ameta` reads: the top-level box headers (seeking past `mdat`),
//! then the `moov` box: box headers throughout, `mvhd` for the duration,
//! the chapter track's sample tables, one title per chapter sample
//! (wherever its offset points), and the `chpl` box whole. Its allocations
//! are bounded by the size of the box they come from, so the `moov` box is
//! measured first and refused above [`MAX_TAG_BYTES`]; the number of title
//! reads is bounded by the [`Bounded`] budget.

use std::io::{Read, Seek, SeekFrom};

use mp4ameta::{ChplTimescale, ReadConfig};

use crate::chapter::{Chapter, ChapterList};
use crate::guard::{guarded, Bounded};
use crate::{TagError, MAX_TAG_BYTES};

/// Top-level boxes looked at while searching for `moov`. Real files have
/// three to six (`ftyp`, `free`, `mdat`, `moov`, sometimes `uuid`/`wide`).
const MAX_TOP_LEVEL_BOXES: usize = 1_000;

const READ_CONFIG: ReadConfig = ReadConfig {
    read_meta_items: false,
    read_image_data: false,
    read_chapter_list: true,
    read_chapter_track: true,
    read_audio_info: false,
    chpl_timescale: ChplTimescale::DEFAULT,
};

/// Reads the duration and chapters of an MP4 file into `list`.
pub(crate) fn read<R: Read + Seek>(
    reader: &mut Bounded<R>,
    list: &mut ChapterList,
) -> Result<Option<u64>, TagError> {
    check_moov_size(reader)?;
    reader.seek(SeekFrom::Start(0))?;
    let tag = guarded("MP4", reader, |r| mp4ameta::Tag::read_with(r, &READ_CONFIG))?;
    let chapters = if tag.chapter_track().is_empty() {
        tag.chapter_list()
    } else {
        tag.chapter_track()
    };
    for chapter in chapters {
        list.push(Chapter::cleaned(
            millis(chapter.start),
            None,
            &chapter.title,
            None,
            None,
            true,
        ));
    }
    Ok(Some(millis(tag.info.duration)).filter(|ms| *ms > 0))
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Walks the top-level box headers and refuses a `moov` box larger than
/// [`MAX_TAG_BYTES`]. A file without one is left for `mp4ameta` to reject.
fn check_moov_size<R: Read + Seek>(reader: &mut R) -> Result<(), TagError> {
    let file_len = reader.seek(SeekFrom::End(0))?;
    let mut offset = 0u64;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if file_len.saturating_sub(offset) < 8 {
            return Ok(());
        }
        reader.seek(SeekFrom::Start(offset))?;
        let mut head = [0u8; 8];
        reader.read_exact(&mut head)?;
        let kind = [head[4], head[5], head[6], head[7]];
        let size = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            // The box runs to the end of the file.
            0 => file_len - offset,
            1 => {
                let mut large = [0u8; 8];
                reader.read_exact(&mut large)?;
                u64::from_be_bytes(large)
            }
            n => u64::from(n),
        };
        if &kind == b"moov" {
            return if size > MAX_TAG_BYTES {
                Err(TagError::TagAreaTooLarge {
                    what: "MP4 moov box",
                    size,
                    limit: MAX_TAG_BYTES,
                })
            } else {
                Ok(())
            };
        }
        if size < 8 {
            return Err(TagError::malformed("MP4", format!("box of {size} bytes")));
        }
        offset = offset.saturating_add(size);
    }
    Err(TagError::malformed(
        "MP4",
        format!("more than {MAX_TOP_LEVEL_BOXES} top-level boxes"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], body_len: usize) -> Vec<u8> {
        let mut out = (8 + body_len as u32).to_be_bytes().to_vec();
        out.extend(kind);
        out.resize(8 + body_len, 0);
        out
    }

    fn check(bytes: Vec<u8>) -> Result<(), TagError> {
        check_moov_size(&mut Cursor::new(bytes))
    }

    #[test]
    fn the_moov_box_is_measured_before_mp4ameta_reads_it() {
        let mut file = boxed(b"ftyp", 20);
        file.extend(boxed(b"mdat", 1_000));
        file.extend(boxed(b"moov", 100));
        assert_eq!(check(file), Ok(()));

        // A 64-bit size claiming a terabyte; nothing else needs to exist.
        let mut file = boxed(b"ftyp", 20);
        file.extend(1u32.to_be_bytes());
        file.extend(b"moov");
        file.extend((1u64 << 40).to_be_bytes());
        assert_eq!(check(file).unwrap_err().code(), "media_tag_too_large");
    }

    #[test]
    fn broken_top_levels_are_refused_or_left_to_mp4ameta() {
        let mut tiny = boxed(b"ftyp", 20);
        tiny.extend(4u32.to_be_bytes());
        tiny.extend(b"free");
        assert_eq!(check(tiny).unwrap_err().code(), "media_malformed");

        let many: Vec<u8> = (0..MAX_TOP_LEVEL_BOXES + 1)
            .flat_map(|_| boxed(b"free", 0))
            .collect();
        assert_eq!(check(many).unwrap_err().code(), "media_malformed");

        assert_eq!(check(boxed(b"ftyp", 20)), Ok(()));
        assert_eq!(check(Vec::new()), Ok(()));
        // Sizes past the end: the walk ends, mp4ameta reports the rest.
        let mut past = boxed(b"ftyp", 20);
        past.extend(u32::MAX.to_be_bytes());
        past.extend(b"mdat");
        assert_eq!(check(past), Ok(()));
    }
}
