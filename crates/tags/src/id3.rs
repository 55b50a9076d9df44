//! ID3v2 chapters: `CHAP` frames ordered by the top-level `CTOC`, read from
//! the ID3v2 tag at the start of a file (MP3, and the rare FLAC or AAC file
//! that carries one).
//!
//! Why our own reader and not lofty's or the `id3` crate's (see the crate
//! documentation for the measurements): both parse the sub-frames of a
//! `CHAP`/`CTOC` by recursing into the frame reader with no depth limit, so a
//! few kilobytes of nested `CHAP` frames overflow the stack, an abort that
//! `catch_unwind` cannot catch; both also inflate zlib-compressed frames
//! without a bound. This reader walks frames in a loop, looks one level into
//! `CHAP` and `CTOC` (a `CHAP` inside a `CHAP` is ignored), never inflates
//! (compressed and encrypted frames are skipped), and works on a tag already
//! read into memory under [`MAX_TAG_BYTES`], indexing only with `get`, so no
//! input can make it panic, recurse, or read outside the tag.
//!
//! Supported: ID3v2.3 and 2.4, tag-level and frame-level unsynchronisation,
//! extended headers, grouping and data-length prefixes, the four text
//! encodings. ID3v2.2 has no chapter frames; its tags yield no chapters.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};

use crate::chapter::{Chapter, ChapterList};
use crate::{TagError, MAX_TAG_BYTES};

/// Leading ID3v2 tags skipped before giving up (files with two are known; ten
/// is junk).
const MAX_LEADING_TAGS: usize = 10;

/// The parts of a 10-byte ID3v2 header we use.
#[derive(Clone, Copy, Debug)]
struct Header {
    major: u8,
    flags: u8,
    /// Size of the tag after the header (excluding a v2.4 footer).
    size: u32,
}

impl Header {
    fn parse(bytes: &[u8; 10]) -> Option<Header> {
        if &bytes[..3] != b"ID3" || !(2..=4).contains(&bytes[3]) || bytes[4] == 0xff {
            return None;
        }
        let size = syncsafe(bytes[6..10].try_into().ok()?)?;
        Some(Header {
            major: bytes[3],
            flags: bytes[5],
            size,
        })
    }

    fn unsynchronised(&self) -> bool {
        self.flags & 0x80 != 0
    }

    fn has_extended_header(&self) -> bool {
        self.flags & 0x40 != 0
    }

    /// Total bytes the tag occupies in the file.
    fn total_len(&self) -> u64 {
        let footer = if self.major == 4 && self.flags & 0x10 != 0 {
            10
        } else {
            0
        };
        10 + u64::from(self.size) + footer
    }
}

fn syncsafe(bytes: [u8; 4]) -> Option<u32> {
    if bytes.iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, b| (n << 7) | u32::from(*b)))
}

fn read_header<R: Read>(reader: &mut R) -> std::io::Result<Option<Header>> {
    let mut bytes = [0u8; 10];
    let mut filled = 0;
    while filled < bytes.len() {
        match reader.read(&mut bytes[filled..])? {
            0 => return Ok(None),
            n => filled += n,
        }
    }
    Ok(Header::parse(&bytes))
}

/// Offset of the first byte after the ID3v2 tags at the start of the file
/// (0 if there are none). The reader is left at that offset.
pub(crate) fn skip_leading_tags<R: Read + Seek>(reader: &mut R) -> Result<u64, TagError> {
    let mut offset = 0u64;
    for _ in 0..MAX_LEADING_TAGS {
        reader.seek(SeekFrom::Start(offset))?;
        match read_header(reader)? {
            Some(header) => offset += header.total_len(),
            None => break,
        }
    }
    reader.seek(SeekFrom::Start(offset))?;
    Ok(offset)
}

