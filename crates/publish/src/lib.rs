//! The publisher's side: turn a folder of media plus a `library.toml` into a
//! signed mirror tree that any static host (or a plain folder) can serve.
//!
//! - [`keys`]: minisign key pairs (the secret key never leaves its file).
//! - [`manifest`]: the `library.toml` source format.
//! - [`build`]: hashing, copying only new blobs, signing `library.json`.
//! - [`subscription`]: the `.stowaway` file a member is handed.
//! - [`release`]: an app release (signed installers and their manifest) in a
//!   mirror tree, for the app's updater.
#![forbid(unsafe_code)]

pub mod build;
pub mod feed;
pub mod keys;
pub mod manifest;
pub mod release;
pub mod subscription;
pub mod wav;

pub use build::{build, BuildOptions, BuildOutcome};
pub use keys::{keygen, load_public_key, load_secret_key, KeygenOutcome};
pub use manifest::Manifest;
pub use release::{release, ReleaseOptions, ReleaseOutcome};
