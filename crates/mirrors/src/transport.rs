//! The two transports: HTTP(S) through one shared reqwest client, and
//! `file://` for a folder or a USB stick.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    CONTENT_RANGE, DATE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RANGE, RETRY_AFTER,
};
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use url::Url;

use crate::{MirrorError, Reach};

/// Timeouts and identity for every request.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// TCP (and TLS) connect.
    pub connect_timeout: Duration,
    /// Longest wait for response headers, and for each chunk of a body: a
    /// silent server costs at most this, never a hang.
    pub idle_timeout: Duration,
    /// The slowest a whole-object fetch (catalog, signature, subscription,
    /// feed, small file) may be: a server sending a byte now and then never
    /// trips the idle timeout, so the object's deadline follows from its
    /// size instead (see [`Pace`]).
    pub small_pace: Pace,
    pub user_agent: String,
    /// Host names resolved to a fixed address instead of by DNS (like
    /// curl's `--resolve`); they count as public hosts (see [`crate::reach`]).
    pub pins: Vec<(String, std::net::SocketAddr)>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            // 32 kbit/s: a throttled mobile plan still gets its catalog; a
            // server sending a byte every half second is left after 10 s.
            small_pace: Pace {
                floor_bps: 4 * 1024,
                grace: Duration::from_secs(10),
            },
            user_agent: format!("stowaway/{}", env!("CARGO_PKG_VERSION")),
            pins: Vec::new(),
        }
    }
}

/// The slowest a transfer may be: from `grace` after its request was sent,
/// it must have averaged `floor_bps`. A body of `n` bytes therefore has a
/// deadline of `grace + n / floor_bps`, and one that drips (a byte every
/// half second) is given up after about `grace`, whatever its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub floor_bps: u64,
    pub grace: Duration,
}

impl Pace {
    /// How much longer a transfer that has received `received` bytes after
    /// `elapsed` may wait for its next one; `None` once it is too slow.
    pub fn allowance(&self, received: u64, elapsed: Duration) -> Option<Duration> {
        let earned = Duration::from_secs_f64(received as f64 / self.floor_bps.max(1) as f64);
        (self.grace + earned).checked_sub(elapsed)
    }
}

/// One mirror: a parsed base URL, for a private library the member's
/// access token (sent as `Authorization: Bearer`), and where its requests
/// may go ([`Reach`]: a public feed's hosts are held to public addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mirror {
    Http(Url, Option<AccessToken>, Reach),
    File(PathBuf),
}

/// A private library's access token. Never printed: `Debug` shows only that
/// there is one.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// A token as the member pasted it (surrounding whitespace dropped).
    /// Refuses an empty one, or one that cannot go into an HTTP header.
    pub fn new(token: &str) -> Result<AccessToken, MirrorError> {
        let t = token.trim();
        let ok = !t.is_empty() && t.len() <= 4096 && t.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(AccessToken(t.to_owned()))
        } else {
            Err(MirrorError::BadToken)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(…)")
    }
}

/// Why a `file://` URL names no folder on this computer: a host other than
/// `localhost` (`file://server/share/…`), or a path that is itself a share
/// or a device (`file:////server/share/…`, an encoded `\\server\share`).
/// Windows opens those as `\\server\share\…` or `\\.\pipe\…`: an SMB
/// connection to the host named, which offers it the member's Windows
/// credentials, or a device. Decided from the URL alone, the same on every
/// platform, so that one a subscription or catalog names is treated here
/// as it would be on a member's Windows laptop: not used, unless the member
/// allowed that share ([`Shares`]; a device never).
pub fn network_share(url: &Url) -> Option<String> {
    if url.scheme() != "file" {
        return None;
    }
    match url.host_str() {
        None | Some("") => {}
        Some(h) if h.eq_ignore_ascii_case("localhost") => {}
        Some(h) => return Some(h.to_owned()),
    }
    let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    let p = path.replace('\\', "/");
    if p.starts_with("//") {
        let host = p.trim_start_matches('/').split('/').next().unwrap_or("");
        return Some(host.to_owned());
    }
    None
}

/// `url` as logs and messages show it: without a user name, a password or
/// a query (where a private feed's or mirror's credentials usually are).
pub fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some("hidden"));
            }
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The host of a network share a member may allow as a mirror: only the
/// plain form `file://host/share/…`, its host a DNS name or an IP address
/// and its path plain segments. Never a device (`file://./pipe/…`,
/// `file://./UNC/host/…`, which reaches another host than the one written)
/// nor a share written as a path (an encoded `\\server\share`): those
/// are refused whatever the member says, so that the host shown to them
/// is the one connected to.
fn allowable_share(url: &Url) -> Option<String> {
    network_share(url)?;
    let host = match url.host()? {
        url::Host::Domain(d) => {
            let plain = !d.is_empty()
                && !d.starts_with('.')
                && !d.eq_ignore_ascii_case("localhost")
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            plain.then(|| d.to_ascii_lowercase())?
        }
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => format!("[{ip}]"),
    };
    let path = percent_encoding::percent_decode_str(url.path())
        .decode_utf8()
        .ok()?;
    let plain_path = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() > 1
        && !path
            .chars()
            .any(|c| c == '\\' || c == ':' || c.is_control());
    plain_path.then_some(host)
}