/// Reads the chapters of the ID3v2 tag at the start of the file into `list`.
///
/// A file without a tag, or with a tag without chapters, adds nothing. A tag
/// larger than [`MAX_TAG_BYTES`] is refused before it is read.
pub(crate) fn read_chapters<R: Read + Seek>(
    reader: &mut R,
    list: &mut ChapterList,
) -> Result<(), TagError> {
    reader.seek(SeekFrom::Start(0))?;
    let Some(header) = read_header(reader)? else {
        return Ok(());
    };
    if u64::from(header.size) > MAX_TAG_BYTES {
        return Err(TagError::TagAreaTooLarge {
            what: "ID3v2 tag",
            size: header.size.into(),
            limit: MAX_TAG_BYTES,
        });
    }
    let mut body = Vec::new();
    // A tag cut short by the end of the file is read as far as it goes.
    reader.take(u64::from(header.size)).read_to_end(&mut body)?;
    chapters_from_tag(header, &body, list);
    Ok(())
}

/// The chapters of one tag (`body` is everything after the 10-byte header).
fn chapters_from_tag(header: Header, body: &[u8], list: &mut ChapterList) {
    if header.major < 3 {
        return;
    }
    let body: Cow<[u8]> = if header.major == 3 && header.unsynchronised() {
        Cow::Owned(resynchronise(body))
    } else {
        Cow::Borrowed(body)
    };
    let mut start = 0usize;
    if header.has_extended_header() {
        let Some(size) = body.get(..4) else { return };
        let size = [size[0], size[1], size[2], size[3]];
        start = if header.major == 3 {
            // v2.3: the size excludes its own four bytes.
            4usize.saturating_add(u32::from_be_bytes(size) as usize)
        } else {
            // v2.4: syncsafe, and includes itself.
            match syncsafe(size) {
                Some(n) => n as usize,
                None => return,
            }
        };
    }
    let Some(frames) = body.get(start..) else {
        return;
    };
    let walker = Frames {
        data: frames,
        major: header.major,
        all_unsynchronised: header.major == 4 && header.unsynchronised(),
    };

    let mut chaps = Vec::new();
    let mut tocs = Vec::new();
    for frame in walker.iter() {
        match &frame.id {
            b"CHAP" => chaps.extend(parse_chap(&frame.content, walker)),
            b"CTOC" => tocs.extend(parse_ctoc(&frame.content)),
            _ => {}
        }
    }
    for chapter in toc_order(&chaps, &tocs) {
        list.push(chapter);
    }
}

/// Chapters in `CTOC` order: the entries of the top-level table (and of the
/// tables it lists, depth first) if that table is flagged ordered, then
/// every `CHAP` not reached that way in file order. Every `CHAP` is listed
/// once. ([`ChapterList`] then sorts by start, so this order decides only
/// between chapters that start at the same time.)
fn toc_order(chaps: &[Chap], tocs: &[Ctoc]) -> Vec<Chapter> {
    let mut order = Vec::with_capacity(chaps.len());
    let mut placed = vec![false; chaps.len()];
    if let Some(root) = tocs.iter().find(|t| t.top_level && t.ordered) {
        let mut chap_by_id: HashMap<&str, usize> = HashMap::new();
        for (i, chap) in chaps.iter().enumerate() {
            chap_by_id.entry(chap.element_id.as_str()).or_insert(i);
        }
        let toc_by_id: HashMap<&str, &Ctoc> =
            tocs.iter().map(|t| (t.element_id.as_str(), t)).collect();
        let mut expanded: HashSet<&str> = HashSet::from([root.element_id.as_str()]);
        // An explicit stack, not recursion; each table is expanded once.
        let mut stack: Vec<&str> = root.entries.iter().rev().map(String::as_str).collect();
        while let Some(id) = stack.pop() {
            if let Some(&i) = chap_by_id.get(id) {
                if !placed[i] {
                    placed[i] = true;
                    order.push(i);
                }
            } else if let Some(toc) = toc_by_id.get(id) {
                if expanded.insert(id) {
                    stack.extend(toc.entries.iter().rev().map(String::as_str));
                }
            }
        }
    }
    order.extend((0..chaps.len()).filter(|i| !placed[*i]));
    order
        .into_iter()
        .map(|i| {
            let chap = &chaps[i];
            Chapter::cleaned(
                chap.start_ms,
                chap.end_ms,
                &chap.title,
                chap.url.as_deref(),
                chap.image.as_deref(),
                true,
            )
        })
        .collect()
}

