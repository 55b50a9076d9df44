//! The engine: one sync of one or all libraries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use stowaway_catalog::{
    blob_path, verify_catalog, CatalogError, Subscription, CATALOG_FILE, MAX_CATALOG_BYTES,
    MAX_SIGNATURE_BYTES, SIGNATURE_FILE,
};
use stowaway_mirrors::{ClientConfig, Mirror, MirrorClient, MirrorError};
use stowaway_store::{ApplyOutcome, Store, StoreError, WantedBlob};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::SyncEvent;

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
    #[error("internal error: {0}")]
    Internal(String),
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Store(e) => e.code(),
            SyncError::Catalog(e) => e.code(),
            SyncError::Mirror(e) => e.code(),
            SyncError::Cancelled => "cancelled",
            SyncError::Internal(_) => "internal",
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
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            library: None,
            concurrency: 4,
            catalog_only: false,
        }
    }
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
    pub bytes_downloaded: u64,
    /// (label, error) for every file no mirror could deliver.
    pub failed: Vec<(String, String)>,
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
}

impl Engine {
    pub fn new(store: Arc<Store>, config: ClientConfig) -> Result<Engine, SyncError> {
        let (events, _) = broadcast::channel(4096);
        Ok(Engine {
            store,
            client: MirrorClient::new(config)?,
            events,
        })
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

    fn emit(&self, e: SyncEvent) {
        let _ = self.events.send(e);
    }

    /// Subscribes to a library: records the subscription. The first sync
    /// fetches and verifies its catalog.
    pub fn subscribe(&self, sub: &Subscription) -> Result<bool, SyncError> {
        sub.validate()?;
        for m in &sub.mirrors {
            Mirror::parse(m)?;
        }
        Ok(self.store.subscribe(sub)?)
    }

    /// Syncs every subscribed library (or the one in `opts`).
    pub async fn sync(
        &self,
        opts: &SyncOptions,
        cancel: &CancellationToken,
    ) -> Result<SyncReport, SyncError> {
        let libraries = match &opts.library {
            Some(id) => vec![self.store.library(id)?],
            None => self.store.libraries()?,
        };
        let mut report = SyncReport::default();
        for lib in libraries {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let r = self
                .sync_library(&lib.id, &lib.public_key, opts, cancel)
                .await?;
            report.libraries.push(r);
        }
        Ok(report)
    }

    async fn sync_library(
        &self,
        library: &str,
        public_key: &str,
        opts: &SyncOptions,
        cancel: &CancellationToken,
    ) -> Result<LibraryReport, SyncError> {
        let started = Instant::now();
        self.emit(SyncEvent::LibraryStarted {
            library: library.to_owned(),
        });
        let mut report = LibraryReport {
            library: library.to_owned(),
            ..LibraryReport::default()
        };
        let mirrors = self.mirrors(library)?;

        match self.refresh_catalog(library, public_key, &mirrors).await {
            Ok((outcome, mirror, expired)) => {
                report.catalog = Some(outcome);
                report.catalog_mirror = Some(mirror);
                report.expired = expired;
            }
            Err(e) => {
                warn!(library, error = %e, "no valid catalog from any mirror");
                report.catalog_error = Some(e);
            }
        }

        if !opts.catalog_only {
            self.download_all(library, &mirrors, opts, cancel, &mut report)
                .await?;
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

    fn mirrors(&self, library: &str) -> Result<Vec<Mirror>, SyncError> {
        let mut out = Vec::new();
        for url in self.store.mirrors(library)? {
            match Mirror::parse(&url) {
                Ok(m) => out.push(m),
                Err(e) => warn!(library, %url, error = %e, "skipping unusable mirror"),
            }
        }
        Ok(out)
    }

    /// Tries each mirror in turn for a catalog that verifies and applies.
    /// Returns the outcome and the mirror that served it, or a summary of why
    /// every mirror failed.
    async fn refresh_catalog(
        &self,
        library: &str,
        public_key: &str,
        mirrors: &[Mirror],
    ) -> Result<(ApplyOutcome, String, bool), String> {
        let key = stowaway_catalog::PublicKey::parse(public_key).map_err(|e| e.to_string())?;
        let mut errors = Vec::new();
        for mirror in mirrors {
            let url = mirror.to_url_string();
            match self.catalog_from(library, &key, mirror).await {
                Ok((outcome, expired)) => {
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
                    return Ok((outcome, url, expired));
                }
                Err(e) => {
                    warn!(library, mirror = %url, error = %e, "catalog from this mirror refused");
                    self.emit(SyncEvent::CatalogMirrorFailed {
                        library: library.to_owned(),
                        mirror: url.clone(),
                        error: e.to_string(),
                        code: e.code().to_owned(),
                    });
                    errors.push(format!("{url}: {e}"));
                }
            }
        }
        if errors.is_empty() {
            return Err("no mirrors".into());
        }
        Err(format!(
            "no mirror gave a valid catalog ({})",
            errors.join("; ")
        ))
    }

    async fn catalog_from(
        &self,
        library: &str,
        key: &stowaway_catalog::PublicKey,
        mirror: &Mirror,
    ) -> Result<(ApplyOutcome, bool), SyncError> {
        let (bytes, sig) = tokio::try_join!(
            self.client
                .fetch_small(mirror, CATALOG_FILE, MAX_CATALOG_BYTES as u64),
            self.client
                .fetch_small(mirror, SIGNATURE_FILE, MAX_SIGNATURE_BYTES as u64),
        )?;
        let verified = verify_catalog(&bytes, &sig, key, Some(library))?;
        let expired = verified.catalog.is_expired(time::OffsetDateTime::now_utc());
        if expired {
            warn!(library, expires_at = %verified.catalog.expires_at, "catalog has expired; applying it, cached content stays playable");
        }
        let store = self.store.clone();
        let lib = library.to_owned();
        let outcome = tokio::task::spawn_blocking(move || store.apply_catalog(&lib, &verified))
            .await
            .map_err(|e| SyncError::Internal(e.to_string()))??;
        Ok((outcome, expired))
    }

    async fn download_all(
        &self,
        library: &str,
        mirrors: &[Mirror],
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
                continue;
            }
            wanted.push(w);
        }
        self.emit(SyncEvent::DownloadsPlanned {
            library: library.to_owned(),
            files: wanted.len(),
            bytes: wanted.iter().map(|w| w.size).sum(),
        });
        let results: Vec<(WantedBlob, Result<u64, String>)> = stream::iter(wanted)
            .map(|w| async move {
                let r = self.download(&w, mirrors, cancel).await;
                (w, r)
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        for (w, r) in results {
            match r {
                Ok(n) => {
                    report.files_downloaded += 1;
                    report.bytes_downloaded += n;
                }
                Err(e) => {
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

    /// Downloads one blob from the first mirror that delivers bytes matching
    /// its hash and size. Returns the bytes stored.
    async fn download(
        &self,
        w: &WantedBlob,
        mirrors: &[Mirror],
        cancel: &CancellationToken,
    ) -> Result<u64, String> {
        let mut errors = Vec::new();
        for mirror in mirrors {
            if cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            let url = mirror.to_url_string();
            match self.download_from(w, mirror, &url, cancel).await {
                Ok(n) => {
                    self.emit(SyncEvent::DownloadFinished {
                        sha256: w.sha256.to_string(),
                        mirror: url,
                        size: n,
                    });
                    return Ok(n);
                }
                Err(e) => {
                    warn!(blob = %w.sha256, mirror = %url, error = %e, "download from this mirror failed");
                    self.emit(SyncEvent::DownloadMirrorFailed {
                        sha256: w.sha256.to_string(),
                        mirror: url.clone(),
                        error: e.to_string(),
                        code: e.code().to_owned(),
                    });
                    errors.push(format!("{url}: {e}"));
                }
            }
        }
        Err(if errors.is_empty() {
            "no mirrors".into()
        } else {
            errors.join("; ")
        })
    }

    async fn download_from(
        &self,
        w: &WantedBlob,
        mirror: &Mirror,
        url: &str,
        cancel: &CancellationToken,
    ) -> Result<u64, SyncError> {
        let mut body = self.client.open(mirror, &blob_path(&w.sha256), 0).await?;
        if body.remaining.is_some_and(|n| n != w.size) {
            return Err(MirrorError::Transfer(format!(
                "mirror announces {} bytes, the catalog says {}",
                body.remaining.unwrap_or_default(),
                w.size
            ))
            .into());
        }
        self.emit(SyncEvent::DownloadStarted {
            sha256: w.sha256.to_string(),
            label: w.label.clone(),
            size: w.size,
            mirror: url.to_owned(),
        });
        let mut writer = self.store.blobs().begin(&w.sha256, w.size)?;
        let mut last_event = Instant::now();
        loop {
            let chunk = tokio::select! {
                c = body.next_chunk() => c?,
                () = cancel.cancelled() => return Err(SyncError::Cancelled),
            };
            let Some(chunk) = chunk else { break };
            writer.write(&chunk)?;
            if last_event.elapsed() >= Duration::from_millis(100) {
                last_event = Instant::now();
                self.emit(SyncEvent::DownloadProgress {
                    sha256: w.sha256.to_string(),
                    bytes: writer.written(),
                    size: w.size,
                });
            }
        }
        let written = writer.written();
        self.emit(SyncEvent::DownloadProgress {
            sha256: w.sha256.to_string(),
            bytes: written,
            size: w.size,
        });
        // Hash check, fsync and rename off the async threads.
        tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(|e| SyncError::Internal(e.to_string()))??;
        self.store.mark_blob_present(&w.sha256, w.size)?;
        Ok(written)
    }
}
