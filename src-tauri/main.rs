//! The Stowaway desktop app: a thin Tauri shell over the engine.
//!
//! It owns an [`Engine`] (the same one the CLI drives), the media server,
//! the tray and the background sync loop; the page calls the commands in
//! `commands.rs` (thin adapters over `stowaway-api`, the use cases it
//! shares with the CLI) and listens to forwarded events. No business logic
//! lives here.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod links;
mod scheduler;
mod state;
mod tray;
mod updates;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use stowaway_api::{Api, OsKeyring};
use stowaway_media::MediaServer;
use tauri::{AppHandle, Emitter, Manager, WindowEvent};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// Passed by the login item: start in the tray, without a window.
const MINIMIZED: &str = "--minimized";

/// The cache: `STOWAWAY_DATA_DIR`, else the platform data directory (the
/// same default as the CLI, so both see one library).
fn data_dir() -> anyhow::Result<(PathBuf, bool)> {
    if let Some(d) = std::env::var_os("STOWAWAY_DATA_DIR") {
        return Ok((PathBuf::from(d), true));
    }
    let dirs = directories::ProjectDirs::from("org", "Stowaway", "Stowaway")
        .context("no home directory: set STOWAWAY_DATA_DIR")?;
    // The machine's own data folder, not one that roams with a Windows
    // profile (gigabytes of media); the same as data_dir on Linux and macOS.
    Ok((dirs.data_local_dir().to_path_buf(), false))
}

/// One instance per cache: the D-Bus name of the default cache is the app
/// id; another cache (STOWAWAY_DATA_DIR) gets its own, so a test or a second
/// library folder never hands its arguments to the member's running app.
/// On Windows and macOS the single-instance plugin names its mutex or
/// socket from the app's identifier instead, so there a second cache's
/// app runs under this id as its identifier (see [`context`]).
fn instance_id(dir: &Path, custom: bool) -> String {
    if !custom {
        return "org.stowaway.app".into();
    }
    let h = stowaway_catalog::Sha256::digest(dir.display().to_string().as_bytes());
    format!("org.stowaway.app.d{}", &h.as_str()[..16])
}

/// The app's context. For a second cache off Linux, the identifier is that
/// cache's instance id ([`instance_id`]): the single-instance plugin names
/// its Windows mutex and macOS socket from it (on Linux it takes the D-Bus
/// name given, and the identifier stays, as the desktop entry and the
/// notifications know it). Only a second cache, which a member runs on
/// purpose, gets its own webview profile and notification id this way.
fn context(dir: &Path, custom: bool) -> tauri::Context<tauri::Wry> {
    let mut ctx = tauri::generate_context!();
    if custom && cfg!(not(target_os = "linux")) {
        ctx.config_mut().identifier = instance_id(dir, custom);
    }
    ctx
}

pub fn show_main_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// A desktop notification; failures (no notification service) are logged.
pub fn notify(app: &AppHandle, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

/// "2 min ago" for the tray.
pub fn ago(secs: i64) -> String {
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86400),
    }
}

/// Forwards engine events until the engine goes away. A slow receiver that
/// lags behind the broadcast channel loses the oldest events, never the
/// forwarding: it is told (`lagged`) and goes on. (Before, one lag ended
/// the forwarding for good and the page saw no progress again.)
async fn forward_events(
    mut events: tokio::sync::broadcast::Receiver<stowaway_sync::SyncEvent>,
    emit: impl Fn(&stowaway_sync::SyncEvent),
    lagged: impl Fn(),
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(ev) => emit(&ev),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(dropped = n, "the page fell behind the sync events");
                lagged();
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// Days of log files kept.
const LOG_DAYS: usize = 7;

/// Logs to standard error and to `logs/stowaway.<date>.log` in the cache
/// (a file a day, the last [`LOG_DAYS`] kept, readable by the member only):
/// an app started from the desktop has no terminal, and a Windows release
/// build no console at all, so the file is where a member (or whoever
/// helps them) finds what happened. `STOWAWAY_LOG` sets what is logged
/// (default: warnings, and the app's own start-up and update lines). The
/// guard returned flushes the file when dropped.
fn init_logging(dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let filter = || {
        EnvFilter::try_from_env("STOWAWAY_LOG").unwrap_or_else(|_| "warn,stowaway_app=info".into())
    };
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let file = stowaway_api::log_dir(dir)
        .map_err(|e| e.to_string())
        .and_then(|logs| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("stowaway")
                .filename_suffix("log")
                .max_log_files(LOG_DAYS)
                .build(&logs)
                .map_err(|e| e.to_string())
        });
    match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file = fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter());
            tracing_subscriber::registry()
                .with(stderr)
                .with(file)
                .init();
            Some(guard)
        }
        Err(e) => {
            tracing_subscriber::registry().with(stderr).init();
            tracing::warn!(cache = %dir.display(), error = %e, "no log file: logging to standard error only");
            None
        }
    }
}

