//! End-to-end tests across processes: `stowaway-publish` builds a signed
//! mirror tree, real servers (Debian's nginx, our fault-injecting mirror, a
//! file:// folder) serve it, and the `stowaway` binary syncs it into a real
//! SQLite cache on disk.

mod downloads;
mod drill;
mod failover;
mod feeds;
mod journey;
mod local;
mod private;
mod trust;
