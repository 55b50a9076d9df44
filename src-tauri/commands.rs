//! The commands the page may call. Each is a thin adapter: arguments in,
//! one engine/store call, a serialisable answer (types generated for the UI
//! by ts-rs) or a [`CommandError`] with a stable code.

use serde::Serialize;
use stowaway_catalog::AssetRole;
use stowaway_store::{CollectionView, ItemKey, LibraryStatus, Playback, SearchHit};
use tauri::{AppHandle, Manager, State};
use ts_rs::TS;

use crate::state::{AppState, SyncStatus};

/// An error the page can show and match on.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl<E: std::fmt::Display> From<E> for CommandError {
    fn from(e: E) -> Self {
        CommandError {
            code: "error".into(),
            message: e.to_string(),
        }
    }
}

type Answer<T> = Result<T, CommandError>;

/// Everything the library view shows.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct Snapshot {
    pub libraries: Vec<LibraryStatus>,
    pub collections: Vec<CollectionView>,
    pub sync: SyncStatus,
}

#[tauri::command]
pub fn snapshot(state: State<'_, AppState>) -> Answer<Snapshot> {
    let store = state.engine.store();
    let libraries = store.status()?;
    let mut sync = state.status();
    if sync.last_ok_at.is_none() {
        // Before this run's first sync: what the store remembers.
        sync.last_ok_at = libraries
            .iter()
            .filter(|l| l.last_sync_ok == Some(true))
            .filter_map(|l| l.last_sync_at)
            .max();
    }
    Ok(Snapshot {
        libraries,
        collections: store.list(None)?,
        sync,
    })
}

#[tauri::command]
pub fn search(state: State<'_, AppState>, query: String) -> Answer<Vec<SearchHit>> {
    Ok(state.engine.store().search(&query, 50)?)
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    /// None until it is downloaded.
    pub url: Option<String>,
}

/// One item, for the player.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct ItemDetail {
    pub library_id: String,
    pub collection_id: String,
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    pub notes: Option<String>,
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
    /// The media, served by the app's loopback media server (None until downloaded).
    pub media_url: Option<String>,
    pub media_type: Option<String>,
    pub transcript_url: Option<String>,
    pub chapters_url: Option<String>,
    pub artwork_url: Option<String>,
    pub attachments: Vec<Attachment>,
    pub playback: Playback,
}

#[tauri::command]
pub fn item_detail(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: String,
) -> Answer<ItemDetail> {
    let key = ItemKey {
        library: &library,
        collection: &collection,
        item: &item,
    };
    let store = state.engine.store();
    let text = store.item_text(key)?.ok_or_else(|| CommandError {
        code: "not_found".into(),
        message: format!("no item {library}/{collection}/{item}"),
    })?;
    let assets = store.item_assets(key)?;
    let url = |role: AssetRole, index: usize| {
        assets
            .iter()
            .find(|a| a.role == role.as_str() && a.index == index && a.stored)
            .map(|_| state.media.asset_url(key, role, index))
    };
    let media = assets.iter().find(|a| a.role == "media");
    Ok(ItemDetail {
        library_id: library.clone(),
        collection_id: collection.clone(),
        id: item.clone(),
        title: text.title,
        summary: text.summary,
        notes: text.notes,
        duration_ms: text.duration_ms,
        media_url: url(AssetRole::Media, 0),
        media_type: media.map(|m| m.media_type.clone()),
        transcript_url: url(AssetRole::Transcript, 0),
        chapters_url: url(AssetRole::Chapters, 0),
        artwork_url: url(AssetRole::Artwork, 0),
        attachments: assets
            .iter()
            .filter(|a| a.role == "attachment")
            .map(|a| Attachment {
                name: a.name.clone().unwrap_or_else(|| "attachment".into()),
                media_type: a.media_type.clone(),
                url: a
                    .stored
                    .then(|| state.media.asset_url(key, AssetRole::Attachment, a.index)),
            })
            .collect(),
        playback: store.playback(key)?,
    })
}

#[tauri::command]
pub fn save_position(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: String,
    position_ms: f64,
    duration_ms: Option<f64>,
) -> Answer<()> {
    let key = ItemKey {
        library: &library,
        collection: &collection,
        item: &item,
    };
    let pos = position_ms.max(0.0) as u64;
    let dur = duration_ms
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| d as u64);
    state.engine.store().set_position(key, pos, dur)?;
    Ok(())
}

#[tauri::command]
pub fn set_played(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: String,
    played: bool,
) -> Answer<()> {
    let key = ItemKey {
        library: &library,
        collection: &collection,
        item: &item,
    };
    state.engine.store().set_played(key, played)?;
    Ok(())
}

#[tauri::command]
pub async fn sync_now(app: AppHandle) -> Answer<()> {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        state.sync(&app).await;
    });
    Ok(())
}

#[tauri::command]
pub async fn subscribe(app: AppHandle, source: String) -> Answer<String> {
    let state = app.state::<AppState>();
    let library = state.subscribe(source.trim()).await?;
    let app2 = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app2.state::<AppState>();
        state.sync(&app2).await;
    });
    Ok(library)
}
