//! The sync engine.
//!
//! For each subscribed library: fetch `library.json` and its signature from the
//! first mirror that gives a valid pair → verify with the subscribed key →
//! apply the diff in one transaction (rollback refused) → plan the downloads
//! (every referenced blob not yet stored) → download several at once, each
//! from the first mirror that delivers the right bytes → report.
//!
//! The engine publishes typed [`SyncEvent`]s on a broadcast channel; the CLI
//! renders them as progress bars, the app forwards them to the UI. It knows
//! nothing about either.
#![forbid(unsafe_code)]

mod catalog;
mod download;
mod engine;
mod events;
mod feed;
mod now;

pub use download::read_media_info;
pub use engine::{Engine, LibraryReport, Subscribed, SyncError, SyncOptions, SyncReport};
pub use events::SyncEvent;
pub use feed::{
    file_key, item_id, library_id_for, origin_of, FeedSubscribed, FetchedFeed, Mapped, SkipReason,
    SkippedEpisode, Source, FEED_COLLECTION, MAX_NEW_EPISODES_PER_REFRESH,
};
pub use now::{FetchNow, PlayNow};
