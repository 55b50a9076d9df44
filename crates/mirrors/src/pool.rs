//! The mirror pool of one library: health-ordered mirrors, per-mirror
//! connection limits, and hedged requests for small objects.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::debug;

use crate::health::{HealthPolicy, MirrorHealth};
use crate::transport::{BodyStream, Fetched, Mirror, MirrorClient, Opened, Validators};
use crate::MirrorError;

/// Tuning of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Requests in flight to one mirror at once.
    pub per_mirror_connections: usize,
    /// Bounds of the hedge delay (derived from observed latency).
    pub hedge_min: Duration,
    pub hedge_max: Duration,
    pub health: HealthPolicy,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            per_mirror_connections: 4,
            hedge_min: Duration::from_millis(150),
            hedge_max: Duration::from_millis(750),
            health: HealthPolicy::default(),
        }
    }
}

struct Entry {
    mirror: Mirror,
    url: String,
    health: Mutex<MirrorHealth>,
    permits: Arc<Semaphore>,
}

/// Why one attempt of a hedged request failed.
#[derive(Debug)]
pub struct AttemptError {
    pub mirror: String,
    pub message: String,
}

/// The mirrors of one library. Mirrors are named by their index in the
/// subscription's order, which is also the tie-breaker of the health order.
pub struct MirrorPool {
    client: MirrorClient,
    entries: Vec<Entry>,
    config: PoolConfig,
}

fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