/// Whether a `file://` mirror naming a network share may be used: only one
/// the member added knowingly ([`Shares::Allowed`]), never one a catalog or
/// a subscription file alone names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shares {
    Refused,
    Allowed,
}

impl Mirror {
    /// Checks what a subscription or a catalog may name as a mirror, on any
    /// platform: `http(s)`, or a `file://` folder on this computer (not a
    /// network share: see [`network_share`] and [`check_with`](Self::check_with)). A `file://` path another
    /// platform's way (`/media/usb` on Windows) passes: it is skipped where it
    /// cannot be opened, not a reason to refuse the whole subscription.
    pub fn check(base: &str) -> Result<(), MirrorError> {
        Mirror::checked(base, Shares::Refused).map(|_| ())
    }

    /// [`check`](Self::check), a network share in the plain form
    /// `file://host/share/…` passing when `shares` allows it (a device or a
    /// share written as a path never does).
    pub fn check_with(base: &str, shares: Shares) -> Result<(), MirrorError> {
        Mirror::checked(base, shares).map(|_| ())
    }

    /// The host a mirror URL would connect to over SMB, for a `file://`
    /// network share the member may allow (`file://host/share/…`); `None`
    /// for any other URL (a device or a share written as a path is refused
    /// whatever the member says: see [`check_with`](Self::check_with)).
    pub fn share_host(base: &str) -> Option<String> {
        Url::parse(base).ok().as_ref().and_then(allowable_share)
    }

    /// [`check`](Self::check), giving the URL checked.
    fn checked(base: &str, shares: Shares) -> Result<Url, MirrorError> {
        let bad = |m: String| MirrorError::BadUrl(base.to_owned(), m);
        let url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
        match url.scheme() {
            "http" | "https" => Ok(url),
            "file" => match (network_share(&url), allowable_share(&url), shares) {
                (None, _, _) | (Some(_), Some(_), Shares::Allowed) => Ok(url),
                (Some(_), Some(host), Shares::Refused) => Err(MirrorError::ShareNotAllowed {
                    url: base.to_owned(),
                    host,
                }),
                (Some(host), None, _) => Err(bad(format!(
                    "a device, or a network share (on {host:?}) written as a path, is never used as a mirror; copy the library to this computer, or serve it over https"
                ))),
            },
            other => Err(bad(format!("unsupported scheme {other:?}"))),
        }
    }

    /// Parses a base URL. A missing trailing slash is added so that relative
    /// paths resolve below it. A network share is refused (see
    /// [`parse_with`](Self::parse_with)).
    pub fn parse(base: &str) -> Result<Mirror, MirrorError> {
        Mirror::parse_with(base, Shares::Refused)
    }

    /// [`parse`](Self::parse); a network share the member allowed is a
    /// folder on Windows (`\\server\share\…`), and refused with the reason
    /// elsewhere (macOS and Linux open a share only where it is mounted).
    pub fn parse_with(base: &str, shares: Shares) -> Result<Mirror, MirrorError> {
        let mut url = Mirror::checked(base, shares)?;
        let bad = |m: &str| MirrorError::BadUrl(base.to_owned(), m.to_owned());
        match url.scheme() {
            "file" => url.to_file_path().map(Mirror::File).map_err(|()| {
                bad(if network_share(&url).is_some() {
                    "a network share is opened on Windows only: here, mount it and subscribe with its folder"
                } else {
                    "not a local path"
                })
            }),
            _ => {
                if !url.path().ends_with('/') {
                    let p = format!("{}/", url.path());
                    url.set_path(&p);
                }
                url.set_query(None);
                url.set_fragment(None);
                Ok(Mirror::Http(url, None, Reach::Any))
            }
        }
    }

    /// The same mirror, sending `token` with every request if the
    /// connection protects it: over HTTPS, or plain HTTP to this machine
    /// (loopback). A token is never sent in clear text across a network; such
    /// a mirror goes without it (and a private library will refuse it).
    pub fn with_token(self, token: Option<&AccessToken>) -> Mirror {
        match self {
            Mirror::Http(url, _, reach) => {
                let protected = url.scheme() == "https"
                    || match url.host() {
                        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                        Some(url::Host::Domain(d)) => d == "localhost",
                        None => false,
                    };
                let token = token.filter(|_| protected).cloned();
                Mirror::Http(url, token, reach)
            }
            file => file,
        }
    }

    /// The same mirror, its requests held to `reach`.
    pub fn with_reach(self, reach: Reach) -> Mirror {
        match self {
            Mirror::Http(url, token, _) => Mirror::Http(url, token, reach),
            file => file,
        }
    }

    /// Whether requests to this mirror carry an access token.
    pub fn has_token(&self) -> bool {
        matches!(self, Mirror::Http(_, Some(_), _))
    }

    /// The base URL as text, for logs and the store (never the token).
    pub fn to_url_string(&self) -> String {
        match self {
            Mirror::Http(u, _, _) => u.to_string(),
            Mirror::File(p) => Url::from_directory_path(p)
                .map(|u| u.to_string())
                .unwrap_or_else(|()| p.display().to_string()),
        }
    }
}

