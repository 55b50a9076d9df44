//! Upper bounds on what a feed may make the parser do.

/// Bounds that keep a hostile or broken feed from exhausting memory or time.
///
/// The defaults are generous for real podcasts (the largest public feeds have a
/// few thousand episodes and are a few MiB) and small enough that a hostile
/// document cannot do much harm. Start from [`Limits::default`] and change the
/// fields you need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input accepted, in bytes; larger input is refused before it is
    /// decoded ([`FeedError::TooLarge`](crate::FeedError::TooLarge)). The caller
    /// should stop reading the HTTP body at this size too.
    pub max_bytes: usize,
    /// Most episodes (`<item>` / `<entry>`) a feed may have
    /// ([`FeedError::TooManyEpisodes`](crate::FeedError::TooManyEpisodes)).
    pub max_episodes: usize,
    /// Deepest element nesting accepted
    /// ([`FeedError::TooDeep`](crate::FeedError::TooDeep)). Real feeds nest
    /// fewer than ten levels; inline XHTML content a few more.
    pub max_depth: usize,
    /// Most XML elements in the whole document
    /// ([`FeedError::TooManyElements`](crate::FeedError::TooManyElements)).
    pub max_elements: usize,
    /// Longest text kept from one element, in bytes; longer text is cut (at a
    /// character boundary) rather than refused.
    pub max_text_bytes: usize,
    /// Longest title kept, in characters; longer titles are cut with `…`.
    pub max_title_chars: usize,
    /// Longest [`Episode::summary`](crate::Episode::summary), in characters;
    /// longer summaries are cut at a word boundary with `…`.
    pub max_summary_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 << 20,
            max_episodes: 20_000,
            max_depth: 64,
            max_elements: 1_000_000,
            max_text_bytes: 1 << 20,
            max_title_chars: 1_000,
            max_summary_chars: 500,
        }
    }
}
