//! `read_media` against real files that ffmpeg makes at test time: 30 s of
//! a 440 Hz sine, mono, low bitrate, with three chapters; then the same files
//! truncated, corrupted and wrapped in hostile tags.
//!
//! ffmpeg is required: without it these tests fail (they do not skip), so a
//! CI machine that lost it cannot go green while testing nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use stowaway_tags::{read_media, Chapter, MediaInfo, TagError};
use tempfile::TempDir;

/// Chapter starts avoid x.5 s and above: ffmpeg 5.1 rounds the seconds of
/// the `CHAPTERnnn` comments it writes to Ogg (20.5 s is written
/// `00:00:21.500`).
const CHAPTERS: [(u64, u64, &str); 3] = [
    (0, 10_000, "Intro"),
    (10_000, 20_250, "Middle part"),
    (20_250, 30_000, "Ünïcode end – 日本"),
];

const DURATION_MS: u64 = 30_000;

/// The files, each with the media type a feed would declare for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mp3Cbr,
    Mp3Vbr,
    /// Both MP4 chapter kinds (ffmpeg's default).
    M4a,
    /// Only the QuickTime chapter track (`-movflags +disable_chpl`).
    M4aTrackOnly,
    /// Only the Nero `chpl` list: the M4A with its `tref` box renamed `free`,
    /// so no track is a chapter track any more.
    M4aChplOnly,
    Opus,
    Vorbis,
    Flac,
    Wav,
}

const ALL: [Kind; 9] = [
    Kind::Mp3Cbr,
    Kind::Mp3Vbr,
    Kind::M4a,
    Kind::M4aTrackOnly,
    Kind::M4aChplOnly,
    Kind::Opus,
    Kind::Vorbis,
    Kind::Flac,
    Kind::Wav,
];

impl Kind {
    fn media_type(self) -> &'static str {
        match self {
            Kind::Mp3Cbr | Kind::Mp3Vbr => "audio/mpeg",
            Kind::M4a | Kind::M4aTrackOnly | Kind::M4aChplOnly => "audio/x-m4a",
            Kind::Opus => "audio/ogg; codecs=opus",
            Kind::Vorbis => "audio/ogg",
            Kind::Flac => "audio/flac",
            Kind::Wav => "audio/wav",
        }
    }

    fn file_name(self) -> String {
        let ext = match self {
            Kind::Mp3Cbr | Kind::Mp3Vbr => "mp3",
            Kind::M4a | Kind::M4aTrackOnly | Kind::M4aChplOnly => "m4a",
            Kind::Opus => "opus",
            Kind::Vorbis => "ogg",
            Kind::Flac => "flac",
            Kind::Wav => "wav",
        };
        format!("{self:?}.{ext}").to_lowercase()
    }
}