/// Checks a mirror-relative path: plain segments only.
fn check_relative(path: &str) -> Result<(), MirrorError> {
    // Also nothing Windows reads otherwise: a drive (`C:`), an alternate
    // data stream (`a:b`), a device name (`CON`, `nul.txt`; the same list
    // as the store's attachment names).
    let device = |s: &str| {
        let stem = s.split('.').next().unwrap_or("").to_ascii_uppercase();
        matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || ((stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.len() == 4
                && stem.as_bytes()[3].is_ascii_digit())
    };
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && !s.contains('\\')
                && !s.contains(':')
                && !device(s)
        });
    if ok {
        Ok(())
    } else {
        Err(MirrorError::BadUrl(
            path.to_owned(),
            "not a plain relative path".into(),
        ))
    }
}

/// Fetches from mirrors. Clone freely: clones share the connection pool.
#[derive(Clone, Debug)]
pub struct MirrorClient {
    http: reqwest::Client,
    /// The same, for [`Reach::Public`]: resolves names to public addresses
    /// only and refuses redirects elsewhere.
    http_public: reqwest::Client,
    /// Follows no redirect: for feeds, whose permanent moves are recorded.
    manual: reqwest::Client,
    manual_public: reqwest::Client,
    pins: crate::reach::Pins,
    config: ClientConfig,
}

impl MirrorClient {
    pub fn new(config: ClientConfig) -> Result<MirrorClient, MirrorError> {
        let pins: crate::reach::Pins = std::sync::Arc::new(
            config
                .pins
                .iter()
                .map(|(h, a)| (h.to_ascii_lowercase(), *a))
                .collect(),
        );
        let build = |follow: bool, reach: Reach| {
            let mut b = reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .read_timeout(config.idle_timeout)
                .user_agent(config.user_agent.clone());
            b =
                match reach {
                    // No proxy: it would resolve and connect where our resolver
                    // never looks (and a proxy on the LAN would be refused).
                    Reach::Public => b.no_proxy().dns_resolver(std::sync::Arc::new(
                        crate::reach::PublicResolver { pins: pins.clone() },
                    )),
                    Reach::Any => pins.iter().fold(b, |b, (h, a)| b.resolve(h, *a)),
                };
            let policy = if follow {
                // Up to 5 hops, never from https down to http: a private
                // library's token (which reqwest keeps on a same-host
                // redirect) must not travel in clear text, and nothing else
                // should either; and never off the public internet for a
                // public feed's hosts.
                reqwest::redirect::Policy::custom(move |attempt| {
                    let downgrade = attempt.url().scheme() == "http"
                        && attempt.previous().iter().any(|u| u.scheme() == "https");
                    if downgrade {
                        attempt.error("refusing a redirect from https to http")
                    } else if attempt.previous().len() > 5 {
                        attempt.error("too many redirects")
                    } else if let Err(e) = crate::reach::check(attempt.url(), reach) {
                        attempt.error(e.to_string())
                    } else {
                        attempt.follow()
                    }
                })
            } else {
                reqwest::redirect::Policy::none()
            };
            b.redirect(policy)
                .build()
                .map_err(|e| MirrorError::Transfer(e.to_string()))
        };
        Ok(MirrorClient {
            http: build(true, Reach::Any)?,
            http_public: build(true, Reach::Public)?,
            manual: build(false, Reach::Any)?,
            manual_public: build(false, Reach::Public)?,
            pins,
            config,
        })
    }

    /// Whether `url` is on this machine or the local network (literally, or
    /// by what its name resolves to): the hosts a feed there names may be
    /// too ([`Reach::Any`]); a feed elsewhere gets [`Reach::Public`].
    pub async fn is_local(&self, url: &Url) -> bool {
        crate::reach::is_local(url, &self.pins).await
    }

    /// Fetches a document (a podcast feed) from an absolute http(s) URL,
    /// whole and at most `max` bytes, conditionally with `validators`.
    /// Redirects are followed here, up to 5 and never from https to http, so
    /// that a chain of permanent ones (301, 308) can be reported as
    /// [`Document::moved_to`]: the subscription should use that address.
    /// Every hop is held to `reach`.
    pub async fn fetch_document(
        &self,
        url: &Url,
        validators: &Validators,
        max: u64,
        reach: Reach,
    ) -> Result<Document, MirrorError> {
        // A server dripping a feed byte by byte must not hold a sync for
        // long: the whole fetch has a deadline, not only each read.
        let deadline = DOCUMENT_DEADLINE;
        tokio::time::timeout(
            deadline,
            self.fetch_document_inner(url, validators, max, reach),
        )
        .await
        .unwrap_or(Err(MirrorError::Timeout(deadline)))
    }