/// A `CHAP` frame, sub-frames already read.
#[derive(Debug)]
struct Chap {
    element_id: String,
    start_ms: u64,
    end_ms: Option<u64>,
    title: String,
    url: Option<String>,
    image: Option<String>,
}

/// A `CTOC` frame (its own sub-frames, a title for the table, are unused).
#[derive(Debug)]
struct Ctoc {
    element_id: String,
    top_level: bool,
    ordered: bool,
    entries: Vec<String>,
}

fn parse_chap(content: &[u8], walker: Frames<'_>) -> Option<Chap> {
    let (element_id, rest) = split_terminated(0, content);
    let times = rest.get(..16)?;
    let start = u32::from_be_bytes([times[0], times[1], times[2], times[3]]);
    let end = u32::from_be_bytes([times[4], times[5], times[6], times[7]]);
    let mut chap = Chap {
        element_id: decode(0, element_id),
        start_ms: start.into(),
        end_ms: (end != u32::MAX).then_some(end.into()),
        title: String::new(),
        url: None,
        image: None,
    };
    let mut other_url = None;
    let sub_frames = Frames {
        data: rest.get(16..)?,
        ..walker
    };
    for frame in sub_frames.iter() {
        let content = &frame.content[..];
        match &frame.id {
            b"TIT2" if chap.title.is_empty() => {
                if let Some((&encoding, text)) = content.split_first() {
                    chap.title = decode(encoding, split_terminated(encoding, text).0);
                }
            }
            b"WXXX" if chap.url.is_none() => {
                if let Some((&encoding, rest)) = content.split_first() {
                    let (_description, url) = split_terminated(encoding, rest);
                    chap.url = Some(decode(0, split_terminated(0, url).0));
                }
            }
            [b'W', ..] if other_url.is_none() => {
                other_url = Some(decode(0, split_terminated(0, content).0));
            }
            b"APIC" if chap.image.is_none() => chap.image = linked_picture(content),
            // Sub-frames are never walked further: no recursion.
            _ => {}
        }
    }
    if chap.url.is_none() {
        chap.url = other_url;
    }
    Some(chap)
}

/// An `APIC` whose MIME type is `-->` holds a link to the picture instead of
/// the picture (ID3v2.3 §4.15); embedded pictures are ignored.
fn linked_picture(content: &[u8]) -> Option<String> {
    let (&encoding, rest) = content.split_first()?;
    let (mime, rest) = split_terminated(0, rest);
    if mime != b"-->" {
        return None;
    }
    let (_picture_type, rest) = rest.split_first()?;
    let (_description, data) = split_terminated(encoding, rest);
    Some(decode(0, split_terminated(0, data).0))
}

fn parse_ctoc(content: &[u8]) -> Option<Ctoc> {
    let (element_id, rest) = split_terminated(0, content);
    let (&flags, rest) = rest.split_first()?;
    let (&count, mut rest) = rest.split_first()?;
    let mut entries = Vec::with_capacity(count.into());
    for _ in 0..count {
        if rest.is_empty() {
            break;
        }
        let (entry, after) = split_terminated(0, rest);
        entries.push(decode(0, entry));
        rest = after;
    }
    Some(Ctoc {
        element_id: decode(0, element_id),
        top_level: flags & 0x02 != 0,
        ordered: flags & 0x01 != 0,
        entries,
    })
}

/// One frame: its id and its content with unsynchronisation undone and the
/// grouping / data-length prefixes removed.
struct Frame<'a> {
    id: [u8; 4],
    content: Cow<'a, [u8]>,
}

