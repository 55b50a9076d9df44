//! The catalog phase: which catalog is the newest any mirror serves, fetched
//! from one that serves it and verified.
//!
//! One lagging rsync mirror, or a hostile fast one, must not pin a member at
//! an old catalog (a *freeze*). So the first answer does not decide: every
//! available mirror is asked at once for its signature file
//! (`library.json.minisig`, a few hundred bytes). Its trusted comment says
//! which sequence it signs, and minisign's global signature makes that the
//! publisher's word, checked with the subscribed key before anything else is
//! fetched. The catalog itself is then fetched from a mirror that claims the
//! highest sequence (hedged among those) and verified over its exact bytes;
//! a catalog that changed between the two requests is matched with its own
//! signature, `signatures/<sha256>.minisig`. Mirrors that claim less than the
//! newest sequence are reported stale. When every claim is the applied
//! catalog's signature, nothing more is fetched.
//!
//! How long to wait for the mirrors that have not answered: three times a
//! mirror's usual latency, within bounds. When every answer so far says
//! "nothing new", the bounds are 750 ms to 2 s, because that is exactly when
//! a slower, fresher mirror matters; when some answer is newer than the
//! applied catalog already, 400 ms to 1 s (a black-holed mirror costs a
//! first subscription well under a second, and a newer catalog it missed
//! wins the next sync). A mirror that failed last time gets the lower bound.
//! One that runs out of patience is recorded as slow (and waited for longer
//! next time) if it has answered before; if it never has, or it already had
//! the longest wait, as failed, so a black hole's circuit opens after a few
//! syncs and it stops costing anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use stowaway_catalog::{
    read_claim, signature_fingerprint, signature_path, verify_catalog_owned, CatalogError,
    PublicKey, Sha256, VerifiedCatalog, CATALOG_FILE, MAX_CATALOG_BYTES, MAX_SIGNATURE_BYTES,
    SIGNATURE_FILE,
};
use stowaway_mirrors::{MirrorError, MirrorPool};
use stowaway_store::Store;
use tokio::time::Instant;

/// Patience bounds for a mirror that has not answered (see the module docs):
/// while nothing newer than the applied catalog has been seen, and once
/// something has.
const PATIENCE: (Duration, Duration) = (Duration::from_millis(750), Duration::from_secs(2));
const PATIENCE_AFTER_PROGRESS: (Duration, Duration) =
    (Duration::from_millis(400), Duration::from_secs(1));

/// What the catalog phase found.
pub(crate) struct Checked {
    /// The mirror whose catalog is applied now (the new one, or one that
    /// serves the applied one).
    pub mirror: usize,
    /// `None`: the applied catalog is the newest any mirror serves.
    pub new: Option<Box<VerifiedCatalog>>,
    /// Mirrors that serve an older catalog than the newest: (mirror, the
    /// sequence it serves).
    pub stale: Vec<(usize, u64)>,
    /// The newest sequence seen (applied or served).
    pub newest: u64,
}

/// Why one mirror gave no catalog: a stable code and the message.
struct Failure {
    code: &'static str,
    message: String,
}

impl From<MirrorError> for Failure {
    fn from(e: MirrorError) -> Failure {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<CatalogError> for Failure {
    fn from(e: CatalogError) -> Failure {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            code: "catalog_refused",
            message,
        }
    }
}

/// One mirror's signature file and what it claims.
struct Probe {
    sequence: Option<u64>,
    signature: Vec<u8>,
    fingerprint: Vec<u8>,
}

pub(crate) struct Check<'a> {
    pub pool: &'a MirrorPool,
    pub store: &'a Arc<Store>,
    pub library: &'a str,
    pub key: &'a PublicKey,
    /// Every mirror that failed: `(url, error, code)`.
    pub on_failure: &'a (dyn Fn(&str, &str, &str) + Sync),
}