    async fn fetch_document_inner(
        &self,
        url: &Url,
        validators: &Validators,
        max: u64,
        reach: Reach,
    ) -> Result<Document, MirrorError> {
        let client = match reach {
            Reach::Any => &self.manual,
            Reach::Public => &self.manual_public,
        };
        let mut current = url.clone();
        let mut permanent = true;
        let mut hops = 0;
        loop {
            if !matches!(current.scheme(), "http" | "https") {
                return Err(MirrorError::BadUrl(
                    current.to_string(),
                    "only http and https".into(),
                ));
            }
            crate::reach::check(&current, reach)?;
            let mut req = client.get(current.clone());
            if let Some(etag) = &validators.etag {
                req = req.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(IF_MODIFIED_SINCE, lm);
            }
            let idle = self.config.idle_timeout;
            let sent = Instant::now();
            let resp = match tokio::time::timeout(idle, req.send()).await {
                Err(_) => return Err(MirrorError::Timeout(idle)),
                Ok(Err(e)) => return Err(classify(e, idle)),
                Ok(Ok(r)) => r,
            };
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                    .ok_or_else(|| {
                        MirrorError::Transfer(format!("HTTP {status} without a usable Location"))
                    })?;
                if current.scheme() == "https" && next.scheme() == "http" {
                    return Err(MirrorError::Transfer(
                        "refusing a redirect from https to http".into(),
                    ));
                }
                hops += 1;
                if hops > 5 {
                    return Err(MirrorError::Transfer("too many redirects".into()));
                }
                permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                current = next;
                continue;
            }
            let moved_to = (hops > 0 && permanent).then(|| current.clone());
            let header = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (etag, last_modified, date) = (header(ETAG), header(LAST_MODIFIED), header(DATE));
            let body = match status {
                StatusCode::NOT_MODIFIED => None,
                StatusCode::OK => {
                    let mut stream = BodyStream {
                        remaining: resp.content_length(),
                        start: 0,
                        idle,
                        ttfb: Duration::ZERO,
                        validators: Validators::default(),
                        sent,
                        received: 0,
                        pace: Some(self.config.small_pace),
                        inner: Inner::Http(resp),
                    };
                    Some(stream.read_all(max).await?)
                }
                StatusCode::NOT_FOUND | StatusCode::GONE => {
                    return Err(MirrorError::Gone {
                        status: status.as_u16(),
                    })
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(MirrorError::Unauthorized {
                        status: status.as_u16(),
                        sent_token: false,
                    })
                }
                s => {
                    return Err(MirrorError::Status {
                        status: s.as_u16(),
                        retry_after: None,
                    })
                }
            };
            let validators = if body.is_none() {
                validators.clone()
            } else {
                if validators_usable(date.as_deref(), last_modified.as_deref()) {
                    Validators {
                        etag,
                        last_modified,
                    }
                } else {
                    Validators::default()
                }
            };
            return Ok(Document {
                status: status.as_u16(),
                url: current,
                moved_to,
                body,
                validators,
            });
        }
    }

    /// Opens the absolute `url` on `mirror` (it must lie below the mirror's
    /// base) for streaming from `offset` (up to `end`, when given: a
    /// segment; a server that ignores the range may send more, as for
    /// [`open_range`](Self::open_range)): a feed file, whose sources are
    /// whole URLs rather than paths below a library's mirror.
    pub async fn open_url(
        &self,
        mirror: &Mirror,
        url: &Url,
        offset: u64,
        end: Option<u64>,
    ) -> Result<BodyStream, MirrorError> {
        let Mirror::Http(base, token, reach) = mirror else {
            return Err(MirrorError::BadUrl(
                url.to_string(),
                "not an HTTP mirror".into(),
            ));
        };
        if url.origin() != base.origin() || !url.path().starts_with(base.path()) {
            return Err(MirrorError::BadUrl(
                url.to_string(),
                format!("not below {base}"),
            ));
        }
        match self
            .send(
                url.clone(),
                token.as_ref(),
                *reach,
                (offset, end),
                &Validators::default(),
            )
            .await?
        {
            Opened::Body(b) => Ok(b),
            Opened::NotModified => Err(MirrorError::Transfer("unexpected 304".into())),
        }
    }

    /// Fetches a small object (catalog, signature) whole, refusing more than `max` bytes.
    pub async fn fetch_small(
        &self,
        mirror: &Mirror,
        path: &str,
        max: u64,
    ) -> Result<Vec<u8>, MirrorError> {
        match self
            .fetch(mirror, path, max, &Validators::default())
            .await?
        {
            Fetched::Body { bytes, .. } => Ok(bytes),
            Fetched::NotModified => Err(MirrorError::Transfer("unexpected 304".into())),
        }
    }

    /// Fetches a small object whole, conditionally: with validators from an
    /// earlier response, an unchanged object costs one request and no body.
    pub async fn fetch(
        &self,
        mirror: &Mirror,
        path: &str,
        max: u64,
        validators: &Validators,
    ) -> Result<Fetched, MirrorError> {
        // However fast it trickles, a whole object has an end in sight.
        let deadline = DOCUMENT_DEADLINE;
        tokio::time::timeout(deadline, self.fetch_inner(mirror, path, max, validators))
            .await
            .unwrap_or(Err(MirrorError::Timeout(deadline)))
    }

    async fn fetch_inner(
        &self,
        mirror: &Mirror,
        path: &str,
        max: u64,
        validators: &Validators,
    ) -> Result<Fetched, MirrorError> {
        let mut body = match self.request(mirror, path, 0, validators).await? {
            Opened::NotModified => return Ok(Fetched::NotModified),
            Opened::Body(b) => b,
        };
        body.set_pace(Some(self.config.small_pace));
        let bytes = body.read_all(max).await?;
        Ok(Fetched::Body {
            bytes,
            validators: body.validators.clone(),
            ttfb: body.ttfb,
        })
    }

    /// Opens `path` below `mirror` for streaming, starting at byte `offset`
    /// (check [`BodyStream::start`]: a server may ignore the range).
    pub async fn open(
        &self,
        mirror: &Mirror,
        path: &str,
        offset: u64,
    ) -> Result<BodyStream, MirrorError> {
        match self
            .request(mirror, path, offset, &Validators::default())
            .await?
        {
            Opened::Body(b) => Ok(b),
            Opened::NotModified => Err(MirrorError::Transfer("unexpected 304".into())),
        }
    }

    /// Opens bytes `offset..end` of `path` below `mirror` (a segment of a
    /// file fetched from several mirrors at once). A file:// mirror, or a
    /// server that ignores the range, may send more: the caller stops
    /// reading at `end`, and checks [`BodyStream::start`].
    pub async fn open_range(
        &self,
        mirror: &Mirror,
        path: &str,
        offset: u64,
        end: u64,
    ) -> Result<BodyStream, MirrorError> {
        match self
            .request_range(mirror, path, (offset, Some(end)), &Validators::default())
            .await?
        {
            Opened::Body(b) => Ok(b),
            Opened::NotModified => Err(MirrorError::Transfer("unexpected 304".into())),
        }
    }

    /// The general request: a byte offset and optional validators.
    pub async fn request(
        &self,
        mirror: &Mirror,
        path: &str,
        offset: u64,
        validators: &Validators,
    ) -> Result<Opened, MirrorError> {
        self.request_range(mirror, path, (offset, None), validators)
            .await
    }

    /// A request for bytes `range.0..range.1` (to the end without one).
    async fn request_range(
        &self,
        mirror: &Mirror,
        path: &str,
        range: (u64, Option<u64>),
        validators: &Validators,
    ) -> Result<Opened, MirrorError> {
        let offset = range.0;
        check_relative(path)?;
        match mirror {
            Mirror::Http(base, token, reach) => {
                let url = base
                    .join(path)
                    .map_err(|e| MirrorError::BadUrl(path.to_owned(), e.to_string()))?;
                self.send(url, token.as_ref(), *reach, range, validators)
                    .await
            }
            Mirror::File(root) => open_file(root.join(path), offset).await.map(Opened::Body),
        }
    }

    async fn send(
        &self,
        url: Url,
        token: Option<&AccessToken>,
        reach: Reach,
        (offset, end): (u64, Option<u64>),
        validators: &Validators,
    ) -> Result<Opened, MirrorError> {
        crate::reach::check(&url, reach)?;
        let client = match reach {
            Reach::Any => &self.http,
            Reach::Public => &self.http_public,
        };
        let mut req = client.get(url);
        if let Some(t) = token {
            // reqwest drops it if a redirect leaves this host.
            req = req.bearer_auth(t.expose());
        }
        match end {
            Some(end) if end > offset => {
                req = req.header(RANGE, format!("bytes={offset}-{}", end - 1));
            }
            _ if offset > 0 => req = req.header(RANGE, format!("bytes={offset}-")),
            _ => {}
        }
        if let Some(etag) = &validators.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let idle = self.config.idle_timeout;
        let sent = Instant::now();
        let resp = match tokio::time::timeout(idle, req.send()).await {
            Err(_) => return Err(MirrorError::Timeout(idle)),
            Ok(Err(e)) => return Err(classify(e, idle)),
            Ok(Ok(r)) => r,
        };
        let ttfb = sent.elapsed();
        let status = resp.status();
        let start = match status {
            StatusCode::NOT_MODIFIED => return Ok(Opened::NotModified),
            StatusCode::OK => 0,
            StatusCode::PARTIAL_CONTENT => {
                let start = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range_start);
                match start {
                    Some(s) if s == offset => s,
                    _ => {
                        return Err(MirrorError::Transfer(
                            "206 with a wrong Content-Range".into(),
                        ))
                    }
                }
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => return Err(MirrorError::NotFound),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(MirrorError::Unauthorized {
                    status: status.as_u16(),
                    sent_token: token.is_some(),
                })
            }
            s => {
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                return Err(MirrorError::Status {
                    status: s.as_u16(),
                    retry_after,
                });
            }
        };
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let last_modified = header(LAST_MODIFIED);
        let validators = if validators_usable(header(DATE).as_deref(), last_modified.as_deref()) {
            Validators {
                etag: header(ETAG),
                last_modified,
            }
        } else {
            // Modified within the last moments: a validator derived from the
            // modification time (as nginx's ETag is) could match a later
            // change in the same second. Do not keep it.
            Validators::default()
        };
        Ok(Opened::Body(BodyStream {
            remaining: resp.content_length(),
            start,
            idle,
            ttfb,
            validators,
            sent,
            received: 0,
            pace: None,
            inner: Inner::Http(resp),
        }))
    }
}

