//! The tray icon: sync status, Sync now, Pause downloads, Open, Quit.
//!
//! On Linux (AppIndicator) a click on the icon opens the menu, so "Open" is
//! a menu item; a desktop without a tray shows nothing, and launching
//! Stowaway again brings the window back (one instance only).

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

use stowaway_api::SyncStatus;

use crate::state;

/// Menu items that change with the sync status.
pub struct TrayItems {
    status: MenuItem<Wry>,
    sync: MenuItem<Wry>,
    pause: CheckMenuItem<Wry>,
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Stowaway", false, None::<&str>)?;
    let sync = MenuItem::with_id(app, "sync", "Sync now", true, None::<&str>)?;
    let paused = state::get(app).status().paused;
    let pause =
        CheckMenuItem::with_id(app, "pause", "Pause downloads", true, paused, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Stowaway", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &sync,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &quit,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Stowaway")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "sync" => state::get(app).wake.notify_one(),
            "pause" => {
                let s = state::get(app);
                let paused = !s.status().paused;
                if let Err(e) = s.set_paused(app, paused) {
                    tracing::warn!(error = %e, "cannot pause downloads");
                }
            }
            "open" => crate::show_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::show_main_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TrayItems {
        status,
        sync,
        pause,
    });
    Ok(())
}

/// The status line for the menu.
pub fn status_line(s: &SyncStatus, now: i64) -> String {
    if s.running {
        return "Syncing…".into();
    }
    if s.offline {
        return "Offline — playing from this laptop".into();
    }
    if !s.needs_token.is_empty() {
        return "A private library needs your access token".into();
    }
    let paused = if s.paused { " · downloads paused" } else { "" };
    match s.last_ok_at {
        Some(t) => format!("Synced {}{paused}", crate::ago(now - t)),
        None => format!("Not synced yet{paused}"),
    }
}

/// Reflects the sync status in the menu (no-op without a tray).
pub fn update(app: &AppHandle, s: &SyncStatus) {
    let Some(items) = app.try_state::<TrayItems>() else {
        return;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let _ = items.status.set_text(status_line(s, now));
    let _ = items.sync.set_enabled(!s.running);
    let _ = items.pause.set_checked(s.paused);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let mut s = SyncStatus::default();
        assert_eq!(status_line(&s, 1000), "Not synced yet");
        s.last_ok_at = Some(1000 - 120);
        assert_eq!(status_line(&s, 1000), "Synced 2 min ago");
        s.paused = true;
        assert_eq!(status_line(&s, 1000), "Synced 2 min ago · downloads paused");
        s.offline = true;
        assert_eq!(status_line(&s, 1000), "Offline — playing from this laptop");
        s.running = true;
        assert_eq!(status_line(&s, 1000), "Syncing…");
    }
}
