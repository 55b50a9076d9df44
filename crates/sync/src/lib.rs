//! The sync engine.
//!
//! For each subscribed library: fetch `library.json` and its signature from the
//! first mirror that gives a valid pair → verify with the subscribed key →
//! apply the diff in one transaction (rollback refused) → plan the downloads
//! (every referenced blob not yet stored) → download several at once, each
//! from the first mirror that delivers the right bytes → report.
//!
//! Laid out in two parts under the engine that drives them:
//! - `sources`: where a library and its files come from (a signed
//!   catalog from whichever mirror serves the newest, or a podcast feed
//!   mapped to one);
//! - `transfer`: getting one file's bytes from its sources and checking
//!   them (whole, in chunks, or from a feed), and play now.
//!
//! The engine publishes typed [`SyncEvent`]s on a broadcast channel; the CLI
//! renders them as progress bars, the app forwards them to the UI. It knows
//! nothing about either.
#![forbid(unsafe_code)]

mod engine;
mod events;
mod sources;
mod transfer;

pub use engine::{Engine, LibraryReport, Subscribed, SyncError, SyncOptions, SyncReport};
pub use events::SyncEvent;
pub use sources::feed::{
    file_key, item_id, library_id_for, origin_of, FeedSubscribed, FetchedFeed, Mapped, SkipReason,
    SkippedEpisode, Source, FEED_COLLECTION, MAX_NEW_EPISODES_PER_REFRESH,
};
pub use sources::update::{FoundUpdate, Offer, VerifiedInstaller};
pub use stowaway_catalog::check_installer;
pub use transfer::{read_media_info, FetchNow, PlayNow};
