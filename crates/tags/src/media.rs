//! [`read_media`]: which format a file is, and which reader gets which bytes.
//!
//! The format comes from the file's first bytes (lofty's probe); the media
//! type the catalog or feed declared is only a fallback when the bytes do not
//! say, since a publisher can declare anything.
//!
//! Who reads what: our [`id3`](crate::id3) reader reads an ID3v2 tag at the
//! start of the file; lofty reads durations with `read_tags` off (so it skips
//! every ID3v2 tag unparsed), except for Opus, Vorbis and FLAC where it also
//! reads the Vorbis comments, and for FLAC it is shown the file only from
//! after the leading ID3v2 tags (which it would otherwise parse);
//! `mp4ameta` reads MP4 files (see [`mp4`](crate::mp4)).

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use std::time::Duration;

use lofty::config::{apply_global_options, GlobalOptions, ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType};
use lofty::flac::FlacFile;
use lofty::mpeg::MpegFile;
use lofty::ogg::{OpusFile, VorbisFile};
use lofty::probe::Probe;

use crate::chapter::{ChapterList, MediaInfo};
use crate::guard::{guarded, Bounded};
use crate::{id3, mp4, vorbis, TagError, MAX_READ_BYTES};

/// lofty refuses any single allocation above this (its default, stated so a
/// change of default cannot raise it).
const LOFTY_ALLOCATION_LIMIT: usize = 16 * 1024 * 1024;

/// Bytes the format probe may read (36 bytes, plus its search for an MPEG
/// frame sync within 1 KiB of junk).
const PROBE_BUDGET: u64 = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Mpeg,
    Mp4,
    Opus,
    Vorbis,
    Flac,
    /// Another format lofty knows (WAV, AIFF, AAC/ADTS, …): duration only.
    Other(FileType),
}

/// Reads the real duration and the embedded chapters of a media file.
///
/// `media_type` is what the catalog or feed declared (`audio/mpeg`, …); it
/// is used only when the file's own bytes do not identify the format.
///
/// Chapters come from ID3v2 `CHAP`/`CTOC` frames, MP4 chapter tracks or
/// Nero `chpl` lists, or `CHAPTERnnn` Vorbis comments (Opus, Vorbis, FLAC);
/// they are cleaned and bounded as described on [`Chapter`](crate::Chapter)
/// and [`MediaInfo`], and a chapter starting after the known duration is
/// dropped. Never panics; see the crate documentation for the limits.
///
/// Blocking: it reads a few kilobytes to a few megabytes of the file (never
/// the audio); call it from a blocking thread, not an async task.
pub fn read_media(path: &Path, media_type: &str) -> Result<MediaInfo, TagError> {
    let mut file = BufReader::new(File::open(path)?);
    // lofty keeps its options per thread; set them on the thread that reads.
    apply_global_options(GlobalOptions::new().allocation_limit(LOFTY_ALLOCATION_LIMIT));

    let format = detect(&mut file, media_type)?;
    let mut id3_chapters = ChapterList::default();
    if matches!(format, Format::Mpeg | Format::Flac | Format::Other(_)) {
        id3::read_chapters(&mut file, &mut id3_chapters)?;
    }
    let origin = if format == Format::Flac {
        id3::skip_leading_tags(&mut file)?
    } else {
        0
    };

    let mut view = Bounded::new(&mut file, origin, MAX_READ_BYTES)?;
    let mut chapters = ChapterList::default();
    let duration = match format {
        Format::Mp4 => mp4::read(&mut view, &mut chapters)?,
        Format::Mpeg => {
            let mpeg: MpegFile = lofty_read(&mut view, "MP3", false)?;
            millis(mpeg.properties().duration())
        }
        Format::Opus => {
            let opus: OpusFile = lofty_read(&mut view, "Opus", true)?;
            vorbis::chapters(opus.vorbis_comments().items(), &mut chapters);
            millis(opus.properties().duration())
        }
        Format::Vorbis => {
            let ogg: VorbisFile = lofty_read(&mut view, "Vorbis", true)?;
            vorbis::chapters(ogg.vorbis_comments().items(), &mut chapters);
            millis(ogg.properties().duration())
        }
        Format::Flac => {
            let flac: FlacFile = lofty_read(&mut view, "FLAC", true)?;
            if let Some(comments) = flac.vorbis_comments() {
                vorbis::chapters(comments.items(), &mut chapters);
            }
            millis(flac.properties().duration())
        }
        Format::Other(file_type) => {
            let options = parse_options(false);
            let tagged = guarded("audio", &mut view, |r| {
                Probe::with_file_type(r, file_type).options(options).read()
            })?;
            millis(tagged.properties().duration())
        }
    };
    let chapters = if chapters.is_empty() {
        id3_chapters
    } else {
        chapters
    };
    Ok(MediaInfo {
        duration_ms: duration,
        chapters: chapters.finish(duration),
    })
}