/// HTTP validators of a response, sent back on the next request for a
/// conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Longest a whole object (a catalog, a feed) may take to fetch: a 32 MiB
/// feed at 300 kB/s; past it, the next mirror or the next sync.
const DOCUMENT_DEADLINE: Duration = Duration::from_secs(120);

/// A document fetched by [`MirrorClient::fetch_document`].
#[derive(Debug)]
pub struct Document {
    pub status: u16,
    /// Where it was finally served from.
    pub url: Url,
    /// Set when every redirect on the way was permanent (301, 308).
    pub moved_to: Option<Url>,
    /// `None`: 304, unchanged since the validators sent.
    pub body: Option<Vec<u8>>,
    /// For the next conditional request (the ones sent, after a 304).
    pub validators: Validators,
}

/// A small object fetched whole.
#[derive(Debug)]
pub enum Fetched {
    Body {
        bytes: Vec<u8>,
        validators: Validators,
        ttfb: Duration,
    },
    /// 304: unchanged since the validators sent.
    NotModified,
}

/// The start of a response.
#[allow(clippy::large_enum_variant)] // built once per request, never stored
pub enum Opened {
    Body(BodyStream),
    NotModified,
}

/// RFC 9110 §8.8.2.2: a Last-Modified within a second or so of the
/// response's Date is weak — the resource may change again within the same
/// second with the same validators. Only keep validators that are safely old.
fn validators_usable(date: Option<&str>, last_modified: Option<&str>) -> bool {
    let (Some(date), Some(lm)) = (date, last_modified) else {
        return true;
    };
    match (
        httpdate::parse_http_date(date),
        httpdate::parse_http_date(lm),
    ) {
        (Ok(d), Ok(m)) => d
            .duration_since(m)
            .is_ok_and(|age| age >= Duration::from_secs(2)),
        _ => false,
    }
}