impl MirrorPool {
    pub fn new(
        client: MirrorClient,
        mirrors: Vec<(Mirror, MirrorHealth)>,
        config: PoolConfig,
    ) -> MirrorPool {
        let entries = mirrors
            .into_iter()
            .map(|(mirror, health)| Entry {
                url: mirror.to_url_string(),
                mirror,
                health: Mutex::new(health),
                permits: Arc::new(Semaphore::new(config.per_mirror_connections.max(1))),
            })
            .collect();
        MirrorPool {
            client,
            entries,
            config,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn url(&self, id: usize) -> &str {
        &self.entries[id].url
    }

    pub fn mirror(&self, id: usize) -> &Mirror {
        &self.entries[id].mirror
    }

    fn with_health<R>(&self, id: usize, f: impl FnOnce(&mut MirrorHealth) -> R) -> R {
        let mut h = self.entries[id]
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        f(&mut h)
    }

    pub fn health(&self, id: usize) -> MirrorHealth {
        self.with_health(id, |h| h.clone())
    }

    /// Every mirror with its health, in subscription order.
    pub fn snapshot(&self) -> Vec<(String, MirrorHealth)> {
        (0..self.len())
            .map(|i| (self.url(i).to_owned(), self.health(i)))
            .collect()
    }

    /// Every mirror, best first: health rank, then subscription order.
    pub fn order(&self) -> Vec<usize> {
        let now = now_ms();
        let mut ids: Vec<usize> = (0..self.len()).collect();
        ids.sort_by_key(|&i| (self.with_health(i, |h| h.rank(now)), i));
        ids
    }

    /// Mirrors that may be asked now (circuit not open, no Retry-After pending), best first.
    pub fn available(&self) -> Vec<usize> {
        let now = now_ms();
        self.order()
            .into_iter()
            .filter(|&i| self.with_health(i, |h| h.available(now)))
            .collect()
    }

    /// When the first unavailable mirror becomes available again.
    pub fn next_available_in(&self) -> Option<Duration> {
        let now = now_ms();
        (0..self.len())
            .filter_map(|i| self.with_health(i, |h| h.available_at(now)))
            .min()
            .map(|t| Duration::from_millis((t - now).max(0) as u64))
    }

    pub fn record_success(&self, id: usize, latency: Option<Duration>) {
        self.with_health(id, |h| h.record_success(now_ms(), latency));
    }

    pub fn record_transfer(&self, id: usize, bytes: u64, elapsed: Duration) {
        self.with_health(id, |h| h.record_transfer(bytes, elapsed));
    }

    pub fn record_failure(&self, id: usize, e: &MirrorError) {
        let retry_after = match e {
            MirrorError::Status { retry_after, .. } => *retry_after,
            _ => None,
        };
        let policy = &self.config.health;
        self.with_health(id, |h| {
            h.record_failure(
                now_ms(),
                &e.to_string(),
                retry_after,
                policy,
                fastrand::f64(),
            )
        });
    }

    /// The mirror served bytes that failed verification.
    pub fn record_bad_bytes(&self, id: usize, what: &str) {
        let policy = &self.config.health;
        self.with_health(id, |h| {
            h.record_bad_bytes(now_ms(), what, policy, fastrand::f64())
        });
    }

    /// The mirror lost a race after `elapsed` without answering.
    pub fn record_slow(&self, id: usize, elapsed: Duration) {
        self.with_health(id, |h| h.record_slow(elapsed));
    }

    /// How long to wait for the best mirror before also asking the next:
    /// three times the best observed latency, within the configured bounds.
    pub fn hedge_delay(&self) -> Duration {
        let best = self
            .available()
            .first()
            .and_then(|&i| self.with_health(i, |h| h.latency_ms));
        let d = best.map_or(Duration::from_millis(300), |ms| {
            Duration::from_secs_f64(ms * 3.0 / 1000.0)
        });
        d.clamp(self.config.hedge_min, self.config.hedge_max)
    }

    /// A connection slot on mirror `id` (per-mirror limit).
    pub async fn permit(&self, id: usize) -> OwnedSemaphorePermit {
        self.entries[id]
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed")
    }

    /// Fetches a small object whole from one mirror, recording its health.
    pub async fn fetch(
        &self,
        id: usize,
        path: &str,
        max: u64,
        validators: &Validators,
    ) -> Result<Fetched, MirrorError> {
        let _permit = self.permit(id).await;
        let r = self
            .client
            .fetch(self.mirror(id), path, max, validators)
            .await;
        match &r {
            Ok(Fetched::Body { ttfb, .. }) => self.record_success(id, Some(*ttfb)),
            Ok(Fetched::NotModified) => self.record_success(id, None),
            Err(e) => self.record_failure(id, e),
        }
        r
    }

    /// [`fetch`](Self::fetch) without validators: the body, whole.
    pub async fn fetch_whole(
        &self,
        id: usize,
        path: &str,
        max: u64,
    ) -> Result<Vec<u8>, MirrorError> {
        match self.fetch(id, path, max, &Validators::default()).await? {
            Fetched::Body { bytes, .. } => Ok(bytes),
            Fetched::NotModified => Err(MirrorError::Transfer("unexpected 304".into())),
        }
    }

    /// Opens a whole URL below mirror `id` (a feed file's source) from
    /// `offset` (to `end`, for a segment), recording failures and the time
    /// to headers like [`open`](Self::open).
    pub async fn open_url(
        &self,
        id: usize,
        url: &url::Url,
        offset: u64,
        end: Option<u64>,
    ) -> Result<BodyStream, MirrorError> {
        let r = self
            .client
            .open_url(self.mirror(id), url, offset, end)
            .await;
        match &r {
            Ok(b) => self.with_health(id, |h| h.record_latency(b.ttfb)),
            Err(e) => self.record_failure(id, e),
        }
        r
    }

    /// Opens a stream from `offset` on one mirror, recording failures and the
    /// time to headers. The caller holds a [`permit`](Self::permit).
    pub async fn open(
        &self,
        id: usize,
        path: &str,
        offset: u64,
    ) -> Result<BodyStream, MirrorError> {
        match self
            .client
            .request(self.mirror(id), path, offset, &Validators::default())
            .await
        {
            Ok(Opened::Body(b)) => {
                self.with_health(id, |h| h.record_latency(b.ttfb));
                Ok(b)
            }
            Ok(Opened::NotModified) => {
                let e = MirrorError::Transfer("unexpected 304".into());
                self.record_failure(id, &e);
                Err(e)
            }
            Err(e) => {
                self.record_failure(id, &e);
                Err(e)
            }
        }
    }

    /// Opens bytes `offset..end` on one mirror (see
    /// [`MirrorClient::open_range`]), recording failures and the time to
    /// headers. The caller holds a [`permit`](Self::permit).
    pub async fn open_range(
        &self,
        id: usize,
        path: &str,
        offset: u64,
        end: u64,
    ) -> Result<BodyStream, MirrorError> {
        let r = self
            .client
            .open_range(self.mirror(id), path, offset, end)
            .await;
        match &r {
            Ok(b) => self.with_health(id, |h| h.record_latency(b.ttfb)),
            Err(e) => self.record_failure(id, e),
        }
        r
    }

    /// A hedged request: ask the best available mirror; if it has not
    /// answered within the hedge delay, ask the next as well (and at once
    /// when one fails). The first `Ok` wins; the others are cancelled, and a
    /// mirror that had not answered by then is recorded as slow. `attempt`
    /// does the fetching *and* the verifying for one mirror.
    pub async fn hedged<T, F, Fut>(&self, attempt: F) -> Result<(usize, T), Vec<AttemptError>>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        self.hedged_among(self.preferred(), attempt).await
    }

    /// Every mirror in the order requests should try them: the available
    /// ones best first, then the others (an outage of every mirror must not
    /// stop us from trying at all).
    pub fn preferred(&self) -> Vec<usize> {
        let mut queue: Vec<usize> = self.available();
        let rest: Vec<usize> = self
            .order()
            .into_iter()
            .filter(|i| !queue.contains(i))
            .collect();
        queue.extend(rest);
        queue
    }

    /// The serving catalog `serves` while the newest known was `newest`.
    pub fn record_catalog(&self, id: usize, serves: u64, newest: u64) {
        self.with_health(id, |h| h.record_catalog(serves, newest));
    }

    /// [`hedged`](Self::hedged) over the mirrors in `queue`, in that order.
    pub async fn hedged_among<T, F, Fut>(
        &self,
        queue: Vec<usize>,
        attempt: F,
    ) -> Result<(usize, T), Vec<AttemptError>>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let mut queue = queue.into_iter();
        let delay = self.hedge_delay();
        let mut running = FuturesUnordered::new();
        let mut started: Vec<(usize, Instant)> = Vec::new();
        let mut errors = Vec::new();
        let launch =
            |id: usize, running: &mut FuturesUnordered<_>, started: &mut Vec<(usize, Instant)>| {
                debug!(mirror = self.url(id), "hedged request: asking");
                started.push((id, Instant::now()));
                let fut = attempt(id);
                running.push(async move { (id, fut.await) });
            };
        match queue.next() {
            Some(id) => launch(id, &mut running, &mut started),
            None => return Err(errors),
        }
        let mut timer = Box::pin(tokio::time::sleep(delay));
        loop {
            tokio::select! {
                done = running.next() => match done {
                    Some((id, Ok(v))) => {
                        for (other, at) in &started {
                            if *other != id && !errors.iter().any(|e: &AttemptError| e.mirror == self.url(*other)) {
                                self.record_slow(*other, at.elapsed());
                            }
                        }
                        return Ok((id, v));
                    }
                    Some((id, Err(message))) => {
                        errors.push(AttemptError { mirror: self.url(id).to_owned(), message });
                        if let Some(next) = queue.next() {
                            launch(next, &mut running, &mut started);
                            timer.as_mut().reset(Instant::now() + delay);
                        } else if running.is_empty() {
                            return Err(errors);
                        }
                    }
                    None => return Err(errors),
                },
                () = &mut timer => {
                    if let Some(next) = queue.next() {
                        debug!(mirror = self.url(next), ?delay, "hedge delay passed");
                        launch(next, &mut running, &mut started);
                    }
                    timer.as_mut().reset(Instant::now() + delay);
                }
            }
        }
    }
}
