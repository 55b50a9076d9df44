//! What can go wrong fetching from one mirror.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("{0:?} is not a usable mirror URL: {1}")]
    BadUrl(String, String),
    /// A `file://` network share the member has not allowed as a mirror.
    #[error("{url:?} is a network share on {host:?}: it is used as a mirror only if you allow it when subscribing (on Windows, connecting to a share offers that computer your sign-in); or copy the library to this computer, or serve it over https")]
    ShareNotAllowed { url: String, host: String },
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("no data for {0:?} (stalled)")]
    Stalled(Duration),
    /// A body arriving far too slowly to ever finish (a drip).
    #[error("too slow: {received} bytes in {elapsed:?}, below the floor of {floor_bps} bytes/s")]
    TooSlow {
        received: u64,
        elapsed: Duration,
        floor_bps: u64,
    },
    #[error("HTTP {status}{}", retry_after.map(|s| format!(" (retry after {s:?})")).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("not found on this mirror")]
    NotFound,
    /// A document (a feed) that is not there any more: 404 or 410.
    #[error("gone (HTTP {status})")]
    Gone { status: u16 },
    #[error("{}", if *sent_token { format!("access denied (HTTP {status}): the access token was refused") } else { format!("access denied (HTTP {status}): this library needs an access token") })]
    Unauthorized { status: u16, sent_token: bool },
    #[error("not a usable access token (empty, too long, or with spaces or control characters)")]
    BadToken,
    #[error("response larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the server ignored the byte range requested")]
    RangeIgnored,
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// A public feed named a host on this machine or the local network.
    #[error("refused: {0}")]
    NotPublic(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl MirrorError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MirrorError::BadUrl(..) => "bad_url",
            MirrorError::ShareNotAllowed { .. } => "share_not_allowed",
            MirrorError::Connect(_) => "connect",
            MirrorError::Timeout(_) => "timeout",
            MirrorError::Stalled(_) => "stalled",
            MirrorError::TooSlow { .. } => "too_slow",
            MirrorError::Status { .. } => "http_status",
            MirrorError::NotFound => "not_found",
            MirrorError::Gone { .. } => "gone",
            MirrorError::Unauthorized { .. } => "unauthorized",
            MirrorError::BadToken => "bad_token",
            MirrorError::TooLarge { .. } => "too_large",
            MirrorError::RangeIgnored => "range_ignored",
            MirrorError::Transfer(_) => "transfer",
            MirrorError::NotPublic(_) => "not_public",
            MirrorError::Io(_) => "io",
        }
    }
}
