//! The one error type of the feeds crate.

/// Why a document could not be turned into a [`Feed`](crate::Feed).
///
/// Only problems with the document *as a whole* are errors. A bad field in an
/// otherwise readable feed (an unparseable date, a junk duration, a relative URL
/// that cannot be resolved) becomes `None` on that field instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The input is larger than [`Limits::max_bytes`](crate::Limits::max_bytes);
    /// it was refused before being decoded.
    #[error("the feed is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// The input is empty, is not XML, or is XML but neither RSS nor Atom
    /// (an HTML page, an OPML file, …).
    #[error("not a podcast feed: {reason}")]
    NotAFeed { reason: String },
    /// The XML is broken beyond what the tolerant reader accepts.
    #[error("malformed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    /// The document ends while elements are still open (typically a download cut
    /// short). Refused rather than parsed, so that half a feed is never taken for
    /// a feed whose older episodes were removed.
    #[error("the feed ends inside <{open}>: truncated download?")]
    Truncated { open: String },
    /// Elements are nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("elements are nested deeper than the limit of {limit}")]
    TooDeep { limit: usize },
    /// The document has more elements than [`Limits::max_elements`](crate::Limits::max_elements).
    #[error("the feed has more than {limit} XML elements")]
    TooManyElements { limit: usize },
    /// The document declares entities in its DOCTYPE (the stuff of entity
    /// bombs and external-entity reads); refused without expanding anything.
    #[error("the document declares XML entities, which feeds never need; refused")]
    EntityDeclarations,
    /// The feed has more items than [`Limits::max_episodes`](crate::Limits::max_episodes).
    #[error("the feed has {count} episodes, more than the limit of {limit}")]
    TooManyEpisodes { count: usize, limit: usize },
}

impl FeedError {
    /// A stable, machine-readable code for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            FeedError::TooLarge { .. } => "feed_too_large",
            FeedError::NotAFeed { .. } => "not_a_feed",
            FeedError::Malformed { .. } => "malformed_xml",
            FeedError::Truncated { .. } => "feed_truncated",
            FeedError::TooDeep { .. } => "feed_too_deep",
            FeedError::TooManyElements { .. } => "feed_too_many_elements",
            FeedError::TooManyEpisodes { .. } => "feed_too_many_episodes",
            FeedError::EntityDeclarations => "feed_declares_entities",
        }
    }

    pub(crate) fn not_a_feed(reason: impl Into<String>) -> Self {
        FeedError::NotAFeed {
            reason: reason.into(),
        }
    }
}