fn main() -> anyhow::Result<()> {
    let (dir, custom_dir) = data_dir()?;
    let log = init_logging(&dir);
    // A panic is said in the log too (a Windows release build has no
    // console), then reported as before.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(panic = %info, "the app panicked");
        report(info);
    }));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), cache = %dir.display(), "Stowaway started");
    run(dir, custom_dir, log).inspect_err(|e| tracing::error!("{e:#}"))
}

/// The app, until it quits. `log` flushes the log file when the app exits
/// (the event loop ends the process: nothing after it runs).
fn run(
    dir: PathBuf,
    custom_dir: bool,
    mut log: Option<tracing_appender::non_blocking::WorkerGuard>,
) -> anyhow::Result<()> {
    // One tokio runtime for everything, handed to Tauri.
    let runtime = tokio::runtime::Runtime::new()?;
    tauri::async_runtime::set(runtime.handle().clone());

    let api = Api::open(&dir, Arc::new(OsKeyring))
        .with_context(|| format!("opening the cache in {}", dir.display()))?;
    // The page's origin (Linux/macOS, Windows) may fetch transcripts and chapters.
    let media = runtime.block_on(MediaServer::start(
        api.engine().store().clone(),
        &["tauri://localhost", "http://tauri.localhost"],
    ))?;
    let state = AppState::new(api, media);

    let args: Vec<String> = std::env::args().skip(1).collect();
    let minimized = args.iter().any(|a| a == MINIMIZED);
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut initial_links = links::from_args(&args, &cwd);
    // A subscription to add at start-up without asking (the demo and the
    // tests use this; a member's links always ask first).
    let initial = std::env::var("STOWAWAY_SUBSCRIBE").ok();

    let app = tauri::Builder::default()
        // First: a second launch hands its arguments over and exits.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance_id(&dir, custom_dir))
                .callback(|app, argv, cwd| {
                    let sources =
                        links::from_args(argv.get(1..).unwrap_or_default(), Path::new(&cwd));
                    show_main_window(app);
                    state::get(app).offer_links(app, sources);
                })
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        // Used from Rust only (attachments, by item): the page gets none of
        // its commands.
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![MINIMIZED]),
        ))
        // Installs what `updates` fetched and checked; the page gets none of
        // its commands (the capability lists none).
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(state)
        .manage(updates::Updates::default())
        .invoke_handler(tauri::generate_handler![
            commands::library_page,
            commands::collections,
            commands::collection,
            commands::items,
            commands::search,
            commands::item_detail,
            commands::play_now,
            commands::save_position,
            commands::set_played,
            commands::mark_earlier_played,
            commands::queue,
            commands::queue_add,
            commands::queue_move,
            commands::queue_remove,
            commands::queue_clear,
            commands::up_next,
            commands::set_collection_speed,
            commands::sync_now,
            commands::preview_subscription,
            commands::subscribe,
            commands::take_links,
            commands::set_access_token,
            commands::downloads,
            commands::download,
            commands::remove_download,
            commands::set_download_mode,
            commands::set_downloads_paused,
            commands::set_pinned,
            commands::ready,
            commands::settings,
            commands::set_settings,
            commands::mirrors,
            commands::import_opml,
            commands::export_opml,
            commands::unsubscribe,
            commands::open_attachment,
            commands::open_link,
            commands::chapters,
            commands::media_base,
            commands::chapter_image,
            commands::update_status,
            commands::install_update,
        ])
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let app = window.app_handle();
                let state = state::get(app);
                let to_tray = state.settings().close_to_tray;
                if to_tray && app.try_state::<tray::TrayItems>().is_some() {
                    api.prevent_close();
                    let _ = window.hide();
                    if state.first_hide() {
                        notify(
                            app,
                            "Stowaway keeps syncing",
                            "It is in the tray. Quit from there, or open it again from your apps.",
                        );
                    }
                }
            }
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            if let Err(e) = tray::build(&handle) {
                // No tray (no AppIndicator): closing the window quits.
                tracing::warn!(error = %e, "no tray icon");
            }
            if minimized && app.try_state::<tray::TrayItems>().is_some() {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.hide();
                }
            }
            // Forward engine events to the page.
            let events = state::get(&handle).engine().events();
            let (h, h2) = (handle.clone(), handle.clone());
            tauri::async_runtime::spawn(forward_events(
                events,
                move |ev| {
                    if let Some(ev) = stowaway_api::PageEvent::of(ev) {
                        let _ = h.emit("sync-event", ev);
                    }
                },
                // Events were dropped (the page fell behind): it reloads
                // what it shows instead of trusting its running totals.
                move || {
                    let _ = h2.emit("sync-status", state::get(&h2).status());
                },
            ));
            // Links from other platforms' deep-link events.
            {
                use tauri_plugin_deep_link::DeepLinkExt;
                let h = handle.clone();
                app.deep_link().on_open_url(move |e| {
                    let sources = e
                        .urls()
                        .iter()
                        .filter_map(|u| links::normalize(u.as_str()).ok())
                        .collect();
                    state::get(&h).offer_links(&h, sources);
                });
            }
            let links = std::mem::take(&mut initial_links);
            let h = handle.clone();
            tauri::async_runtime::spawn(async move {
                let state = state::get(&h);
                state.load_tokens().await;
                if let Some(source) = initial {
                    if let Err(e) = state.subscribe(&source).await {
                        tracing::warn!(error = %e, "start-up subscription failed");
                    }
                }
                state.offer_links(&h, links);
                tauri::async_runtime::spawn(updates::run(h.clone()));
                scheduler::run(h.clone()).await;
            });
            Ok(())
        })
        .build(context(&dir, custom_dir))
        .context("starting the app")?;
    app.run(move |app, event| {
        if let tauri::RunEvent::Exit = event {
            tracing::info!("Stowaway quits");
            drop(log.take());
        }
        // macOS: the Dock icon clicked, or the app opened again, while its
        // window is hidden in the menu bar: no second process starts there
        // (so the single-instance hand-over never runs); the window shows.
        #[cfg(target_os = "macos")]
        if let tauri::RunEvent::Reopen { .. } = event {
            show_main_window(app);
        }
        let _ = (app, event);
    });
    drop(runtime);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use stowaway_sync::SyncEvent;

    /// More events than the channel holds arrive before the forwarder reads
    /// any: it reports the lag and keeps forwarding what comes after.
    #[tokio::test]
    async fn the_event_forwarder_survives_a_lag() {
        let (tx, rx) = tokio::sync::broadcast::channel(4);
        let ev = |n: usize| SyncEvent::LibraryStarted {
            library: format!("lib{n}"),
        };
        for n in 0..10 {
            tx.send(ev(n)).unwrap();
        }
        let (seen, lags) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, l) = (seen.clone(), lags.clone());
        let task = tokio::spawn(super::forward_events(
            rx,
            move |_| {
                s.fetch_add(1, Ordering::SeqCst);
            },
            move || {
                l.fetch_add(1, Ordering::SeqCst);
            },
        ));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        tx.send(ev(10)).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(lags.load(Ordering::SeqCst), 1);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            5,
            "the last 4 queued, then the new one"
        );
        drop(tx);
        task.await.unwrap();
    }
}
