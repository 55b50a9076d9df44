//! The engine: one sync of one or all libraries.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use stowaway_catalog::{CatalogError, Sha256, Subscription};
use stowaway_mirrors::{
    AccessToken, ClientConfig, Mirror, MirrorClient, MirrorError, MirrorHealth, MirrorPool,
    PoolConfig, RateLimiter, Reach, Shares,
};
use stowaway_store::{ApplyOutcome, DownloadMode, Freed, ItemKey, Store, StoreError, WantedBlob};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::sources::catalog;
use crate::transfer::Downloads;
use crate::SyncEvent;

/// Longest a local file the member named (a `.stowaway` or OPML file) may
/// take to read: a stalled network share must not hang the CLI or the app.
pub(crate) const LOCAL_READ_DEADLINE: Duration = Duration::from_secs(10);

/// Errors that end a sync (or a subscription) as a whole. Per-mirror and
/// per-file failures are reported in [`SyncReport`] instead.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error("cancelled")]
    Cancelled,
    #[error("another sync is already running on this cache")]
    Busy,
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("downloads are paused: resume them to fetch {0}")]
    Paused(String),
    #[error("could not download {label}: {error}")]
    Download { label: String, error: String },
    #[error(transparent)]
    Feed(#[from] stowaway_feeds::FeedError),
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Store(e) => e.code(),
            SyncError::Catalog(e) => e.code(),
            SyncError::Mirror(e) => e.code(),
            SyncError::Cancelled => "cancelled",
            SyncError::Busy => "busy",
            SyncError::Read { .. } => "io",
            SyncError::Internal(_) => "internal",
            SyncError::Paused(_) => "paused",
            SyncError::Download { .. } => "download_failed",
            SyncError::Feed(e) => e.code(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Only this library (default: all subscribed).
    pub library: Option<String>,
    /// Downloads in flight at once.
    pub concurrency: usize,
    /// Skip downloads: refresh catalogs only.
    pub catalog_only: bool,
    /// Requests in flight to any one mirror.
    pub per_mirror_connections: usize,
    /// Overall bandwidth cap in bytes per second.
    pub bandwidth_limit: Option<u64>,
    /// Rounds over all mirrors (with back-off between) before a file fails.
    pub max_rounds: u32,
    /// A stream this many times slower than another mirror's known rate moves there.
    pub slow_ratio: f64,
    /// A stream that delivers nothing for this long moves to another mirror.
    pub stall_timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            library: None,
            concurrency: 4,
            catalog_only: false,
            per_mirror_connections: 4,
            bandwidth_limit: None,
            max_rounds: 3,
            slow_ratio: 5.0,
            stall_timeout: Duration::from_secs(4),
        }
    }
}

/// Catalog and feed refreshes in flight at once, in one sync.
const REFRESH_CONCURRENCY: usize = 16;
/// Of those, against any one server (scheme, host and port, as browsers
/// count connections per origin).
const REFRESH_PER_HOST: usize = 6;

/// A library after its refresh, before its downloads.
struct Refreshed {
    report: LibraryReport,
    reach: Reach,
    started: Instant,
}

/// A semaphore per host, made as hosts are met.
struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl HostLimits {
    fn new(per_host: usize) -> HostLimits {
        HostLimits {
            per_host,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    async fn acquire(&self, host: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let sem = self
            .hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_host)))
            .clone();
        sem.acquire_owned().await.ok()
    }
}

/// What [`Engine::subscribe`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribed {
    /// The library was not subscribed before.
    pub new: bool,
    /// It is private (its mirrors want the member's access token).
    pub private: bool,
    /// Its access token was dropped: the update changed a private library's
    /// mirrors. The shell forgets the stored copy too, and the member gives
    /// the token again (which confirms the new mirrors for it).
    pub token_dropped: bool,
    /// The file said the library is public; it stays private (an update
    /// never lowers a library's access level).
    pub access_kept: bool,
    pub mirrors_added: Vec<String>,
    pub mirrors_removed: Vec<String>,
}

/// What one sync did, per library.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    pub libraries: Vec<LibraryReport>,
}

