//! Mirrors: where bytes come from.
//!
//! A mirror is a base URL (`https://`, `http://` or `file://`) serving a mirror
//! tree. This crate turns "path below this mirror" into bytes, with bounded
//! connect and idle timeouts, size limits and errors that say what went wrong.
//! It trusts nothing it receives: verification is the caller's job (catalog
//! signatures in `stowaway-catalog`, blob hashes in `stowaway-store`).
//!
//! Not here yet (see issue 3): health scoring, hedged requests, Range
//! failover. The seam for them is [`MirrorClient::open`]'s `offset`.
#![forbid(unsafe_code)]

mod error;
mod transport;

pub use error::MirrorError;
pub use transport::{BodyStream, ClientConfig, Mirror, MirrorClient};