/// Makes `kind` in `dir` with ffmpeg and returns its path.
fn make(dir: &Path, kind: Kind) -> PathBuf {
    let metadata = dir.join("chapters.ffmeta");
    if !metadata.exists() {
        let mut text = String::from(";FFMETADATA1\ntitle=Test show\n");
        for (start, end, title) in CHAPTERS {
            text +=
                &format!("[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={end}\ntitle={title}\n");
        }
        std::fs::write(&metadata, text).unwrap();
    }
    let out = dir.join(kind.file_name());
    // A pure sine makes LAME's VBR mode pick 32 kbit/s for every frame; ten
    // seconds of added noise make the VBR file really variable, so that a
    // duration estimated from the first frame's bitrate (39 s) would fail.
    let source = if kind == Kind::Mp3Vbr {
        r"aevalsrc=exprs=0.4*sin(440*2*PI*t)+if(between(t\,10\,20)\,0.4*(random(0)*2-1)\,0):s=44100:d=30"
    } else {
        "sine=frequency=440:duration=30"
    };
    let mut args: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        source,
        "-i",
    ]
    .map(String::from)
    .to_vec();
    args.push(metadata.display().to_string());
    args.extend(["-map", "0:a", "-map_metadata", "1", "-ac", "1"].map(String::from));
    // ffmpeg 5.1 writes chapters as Vorbis comments for Opus but not for
    // Vorbis or FLAC; for those the same comments are written by hand.
    let chapters_as_comments = matches!(kind, Kind::Vorbis | Kind::Flac);
    if chapters_as_comments {
        args.extend(["-map_chapters", "-1"].map(String::from));
        for (i, (start, _end, title)) in CHAPTERS.iter().enumerate() {
            let ms = start % 1000;
            let s = start / 1000;
            args.push("-metadata".into());
            args.push(format!(
                "CHAPTER{i:03}={:02}:{:02}:{:02}.{ms:03}",
                s / 3600,
                s / 60 % 60,
                s % 60
            ));
            args.push("-metadata".into());
            args.push(format!("CHAPTER{i:03}NAME={title}"));
        }
        args.push("-metadata".into());
        args.push("CHAPTER001URL=https://example.com/middle".into());
    } else {
        args.extend(["-map_chapters", "1"].map(String::from));
    }
    let codec: &[&str] = match kind {
        Kind::Mp3Cbr => &["-c:a", "libmp3lame", "-b:a", "32k", "-id3v2_version", "3"],
        Kind::Mp3Vbr => &["-c:a", "libmp3lame", "-q:a", "5", "-id3v2_version", "3"],
        Kind::M4a | Kind::M4aChplOnly => &["-c:a", "aac", "-b:a", "32k"],
        Kind::M4aTrackOnly => &["-c:a", "aac", "-b:a", "32k", "-movflags", "+disable_chpl"],
        Kind::Opus => &["-c:a", "libopus", "-b:a", "16k"],
        Kind::Vorbis => &["-c:a", "libvorbis", "-q:a", "0"],
        Kind::Flac => &["-ar", "8000", "-c:a", "flac"],
        Kind::Wav => &["-ar", "8000", "-c:a", "pcm_s16le"],
    };
    args.extend(codec.iter().map(|s| s.to_string()));
    args.push(out.display().to_string());
    let output = match Command::new("ffmpeg").args(&args).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "these tests need ffmpeg on PATH (Debian: apt-get install ffmpeg), \
             and running it failed: {e}"
        ),
    };
    assert!(
        output.status.success(),
        "ffmpeg failed for {kind:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if matches!(kind, Kind::M4aChplOnly) {
        let mut bytes = std::fs::read(&out).unwrap();
        let (moov, moov_end) = top_level_box(&bytes, b"moov").expect("the M4A has a moov box");
        let tref = find(&bytes[moov..moov_end], b"tref").expect("ffmpeg wrote a chapter track");
        bytes[moov + tref..moov + tref + 4].copy_from_slice(b"free");
        std::fs::write(&out, bytes).unwrap();
    }
    out
}

