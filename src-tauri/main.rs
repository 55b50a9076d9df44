//! The Stowaway desktop app: a thin Tauri shell over the engine.
//!
//! It owns an [`Engine`] (the same one the CLI drives), the media server,
//! and a background sync task; the page calls the commands in
//! `commands.rs` and listens to forwarded `SyncEvent`s. No business logic
//! lives here.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use stowaway_media::MediaServer;
use stowaway_mirrors::ClientConfig;
use stowaway_store::Store;
use stowaway_sync::Engine;
use tauri::{Emitter, Manager};

use crate::state::AppState;

/// The cache: `STOWAWAY_DATA_DIR`, else the platform data directory (the
/// same default as the CLI, so both see one library).
fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("STOWAWAY_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    let dirs = directories::ProjectDirs::from("org", "Stowaway", "Stowaway")
        .context("no home directory: set STOWAWAY_DATA_DIR")?;
    Ok(dirs.data_dir().to_path_buf())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOWAWAY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // One tokio runtime for everything, handed to Tauri.
    let runtime = tokio::runtime::Runtime::new()?;
    tauri::async_runtime::set(runtime.handle().clone());

    let dir = data_dir()?;
    let store = Arc::new(
        Store::open(&dir).with_context(|| format!("opening the cache in {}", dir.display()))?,
    );
    let engine = Engine::new(store.clone(), ClientConfig::default())?;
    // The page's origin (Linux/macOS, Windows) may fetch transcripts and chapters.
    let media = runtime.block_on(MediaServer::start(
        store.clone(),
        &["tauri://localhost", "http://tauri.localhost"],
    ))?;
    let state = AppState::new(engine, media);

    // A subscription to add at start-up (the demo and the tests use this).
    let initial = std::env::var("STOWAWAY_SUBSCRIBE").ok();

    tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::search,
            commands::item_detail,
            commands::save_position,
            commands::set_played,
            commands::sync_now,
            commands::subscribe,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            let state = app.state::<AppState>();
            // Forward engine events to the page.
            let mut events = state.engine.events();
            let h = handle.clone();
            tauri::async_runtime::spawn(async move {
                while let Ok(ev) = events.recv().await {
                    let _ = h.emit("sync-event", &ev);
                }
            });
            // Subscribe (if asked), then sync on start-up and every 30 minutes.
            let h = handle.clone();
            tauri::async_runtime::spawn(async move {
                let state = h.state::<AppState>();
                if let Some(source) = initial {
                    if let Err(e) = state.subscribe(&source).await {
                        tracing::warn!(error = %e, "start-up subscription failed");
                    }
                }
                loop {
                    state.sync(&h).await;
                    tokio::time::sleep(std::time::Duration::from_secs(30 * 60)).await;
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!())
        .context("running the app")?;
    drop(runtime);
    Ok(())
}
