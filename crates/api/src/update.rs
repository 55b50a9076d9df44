//! An app update, as the page shows it: found on the libraries' mirrors,
//! its installer downloaded and its signature checked, waiting for the
//! member to restart (see `stowaway_sync::FoundUpdate`).

use serde::Serialize;
use ts_rs::TS;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct UpdateView {
    /// The version ready to install, e.g. "0.2.0".
    pub version: String,
    /// The running version.
    pub current: String,
    /// The publisher's release notes, as text.
    pub notes: Option<String>,
    /// The mirror its installer came from.
    pub mirror: String,
}