fn parse_content_range_start(v: &str) -> Option<u64> {
    // "bytes START-END/TOTAL"
    let rest = v.trim().strip_prefix("bytes ")?;
    rest.split('-').next()?.trim().parse().ok()
}

/// A client error as a mirror error. Its text leaves the URL out (the
/// caller knows which mirror it asked; a private feed's address may carry
/// its credentials, and errors are logged and shown).
fn classify(e: reqwest::Error, idle: Duration) -> MirrorError {
    let e = e.without_url();
    if e.is_timeout() {
        MirrorError::Timeout(idle)
    } else if e.is_connect() {
        MirrorError::Connect(root_cause(&e))
    } else {
        MirrorError::Transfer(error_chain(&e))
    }
}

/// The innermost cause ("Connection refused (os error 111)").
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// reqwest's Display hides the cause ("error sending request"); show it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Opens a local file for reading only if it is a regular file, without
/// ever waiting on what it turns out to be: a FIFO (or a device) named like
/// a mirror's `library.json`, a `.stowaway` file or an OPML file would
/// block `open` until some writer came, for ever. It is opened non-blocking
/// and refused unless it is a regular file; reads of a regular file are
/// unaffected by the flag.
pub fn open_regular_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// Reads a small local file whole: a regular file only (see
/// [`open_regular_file`]), at most `max` bytes (more is an error), off the
/// async workers and within `deadline`.
pub async fn read_local_file(
    path: &std::path::Path,
    max: u64,
    deadline: Duration,
) -> std::io::Result<Vec<u8>> {
    let p = path.to_owned();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        open_regular_file(&p)?
            .take(max + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than {max} bytes"),
            ));
        }
        Ok(bytes)
    });
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("reading {} took longer than {deadline:?}", path.display()),
        )),
    }
}

async fn open_file(path: PathBuf, offset: u64) -> Result<BodyStream, MirrorError> {
    let opened = Instant::now();
    let std_file = match tokio::task::spawn_blocking(move || open_regular_file(&path)).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(MirrorError::NotFound)
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(MirrorError::NotFound)
        }
        Ok(Err(e)) => return Err(e.into()),
        Err(e) => return Err(MirrorError::Transfer(e.to_string())),
    };
    let mut file = tokio::fs::File::from_std(std_file);
    let meta = file.metadata().await?;
    let len = meta.len();
    if offset > 0 {
        use tokio::io::AsyncSeekExt;
        file.seek(std::io::SeekFrom::Start(offset.min(len))).await?;
    }
    Ok(BodyStream {
        remaining: Some(len.saturating_sub(offset)),
        start: offset.min(len),
        idle: Duration::from_secs(60),
        ttfb: opened.elapsed(),
        validators: Validators::default(),
        sent: opened,
        received: 0,
        pace: None,
        inner: Inner::File(file),
    })
}

enum Inner {
    Http(reqwest::Response),
    File(tokio::fs::File),
}

/// A response body being read, chunk by chunk, each chunk bounded by the idle timeout.
pub struct BodyStream {
    /// Bytes still to come, when the mirror announced it.
    pub remaining: Option<u64>,
    /// The offset of the first byte of this body in the whole file (0 when a
    /// server ignored the Range asked for).
    pub start: u64,
    /// Time from sending the request to its response headers.
    pub ttfb: Duration,
    pub validators: Validators,
    idle: Duration,
    /// When the request was sent, and the body bytes received since.
    sent: Instant,
    received: u64,
    pace: Option<Pace>,
    inner: Inner,
}

impl BodyStream {
    /// Holds this body to `pace` from now on (counted from its request).
    pub fn set_pace(&mut self, pace: Option<Pace>) {
        self.pace = pace;
    }