impl Check<'_> {
    fn failed(&self, id: usize, f: &Failure) {
        (self.on_failure)(self.pool.url(id), &f.message, f.code);
    }

    /// The catalog phase (see the module docs).
    pub(crate) async fn run(&self) -> Result<Checked, String> {
        let applied = self
            .store
            .applied_catalog(self.library)
            .map_err(|e| e.to_string())?;
        // What the applied catalog's signature signs (its untrusted comment
        // line is anybody's to change, so it does not count).
        let applied_fp = self
            .store
            .applied_signature(self.library)
            .map_err(|e| e.to_string())?
            .and_then(|s| signature_fingerprint(&s));
        let applied_seq = applied.as_ref().map(|a| a.sequence);
        let (probes, mut errors) = self.probe(applied_seq).await;
        if probes.is_empty() {
            return Err(no_catalog(&errors));
        }
        let order: HashMap<usize, usize> = self
            .pool
            .order()
            .into_iter()
            .enumerate()
            .map(|(rank, id)| (id, rank))
            .collect();
        let is_applied = |p: &Probe| applied_fp.as_deref() == Some(&p.fingerprint[..]);
        // Mirrors whose catalog is worth fetching: newer than the applied one,
        // or claiming its sequence with another signature (an equivocation,
        // or a catalog applied before signatures were kept), best claim first.
        let mut candidates: Vec<(usize, &Probe)> = probes
            .iter()
            .filter(|(_, p)| match (p.sequence, applied_seq) {
                (_, None) | (None, _) => true,
                (Some(s), Some(a)) => s > a || (s == a && !is_applied(p)),
            })
            .map(|(id, p)| (*id, p))
            .collect();
        candidates.sort_by_key(|(id, p)| {
            (
                std::cmp::Reverse(p.sequence.unwrap_or(0)),
                order.get(id).copied().unwrap_or(usize::MAX),
            )
        });
        // Sequences the mirrors were found to serve: what their signatures
        // claim, or, where a fetch showed less, what they really serve.
        let claims: HashMap<usize, &Probe> = probes.iter().map(|(id, p)| (*id, p)).collect();
        let served_less: std::sync::Mutex<HashMap<usize, u64>> = Default::default();
        let mut winner: Option<(usize, Box<VerifiedCatalog>)> = None;
        let mut current: Option<usize> = probes
            .iter()
            .filter(|(_, p)| is_applied(p))
            .map(|(id, _)| *id)
            .min_by_key(|id| order.get(id).copied().unwrap_or(usize::MAX));
        let mut i = 0;
        while i < candidates.len() {
            // The mirrors that claim this candidate's sequence, hedged.
            let claim = candidates[i].1.sequence;
            let group: Vec<usize> = candidates[i..]
                .iter()
                .take_while(|(_, p)| p.sequence == claim)
                .map(|(id, _)| *id)
                .collect();
            i += group.len();
            match (claim, &winner) {
                (Some(c), Some((_, w))) if c <= w.sequence() => continue,
                (None, Some(_)) => continue,
                _ => {}
            }
            let attempt = |id: usize| {
                let probe = claims[&id];
                let applied = applied.as_ref();
                let served_less = &served_less;
                async move {
                    let v = match self.fetch_catalog(id, &probe.signature).await {
                        Ok(v) => v,
                        Err(f) => {
                            self.failed(id, &f);
                            return Err(f.message);
                        }
                    };
                    let served = v.sequence();
                    // Less than its own signature says (a cache holding an
                    // old library.json, or a mirror replaying one with that
                    // catalog's own signature), or less than applied: this
                    // mirror is stale, and another is asked.
                    let floor = probe.sequence.max(applied.map(|a| a.sequence));
                    if floor.is_some_and(|f| served < f) {
                        served_less
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id, served);
                        let f = Failure::from(format!(
                            "serves catalog sequence {served}, older than {} (stale)",
                            floor.unwrap_or(served)
                        ));
                        self.failed(id, &f);
                        return Err(f.message);
                    }
                    match applied {
                        Some(a)
                            if served == a.sequence
                                && a.sha256.as_ref().is_some_and(|s| s != v.sha256()) =>
                        {
                            let seq = a.sequence;
                            let f = Failure::from(format!(
                                "serves a different catalog with the applied sequence {seq} (equivocation refused)"
                            ));
                            self.pool.record_bad_bytes(id, &f.message);
                            self.failed(id, &f);
                            Err(f.message)
                        }
                        _ => Ok((id, v)),
                    }
                }
            };
            match self.pool.hedged_among(group, attempt).await {
                Ok((_, (id, v))) => {
                    if applied_seq == Some(v.sequence()) {
                        // The applied catalog after all: keep its signature.
                        current.get_or_insert(id);
                        let store = self.store.clone();
                        let lib = self.library.to_owned();
                        let _ = tokio::task::spawn_blocking(move || store.apply_catalog(&lib, &v))
                            .await;
                    } else if winner
                        .as_ref()
                        .is_none_or(|(_, w)| v.sequence() > w.sequence())
                    {
                        winner = Some((id, Box::new(v)));
                    }
                }
                Err(e) => errors.extend(e.into_iter().map(|e| (e.mirror, e.message))),
            }
        }
        let served_less = served_less.into_inner().unwrap_or_else(|p| p.into_inner());
        let serves: HashMap<usize, u64> = probes
            .iter()
            .filter_map(|(id, p)| {
                served_less
                    .get(id)
                    .copied()
                    .or(p.sequence)
                    .map(|s| (*id, s))
            })
            .collect();
        // The newest the publisher is known to have signed: applied, fetched,
        // or claimed by a signature the key checked (even if no mirror
        // delivered it yet).
        let newest = winner
            .as_ref()
            .map(|(_, w)| w.sequence())
            .into_iter()
            .chain(applied_seq)
            .chain(probes.iter().filter_map(|(_, p)| p.sequence))
            .max()
            .unwrap_or(0);
        let mut stale = Vec::new();
        for (&id, &s) in &serves {
            self.pool.record_catalog(id, s, newest);
            if s < newest {
                stale.push((id, s));
            }
        }
        stale.sort();
        if let Some((mirror, new)) = winner {
            return Ok(Checked {
                mirror,
                new: Some(new),
                stale,
                newest,
            });
        }
        match (current, applied_seq) {
            (Some(mirror), Some(_)) => Ok(Checked {
                mirror,
                new: None,
                stale,
                newest,
            }),
            (None, Some(a)) if !serves.is_empty() && serves.values().all(|&s| s < a) => {
                Err(format!(
                    "every mirror that answered serves an older catalog than the applied sequence {a} (rollback refused; what is cached stays playable)"
                ))
            }
            _ => Err(no_catalog(&errors)),
        }
    }

    /// Asks every available mirror (all of them, if none is available or
    /// none answers) for its signature file, at once. Returns what answered,
    /// and why the others failed (mirror URL, message).
    async fn probe(&self, applied: Option<u64>) -> (Vec<(usize, Probe)>, Vec<(String, String)>) {
        let pool = self.pool;
        let started = Instant::now();
        let mut answers: Vec<(usize, Probe)> = Vec::new();
        let mut errors: Vec<(String, String)> = Vec::new();
        let available = pool.available();
        let later: Vec<usize> = pool
            .preferred()
            .into_iter()
            .filter(|i| !available.contains(i))
            .collect();
        let ask = |id: usize| async move {
            let r = async {
                let bytes = pool
                    .fetch_whole(id, SIGNATURE_FILE, MAX_SIGNATURE_BYTES as u64)
                    .await?;
                match read_claim(&bytes, self.key, self.library) {
                    Ok(claim) => Ok(Probe {
                        sequence: claim.sequence,
                        fingerprint: claim.fingerprint,
                        signature: bytes,
                    }),
                    Err(e) => {
                        pool.record_bad_bytes(id, &e.to_string());
                        Err(Failure::from(e))
                    }
                }
            }
            .await;
            (id, r)
        };
        let mut running = FuturesUnordered::new();
        let mut waiting: Vec<usize> = available.clone();
        for &id in &available {
            running.push(ask(id));
        }
        let mut second_wave = Some(later);
        if running.is_empty() {
            for id in second_wave.take().unwrap_or_default() {
                waiting.push(id);
                running.push(ask(id));
            }
        }
        loop {
            // How long each mirror still waited for deserves to be waited for.
            let progress = answers
                .iter()
                .any(|(_, p)| p.sequence.is_none() || applied.is_none_or(|a| p.sequence > Some(a)));
            let (least, most) = if progress {
                PATIENCE_AFTER_PROGRESS
            } else {
                PATIENCE
            };
            let patience = |id: usize| {
                let h = pool.health(id);
                let usual = match h.latency_ms {
                    Some(ms) if h.consecutive_failures == 0 => {
                        Duration::from_secs_f64(ms * 3.0 / 1000.0)
                    }
                    _ => least,
                };
                usual.clamp(least, most)
            };
            let deadline = (!answers.is_empty())
                .then(|| waiting.iter().map(|&id| started + patience(id)).max())
                .flatten();
            let next = match deadline {
                Some(d) => tokio::select! {
                    n = running.next() => n,
                    () = tokio::time::sleep_until(d) => {
                        // A mirror that answered before is slow, and is
                        // given longer next time; one that never answered
                        // anything (dead, black-holed), or that had the
                        // longest wait already, failed: a few syncs open its
                        // circuit.
                        for &id in &waiting {
                            let waited = started.elapsed();
                            let h = pool.health(id);
                            if h.successes > 0 && patience(id) < most {
                                pool.record_slow(id, waited);
                            } else {
                                pool.record_failure(id, &MirrorError::Timeout(waited));
                            }
                        }
                        break;
                    }
                },
                None => running.next().await,
            };
            match next {
                Some((id, r)) => {
                    waiting.retain(|&w| w != id);
                    match r {
                        Ok(p) => answers.push((id, p)),
                        Err(f) => {
                            self.failed(id, &f);
                            errors.push((pool.url(id).to_owned(), f.message));
                        }
                    }
                }
                None => {
                    // Everyone asked has answered or failed.
                    if answers.is_empty() {
                        if let Some(rest) = second_wave.take().filter(|r| !r.is_empty()) {
                            for id in rest {
                                waiting.push(id);
                                running.push(ask(id));
                            }
                            continue;
                        }
                    }
                    break;
                }
            }
        }
        (answers, errors)
    }

    /// `library.json` from mirror `id`, verified with the signature it
    /// served (`sig`), or else with the signature of exactly these bytes (the
    /// catalog changed between the two requests).
    async fn fetch_catalog(&self, id: usize, sig: &[u8]) -> Result<VerifiedCatalog, Failure> {
        let bytes = self
            .pool
            .fetch_whole(id, CATALOG_FILE, MAX_CATALOG_BYTES as u64)
            .await?;
        // Kept, not copied: at 100,000 items a catalog is 56 MB.
        let (first, bytes) = match verify_catalog_owned(bytes, sig, self.key, Some(self.library)) {
            Ok(v) => return Ok(v),
            Err(refused) => refused,
        };
        let own = self
            .pool
            .fetch_whole(
                id,
                &signature_path(&Sha256::digest(&bytes)),
                MAX_SIGNATURE_BYTES as u64,
            )
            .await
            .ok();
        let result = match own {
            Some(own) => {
                verify_catalog_owned(bytes, &own, self.key, Some(self.library)).map_err(|(e, _)| e)
            }
            None => Err(first),
        };
        result.map_err(|e| {
            self.pool.record_bad_bytes(id, &e.to_string());
            Failure::from(e)
        })
    }
}

fn no_catalog(errors: &[(String, String)]) -> String {
    if errors.is_empty() {
        "no mirrors".to_owned()
    } else {
        let all: Vec<String> = errors.iter().map(|(m, e)| format!("{m}: {e}")).collect();
        format!("no mirror gave a valid catalog ({})", all.join("; "))
    }
}