/// A loop over the frames of a v2.3/v2.4 frame area.
#[derive(Clone, Copy)]
struct Frames<'a> {
    data: &'a [u8],
    major: u8,
    /// v2.4 tag-level unsynchronisation: every frame is unsynchronised.
    all_unsynchronised: bool,
}

impl<'a> Frames<'a> {
    fn iter(self) -> impl Iterator<Item = Frame<'a>> {
        let mut pos = 0usize;
        std::iter::from_fn(move || loop {
            let header = self.data.get(pos..pos.checked_add(10)?)?;
            let id: [u8; 4] = [header[0], header[1], header[2], header[3]];
            // Padding, or not a frame: the frame area ends here.
            if !id
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return None;
            }
            let size_bytes = [header[4], header[5], header[6], header[7]];
            let size = if self.major == 4 {
                // Some writers (old iTunes) put plain sizes in v2.4 tags.
                syncsafe(size_bytes).unwrap_or_else(|| u32::from_be_bytes(size_bytes))
            } else {
                u32::from_be_bytes(size_bytes)
            };
            let format = header[9];
            let start = pos + 10;
            let end = start.checked_add(size as usize)?;
            let raw = self.data.get(start..end)?;
            pos = end;
            if let Some(content) = self.frame_content(format, raw) {
                return Some(Frame { id, content });
            }
        })
    }

    /// `None` for compressed or encrypted frames, which are skipped.
    fn frame_content(&self, format: u8, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        if self.major == 3 {
            let (compressed, encrypted, grouped) =
                (format & 0x80 != 0, format & 0x40 != 0, format & 0x20 != 0);
            if compressed || encrypted {
                return None;
            }
            let raw = if grouped { raw.get(1..)? } else { raw };
            return Some(Cow::Borrowed(raw));
        }
        let grouped = format & 0x40 != 0;
        let compressed = format & 0x08 != 0;
        let encrypted = format & 0x04 != 0;
        let unsynchronised = format & 0x02 != 0 || self.all_unsynchronised;
        let data_length = format & 0x01 != 0;
        if compressed || encrypted {
            return None;
        }
        let mut raw = raw;
        if grouped {
            raw = raw.get(1..)?;
        }
        if data_length {
            raw = raw.get(4..)?;
        }
        Some(if unsynchronised {
            Cow::Owned(resynchronise(raw))
        } else {
            Cow::Borrowed(raw)
        })
    }
}

/// Undoes unsynchronisation: every `FF 00` becomes `FF`.
fn resynchronise(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut after_ff = false;
    for &b in bytes {
        if !(after_ff && b == 0) {
            out.push(b);
        }
        after_ff = b == 0xff;
    }
    out
}

/// Splits at the first terminator of `encoding` (one zero byte, or two at an
/// even offset for UTF-16), returning (text, rest after the terminator). No
/// terminator: everything is text.
fn split_terminated(encoding: u8, bytes: &[u8]) -> (&[u8], &[u8]) {
    if matches!(encoding, 1 | 2) {
        let mut i = 0;
        while let Some(pair) = bytes.get(i..i + 2) {
            if pair == [0, 0] {
                return (&bytes[..i], &bytes[i + 2..]);
            }
            i += 2;
        }
        (bytes, &[])
    } else {
        match bytes.iter().position(|b| *b == 0) {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (bytes, &[]),
        }
    }
}

