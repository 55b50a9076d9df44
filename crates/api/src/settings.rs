//! The app's settings, kept in the cache's settings table (the storage
//! budget and the pause switch belong to the engine and live there too).

use serde::{Deserialize, Serialize};
use stowaway_store::{Store, StoreError};

use crate::{ApiError, ErrorCode};
use ts_rs::TS;

const INTERVAL: &str = "app.sync_interval_minutes";
const NOTIFY: &str = "app.notify_new_items";
const TRAY: &str = "app.close_to_tray";
const SPEED: &str = "player.default_speed";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppSettings {
    /// Minutes between background syncs; 0: only at start-up and on demand.
    pub sync_interval_minutes: u32,
    /// A desktop notification when new items arrive.
    pub notify_new_items: bool,
    /// Closing the window keeps Stowaway syncing in the tray.
    pub close_to_tray: bool,
    /// Start (in the tray) when the member logs in.
    pub start_at_login: bool,
    /// Largest size of the cache in bytes; None: no limit.
    #[ts(type = "number | null")]
    pub storage_budget: Option<u64>,
    /// The playback speed of a collection the member set none for (0.5–3).
    pub default_speed: f64,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            sync_interval_minutes: Self::DEFAULT_INTERVAL,
            notify_new_items: true,
            close_to_tray: true,
            start_at_login: false,
            storage_budget: None,
            default_speed: 1.0,
        }
    }
}

impl AppSettings {
    pub const DEFAULT_INTERVAL: u32 = 30;

    /// The default playback speed alone (what the player needs per item).
    pub fn default_speed(store: &Store) -> Result<f64, StoreError> {
        Ok(store
            .setting(SPEED)?
            .and_then(|v| v.parse().ok())
            .filter(|s| stowaway_store::check_speed(*s).is_ok())
            .unwrap_or(1.0))
    }

    /// Reads the stored settings (`start_at_login` is the OS's business
    /// and filled in by the caller).
    pub fn load(store: &Store) -> Result<AppSettings, StoreError> {
        let flag = |k: &str, default: bool| -> Result<bool, StoreError> {
            Ok(store.setting(k)?.map(|v| v == "1").unwrap_or(default))
        };
        Ok(AppSettings {
            sync_interval_minutes: store
                .setting(INTERVAL)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(Self::DEFAULT_INTERVAL),
            notify_new_items: flag(NOTIFY, true)?,
            close_to_tray: flag(TRAY, true)?,
            start_at_login: false,
            storage_budget: store.storage_budget()?,
            default_speed: Self::default_speed(store)?,
        })
    }

    /// Validates and stores them.
    pub fn save(&self, store: &Store) -> Result<(), ApiError> {
        let invalid = |m: &str| Err(ApiError::new(ErrorCode::Invalid, m));
        if self.sync_interval_minutes > 7 * 24 * 60 {
            return invalid("the sync interval can be a week at most");
        }
        if self.storage_budget == Some(0) {
            return invalid("a storage budget of nothing would hold nothing");
        }
        stowaway_store::check_speed(self.default_speed)?;
        let b = |v: bool| if v { "1" } else { "0" };
        let r = (|| {
            store.set_setting(INTERVAL, Some(&self.sync_interval_minutes.to_string()))?;
            store.set_setting(NOTIFY, Some(b(self.notify_new_items)))?;
            store.set_setting(TRAY, Some(b(self.close_to_tray)))?;
            store.set_setting(SPEED, Some(&self.default_speed.to_string()))?;
            store.set_storage_budget(self.storage_budget)
        })();
        Ok(r?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = AppSettings::load(&store).unwrap();
        assert_eq!(
            (
                d.sync_interval_minutes,
                d.notify_new_items,
                d.close_to_tray,
                d.storage_budget
            ),
            (30, true, true, None)
        );
        let s = AppSettings {
            sync_interval_minutes: 0,
            notify_new_items: false,
            close_to_tray: false,
            start_at_login: false,
            storage_budget: Some(2_000_000_000),
            default_speed: 1.25,
        };
        s.save(&store).unwrap();
        assert_eq!(AppSettings::load(&store).unwrap(), s);
        let too_long = AppSettings {
            sync_interval_minutes: 8 * 24 * 60,
            ..s.clone()
        };
        assert_eq!(too_long.save(&store).unwrap_err().code, ErrorCode::Invalid);
        let too_fast = AppSettings {
            default_speed: 4.0,
            ..s.clone()
        };
        assert_eq!(too_fast.save(&store).unwrap_err().code, ErrorCode::Invalid);
        assert_eq!(AppSettings::load(&store).unwrap(), s, "nothing changed");
    }
}