impl SyncReport {
    /// True when every library got a catalog and every wanted file.
    pub fn ok(&self) -> bool {
        self.libraries.iter().all(|l| l.ok())
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LibraryReport {
    pub library: String,
    pub catalog: Option<ApplyOutcome>,
    pub catalog_mirror: Option<String>,
    /// Why no catalog could be fetched (cached content stays usable).
    pub catalog_error: Option<String>,
    /// The applied catalog is past its expiry.
    pub expired: bool,
    pub files_downloaded: usize,
    /// Size of the files this sync completed (a resumed file counts whole;
    /// `bytes_received` is what came over the network).
    pub bytes_downloaded: u64,
    /// Bytes received from mirrors, including any that failed verification.
    pub bytes_received: u64,
    /// Files continued from a partial download of an earlier sync.
    pub files_resumed: usize,
    /// (label, error) for every file no mirror could deliver.
    pub failed: Vec<(String, String)>,
    /// Mirrors refused the catalog for want of a valid access token: ask
    /// the member for one.
    pub needs_token: bool,
    /// Mirrors that serve an older catalog than another mirror (or the
    /// cache) has: lagging, or holding members back.
    pub stale_mirrors: Vec<String>,
    /// What the member should know though nothing failed: a feed that moved
    /// but whose new address does not work, episodes skipped, wrong lengths…
    pub warnings: Vec<String>,
    /// Downloads were paused: nothing was downloaded.
    pub paused: bool,
    /// Files stopped because the member paused, removed or cancelled them.
    pub cancelled: usize,
    /// Wanted files left for later: they do not fit the storage budget.
    pub deferred_files: usize,
    pub deferred_bytes: u64,
    /// Bytes freed: played items evicted for the budget, and files no
    /// catalog references any more.
    pub evicted_bytes: u64,
    pub garbage_bytes: u64,
    pub elapsed_ms: u64,
}

impl LibraryReport {
    pub fn ok(&self) -> bool {
        self.catalog_error.is_none() && self.failed.is_empty()
    }
}

/// The sync engine. Cheap to clone; clones share the store, the HTTP
/// connection pool and the event channel.
#[derive(Clone)]
pub struct Engine {
    store: Arc<Store>,
    client: MirrorClient,
    events: broadcast::Sender<SyncEvent>,
    inflight: Arc<Inflight>,
    /// Access tokens of private libraries, by library id. Held in memory
    /// only: the app and the CLI load them from the OS keyring.
    tokens: Arc<RwLock<HashMap<String, AccessToken>>>,
}

/// Downloads running now, each with its own token, so a member's pause,
/// removal or rule change stops exactly the files it concerns.
#[derive(Default)]
struct Inflight {
    tokens: Mutex<HashMap<Sha256, CancellationToken>>,
    /// Bumped on every change of what is wanted; a download loop re-reads
    /// the wanted set when it sees a new value.
    generation: AtomicU64,
}

impl Engine {
    pub fn new(store: Arc<Store>, config: ClientConfig) -> Result<Engine, SyncError> {
        let (events, _) = broadcast::channel(4096);
        Ok(Engine {
            store,
            client: MirrorClient::new(config)?,
            events,
            inflight: Arc::default(),
            tokens: Arc::default(),
        })
    }

    /// Sets (or forgets) the access token sent to `library`'s mirrors, and
    /// only to them (see [`Mirror::with_token`] for which connections).
    pub fn set_access_token(&self, library: &str, token: Option<AccessToken>) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        match token {
            Some(t) => tokens.insert(library.to_owned(), t),
            None => tokens.remove(library),
        };
    }

    pub fn has_access_token(&self, library: &str) -> bool {
        self.tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(library)
    }

    /// Pauses (or resumes) downloads: the setting persists, and downloads in
    /// flight stop at once, keeping their partial files for later. The next
    /// sync after resuming continues them where they stopped.
    pub fn set_downloads_paused(&self, paused: bool) -> Result<(), SyncError> {
        self.store.set_downloads_paused(paused)?;
        self.reconcile()?;
        Ok(())
    }

    /// The member asks for an item, or for a whole collection (`item` None).
    pub fn want_download(
        &self,
        library: &str,
        collection: &str,
        item: Option<&str>,
    ) -> Result<usize, SyncError> {
        let n = self.store.want_download(library, collection, item)?;
        self.reconcile()?;
        Ok(n)
    }

    /// Removes an item's download (stopping it if it is in flight) and
    /// deletes the files only it used.
    pub fn remove_download(&self, key: ItemKey<'_>) -> Result<Freed, SyncError> {
        let freed = self.store.remove_download(key)?;
        self.reconcile()?;
        Ok(freed)
    }

    /// Sets a collection's download rule; queued downloads the new rule no
    /// longer wants stop.
    pub fn set_download_mode(
        &self,
        library: &str,
        collection: &str,
        mode: DownloadMode,
    ) -> Result<(), SyncError> {
        self.store.set_download_mode(library, collection, mode)?;
        self.reconcile()?;
        Ok(())
    }

    /// After a change of what is wanted: stops every download in flight
    /// that is no longer wanted (all of them when paused).
    fn reconcile(&self) -> Result<(), SyncError> {
        self.inflight.generation.fetch_add(1, Ordering::SeqCst);
        let keep: HashSet<Sha256> = if self.store.downloads_paused()? {
            HashSet::new()
        } else {
            self.store
                .wanted_blobs(None)?
                .into_iter()
                .map(|w| w.sha256)
                .collect()
        };
        let tokens = self
            .inflight
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (sha, token) in tokens.iter() {
            if !keep.contains(sha) {
                token.cancel();
            }
        }
        Ok(())
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn client(&self) -> &MirrorClient {
        &self.client
    }

    /// Progress events of every sync run by this engine from now on.
    pub fn events(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, e: SyncEvent) {
        let _ = self.events.send(e);
    }

    /// Reads a subscription from a file path, or from an http(s) / file URL
    /// (fetched with the same bounded client as the mirrors, 64 KiB at most).
    pub async fn read_subscription(&self, source: &str) -> Result<Subscription, SyncError> {
        let bytes = if source.contains("://") {
            let (base, name) = source
                .rsplit_once('/')
                .filter(|(_, n)| !n.is_empty())
                .ok_or_else(|| {
                    MirrorError::BadUrl(source.to_owned(), "the URL must name a file".into())
                })?;
            let mirror = Mirror::parse(&format!("{base}/")).map_err(|e| match e {
                MirrorError::ShareNotAllowed { url, host } => MirrorError::BadUrl(
                    url,
                    format!("a subscription is not read from a network share (on {host:?}): copy the file to this computer"),
                ),
                e => e,
            })?;
            self.client.fetch_small(&mirror, name, 64 * 1024).await?
        } else {
            // A regular file, read no further than the format allows (not a
            // device or a pipe someone named x.stowaway, which would never end).
            stowaway_mirrors::read_local_file(
                std::path::Path::new(source),
                64 * 1024,
                LOCAL_READ_DEADLINE,
            )
            .await
            .map_err(|e| SyncError::Read {
                path: source.to_owned(),
                source: e,
            })?
        };
        Ok(Subscription::parse(&bytes)?)
    }

    /// Subscribes to a library: records the subscription. The first sync
    /// fetches and verifies its catalog.
    ///
    /// Anyone can write a subscription naming a library and its public key,
    /// so an update of a private library is held to what the member
    /// confirmed: it cannot make the library public (the access level only
    /// ever rises), and any change of its mirrors drops its access token here
    /// (the shell forgets the keyring's copy when `token_dropped` says so).
    /// Mirrors it adds are not confirmed for the token: even a token from
    /// `STOWAWAY_TOKEN_<LIB>` goes to them only after the member gives or
    /// confirms the token again ([`Engine::confirm_token_mirrors`]).
    ///
    /// A network share among its mirrors is recorded but never used (see
    /// [`subscribe_allowing`](Self::subscribe_allowing)); a subscription
    /// whose every mirror is one is refused.
    pub fn subscribe(&self, sub: &Subscription) -> Result<Subscribed, SyncError> {
        self.subscribe_allowing(sub, &[])
    }

    /// [`subscribe`](Self::subscribe), the member having allowed `shares`
    /// (`file://` network shares among its mirrors, shown to them as such)
    /// to be used: on Windows, connecting to one offers its host the
    /// member's credentials, so nothing but the member's own choice lets
    /// one in. Allowed once, a share stays allowed while the library lists
    /// it.
    pub fn subscribe_allowing(
        &self,
        sub: &Subscription,
        shares: &[String],
    ) -> Result<Subscribed, SyncError> {
        sub.validate()?;
        let shares: Vec<String> = shares
            .iter()
            .filter(|m| Mirror::share_host(m).is_some())
            .cloned()
            .collect();
        let shares = &shares[..];
        // A folder another platform's way is kept (and skipped here, where
        // it cannot be opened).
        for m in &sub.mirrors {
            Mirror::check_with(m, Shares::Allowed)?;
        }
        let unused: Vec<String> = self
            .shares_not_allowed(sub)?
            .into_iter()
            .filter(|m| !shares.contains(m))
            .collect();
        if !unused.is_empty() && unused.len() == sub.mirrors.len() {
            let host = Mirror::share_host(&unused[0]).unwrap_or_default();
            return Err(MirrorError::BadUrl(
                unused[0].clone(),
                format!(
                    "every mirror of this subscription is a network share (on {host:?}), and a network share is used only if you allow it (on Windows, connecting to one offers that computer your sign-in): allow it only if you trust that computer; or copy the library to this computer, or serve it over https"
                ),
            )
            .into());
        }
        for m in &unused {
            warn!(library = %sub.library, mirror = %stowaway_mirrors::redacted(m), "a network share the member did not allow: not used");
        }
        let o = self.store.subscribe_allowing(sub, shares)?;
        let changed = !o.mirrors_added.is_empty() || !o.mirrors_removed.is_empty();
        let token_dropped = !o.new && o.private && changed;
        if token_dropped {
            warn!(library = %sub.library, added = ?o.mirrors_added, removed = ?o.mirrors_removed,
                "the mirrors of a private library changed: its access token must be given again");
            self.set_access_token(&sub.library, None);
        }
        if o.access_kept {
            warn!(library = %sub.library, "a subscription update said the private library is public; it stays private");
        }
        Ok(Subscribed {
            new: o.new,
            private: o.private,
            token_dropped,
            access_kept: o.access_kept,
            mirrors_added: o.mirrors_added,
            mirrors_removed: o.mirrors_removed,
        })
    }

    /// The network shares among `sub`'s mirrors that the member has not
    /// allowed (for this library): what to ask them about before
    /// [`subscribe_allowing`](Self::subscribe_allowing).
    pub fn shares_not_allowed(&self, sub: &Subscription) -> Result<Vec<String>, SyncError> {
        let allowed: Vec<String> = self
            .store
            .mirror_records(&sub.library)?
            .into_iter()
            .filter(|r| r.share_ok)
            .map(|r| r.url)
            .collect();
        Ok(sub
            .mirrors
            .iter()
            .filter(|m| Mirror::share_host(m).is_some() && !allowed.contains(m))
            .cloned()
            .collect())
    }

    /// Removes a library and everything of it (see [`Store::unsubscribe`]);
    /// its downloads in flight stop, and its token is dropped here (the shell
    /// forgets the keyring's copy).
    pub fn unsubscribe(&self, library: &str) -> Result<stowaway_store::Unsubscribed, SyncError> {
        let gone = self.store.unsubscribe(library)?;
        self.set_access_token(library, None);
        self.reconcile()?;
        info!(
            library,
            items = gone.items,
            blobs = gone.blobs,
            bytes = gone.bytes,
            "unsubscribed"
        );
        Ok(gone)
    }

    /// The member gave (or confirmed) `library`'s access token after being
    /// shown `shown`, its mirrors: it goes to those from now on.
    pub fn confirm_token_mirrors(&self, library: &str, shown: &[String]) -> Result<(), SyncError> {
        Ok(self.store.confirm_token_mirrors(library, shown)?)
    }

    /// Syncs every subscribed library (or the one in `opts`).
    pub async fn sync(
        &self,
        opts: &SyncOptions,
        cancel: &CancellationToken,
    ) -> Result<SyncReport, SyncError> {
        let _lock = self.lock()?;
        let libraries = match &opts.library {
            Some(id) => vec![self.store.library(id)?],
            None => self.store.libraries()?,
        };
        // Every library's catalog or feed at once: a member's 100 shows
        // wait for the slowest host, not for the sum of them. Bounded
        // overall and per host, so one host serving many feeds is not
        // hammered. Reports keep the libraries' order.
        let hosts = HostLimits::new(REFRESH_PER_HOST);
        let hosts = &hosts;
        let refreshed: Vec<Result<Refreshed, SyncError>> = stream::iter(libraries)
            .map(|lib| async move {
                if cancel.is_cancelled() {
                    return Err(SyncError::Cancelled);
                }
                let _permit = hosts.acquire(&self.library_host(&lib.id)?).await;
                self.refresh_library(&lib.id, &lib.public_key, opts).await
            })
            .buffered(REFRESH_CONCURRENCY)
            .collect()
            .await;
        // Then each library's downloads, one library after another (the
        // downloads of one share the connection limits and the budget).
        let mut report = SyncReport::default();
        for r in refreshed {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let r = self.finish_library(r?, opts, cancel).await?;
            report.libraries.push(r);
        }
        Ok(report)
    }

    /// The server a library's refresh is counted against: its feed's, or
    /// its first mirror's (a signed catalog's probe asks all of them at once).
    fn library_host(&self, library: &str) -> Result<String, SyncError> {
        let url = match self.store.feed(library)? {
            Some(row) => row.url,
            None => self
                .store
                .mirror_records(library)?
                .into_iter()
                .next()
                .map(|r| r.url)
                .unwrap_or_default(),
        };
        // A file:// mirror has no origin to share: it counts on its own.
        Ok(url::Url::parse(&url)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map_or(url, |o| o.ascii_serialization()))
    }

    /// One sync at a time per cache (see [`Store::lock_sync`]).
    fn lock(&self) -> Result<std::fs::File, SyncError> {
        Store::lock_sync(self.store.data_dir()).map_err(|e| match e {
            StoreError::Busy => SyncError::Busy,
            e => e.into(),
        })
    }

    /// The library's mirror pool, with the health the store remembers; its
    /// requests held to `reach` (a public feed's hosts: public addresses).
    pub(crate) fn pool(
        &self,
        library: &str,
        opts: &SyncOptions,
        reach: Reach,
    ) -> Result<MirrorPool, SyncError> {
        let records = self.store.mirror_records(library)?;
        // A feed library's hosts are anybody's: no token ever goes to them.
        let token = if self.store.feed(library)?.is_some() {
            None
        } else {
            self.tokens
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(library)
                .cloned()
        };
        let mut mirrors = Vec::new();
        for r in records {
            // Only to mirrors confirmed for it (see `subscribe`).
            let token = token.as_ref().filter(|_| r.token_ok);
            match Engine::mirror_of(&r).map(|m| m.with_token(token).with_reach(reach)) {
                Ok(m) => {
                    let health = MirrorHealth::from_stored(r.health.as_deref());
                    mirrors.push((m, health));
                }
                Err(MirrorError::ShareNotAllowed { .. }) => {}
                Err(e) => {
                    warn!(library, url = %stowaway_mirrors::redacted(&r.url), error = %e, "skipping unusable mirror")
                }
            }
        }
        let config = PoolConfig {
            per_mirror_connections: opts.per_mirror_connections.max(1),
            ..PoolConfig::default()
        };
        Ok(MirrorPool::new(self.client.clone(), mirrors, config))
    }

    /// The mirror a stored record names, as every sync uses it: a network
    /// share only if the member allowed it (else
    /// [`MirrorError::ShareNotAllowed`]), and an error saying why for one
    /// this computer cannot open.
    pub fn mirror_of(r: &stowaway_store::MirrorRecord) -> Result<Mirror, MirrorError> {
        let shares = if r.share_ok {
            Shares::Allowed
        } else {
            Shares::Refused
        };
        Mirror::parse_with(&r.url, shares)
    }

    /// Where a feed's hosts may be: anywhere for a feed the member
    /// subscribed to on their own network, public addresses otherwise.
    /// Decided once (for a feed from before this was recorded: now, from
    /// the address the member subscribed to) and never changed.
    pub(crate) async fn feed_reach(
        &self,
        row: &stowaway_store::FeedRow,
    ) -> Result<Reach, SyncError> {
        let local = match row.local {
            Some(l) => l,
            None => {
                let l = match url::Url::parse(&row.subscribed_url) {
                    Ok(u) => self.client.is_local(&u).await,
                    Err(_) => false,
                };
                self.store.set_feed_local(&row.library_id, l)?;
                l
            }
        };
        Ok(if local { Reach::Any } else { Reach::Public })
    }

    pub(crate) fn save_health(&self, library: &str, pool: &MirrorPool) {
        let records: Vec<(String, String)> = pool
            .snapshot()
            .into_iter()
            .filter_map(|(url, h)| serde_json::to_string(&h).ok().map(|j| (url, j)))
            .collect();
        if let Err(e) = self.store.save_mirror_health(library, &records) {
            warn!(library, error = %e, "could not save mirror health");
        }
    }

    /// A library's first phase: its catalog or feed, fetched and applied;
    /// unreferenced files collected.
    async fn refresh_library(
        &self,
        library: &str,
        public_key: &str,
        opts: &SyncOptions,
    ) -> Result<Refreshed, SyncError> {
        let started = Instant::now();
        self.emit(SyncEvent::LibraryStarted {
            library: library.to_owned(),
        });
        let mut report = LibraryReport {
            library: library.to_owned(),
            ..LibraryReport::default()
        };
        let unauthorized = std::sync::atomic::AtomicBool::new(false);
        // A feed library's pool is its files' hosts, known after the fetch.
        // A feed on the internet may not send us to this machine or the
        // local network (see stowaway_mirrors::reach).
        let feed = self.store.feed(library)?;
        let reach = match &feed {
            Some(row) => self.feed_reach(row).await?,
            None => Reach::Any,
        };
        let refreshed = match &feed {
            Some(row) => {
                let pool = self.pool(library, opts, reach)?;
                let r = self
                    .refresh_feed(library, row, &pool, reach, &mut report.warnings)
                    .await;
                self.save_health(library, &pool);
                r
            }
            None => {
                let pool = self.pool(library, opts, reach)?;
                let r = self
                    .refresh_catalog(library, public_key, &pool, &unauthorized, &mut report)
                    .await;
                self.save_health(library, &pool);
                r
            }
        };
        match refreshed {
            Ok((outcome, mirror, expired)) => {
                if !outcome.unchanged {
                    match self.store.collect_garbage() {
                        Ok(f) if f.blobs > 0 => {
                            info!(
                                library,
                                blobs = f.blobs,
                                bytes = f.bytes,
                                "removed files no catalog references"
                            );
                            report.garbage_bytes = f.bytes;
                            self.emit(SyncEvent::StorageFreed {
                                library: library.to_owned(),
                                reason: "unreferenced".into(),
                                items: 0,
                                bytes: f.bytes,
                            });
                        }
                        Ok(_) => {}
                        Err(e) => {
                            warn!(library, error = %e, "could not collect unreferenced files")
                        }
                    }
                }
                report.catalog = Some(outcome);
                report.catalog_mirror = Some(mirror);
                report.expired = expired;
            }
            Err(e) => {
                warn!(library, error = %e, "no valid catalog from any mirror");
                report.needs_token = unauthorized.load(Ordering::Relaxed);
                report.catalog_error = Some(e);
            }
        }
        Ok(Refreshed {
            report,
            reach,
            started,
        })
    }

    /// A library's second phase: its downloads (unless catalog-only), the
    /// sync recorded, the report finished.
    async fn finish_library(
        &self,
        refreshed: Refreshed,
        opts: &SyncOptions,
        cancel: &CancellationToken,
    ) -> Result<LibraryReport, SyncError> {
        let Refreshed {
            mut report,
            reach,
            started,
        } = refreshed;
        let library = report.library.clone();
        let library = library.as_str();
        let pool = self.pool(library, opts, reach)?;
        if !opts.catalog_only {
            let r = self
                .download_all(library, &pool, opts, cancel, &mut report)
                .await;
            self.save_health(library, &pool);
            r?;
            if let Err(e) = self.store.prune_partials() {
                warn!(error = %e, "could not prune partial downloads");
            }
            self.index_stored_files().await;
        }
        let error = report.catalog_error.clone().or_else(|| {
            (!report.failed.is_empty())
                .then(|| format!("{} file(s) could not be downloaded", report.failed.len()))
        });
        self.store
            .record_sync(library, report.catalog_mirror.as_deref(), error.as_deref())?;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        self.emit(SyncEvent::LibraryFinished {
            library: library.to_owned(),
            ok: report.ok(),
        });
        Ok(report)
    }

    /// The catalog phase: the newest catalog any mirror serves (see
    /// `catalog.rs`); applies it if it is new.
    async fn refresh_catalog(
        &self,
        library: &str,
        public_key: &str,
        pool: &MirrorPool,
        unauthorized: &std::sync::atomic::AtomicBool,
        report: &mut LibraryReport,
    ) -> Result<(ApplyOutcome, String, bool), String> {
        let key = stowaway_catalog::PublicKey::parse(public_key).map_err(|e| e.to_string())?;
        let on_failure = |mirror: &str, error: &str, code: &str| {
            if code == "unauthorized" {
                unauthorized.store(true, Ordering::Relaxed);
            }
            self.emit(SyncEvent::CatalogMirrorFailed {
                library: library.to_owned(),
                mirror: mirror.to_owned(),
                error: error.to_owned(),
                code: code.to_owned(),
            })
        };
        let checked = catalog::Check {
            pool,
            store: &self.store,
            library,
            key: &key,
            on_failure: &on_failure,
        }
        .run()
        .await?;
        for &(id, serves) in &checked.stale {
            let mirror = pool.url(id).to_owned();
            warn!(library, %mirror, serves, newest = checked.newest, "mirror serves an older catalog than another");
            self.emit(SyncEvent::MirrorStale {
                library: library.to_owned(),
                mirror: mirror.clone(),
                serves,
                newest: checked.newest,
            });
            report.stale_mirrors.push(mirror);
        }
        let url = pool.url(checked.mirror).to_owned();
        let (outcome, expired) = match checked.new {
            None => {
                let applied = self
                    .store
                    .applied_catalog(library)
                    .map_err(|e| e.to_string())?
                    .ok_or("unchanged, but nothing applied")?;
                let seq = applied.sequence;
                let expired = applied.is_expired(time::OffsetDateTime::now_utc().unix_timestamp());
                let outcome = ApplyOutcome {
                    library: library.to_owned(),
                    previous_sequence: Some(seq),
                    sequence: seq,
                    unchanged: true,
                    diff: Default::default(),
                };
                (outcome, expired)
            }
            Some(verified) => {
                let expired = verified.head().is_expired(time::OffsetDateTime::now_utc());
                if expired {
                    warn!(library, expires_at = %verified.head().expires_at, "catalog has expired; applying it, cached content stays playable");
                }
                let store = self.store.clone();
                let lib = library.to_owned();
                let outcome =
                    tokio::task::spawn_blocking(move || store.apply_catalog(&lib, &verified))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                (outcome, expired)
            }
        };
        info!(library, mirror = %url, sequence = outcome.sequence, unchanged = outcome.unchanged, "catalog applied");
        self.emit(SyncEvent::CatalogApplied {
            library: library.to_owned(),
            mirror: url.clone(),
            sequence: outcome.sequence,
            unchanged: outcome.unchanged,
            added: outcome.diff.added.len(),
            changed: outcome.diff.changed.len(),
            removed: outcome.diff.removed.len(),
            expired,
        });
        Ok((outcome, url, expired))
    }

    async fn download_all(
        &self,
        library: &str,
        pool: &MirrorPool,
        opts: &SyncOptions,
        cancel: &CancellationToken,
        report: &mut LibraryReport,
    ) -> Result<(), SyncError> {
        let mut wanted = Vec::new();
        for w in self.store.wanted_blobs(Some(library))? {
            // A verified file the index missed (crash between rename and
            // commit) is adopted after re-hashing, not downloaded again.
            if self.store.blobs().path(&w.sha256).exists()
                && self.store.adopt_blob(&w.sha256, w.size)?
            {
                // What is read from it may have been forgotten with an
                // earlier record of it (see `Store::keep_chunk_checked`).
                self.index_transcript(&w.sha256).await;
                self.index_media(&w.sha256).await;
                continue;
            }
            wanted.push(w);
        }
        if self.store.downloads_paused()? {
            report.paused = true;
            self.emit(SyncEvent::DownloadsPaused {
                library: library.to_owned(),
            });
            return Ok(());
        }
        let (wanted, spare) = self.fit_budget(library, wanted, report)?;
        let budget = spare.map(crate::transfer::Budget::new);
        report.files_resumed = wanted
            .iter()
            .filter(|w| {
                std::fs::metadata(self.store.blobs().partial_path(&w.sha256))
                    .is_ok_and(|m| m.len() > 0)
            })
            .count();
        let files_total = wanted.len();
        let bytes_total: u64 = wanted.iter().map(|w| w.size).sum();
        self.emit(SyncEvent::DownloadsPlanned {
            library: library.to_owned(),
            files: files_total,
            bytes: bytes_total,
        });
        if wanted.is_empty() {
            return Ok(());
        }
        let limiter = opts.bandwidth_limit.map(RateLimiter::new);
        let notes = Mutex::new(Vec::new());
        let done = AtomicU64::new(0);
        let received = AtomicU64::new(0);
        let files_done = AtomicUsize::new(0);
        let downloads = Downloads {
            engine: self,
            pool,
            limiter: limiter.as_ref(),
            cancel,
            done: &done,
            received: &received,
            max_rounds: opts.max_rounds.max(1),
            slow_ratio: opts.slow_ratio.max(1.0),
            stall_timeout: opts.stall_timeout,
            notes: &notes,
            budget: budget.as_ref(),
        };
        let still_wanted = StillWanted::new(self, library);
        let work = stream::iter(wanted)
            .map(|w| {
                let downloads = &downloads;
                let files_done = &files_done;
                let still_wanted = &still_wanted;
                async move {
                    // Tracked before the check: a change in between still
                    // reaches this download's token. One the player started
                    // meanwhile (see `play_now`) is left to it.
                    let Some(token) = self.track(&w.sha256, cancel) else {
                        files_done.fetch_add(1, Ordering::Relaxed);
                        return (w, Outcome::Elsewhere);
                    };
                    // Or stored by it since this sync planned.
                    if self.store.has_blob(&w.sha256).unwrap_or(false) {
                        self.untrack(&w.sha256);
                        files_done.fetch_add(1, Ordering::Relaxed);
                        return (w, Outcome::Elsewhere);
                    }
                    let r = match still_wanted.check(&w.sha256) {
                        Ok(true) => {
                            let r = Downloads {
                                cancel: &token,
                                ..*downloads
                            }
                            .blob(&w)
                            .await;
                            let over = downloads.budget.is_some_and(|b| {
                                b.stopped
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .contains(&w.sha256)
                            });
                            match r {
                                Err(_) if over => Outcome::Deferred,
                                Err(_) if token.is_cancelled() && !cancel.is_cancelled() => {
                                    Outcome::Cancelled
                                }
                                Err(e) => Outcome::Failed(e),
                                Ok(size) => Outcome::Done(size),
                            }
                        }
                        Ok(false) => Outcome::Cancelled,
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    self.untrack(&w.sha256);
                    files_done.fetch_add(1, Ordering::Relaxed);
                    (w, r)
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect::<Vec<(WantedBlob, Outcome)>>();
        let ticker = async {
            let mut last = (Instant::now(), 0u64);
            let mut rate = 0f64;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let d = done.load(Ordering::Relaxed);
                let dt = last.0.elapsed().as_secs_f64();
                let sample = d.saturating_sub(last.1) as f64 / dt.max(1e-3);
                rate = if rate == 0.0 {
                    sample
                } else {
                    rate * 0.7 + sample * 0.3
                };
                last = (Instant::now(), d);
                self.emit(SyncEvent::Progress {
                    library: library.to_owned(),
                    bytes_done: d,
                    bytes_total,
                    files_done: files_done.load(Ordering::Relaxed),
                    files_total,
                    rate_bps: rate as u64,
                    eta_secs: (rate > 1.0)
                        .then(|| (bytes_total.saturating_sub(d) as f64 / rate) as u64),
                });
            }
        };
        let results = tokio::select! {
            r = work => r,
            () = ticker => unreachable!("the ticker never ends"),
        };
        report.bytes_received = received.load(Ordering::Relaxed);
        report
            .warnings
            .extend(notes.into_inner().unwrap_or_else(|p| p.into_inner()));
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        for (w, r) in results {
            match r {
                Outcome::Done(size) => {
                    report.files_downloaded += 1;
                    report.bytes_downloaded += size;
                }
                Outcome::Deferred => {
                    report.deferred_files += 1;
                    self.emit(SyncEvent::DownloadsDeferred {
                        library: library.to_owned(),
                        files: 1,
                        bytes: w.size,
                        budget: self.store.storage_budget()?.unwrap_or(0),
                    });
                }
                Outcome::Elsewhere => {}
                Outcome::Cancelled => {
                    report.cancelled += 1;
                    self.emit(SyncEvent::DownloadCancelled {
                        sha256: w.sha256.to_string(),
                        label: w.label.clone(),
                    });
                }
                Outcome::Failed(e) => {
                    self.emit(SyncEvent::DownloadFailed {
                        sha256: w.sha256.to_string(),
                        label: w.label.clone(),
                        error: e.clone(),
                    });
                    report.failed.push((w.label, e));
                }
            }
        }
        Ok(())
    }

    /// Keeps what fits the storage budget: what the member asked for always,
    /// the rules' downloads while they fit, after evicting played items the
    /// rules fetched. The rest waits (reported, not failed). Also returns the
    /// room left beyond the sizes planned (for bytes a feed did not declare),
    /// `None` without a budget.
    fn fit_budget(
        &self,
        library: &str,
        mut wanted: Vec<WantedBlob>,
        report: &mut LibraryReport,
    ) -> Result<(Vec<WantedBlob>, Option<u64>), SyncError> {
        let Some(budget) = self.store.storage_budget()? else {
            return Ok((wanted, None));
        };
        let need: u64 = wanted.iter().map(|w| w.size).sum();
        let mut used = self.store.storage_usage()?.bytes_stored;
        if used + need > budget {
            let freed = self.store.evict_played(used + need - budget)?;
            if freed.items > 0 {
                // What the evicted items still had queued is no longer wanted.
                let gone: HashSet<&Sha256> = freed.unwanted.iter().collect();
                wanted.retain(|w| !gone.contains(&w.sha256));
                self.inflight.generation.fetch_add(1, Ordering::SeqCst);
                info!(
                    library,
                    items = freed.items,
                    bytes = freed.bytes,
                    "evicted played items for the storage budget"
                );
                used = used.saturating_sub(freed.bytes);
                report.evicted_bytes += freed.bytes;
                self.emit(SyncEvent::StorageFreed {
                    library: library.to_owned(),
                    reason: "budget".into(),
                    items: freed.items,
                    bytes: freed.bytes,
                });
            }
        }
        let mut room = budget.saturating_sub(used);
        let mut keep = Vec::with_capacity(wanted.len());
        for w in wanted {
            if w.explicit || w.size <= room {
                room = room.saturating_sub(w.size);
                keep.push(w);
            } else {
                report.deferred_files += 1;
                report.deferred_bytes += w.size;
            }
        }
        if report.deferred_files > 0 {
            warn!(
                library,
                files = report.deferred_files,
                bytes = report.deferred_bytes,
                budget,
                "storage budget reached; the rest waits"
            );
            self.emit(SyncEvent::DownloadsDeferred {
                library: library.to_owned(),
                files: report.deferred_files,
                bytes: report.deferred_bytes,
                budget,
            });
        }
        Ok((keep, Some(room)))
    }

    /// Takes the download of `sha` for the caller, with a token under
    /// `parent` that a change of what is wanted cancels; `None` when another
    /// download of it runs (a sync's, or one the player started).
    pub(crate) fn track(
        &self,
        sha: &Sha256,
        parent: &CancellationToken,
    ) -> Option<CancellationToken> {
        let mut tokens = self
            .inflight
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if tokens.contains_key(sha) {
            return None;
        }
        let token = parent.child_token();
        tokens.insert(sha.clone(), token.clone());
        Some(token)
    }

    pub(crate) fn untrack(&self, sha: &Sha256) {
        self.inflight
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sha);
    }
}

enum Outcome {
    /// Stored, with its size (a feed file's is known only now).
    Done(u64),
    /// Downloading already, or stored since the sync planned, by a
    /// download the player started: its own events tell.
    Elsewhere,
    Cancelled,
    /// Stopped because it did not fit the storage budget after all.
    Deferred,
    Failed(String),
}

/// Whether a queued blob is still wanted when its turn comes: the member may
/// have paused, removed it or changed a rule since the sync planned it.
/// Re-reads the store only when the engine says something changed.
struct StillWanted<'a> {
    engine: &'a Engine,
    library: &'a str,
    seen: Mutex<(u64, Option<HashSet<Sha256>>)>,
}

impl<'a> StillWanted<'a> {
    fn new(engine: &'a Engine, library: &'a str) -> Self {
        let generation = engine.inflight.generation.load(Ordering::SeqCst);
        StillWanted {
            engine,
            library,
            seen: Mutex::new((generation, None)),
        }
    }

    fn check(&self, sha: &Sha256) -> Result<bool, StoreError> {
        let now = self.engine.inflight.generation.load(Ordering::SeqCst);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.0 == now {
            return Ok(seen.1.as_ref().is_none_or(|set| set.contains(sha)));
        }
        let set: HashSet<Sha256> = if self.engine.store.downloads_paused()? {
            HashSet::new()
        } else {
            self.engine
                .store
                .wanted_blobs(Some(self.library))?
                .into_iter()
                .map(|w| w.sha256)
                .collect()
        };
        let ok = set.contains(sha);
        *seen = (now, Some(set));
        Ok(ok)
    }
}
