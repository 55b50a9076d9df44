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
//! One that runs out of patience is recorded as failed, so a black hole's
//! circuit opens after a few syncs and it stops costing anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use stowaway_catalog::{
    read_claim, signature_path, verify_catalog, CatalogError, PublicKey, Sha256, VerifiedCatalog,
    CATALOG_FILE, MAX_CATALOG_BYTES, MAX_SIGNATURE_BYTES, SIGNATURE_FILE,
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
        let applied_sig = self
            .store
            .applied_signature(self.library)
            .map_err(|e| e.to_string())?;
        let applied_seq = applied.as_ref().map(|(s, _)| *s);
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
        // Mirrors whose catalog is worth fetching: newer than the applied one,
        // or claiming its sequence with another signature (an equivocation,
        // or a catalog applied before signatures were kept), best claim first.
        let mut candidates: Vec<(usize, &Probe)> = probes
            .iter()
            .filter(|(_, p)| match (p.sequence, applied_seq) {
                (_, None) | (None, _) => true,
                (Some(s), Some(a)) => {
                    s > a || (s == a && applied_sig.as_deref() != Some(&p.signature[..]))
                }
            })
            .map(|(id, p)| (*id, p))
            .collect();
        candidates.sort_by_key(|(id, p)| {
            (
                std::cmp::Reverse(p.sequence.unwrap_or(0)),
                order.get(id).copied().unwrap_or(usize::MAX),
            )
        });
        // Sequences the mirrors were found to serve (claimed, or fetched).
        let mut serves: HashMap<usize, u64> = probes
            .iter()
            .filter_map(|(id, p)| p.sequence.map(|s| (*id, s)))
            .collect();
        let mut winner: Option<(usize, Box<VerifiedCatalog>)> = None;
        let mut current: Option<usize> = probes
            .iter()
            .filter(|(_, p)| applied_sig.as_deref() == Some(&p.signature[..]))
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
                (Some(c), Some((_, w))) if c <= w.catalog.sequence => continue,
                (None, Some(_)) => continue,
                _ => {}
            }
            let sigs: HashMap<usize, &[u8]> = candidates
                .iter()
                .map(|(id, p)| (*id, &p.signature[..]))
                .collect();
            let attempt = |id: usize| {
                let sig = sigs[&id];
                let applied = applied.as_ref();
                async move {
                    match self.fetch_catalog(id, sig).await {
                        Err(f) => {
                            self.failed(id, &f);
                            Err(f.message)
                        }
                        Ok(v) => match applied {
                            Some((seq, _)) if v.catalog.sequence < *seq => {
                                Ok((id, Err(v.catalog.sequence)))
                            }
                            Some((seq, bytes)) if v.catalog.sequence == *seq => {
                                if *bytes == v.bytes {
                                    Ok((id, Ok(v)))
                                } else {
                                    let f = Failure::from(format!(
                                        "serves a different catalog with the applied sequence {seq} (equivocation refused)"
                                    ));
                                    self.pool.record_bad_bytes(id, &f.message);
                                    self.failed(id, &f);
                                    Err(f.message)
                                }
                            }
                            _ => Ok((id, Ok(v))),
                        },
                    }
                }
            };
            match self.pool.hedged_among(group, attempt).await {
                Ok((_, (id, Ok(v)))) => {
                    serves.insert(id, v.catalog.sequence);
                    if applied_seq == Some(v.catalog.sequence) {
                        // The applied catalog after all: keep its signature.
                        current.get_or_insert(id);
                        let store = self.store.clone();
                        let lib = self.library.to_owned();
                        let _ = tokio::task::spawn_blocking(move || store.apply_catalog(&lib, &v))
                            .await;
                    } else if winner
                        .as_ref()
                        .is_none_or(|(_, w)| v.catalog.sequence > w.catalog.sequence)
                    {
                        winner = Some((id, Box::new(v)));
                    }
                }
                Ok((_, (id, Err(older)))) => {
                    serves.insert(id, older);
                }
                Err(e) => errors.extend(e.into_iter().map(|e| (e.mirror, e.message))),
            }
        }
        let newest = winner
            .as_ref()
            .map(|(_, w)| w.catalog.sequence)
            .into_iter()
            .chain(applied_seq)
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
                        for &id in &waiting {
                            let waited = started.elapsed();
                            pool.record_failure(id, &MirrorError::Timeout(waited));
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
        let first = match verify_catalog(&bytes, sig, self.key, Some(self.library)) {
            Ok(v) => return Ok(v),
            Err(e) => e,
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
            Some(own) => verify_catalog(&bytes, &own, self.key, Some(self.library)),
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
