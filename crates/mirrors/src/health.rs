//! Health of one mirror: latency and throughput (EWMA), failures, a circuit
//! breaker and Retry-After. Pure state and arithmetic over a caller-given
//! clock (unix milliseconds); persisted by the store as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Weight of a new sample in the moving averages.
const ALPHA: f64 = 0.3;

/// How failures turn into an open circuit, and for how long.
#[derive(Clone, Debug)]
pub struct HealthPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// First open period; doubles each time the circuit re-opens.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest Retry-After honoured (a longer one is capped).
    pub retry_after_max: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failure_threshold: 3,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            retry_after_max: Duration::from_secs(600),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Circuit {
    /// Healthy: used in health order.
    Closed,
    /// Failing: skipped until `open_until`.
    Open,
    /// The back-off passed: one more try decides.
    HalfOpen,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MirrorHealth {
    /// Time to response headers, moving average.
    pub latency_ms: Option<f64>,
    /// Bytes per second over transfers of at least 64 KiB, moving average.
    pub throughput_bps: Option<f64>,
    pub successes: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    /// Times this mirror served bytes that failed verification.
    pub bad_bytes: u64,
    /// When it last did: for a while it is asked after the others, whatever
    /// its answers' speed (a request that succeeds with wrong bytes must not
    /// clear that, as it clears a failure).
    pub last_bad_bytes_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    /// While the circuit is open: when a probe is allowed again.
    pub open_until: Option<i64>,
    /// How many times in a row the circuit opened (the back-off exponent).
    pub opened: u32,
    /// A 429/503 asked us to come back no earlier than this.
    pub retry_after_until: Option<i64>,
    /// The catalog sequence this mirror served at the last check, and the
    /// newest any of the library's mirrors (or the member's cache) had then:
    /// a mirror behind the others is *stale* (a lagging copy, or one
    /// that would freeze its members at an old catalog).
    pub catalog_sequence: Option<u64>,
    pub newest_sequence: Option<u64>,
}

/// How long a mirror that served bytes failing verification is asked after
/// the others.
const BAD_BYTES_MEMORY_MS: i64 = 10 * 60 * 1000;

fn ewma(old: Option<f64>, sample: f64) -> f64 {
    match old {
        Some(o) => o + ALPHA * (sample - o),
        None => sample,
    }
}

impl MirrorHealth {
    /// The record as the store keeps it (JSON); a missing or unreadable one
    /// (an older client's) is a fresh record.
    pub fn from_stored(json: Option<&str>) -> MirrorHealth {
        json.and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    }

    pub fn circuit(&self, now_ms: i64) -> Circuit {
        match self.open_until {
            Some(t) if t > now_ms => Circuit::Open,
            Some(_) => Circuit::HalfOpen,
            None => Circuit::Closed,
        }
    }

    /// How the mirror is doing, in one word, for status displays: `ok`,
    /// `unknown` (never asked), `failing` (recent failures), `retry_after`
    /// (asked us to wait), `half_open` (about to be probed again), `open`
    /// (skipped while its circuit is open) or `stale` (answers, with an older
    /// catalog than another mirror's).
    pub fn state(&self, now_ms: i64) -> &'static str {
        match (self.circuit(now_ms), self.available(now_ms)) {
            (Circuit::Open, _) => "open",
            (_, false) => "retry_after",
            (Circuit::HalfOpen, _) => "half_open",
            (Circuit::Closed, _) if self.consecutive_failures > 0 => "failing",
            (Circuit::Closed, _) if self.is_stale() => "stale",
            (Circuit::Closed, _) if self.successes == 0 => "unknown",
            _ => "ok",
        }
    }

    /// May a request go to this mirror now?
    pub fn available(&self, now_ms: i64) -> bool {
        self.circuit(now_ms) != Circuit::Open && self.retry_after_until.is_none_or(|t| t <= now_ms)
    }

    /// When this mirror becomes available again, if it is not now.
    pub fn available_at(&self, now_ms: i64) -> Option<i64> {
        if self.available(now_ms) {
            return None;
        }
        let open = self.open_until.filter(|t| *t > now_ms).unwrap_or(now_ms);
        let retry = self
            .retry_after_until
            .filter(|t| *t > now_ms)
            .unwrap_or(now_ms);
        Some(open.max(retry))
    }

    /// Serves an older catalog than the newest known.
    pub fn is_stale(&self) -> bool {
        matches!((self.catalog_sequence, self.newest_sequence), (Some(a), Some(b)) if a < b)
    }

    /// The mirror served catalog `serves` while the newest known was `newest`.
    pub fn record_catalog(&mut self, serves: u64, newest: u64) {
        self.catalog_sequence = Some(serves);
        self.newest_sequence = Some(newest.max(serves));
    }

    /// A time to response headers.
    pub fn record_latency(&mut self, latency: Duration) {
        self.latency_ms = Some(ewma(self.latency_ms, latency.as_secs_f64() * 1000.0));
    }

    /// A successful request, with its time to headers if it had one.
    pub fn record_success(&mut self, now_ms: i64, latency: Option<Duration>) {
        if let Some(l) = latency {
            self.record_latency(l);
        }
        self.successes += 1;
        self.consecutive_failures = 0;
        self.opened = 0;
        self.open_until = None;
        self.retry_after_until = None;
        self.last_success_at = Some(now_ms);
    }

    /// A finished transfer of `bytes` in `elapsed` (only large ones are a
    /// meaningful throughput sample).
    pub fn record_transfer(&mut self, bytes: u64, elapsed: Duration) {
        if bytes >= 64 * 1024 && elapsed > Duration::from_millis(1) {
            self.throughput_bps = Some(ewma(
                self.throughput_bps,
                bytes as f64 / elapsed.as_secs_f64(),
            ));
        }
    }

    /// The mirror did not answer within `elapsed` while another did: its
    /// latency is at least that.
    pub fn record_slow(&mut self, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.latency_ms = Some(ewma(self.latency_ms, ms).max(ms));
    }

    /// A failed request. `jitter` in [0, 1) spreads re-open times.
    pub fn record_failure(
        &mut self,
        now_ms: i64,
        error: &str,
        retry_after: Option<Duration>,
        policy: &HealthPolicy,
        jitter: f64,
    ) {
        self.failures += 1;
        self.consecutive_failures += 1;
        self.last_error = Some(error.chars().take(300).collect());
        self.last_failure_at = Some(now_ms);
        if let Some(ra) = retry_after {
            let ra = ra.min(policy.retry_after_max);
            self.retry_after_until = Some(now_ms + ra.as_millis() as i64);
        }
        let half_open = self.open_until.is_some_and(|t| t <= now_ms);
        if self.consecutive_failures >= policy.failure_threshold || half_open {
            let base = policy.backoff_base.as_millis() as f64;
            let exp = 2f64.powi(self.opened.min(16) as i32);
            let ms = (base * exp).min(policy.backoff_max.as_millis() as f64);
            let ms = ms * (0.8 + 0.4 * jitter);
            self.open_until = Some(now_ms + ms as i64);
            self.opened += 1;
        }
    }

    /// Bytes from this mirror failed verification (a lying or broken mirror).
    pub fn record_bad_bytes(
        &mut self,
        now_ms: i64,
        what: &str,
        policy: &HealthPolicy,
        jitter: f64,
    ) {
        self.bad_bytes += 1;
        self.last_bad_bytes_at = Some(now_ms);
        self.record_failure(now_ms, what, None, policy, jitter);
    }

    /// Ordering key: lower is better. Mirrors within ~100 ms of each other and
    /// with the same failure count tie (and keep the subscription's order).
    pub fn rank(&self, now_ms: i64) -> (u8, u64) {
        let class = match (self.circuit(now_ms), self.available(now_ms)) {
            (Circuit::Closed, true) => 0,
            (Circuit::HalfOpen, true) => 1,
            (_, false) if self.circuit(now_ms) != Circuit::Open => 2, // waiting out Retry-After
            _ => 3,
        };
        let latency_bucket = self.latency_ms.map_or(1, |l| (l / 100.0) as u64);
        // A stale mirror lacks the newest files: asked after fresh ones.
        let stale = if self.is_stale() { 3 } else { 0 };
        // One that lied lately, after those that did not (within a second
        // of answer time of each other).
        let lied = match self.last_bad_bytes_at {
            Some(t) if now_ms - t < BAD_BYTES_MEMORY_MS => 10,
            _ => 0,
        };
        (
            class,
            latency_bucket + 2 * u64::from(self.consecutive_failures) + stale + lied,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_opens_after_repeated_failures_and_backs_off() {
        let p = HealthPolicy::default();
        let mut h = MirrorHealth::default();
        for i in 0..2 {
            h.record_failure(i, "refused", None, &p, 0.5);
            assert_eq!(h.circuit(i), Circuit::Closed);
        }
        h.record_failure(10, "refused", None, &p, 0.5);
        assert_eq!(h.circuit(10), Circuit::Open);
        assert!(!h.available(10));
        let first = h.open_until.unwrap() - 10;
        assert_eq!(first, 2000, "base back-off, jitter 0.5 = x1.0");
        let t = h.open_until.unwrap();
        assert_eq!(h.circuit(t), Circuit::HalfOpen);
        assert!(h.available(t));
        // The half-open probe fails: open again, for twice as long.
        h.record_failure(t, "refused", None, &p, 0.5);
        assert_eq!(h.open_until.unwrap() - t, 4000);
        // A success closes it and forgets the back-off.
        h.record_success(t + 5000, Some(Duration::from_millis(20)));
        assert_eq!(h.circuit(t + 5000), Circuit::Closed);
        assert_eq!((h.consecutive_failures, h.opened), (0, 0));
    }

    /// A mirror that served bytes failing verification is asked after an
    /// honest one even when it answers faster and its next request
    /// "succeeds" (the transfer worked; the bytes were wrong), for ten
    /// minutes.
    #[test]
    fn a_mirror_that_lied_is_asked_after_an_honest_slower_one() {
        let p = HealthPolicy::default();
        let mut liar = MirrorHealth {
            latency_ms: Some(2.0),
            ..Default::default()
        };
        let honest = MirrorHealth {
            latency_ms: Some(450.0),
            ..Default::default()
        };
        assert!(liar.rank(0) < honest.rank(0));
        liar.record_bad_bytes(1_000, "served bytes hashing to …", &p, 0.5);
        liar.record_success(1_010, Some(Duration::from_millis(2)));
        assert!(liar.rank(1_020) > honest.rank(1_020));
        assert!(liar.rank(1_000 + BAD_BYTES_MEMORY_MS) < honest.rank(1_000 + BAD_BYTES_MEMORY_MS));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = HealthPolicy::default();
        let mut h = MirrorHealth::default();
        h.record_failure(0, "503", Some(Duration::from_secs(5)), &p, 0.0);
        assert!(!h.available(4_999));
        assert!(h.available(5_000));
        assert_eq!(h.available_at(1_000), Some(5_000));
        h.record_failure(0, "429", Some(Duration::from_secs(86_400)), &p, 0.0);
        assert_eq!(h.retry_after_until, Some(600_000));
    }

    #[test]
    fn ranking_prefers_fast_and_healthy() {
        let fast = MirrorHealth {
            latency_ms: Some(5.0),
            ..Default::default()
        };
        let close = MirrorHealth {
            latency_ms: Some(40.0),
            ..Default::default()
        };
        let mut slow = MirrorHealth::default();
        slow.record_slow(Duration::from_millis(700));
        assert_eq!(fast.rank(0), close.rank(0), "a few ms apart: tie");
        assert!(fast.rank(0) < slow.rank(0));
        let mut failing = fast.clone();
        failing.record_failure(0, "x", None, &HealthPolicy::default(), 0.0);
        assert!(fast.rank(0) < failing.rank(0));
    }

    #[test]
    fn a_mirror_behind_the_others_is_stale_until_it_catches_up() {
        let mut h = MirrorHealth {
            latency_ms: Some(5.0),
            successes: 1,
            ..Default::default()
        };
        let fresh = h.clone();
        h.record_catalog(4, 5);
        assert!(h.is_stale());
        assert_eq!(h.state(0), "stale");
        assert!(fresh.rank(0) < h.rank(0), "asked after fresh mirrors");
        h.record_catalog(5, 5);
        assert!(!h.is_stale());
        assert_eq!(h.state(0), "ok");
        h.record_catalog(6, 5);
        assert_eq!((h.catalog_sequence, h.newest_sequence), (Some(6), Some(6)));
    }

    #[test]
    fn throughput_average() {
        let mut h = MirrorHealth::default();
        h.record_transfer(1_000_000, Duration::from_secs(1));
        h.record_transfer(10, Duration::from_secs(1)); // too small to count
        assert_eq!(h.throughput_bps, Some(1_000_000.0));
        h.record_transfer(2_000_000, Duration::from_secs(1));
        assert_eq!(h.throughput_bps, Some(1_300_000.0));
    }
}
