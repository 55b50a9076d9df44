//! Mirror health at a glance, for the app's list and the CLI's `mirrors`.

use serde::Serialize;
use stowaway_mirrors::{MirrorError, MirrorHealth};
use stowaway_sync::Engine;
use ts_rs::TS;

use crate::{Api, ApiResult};

/// One mirror of one library.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct MirrorView {
    pub library: String,
    pub url: String,
    /// ok | unknown | failing | retry_after | half_open | open | stale;
    /// not_allowed: a network share the member did not allow (never
    /// asked); unusable: a mirror this computer cannot open (a network
    /// share off Windows, say), with why in `last_error`.
    pub state: String,
    /// The catalog sequence it served at the last check, and the newest
    /// any mirror (or this laptop) had then: it is stale when behind.
    #[ts(type = "number | null")]
    pub serves: Option<u64>,
    #[ts(type = "number | null")]
    pub newest: Option<u64>,
    pub latency_ms: Option<f64>,
    pub throughput_bps: Option<f64>,
    pub last_error: Option<String>,
    /// Unix seconds of the last answer that worked.
    #[ts(type = "number | null")]
    pub last_success_at: Option<i64>,
    #[serde(skip)]
    #[ts(skip)]
    pub health: MirrorHealth,
}

impl Api {
    /// Every mirror of every library (or of one), with its health now.
    pub fn mirrors(&self, library: Option<&str>) -> ApiResult<Vec<MirrorView>> {
        let store = self.engine.store();
        let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let mut out = Vec::new();
        for lib in store.libraries()? {
            if library.is_some_and(|l| l != lib.id) {
                continue;
            }
            for r in store.mirror_records(&lib.id)? {
                let h = MirrorHealth::from_stored(r.health.as_deref());
                // What a sync makes of it (the same function).
                let (state, last_error) = match Engine::mirror_of(&r) {
                    Ok(_) => (h.state(now_ms), h.last_error.clone()),
                    Err(MirrorError::ShareNotAllowed { .. }) => (
                        "not_allowed",
                        Some("a network share you did not allow".into()),
                    ),
                    Err(e) => ("unusable", Some(e.to_string())),
                };
                out.push(MirrorView {
                    library: lib.id.clone(),
                    url: r.url,
                    state: state.to_owned(),
                    serves: h.catalog_sequence,
                    newest: h.newest_sequence,
                    latency_ms: h.latency_ms,
                    throughput_bps: h.throughput_bps,
                    last_error,
                    last_success_at: h.last_success_at.map(|ms| ms / 1000),
                    health: h,
                });
            }
        }
        if let Some(l) = library {
            if out.is_empty() {
                store.library(l)?;
            }
        }
        Ok(out)
    }
}