fn top_level_box(bytes: &[u8], kind: &[u8; 4]) -> Option<(usize, usize)> {
    let mut offset = 0;
    while offset + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        if &bytes[offset + 4..offset + 8] == kind {
            return Some((offset, offset + size));
        }
        if size < 8 {
            return None;
        }
        offset += size;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn read(path: &Path, kind: Kind) -> MediaInfo {
    read_media(path, kind.media_type()).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
}

fn assert_duration(info: &MediaInfo, what: &str) {
    let duration = info
        .duration_ms
        .unwrap_or_else(|| panic!("{what}: no duration"));
    assert!(
        duration.abs_diff(DURATION_MS) <= 100,
        "{what}: duration {duration} ms, want {DURATION_MS} ± 100"
    );
}

/// The three chapters, starts within `tolerance_ms`, titles exact.
fn assert_chapters(chapters: &[Chapter], tolerance_ms: u64, what: &str) {
    let titles: Vec<&str> = chapters.iter().map(|c| c.title.as_str()).collect();
    let want: Vec<&str> = CHAPTERS.iter().map(|c| c.2).collect();
    assert_eq!(titles, want, "{what}: titles");
    for (chapter, (start, _, _)) in chapters.iter().zip(CHAPTERS) {
        assert!(
            chapter.start_ms.abs_diff(start) <= tolerance_ms,
            "{what}: {:?} starts at {} ms, want {start}",
            chapter.title,
            chapter.start_ms
        );
        assert!(
            chapter.toc,
            "{what}: embedded chapters are always in the TOC"
        );
        assert_eq!(chapter.image, None, "{what}");
    }
}

#[test]
fn mp3_id3_chap_frames_cbr_and_vbr() {
    let dir = TempDir::new().unwrap();
    for kind in [Kind::Mp3Cbr, Kind::Mp3Vbr] {
        let path = make(dir.path(), kind);
        let info = read(&path, kind);
        let what = format!("{kind:?}");
        assert_duration(&info, &what);
        assert_chapters(&info.chapters, 0, &what);
        // CHAP frames carry ends; the last is capped at the real duration.
        let ends: Vec<Option<u64>> = info.chapters.iter().map(|c| c.end_ms).collect();
        let last_end = DURATION_MS.min(info.duration_ms.unwrap());
        assert_eq!(ends, [Some(10_000), Some(20_250), Some(last_end)], "{what}");
        assert!(info.chapters.iter().all(|c| c.url.is_none()));
    }
}

#[test]
fn m4a_chapter_track_and_nero_list_are_both_read() {
    let dir = TempDir::new().unwrap();
    for kind in [Kind::M4a, Kind::M4aTrackOnly, Kind::M4aChplOnly] {
        let path = make(dir.path(), kind);
        let info = read(&path, kind);
        let what = format!("{kind:?}");
        assert_duration(&info, &what);
        // The chapter track's samples are in the AAC timescale; the Nero
        // list in 100 ns units. Either way exact to the millisecond here.
        assert_chapters(&info.chapters, 1, &what);
        assert!(info.chapters.iter().all(|c| c.end_ms.is_none()), "{what}");
    }
}

#[test]
fn the_content_decides_the_format_not_the_declared_type() {
    let dir = TempDir::new().unwrap();
    let path = make(dir.path(), Kind::M4a);
    let info = read_media(&path, "audio/mpeg").unwrap();
    assert_chapters(&info.chapters, 1, "M4A declared as MP3");
    let info = read_media(&path, "").unwrap();
    assert_duration(&info, "M4A with no declared type");
}

#[test]
fn ogg_opus_chapter_comments() {
    let dir = TempDir::new().unwrap();
    let path = make(dir.path(), Kind::Opus);
    let info = read(&path, Kind::Opus);
    assert_duration(&info, "Opus");
    assert_chapters(&info.chapters, 0, "Opus");
}

#[test]
fn ogg_vorbis_and_flac_chapter_comments_with_urls() {
    let dir = TempDir::new().unwrap();
    for kind in [Kind::Vorbis, Kind::Flac] {
        let path = make(dir.path(), kind);
        let info = read(&path, kind);
        let what = format!("{kind:?}");
        assert_duration(&info, &what);
        assert_chapters(&info.chapters, 0, &what);
        let urls: Vec<Option<&str>> = info.chapters.iter().map(|c| c.url.as_deref()).collect();
        assert_eq!(
            urls,
            [None, Some("https://example.com/middle"), None],
            "{what}"
        );
    }
}

#[test]
fn wav_duration_without_chapters() {
    let dir = TempDir::new().unwrap();
    let path = make(dir.path(), Kind::Wav);
    let info = read(&path, Kind::Wav);
    assert_duration(&info, "WAV");
    assert_eq!(info.chapters, []);
}

// --- hostile input -------------------------------------------------------

fn syncsafe(n: u32) -> [u8; 4] {
    [
        (n >> 21 & 0x7f) as u8,
        (n >> 14 & 0x7f) as u8,
        (n >> 7 & 0x7f) as u8,
        (n & 0x7f) as u8,
    ]
}

/// An ID3v2.4 tag of `levels` `CHAP` frames, each inside the one before.
/// lofty 0.25, given this tag, recursed once per level and overflowed the
/// stack: an abort that takes the whole test binary down.
fn nested_chap_tag(levels: u32) -> Vec<u8> {
    const PER_LEVEL: u32 = 10 + 2 + 16;
    let mut frames = Vec::new();
    for i in 0..levels {
        frames.extend(b"CHAP");
        frames.extend(syncsafe((levels - i) * PER_LEVEL - 10));
        frames.extend([0, 0]);
        frames.extend(b"n\0");
        frames.extend(i.to_be_bytes());
        frames.extend((i + 1).to_be_bytes());
        frames.extend([0xff; 8]);
    }
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend(syncsafe(frames.len() as u32));
    tag.extend(frames);
    tag
}

#[test]
fn a_nested_chap_bomb_in_front_of_real_audio_is_read_safely() {
    let dir = TempDir::new().unwrap();
    for kind in [Kind::Mp3Cbr, Kind::Flac] {
        let real = std::fs::read(make(dir.path(), kind)).unwrap();
        let mut hostile = nested_chap_tag(20_000);
        if kind == Kind::Flac {
            hostile.extend(&real);
        } else {
            // Replace the MP3's own tag, keep its audio.
            assert_eq!(&real[..3], b"ID3");
            let own_tag_len = 10 + syncsafe_len(&real[6..10]) as usize;
            hostile.extend(&real[own_tag_len..]);
        }
        let path = dir.path().join(format!("bomb-{}", kind.file_name()));
        std::fs::write(&path, &hostile).unwrap();
        let info = read(&path, kind);
        let what = format!("{kind:?} behind a CHAP bomb");
        assert_duration(&info, &what);
        if kind == Kind::Flac {
            // The Vorbis comment chapters win over the tag's single chapter.
            assert_chapters(&info.chapters, 0, &what);
        } else {
            assert_eq!(info.chapters.len(), 1, "{what}");
            assert_eq!(info.chapters[0].start_ms, 0, "{what}");
        }
    }
}

fn syncsafe_len(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |n, b| (n << 7) | u32::from(*b & 0x7f))
}