fn parse_options(read_tags: bool) -> ParseOptions {
    ParseOptions::new()
        .read_properties(true)
        .read_tags(read_tags)
        .read_cover_art(false)
        .parsing_mode(ParsingMode::BestAttempt)
}

fn lofty_read<F: AudioFile, R: Read + Seek>(
    view: &mut Bounded<R>,
    format: &'static str,
    read_tags: bool,
) -> Result<F, TagError> {
    let options = parse_options(read_tags);
    guarded(format, view, |r| F::read_from(r, options))
}

/// A zero duration means lofty could not tell.
fn millis(duration: Duration) -> Option<u64> {
    u64::try_from(duration.as_millis())
        .ok()
        .filter(|ms| *ms > 0)
}

fn detect<R: Read + Seek>(file: &mut R, media_type: &str) -> Result<Format, TagError> {
    let mut view = Bounded::new(&mut *file, 0, PROBE_BUDGET)?;
    let sniffed = guarded("probe", &mut view, |r| {
        Probe::new(r)
            .guess_file_type()
            .map(|probe| probe.file_type())
    })?;
    let declared = format_of_media_type(media_type);
    let format = match sniffed {
        Some(FileType::Mpeg) => Some(Format::Mpeg),
        Some(FileType::Mp4) => Some(Format::Mp4),
        Some(FileType::Opus) => Some(Format::Opus),
        Some(FileType::Vorbis) => Some(Format::Vorbis),
        Some(FileType::Flac) => Some(Format::Flac),
        Some(FileType::Custom(_)) | None => declared,
        Some(other) => Some(Format::Other(other)),
    };
    if declared.is_some() && format != declared {
        tracing::debug!(?format, media_type, "file content and media type disagree");
    }
    format.ok_or_else(|| TagError::Unsupported {
        media_type: media_type.chars().take(100).collect(),
    })
}

/// The format a media type names (parameters other than `codecs` ignored).
fn format_of_media_type(media_type: &str) -> Option<Format> {
    let lower = media_type.to_ascii_lowercase();
    let mut parts = lower.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("");
    let opus_codec = parts.any(|p| p.starts_with("codecs") && p.contains("opus"));
    Some(match essence {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mp3" | "audio/x-mpeg" => Format::Mpeg,
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/x-m4b" | "audio/m4b" | "video/mp4"
        | "video/x-m4v" | "video/quicktime" | "application/mp4" => Format::Mp4,
        "audio/opus" => Format::Opus,
        "audio/ogg" | "application/ogg" | "audio/x-ogg" if opus_codec => Format::Opus,
        "audio/ogg" | "application/ogg" | "audio/x-ogg" | "audio/vorbis" => Format::Vorbis,
        "audio/flac" | "audio/x-flac" => Format::Flac,
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => {
            Format::Other(FileType::Wav)
        }
        "audio/aac" | "audio/aacp" | "audio/x-aac" => Format::Other(FileType::Aac),
        "audio/aiff" | "audio/x-aiff" => Format::Other(FileType::Aiff),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_name_formats() {
        let cases: &[(&str, Option<Format>)] = &[
            ("audio/mpeg", Some(Format::Mpeg)),
            ("Audio/MPEG; charset=x", Some(Format::Mpeg)),
            ("audio/x-m4a", Some(Format::Mp4)),
            ("video/mp4", Some(Format::Mp4)),
            ("audio/ogg", Some(Format::Vorbis)),
            ("audio/ogg; codecs=opus", Some(Format::Opus)),
            ("audio/ogg;codecs=\"opus\"", Some(Format::Opus)),
            ("audio/opus", Some(Format::Opus)),
            ("audio/flac", Some(Format::Flac)),
            ("audio/wav", Some(Format::Other(FileType::Wav))),
            ("text/html", None),
            ("", None),
        ];
        for (media_type, want) in cases {
            assert_eq!(format_of_media_type(media_type), *want, "{media_type:?}");
        }
    }
}