    /// The next chunk, `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, MirrorError> {
        let idle = self.idle;
        // The idle timeout, or sooner the moment the body falls below its pace.
        let (wait, paced) = match self
            .pace
            .map(|p| (p, p.allowance(self.received, self.sent.elapsed())))
        {
            Some((p, None)) => return Err(self.too_slow(p)),
            Some((p, Some(a))) if a < idle => (a, Some(p)),
            _ => (idle, None),
        };
        let chunk = match &mut self.inner {
            Inner::Http(resp) => match tokio::time::timeout(wait, resp.chunk()).await {
                Err(_) => {
                    return Err(match paced {
                        Some(p) => self.too_slow(p),
                        None => MirrorError::Stalled(idle),
                    })
                }
                Ok(Err(e)) if e.is_timeout() => return Err(MirrorError::Stalled(idle)),
                Ok(Err(e)) => return Err(MirrorError::Transfer(error_chain(&e.without_url()))),
                Ok(Ok(c)) => c,
            },
            Inner::File(f) => {
                let mut buf = vec![0u8; 256 * 1024];
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    None
                } else {
                    buf.truncate(n);
                    Some(Bytes::from(buf))
                }
            }
        };
        if let (Some(c), Some(rem)) = (&chunk, &mut self.remaining) {
            *rem = rem.saturating_sub(c.len() as u64);
        }
        if let Some(c) = &chunk {
            self.received += c.len() as u64;
        }
        Ok(chunk)
    }

    /// The whole body, at most `max` bytes (more is refused unread where
    /// the server announced it), and all of what it announced.
    pub async fn read_all(&mut self, max: u64) -> Result<Vec<u8>, MirrorError> {
        if self.remaining.is_some_and(|n| n > max) {
            return Err(MirrorError::TooLarge { limit: max });
        }
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() as u64 + chunk.len() as u64 > max {
                return Err(MirrorError::TooLarge { limit: max });
            }
            out.extend_from_slice(&chunk);
        }
        if self.remaining.is_some_and(|n| n > 0) {
            return Err(MirrorError::Transfer("body shorter than announced".into()));
        }
        Ok(out)
    }

    fn too_slow(&self, pace: Pace) -> MirrorError {
        MirrorError::TooSlow {
            received: self.received,
            elapsed: self.sent.elapsed(),
            floor_bps: pace.floor_bps,
        }
    }

    /// Reads and drops bytes until the body is at `offset` of the whole file
    /// (for a server that ignored the range and sent everything).
    pub async fn skip_to(&mut self, offset: u64) -> Result<Option<Bytes>, MirrorError> {
        while self.start < offset {
            let Some(chunk) = self.next_chunk().await? else {
                return Err(MirrorError::Transfer(
                    "body ended before the requested offset".into(),
                ));
            };
            let n = chunk.len() as u64;
            if self.start + n > offset {
                let keep = chunk.slice((offset - self.start) as usize..);
                self.start = offset;
                return Ok(Some(keep));
            }
            self.start += n;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mirror_urls() {
        assert_eq!(
            Mirror::parse("https://cdn.example/lib").unwrap(),
            Mirror::Http(
                Url::parse("https://cdn.example/lib/").unwrap(),
                None,
                Reach::Any
            )
        );
        assert_eq!(
            Mirror::parse("file:///media/usb/lib/").unwrap(),
            Mirror::File(PathBuf::from("/media/usb/lib/"))
        );
        assert!(Mirror::parse("ftp://x/").is_err());
        assert!(Mirror::parse("not a url").is_err());
    }

    /// A `file://` mirror that Windows would open as a network share (an SMB
    /// connection offering the member's credentials) or a device is refused
    /// on every platform unless allowed, with a reason; folders on this
    /// computer are not.
    #[test]
    fn network_shares_are_not_mirrors_unless_allowed() {
        for url in [
            "file://server/share/lib/",
            "file://127.0.0.1/c$/lib/",
            "file:///%5C%5Cserver%5Cshare%5Clib/",
            "file://./pipe/x/",
            "file://SERVER.example.org/lib/",
        ] {
            let e = Mirror::check(url).unwrap_err().to_string();
            assert!(e.contains("network share"), "{url}: {e}");
            assert!(Mirror::parse(url).is_err(), "{url}");
        }
        // A device, or a share written as a path, is refused even when
        // shares are allowed: the host shown would not be the one reached
        // (`\\.\UNC\evil\share`), or no share at all (a pipe).
        for url in [
            "file:///%5C%5Cserver%5Cshare%5Clib/",
            "file://./pipe/x/",
            "file://./UNC/evil/share/",
            "file://server/share%5C..%5Cother/",
            "file://server/",
        ] {
            assert_eq!(Mirror::share_host(url), None, "{url}");
            let e = Mirror::check_with(url, Shares::Allowed).unwrap_err();
            assert!(e.to_string().contains("never used"), "{url}: {e}");
        }
        // Extra slashes are no way round: the URL standard folds them, and
        // what is left is a local path (on Windows, one without a drive
        // letter, which is no path at all).
        for url in ["file:////server/share/lib/", "file://///server/share/lib/"] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(
                (parsed.host_str(), parsed.path()),
                (None, "/server/share/lib/")
            );
        }
        for url in [
            "file:///media/usb/lib/",
            "file://localhost/media/usb/lib/",
            "file://LOCALHOST/media/usb/lib/",
            "file:///C:/Users/me/lib/",
            "https://cdn.example/lib/",
        ] {
            assert!(Mirror::check(url).is_ok(), "{url}");
            assert_eq!(Mirror::share_host(url), None, "{url}");
        }
    }

    /// A share the member allowed passes the check; it is a folder only
    /// where the platform opens shares by path (Windows), and elsewhere is
    /// refused with what to do instead. Nothing else is let through.
    #[test]
    fn a_network_share_is_used_only_when_allowed() {
        let url = "file://fileserver/share/lib/";
        assert_eq!(Mirror::share_host(url).as_deref(), Some("fileserver"));
        assert!(matches!(
            Mirror::check(url),
            Err(MirrorError::ShareNotAllowed { ref host, .. }) if host == "fileserver"
        ));
        assert_eq!(
            Mirror::share_host("file://FileServer.Example.org/share/").as_deref(),
            Some("fileserver.example.org")
        );
        assert_eq!(
            Mirror::share_host("file://10.0.0.5/share/").as_deref(),
            Some("10.0.0.5")
        );
        Mirror::check_with(url, Shares::Allowed).unwrap();
        let parsed = Mirror::parse_with(url, Shares::Allowed);
        if cfg!(windows) {
            assert_eq!(
                parsed.unwrap(),
                Mirror::File(PathBuf::from(r"\\fileserver\share\lib\"))
            );
        } else {
            let e = parsed.unwrap_err().to_string();
            assert!(e.contains("opened on Windows only"), "{e}");
        }
        for bad in ["ftp://x/", "not a url"] {
            assert!(Mirror::check_with(bad, Shares::Allowed).is_err(), "{bad}");
        }
        assert_eq!(
            Mirror::parse_with("https://cdn.example/lib", Shares::Allowed).unwrap(),
            Mirror::parse("https://cdn.example/lib").unwrap()
        );
    }

    /// A server that answers with no HTTP at all: the error says what went
    /// wrong, not the address asked (whose query may be a private feed's
    /// credentials).
    #[tokio::test]
    async fn client_errors_do_not_repeat_the_address() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let _ = sock.write_all(b"NOT HTTP AT ALL\r\n\r\n").await;
            }
        });
        let client = MirrorClient::new(ClientConfig::default()).unwrap();
        let mirror = Mirror::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let e = client
            .fetch_small(&mirror, "feed.xml?token=s3cret", 1024)
            .await
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret") && !e.contains("feed.xml"), "{e}");
        assert!(!e.is_empty());
    }

    #[test]
    fn logged_urls_carry_no_credentials() {
        assert_eq!(
            redacted("https://me:s3cret@cdn.example/feed.xml?token=s3cret#x"),
            "https://cdn.example/feed.xml?hidden#x"
        );
        assert_eq!(
            redacted("https://cdn.example/lib/"),
            "https://cdn.example/lib/"
        );
        assert_eq!(redacted("s3cret garbage"), "(not a URL)");
    }

    #[test]
    fn tokens_go_only_where_the_connection_protects_them() {
        let t = AccessToken::new("  s3cret-token\n").unwrap();
        assert_eq!(t.expose(), "s3cret-token");
        assert!(!format!("{t:?}").contains("s3cret"));
        for (url, sent) in [
            ("https://cdn.example/lib/", true),
            ("http://127.0.0.1:8080/lib/", true),
            ("http://[::1]:8080/lib/", true),
            ("http://localhost:8080/lib/", true),
            ("http://cdn.example/lib/", false),
            ("http://192.168.1.5/lib/", false),
            ("file:///media/usb/lib/", false),
        ] {
            let m = Mirror::parse(url).unwrap().with_token(Some(&t));
            assert_eq!(m.has_token(), sent, "{url}");
            assert!(!format!("{m:?}").contains("s3cret"));
            assert!(!m.to_url_string().contains("s3cret"));
        }
        assert!(AccessToken::new("").is_err());
        assert!(AccessToken::new("two words").is_err());
        assert!(AccessToken::new("line\nbreak").is_err());
    }

    #[test]
    fn relative_paths_stay_below_the_mirror() {
        assert!(check_relative("blobs/sha256/ab/abcd").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "a\\..\\b",
            "./x",
            "C:/Windows/win.ini",
            "blobs/a:stream",
            "blobs/CON",
            "nul.txt",
            "x/com1.json",
            "LPT9",
        ] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
        for good in [
            "updates/0.2.0/Stowaway_0.2.0_x64-setup.exe",
            "console/connect",
            "com10",
        ] {
            assert!(check_relative(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn fresh_validators_are_not_kept() {
        let d = "Wed, 25 Nov 2026 09:00:10 GMT";
        assert!(validators_usable(
            Some(d),
            Some("Wed, 25 Nov 2026 09:00:00 GMT")
        ));
        assert!(!validators_usable(
            Some(d),
            Some("Wed, 25 Nov 2026 09:00:10 GMT")
        ));
        assert!(!validators_usable(
            Some(d),
            Some("Wed, 25 Nov 2026 09:00:09 GMT")
        ));
        assert!(!validators_usable(Some(d), Some("garbage")));
        assert!(validators_usable(
            None,
            Some("Wed, 25 Nov 2026 09:00:00 GMT")
        ));
        assert!(validators_usable(Some(d), None));
    }

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(parse_content_range_start("bytes */200"), None);
    }
}