#[test]
fn an_oversized_id3_tag_is_refused() {
    let dir = TempDir::new().unwrap();
    let mut header = b"ID3\x03\x00\x00".to_vec();
    header.extend(syncsafe(0x0fff_ffff)); // 256 MiB, the format's maximum
    header.extend([0u8; 4096]);
    let path = dir.path().join("huge-tag.mp3");
    std::fs::write(&path, header).unwrap();
    let err = read_media(&path, "audio/mpeg").unwrap_err();
    assert_eq!(err.code(), "media_tag_too_large", "{err}");
}

#[test]
fn garbage_and_truncated_files_are_errors() {
    let dir = TempDir::new().unwrap();
    let mut rng = Rng(0x5eed);
    for kind in ALL {
        let real = std::fs::read(make(dir.path(), kind)).unwrap();
        let path = dir.path().join(format!("bad-{}", kind.file_name()));
        let garbage: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
        for (what, bytes) in [
            ("empty", &[][..]),
            ("10 bytes", &real[..10]),
            ("garbage", &garbage[..]),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let outcome = read_media(&path, kind.media_type());
            assert!(
                outcome.is_err(),
                "{kind:?} {what}: want an error, got {outcome:?}"
            );
        }
    }
    let missing = read_media(&dir.path().join("missing.mp3"), "audio/mpeg").unwrap_err();
    assert!(matches!(missing, TagError::Io { .. }), "{missing}");
    std::fs::write(dir.path().join("page.html"), "<html>not audio</html>").unwrap();
    let html = read_media(&dir.path().join("page.html"), "text/html").unwrap_err();
    assert_eq!(html.code(), "media_unsupported");
}

/// A real mp4ameta 0.13 panic: a zero `mvhd` timescale makes it divide by
/// zero. `catch_unwind` turns it into an error for this one file.
#[test]
fn a_panic_inside_mp4ameta_is_caught() {
    let dir = TempDir::new().unwrap();
    let mut bytes = std::fs::read(make(dir.path(), Kind::M4a)).unwrap();
    let (moov, moov_end) = top_level_box(&bytes, b"moov").unwrap();
    let mvhd = moov + find(&bytes[moov..moov_end], b"mvhd").unwrap() - 4;
    // size, type, version + flags, creation, modification, then timescale.
    bytes[mvhd + 20..mvhd + 24].copy_from_slice(&0u32.to_be_bytes());
    let path = dir.path().join("zero-timescale.m4a");
    std::fs::write(&path, bytes).unwrap();
    let err = read_media(&path, "audio/mp4").unwrap_err();
    assert_eq!(err.code(), "media_parser_panicked", "{err}");
}

