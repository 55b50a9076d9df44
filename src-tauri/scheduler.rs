//! When the background sync runs: at start-up, every `interval` minutes,
//! at once when woken ("Sync now", a new subscription, resumed downloads),
//! and — while no mirror answers — again after 15 s, 30 s, 1 min … up to
//! 5 min, so that when connectivity returns the library catches up within
//! minutes without hammering anything while it is away.

use std::time::Duration;

use tauri::{AppHandle, Manager};

use crate::state::AppState;
use stowaway_api::AppSettings;

const OFFLINE_FIRST_RETRY: Duration = Duration::from_secs(15);
const OFFLINE_MAX_RETRY: Duration = Duration::from_secs(5 * 60);

/// How long to wait before the next sync; None: until woken.
pub fn next_wait(interval_minutes: u32, offline: bool, offline_retries: u32) -> Option<Duration> {
    let interval =
        (interval_minutes > 0).then(|| Duration::from_secs(u64::from(interval_minutes) * 60));
    if offline {
        let backoff = OFFLINE_FIRST_RETRY
            .saturating_mul(1 << offline_retries.min(10))
            .min(OFFLINE_MAX_RETRY);
        return Some(interval.map_or(backoff, |i| i.min(backoff)));
    }
    interval
}

/// The loop: runs for the life of the app.
pub async fn run(app: AppHandle) {
    let state = app.state::<AppState>();
    let mut offline_retries = 0u32;
    loop {
        // Tokens given meanwhile (e.g. `stowaway token` in a terminal).
        state.load_tokens().await;
        state.sync(&app).await;
        let offline = state.status().offline;
        offline_retries = if offline { offline_retries + 1 } else { 0 };
        let interval = state
            .api
            .settings()
            .map(|s| s.sync_interval_minutes)
            .unwrap_or(AppSettings::DEFAULT_INTERVAL);
        let wait = next_wait(interval, offline, offline_retries.saturating_sub(1));
        tracing::debug!(?wait, offline, "next background sync");
        match wait {
            Some(d) => {
                tokio::select! {
                    () = tokio::time::sleep(d) => {}
                    () = state.wake.notified() => {}
                }
            }
            None => state.wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits() {
        let m = |n: u64| Some(Duration::from_secs(n * 60));
        assert_eq!(next_wait(30, false, 0), m(30));
        assert_eq!(next_wait(0, false, 0), None, "manual only");
        assert_eq!(next_wait(30, true, 0), Some(Duration::from_secs(15)));
        assert_eq!(next_wait(30, true, 1), Some(Duration::from_secs(30)));
        assert_eq!(next_wait(30, true, 3), Some(Duration::from_secs(120)));
        assert_eq!(next_wait(30, true, 9), m(5), "capped");
        assert_eq!(next_wait(2, true, 9), m(2), "never later than the interval");
        assert_eq!(
            next_wait(0, true, 40),
            m(5),
            "offline retries even when manual"
        );
    }
}
