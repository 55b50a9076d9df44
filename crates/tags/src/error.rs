//! The one error type of the tags crate.

/// Why a media file or a chapters document could not be read.
///
/// Only problems with the input *as a whole* are errors. A bad field in an
/// otherwise readable file or document (a chapter whose start cannot be read,
/// a `javascript:` URL, a title full of control characters) is dropped or
/// cleaned instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The file could not be opened or read.
    #[error("could not read the media file: {message}")]
    Io {
        kind: std::io::ErrorKind,
        message: String,
    },
    /// Neither the bytes nor the media type name a format this crate reads.
    #[error("unsupported media format (media type {media_type:?})")]
    Unsupported { media_type: String },
    /// The parser for `format` refused the file (corrupt, truncated, or not
    /// what its first bytes claim).
    #[error("malformed {format} file: {message}")]
    Malformed {
        format: &'static str,
        message: String,
    },
    /// A tag area (an ID3v2 tag, an MP4 `moov` box) is larger than the cap;
    /// refused before it was read.
    #[error("the {what} is {size} bytes, more than the limit of {limit}")]
    TagAreaTooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// A parser asked for more bytes than any real file's metadata needs
    /// ([`MAX_READ_BYTES`](crate::MAX_READ_BYTES)); it was stopped.
    #[error("reading the {format} metadata needed more than {limit} bytes; stopped")]
    ReadLimit { format: &'static str, limit: u64 },
    /// A third-party parser panicked on this file; the panic was caught.
    #[error("the {format} parser failed on this file: {message}")]
    ParserPanicked {
        format: &'static str,
        message: String,
    },
    /// A JSON chapters document is larger than
    /// [`MAX_JSON_BYTES`](crate::MAX_JSON_BYTES); refused before parsing.
    #[error("the chapters document is {size} bytes, more than the limit of {limit}")]
    ChaptersTooLarge { size: usize, limit: usize },
    /// A JSON chapters document is not JSON, or has no `chapters` array.
    #[error("not a JSON chapters document: {message}")]
    ChaptersMalformed { message: String },
}

impl TagError {
    /// A stable, machine-readable code for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            TagError::Io { .. } => "media_io",
            TagError::Unsupported { .. } => "media_unsupported",
            TagError::Malformed { .. } => "media_malformed",
            TagError::TagAreaTooLarge { .. } => "media_tag_too_large",
            TagError::ReadLimit { .. } => "media_read_limit",
            TagError::ParserPanicked { .. } => "media_parser_panicked",
            TagError::ChaptersTooLarge { .. } => "chapters_too_large",
            TagError::ChaptersMalformed { .. } => "chapters_malformed",
        }
    }

    pub(crate) fn malformed(format: &'static str, message: impl ToString) -> Self {
        TagError::Malformed {
            format,
            message: message.to_string(),
        }
    }
}

impl From<std::io::Error> for TagError {
    fn from(error: std::io::Error) -> Self {
        TagError::Io {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}