/// Decodes text in an ID3v2 encoding: 0 Latin-1, 1 UTF-16 with BOM (little
/// endian without), 2 UTF-16BE, 3 UTF-8. Unknown encodings read as Latin-1;
/// invalid sequences become U+FFFD.
fn decode(encoding: u8, bytes: &[u8]) -> String {
    match encoding {
        1 | 2 => {
            let (big_endian, bytes) = match bytes {
                [0xfe, 0xff, rest @ ..] => (true, rest),
                [0xff, 0xfe, rest @ ..] => (false, rest),
                _ => (encoding == 2, bytes),
            };
            let units = bytes.chunks_exact(2).map(|pair| {
                let pair = [pair[0], pair[1]];
                if big_endian {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        3 => String::from_utf8_lossy(bytes).into_owned(),
        _ => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syncsafe_bytes(n: u32) -> [u8; 4] {
        [
            (n >> 21 & 0x7f) as u8,
            (n >> 14 & 0x7f) as u8,
            (n >> 7 & 0x7f) as u8,
            (n & 0x7f) as u8,
        ]
    }

    fn frame(major: u8, id: &[u8; 4], format: u8, content: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        let len = content.len() as u32;
        out.extend(if major == 4 {
            syncsafe_bytes(len)
        } else {
            len.to_be_bytes()
        });
        out.extend([0, format]);
        out.extend(content);
        out
    }

    fn chap(major: u8, id: &str, start: u32, end: u32, sub: &[u8]) -> Vec<u8> {
        let mut content = id.as_bytes().to_vec();
        content.push(0);
        content.extend(start.to_be_bytes());
        content.extend(end.to_be_bytes());
        content.extend([0xff; 8]);
        content.extend(sub);
        frame(major, b"CHAP", 0, &content)
    }

    fn tit2(major: u8, title: &str) -> Vec<u8> {
        let mut content = vec![3];
        content.extend(title.as_bytes());
        frame(major, b"TIT2", 0, &content)
    }

    fn ctoc(major: u8, id: &str, flags: u8, entries: &[&str]) -> Vec<u8> {
        let mut content = id.as_bytes().to_vec();
        content.extend([0, flags, entries.len() as u8]);
        for entry in entries {
            content.extend(entry.as_bytes());
            content.push(0);
        }
        frame(major, b"CTOC", 0, &content)
    }

    fn tag(major: u8, flags: u8, frames: &[u8]) -> Vec<u8> {
        let mut out = b"ID3".to_vec();
        out.extend([major, 0, flags]);
        out.extend(syncsafe_bytes(frames.len() as u32));
        out.extend(frames);
        out
    }

    fn read(bytes: &[u8]) -> Vec<Chapter> {
        let mut list = ChapterList::default();
        read_chapters(&mut std::io::Cursor::new(bytes), &mut list).expect("reads");
        list.finish(None)
    }

    fn titles(chapters: &[Chapter]) -> Vec<&str> {
        chapters.iter().map(|c| c.title.as_str()).collect()
    }

    #[test]
    fn chap_frames_with_titles_urls_and_linked_images() {
        for major in [3, 4] {
            let mut wxxx = vec![0];
            wxxx.extend(b"desc\0https://example.com/one");
            let mut apic = vec![0];
            apic.extend(b"-->\0\x03cover\0https://example.com/one.jpg");
            let mut utf16 = vec![1, 0xff, 0xfe];
            for unit in "Zwei ü".encode_utf16() {
                utf16.extend(unit.to_le_bytes());
            }
            let mut frames = ctoc(major, "toc", 0x03, &["c1", "c2"]);
            frames.extend(chap(major, "c1", 0, 1_000, &{
                let mut sub = tit2(major, "One");
                sub.extend(frame(major, b"WXXX", 0, &wxxx));
                sub.extend(frame(major, b"APIC", 0, &apic));
                sub
            }));
            frames.extend(chap(major, "c2", 1_000, u32::MAX, &{
                let mut sub = frame(major, b"TIT2", 0, &utf16);
                sub.extend(frame(major, b"WOAR", 0, b"http://example.com/two\0"));
                sub
            }));
            frames.extend([0; 64]); // padding
            let got = read(&tag(major, 0, &frames));
            assert_eq!(
                got,
                [
                    Chapter {
                        start_ms: 0,
                        end_ms: Some(1_000),
                        title: "One".into(),
                        url: Some("https://example.com/one".into()),
                        image: Some("https://example.com/one.jpg".into()),
                        toc: true,
                    },
                    Chapter {
                        start_ms: 1_000,
                        end_ms: None,
                        title: "Zwei ü".into(),
                        url: Some("http://example.com/two".into()),
                        image: None,
                        toc: true,
                    },
                ],
                "v2.{major}"
            );
        }
    }

    #[test]
    fn ctoc_orders_chapters_at_the_same_start_and_unlisted_ones_are_kept() {
        let mut frames = chap(4, "a", 0, 5, &tit2(4, "A"));
        frames.extend(chap(4, "b", 0, 5, &tit2(4, "B")));
        frames.extend(chap(4, "c", 0, 5, &tit2(4, "C")));
        frames.extend(chap(4, "unlisted", 0, 5, &tit2(4, "Unlisted")));
        // The top-level table lists c, then a child table holding b, then a
        // (and itself, and a missing id); loops must not hang.
        frames.extend(ctoc(4, "root", 0x03, &["c", "child", "a", "root", "gone"]));
        frames.extend(ctoc(4, "child", 0x01, &["b", "root", "child"]));
        assert_eq!(
            titles(&read(&tag(4, 0, &frames))),
            ["C", "B", "A", "Unlisted"]
        );

        // Without the ordered flag the file order stands.
        let mut frames = chap(4, "a", 0, 5, &tit2(4, "A"));
        frames.extend(chap(4, "b", 0, 5, &tit2(4, "B")));
        frames.extend(ctoc(4, "root", 0x02, &["b", "a"]));
        assert_eq!(titles(&read(&tag(4, 0, &frames))), ["A", "B"]);

        // Start time still comes first.
        let mut frames = chap(3, "a", 0, 5, &tit2(3, "A"));
        frames.extend(chap(3, "b", 9, 10, &tit2(3, "B")));
        frames.extend(ctoc(3, "root", 0x03, &["b", "a"]));
        assert_eq!(titles(&read(&tag(3, 0, &frames))), ["A", "B"]);
    }

    #[test]
    fn unsynchronisation_extended_headers_and_prefixes_are_handled() {
        // v2.3, whole tag unsynchronised: a title with an FF byte (Latin-1 ÿ)
        // is stored as FF 00.
        let mut sub = vec![0];
        sub.extend(b"\xffnd");
        let frames = chap(3, "c", 7, 8, &frame(3, b"TIT2", 0, &sub));
        let mut stored = Vec::new();
        for b in frames {
            stored.push(b);
            if b == 0xff {
                stored.push(0);
            }
        }
        assert_eq!(titles(&read(&tag(3, 0x80, &stored))), ["ÿnd"]);

        // v2.3 extended header (size 6 excludes itself) then a grouped frame.
        let mut frames = vec![0, 0, 0, 6, 0, 0, 0, 0, 0, 0];
        let mut grouped = vec![0x01, 3];
        grouped.extend(b"Grouped");
        frames.extend(chap(3, "c", 1, 2, &frame(3, b"TIT2", 0x20, &grouped)));
        assert_eq!(titles(&read(&tag(3, 0x40, &frames))), ["Grouped"]);

        // v2.4 extended header (syncsafe 6, includes itself), a frame with
        // unsynchronisation and a data length indicator.
        let mut frames = vec![0, 0, 0, 6, 1, 0];
        let mut title = vec![0, 0, 0, 4, 0];
        title.extend(b"\xff\x00x");
        frames.extend(chap(4, "c", 1, 2, &frame(4, b"TIT2", 0x03, &title)));
        assert_eq!(titles(&read(&tag(4, 0x40, &frames))), ["ÿx"]);
    }

    #[test]
    fn compressed_and_encrypted_frames_are_skipped_not_inflated() {
        let mut frames = chap(4, "a", 0, 5, &frame(4, b"TIT2", 0x08, b"\x78\x9c junk"));
        let mut sealed = chap(4, "b", 5, 6, &tit2(4, "sealed"));
        sealed[9] = 0x04; // the CHAP frame itself is encrypted
        frames.extend(sealed);
        frames.extend(chap(4, "c", 6, 7, &tit2(4, "C")));
        let got = read(&tag(4, 0, &frames));
        assert_eq!(titles(&got), ["", "C"]);
        assert_eq!(got[0].start_ms, 0);
    }

    #[test]
    fn nested_chap_frames_do_not_recurse() {
        // 100,000 levels (2.8 MB); lofty 0.25 overflowed an 8 MiB stack at
        // 1,000. Written outside in: level i wraps the levels below it.
        const LEVELS: u32 = 100_000;
        const PER_LEVEL: u32 = 10 + 2 + 16;
        let inner = tit2(4, "deep");
        let mut frames = Vec::new();
        for i in 0..LEVELS {
            let content_len = (LEVELS - i) * PER_LEVEL - 10 + inner.len() as u32;
            frames.extend(b"CHAP");
            frames.extend(syncsafe_bytes(content_len));
            frames.extend([0, 0]);
            frames.extend(b"n\0");
            frames.extend(i.to_be_bytes());
            frames.extend((i + 1).to_be_bytes());
            frames.extend([0xff; 8]);
        }
        frames.extend(&inner);
        let got = read(&tag(4, 0, &frames));
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].start_ms, got[0].end_ms), (0, Some(1)));
        assert_eq!(got[0].title, "");
    }

    #[test]
    fn a_hundred_thousand_chap_frames_are_read_in_linear_time_and_capped() {
        let mut frames = Vec::new();
        for i in (0..100_000u32).rev() {
            frames.extend(chap(4, &format!("c{i}"), i, i + 1, &tit2(4, "t")));
        }
        let started = std::time::Instant::now();
        let got = read(&tag(4, 0, &frames));
        assert_eq!(got.len(), crate::MAX_CHAPTERS);
        assert_eq!(got.last().unwrap().start_ms, 999);
        assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    }

    #[test]
    fn oversize_tags_are_refused_and_v22_and_garbage_yield_nothing() {
        let mut header = b"ID3\x04\x00\x00".to_vec();
        header.extend(syncsafe_bytes(MAX_TAG_BYTES as u32 + 1));
        let mut list = ChapterList::default();
        let err = read_chapters(&mut std::io::Cursor::new(&header), &mut list).unwrap_err();
        assert_eq!(err.code(), "media_tag_too_large");

        let v22 = tag(2, 0, b"TT2\x00\x00\x04\x00abc");
        assert!(read(&v22).is_empty());
        for garbage in [
            &b""[..],
            b"ID3",
            b"ID3\x04\x00\x00\x80\x80\x80\x80",
            b"\xff\xfb\x90",
        ] {
            assert!(read(garbage).is_empty());
        }
        // Every truncation of a valid tag is read without panicking.
        let mut frames = ctoc(4, "toc", 3, &["c1"]);
        frames.extend(chap(4, "c1", 0, 1_000, &tit2(4, "One")));
        let whole = tag(4, 0, &frames);
        for len in 0..whole.len() {
            let _ = read(&whole[..len]);
        }
        assert_eq!(titles(&read(&whole)), ["One"]);
    }

    #[test]
    fn leading_tags_are_skipped() {
        let mut bytes = tag(3, 0, &tit2(3, "x"));
        bytes.extend(tag(4, 0x10, &tit2(4, "y")));
        bytes.extend([0; 10]); // the v2.4 footer
        let after = bytes.len() as u64;
        bytes.extend(b"fLaC");
        let mut cursor = std::io::Cursor::new(&bytes);
        assert_eq!(skip_leading_tags(&mut cursor).unwrap(), after);
        assert_eq!(cursor.position(), after);
        assert_eq!(
            skip_leading_tags(&mut std::io::Cursor::new(b"fLaC")).unwrap(),
            0
        );
    }
}