/// The chapter track rewritten so that mp4ameta would read a 16 KB title
/// per byte of a 100 KB run of `A`s, 2^31 times: about 1.4 GB of titles
/// before the run ends. The read budget stops it at 64 MiB.
#[test]
fn a_chapter_track_that_reads_forever_hits_the_read_budget() {
    let dir = TempDir::new().unwrap();
    let mut bytes = std::fs::read(make(dir.path(), Kind::M4aTrackOnly)).unwrap();
    let (mdat, _) = top_level_box(&bytes, b"mdat").unwrap();
    let (moov, moov_end) = top_level_box(&bytes, b"moov").unwrap();
    // The chapter track is the second track: its sample table is the last.
    let stbl = moov
        + bytes[moov..moov_end]
            .windows(4)
            .rposition(|w| w == b"stbl")
            .unwrap()
        - 4;
    let child = |bytes: &[u8], kind: &[u8; 4]| {
        stbl + find(&bytes[stbl..moov_end], kind).expect("chapter track box") - 4
    };
    let put = |bytes: &mut Vec<u8>, at: usize, value: u32| {
        bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
    };
    let stts = child(&bytes, b"stts");
    put(&mut bytes, stts + 16, 0x7fff_ffff); // first entry's sample count
    let stsc = child(&bytes, b"stsc");
    put(&mut bytes, stsc + 20, 0x7fff_ffff); // samples per chunk
    let stsz = child(&bytes, b"stsz");
    let stsz_len = u32::from_be_bytes(bytes[stsz..stsz + 4].try_into().unwrap()) as usize;
    assert!(stsz_len >= 32, "ffmpeg wrote a sample size table");
    // A uniform sample size of 1 byte, the freed table bytes become `free`.
    put(&mut bytes, stsz, 20);
    put(&mut bytes, stsz + 12, 1);
    put(&mut bytes, stsz + 16, 0x7fff_ffff);
    put(&mut bytes, stsz + 20, (stsz_len - 20) as u32);
    bytes[stsz + 24..stsz + 28].copy_from_slice(b"free");
    let stco = child(&bytes, b"stco");
    put(&mut bytes, stco + 16, (mdat + 16) as u32); // the one chunk's offset
    bytes[mdat + 16..mdat + 16 + 100_000].fill(b'A');
    let path = dir.path().join("endless-chapters.m4a");
    std::fs::write(&path, bytes).unwrap();
    let err = read_media(&path, "audio/mp4").unwrap_err();
    assert_eq!(err.code(), "media_read_limit", "{err}");
}

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Flips bytes of every generated file (mostly in the first and last 8 KiB,
/// where headers, tags, `moov` and the last Ogg page are) and truncates it at
/// many lengths; `read_media` must return, Ok or Err, every time. A panic in
/// a parser is caught inside `read_media`; one escaping fails this test.
#[test]
fn fuzzed_files_never_panic() {
    const ROUNDS: usize = 150;
    let dir = TempDir::new().unwrap();
    let mut rng = Rng(0x00c0_ffee);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for kind in ALL {
        let real = std::fs::read(make(dir.path(), kind)).unwrap();
        let path = dir.path().join(format!("fuzz-{}", kind.file_name()));
        let mut cases: Vec<Vec<u8>> = [0, 1, 3, 10, 36, 100, 1_000, 4_096, real.len() / 2]
            .iter()
            .chain(&[real.len() - 1])
            .map(|&len| real[..len.min(real.len())].to_vec())
            .collect();
        for _ in 0..ROUNDS {
            let mut bytes = real.clone();
            for _ in 0..1 + rng.below(8) {
                let len = bytes.len();
                let at = match rng.below(3) {
                    0 => rng.below(len.min(8192)),
                    1 => len - 1 - rng.below(len.min(8192)),
                    _ => rng.below(len),
                };
                bytes[at] = if rng.below(2) == 0 {
                    bytes[at] ^ (1 << rng.below(8))
                } else {
                    rng.next() as u8
                };
            }
            cases.push(bytes);
        }
        for bytes in cases {
            std::fs::write(&path, &bytes).unwrap();
            let outcome = read_media(&path, kind.media_type());
            let label = match &outcome {
                Ok(_) => "ok".to_string(),
                Err(e) => e.code().to_string(),
            };
            *outcomes.entry(label).or_default() += 1;
            if let Ok(info) = outcome {
                assert!(info.chapters.len() <= stowaway_tags::MAX_CHAPTERS);
                assert!(info
                    .chapters
                    .windows(2)
                    .all(|w| w[0].start_ms <= w[1].start_ms));
            }
        }
    }
    eprintln!("fuzz outcomes: {outcomes:?}");
}
