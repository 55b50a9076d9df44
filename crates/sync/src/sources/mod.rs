//! Where a library and its files come from: a signed catalog, fetched from
//! whichever mirror serves the newest valid one (`catalog`), or a podcast
//! feed, read, mapped to a catalog and merged over the last (`feed`). Both
//! end in the store as a catalog whose files the transfer fetches. The app's
//! own updates come from the signed libraries' mirrors too (`update`).

pub(crate) mod catalog;
pub(crate) mod feed;
pub(crate) mod update;
