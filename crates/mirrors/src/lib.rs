//! Mirrors: where bytes come from.
//!
//! A mirror is a base URL (`https://`, `http://` or `file://`) serving a mirror
//! tree. This crate turns "path below this mirror" into bytes, with bounded
//! connect and idle timeouts, size limits and errors that say what went wrong.
//! It trusts nothing it receives: verification is the caller's job (catalog
//! signatures in `stowaway-catalog`, blob hashes in `stowaway-store`).
//!
//! - [`transport`]: one request to one mirror (http(s), file://), with
//!   ranges and conditional GETs.
//! - [`health`]: what we know of a mirror (latency, throughput, failures,
//!   circuit breaker, Retry-After); persisted by the store.
//! - [`pool`]: the mirrors of one library in health order, per-mirror
//!   connection limits, hedged requests for small objects.
//! - [`limit`]: an optional shared bandwidth cap.
//!
//! Mid-file failover (continuing a download on another mirror with Range)
//! is driven by the sync engine, which owns the file being written.
#![forbid(unsafe_code)]

mod error;
pub mod health;
pub mod limit;
pub mod pool;
pub mod reach;
pub mod transport;

pub use error::MirrorError;
pub use health::{Circuit, HealthPolicy, MirrorHealth};
pub use limit::RateLimiter;
pub use pool::{AttemptError, MirrorPool, PoolConfig};
pub use reach::{is_public, Reach};
pub use transport::{
    open_regular_file, read_local_file, redacted, AccessToken, BodyStream, ClientConfig, Document,
    Fetched, Mirror, MirrorClient, Opened, Pace, Shares, Validators,
};
