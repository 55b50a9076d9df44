//! The commands the page may call. Each is a thin adapter: arguments in,
//! one engine/store call, a serialisable answer (types generated for the UI
//! by ts-rs) or a [`CommandError`] with a stable code. Those that touch the
//! store are `async` (run off the main thread): a long catalog apply holding
//! the writer must never freeze the window or the tray.

use serde::Serialize;
use stowaway_catalog::AssetRole;
use stowaway_store::{
    CollectionView, DownloadMode, Freed, ItemKey, LibraryStatus, Playback, QueuedDownload,
    SearchHit, StorageUsage,
};
use tauri::{AppHandle, State};
use ts_rs::TS;

use crate::settings::AppSettings;
use crate::state::{AppState, SyncStatus, TokenSaved};

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

#[tauri::command(async)]
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

#[tauri::command(async)]
pub fn search(state: State<'_, AppState>, query: String) -> Answer<Vec<SearchHit>> {
    Ok(state.engine.store().search(&query, 50)?)
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct Attachment {
    /// Its place among the item's attachments (for `open_attachment`).
    pub index: u32,
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

#[tauri::command(async)]
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
                index: a.index as u32,
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

#[tauri::command(async)]
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

#[tauri::command(async)]
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
pub fn sync_now(state: State<'_, AppState>) -> Answer<()> {
    state.wake.notify_one();
    Ok(())
}

/// What a `.stowaway` file, link or podcast feed URL offers, for the member
/// to confirm.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct SubscriptionPreview {
    /// What to hand `subscribe` (the link resolved to a URL or path).
    pub source: String,
    /// The library id (for a feed: the one it will get).
    pub library: String,
    pub title: Option<String>,
    /// Mirror base URLs (for a feed: the hosts of its files).
    pub mirrors: Vec<String>,
    /// For a library already subscribed: mirrors it did not have, and
    /// mirrors this update drops (for a private one, either makes confirming
    /// forget the access token, to be given again).
    pub new_mirrors: Vec<String>,
    pub removed_mirrors: Vec<String>,
    /// The file says a private library is public: it stays private (an
    /// update never lowers access).
    pub access_kept: bool,
    /// Its mirrors want an access token.
    pub private: bool,
    pub already_subscribed: bool,
    /// The publisher's key every catalog must be signed with (empty for a feed).
    pub public_key: String,
    /// Set for a podcast feed (RSS or Atom), which nothing signs.
    pub feed: Option<FeedOffer>,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct FeedOffer {
    /// Where the feed is (after redirects).
    pub url: String,
    /// Episodes the library will have (with something to play).
    pub episodes: u32,
    /// Episodes it will not, one line per reason ("2 episode(s) skipped, no
    /// audio or video file: …").
    pub skipped: Vec<String>,
    pub description: Option<String>,
}

#[tauri::command]
pub async fn preview_subscription(
    state: State<'_, AppState>,
    source: String,
) -> Answer<SubscriptionPreview> {
    let source = crate::links::normalize(&source).map_err(|m| CommandError {
        code: "bad_link".into(),
        message: m,
    })?;
    let sub = match state.engine.read_source(&source).await? {
        stowaway_sync::Source::Library(sub) => sub,
        stowaway_sync::Source::Feed(fetched) => {
            let store = state.engine.store();
            let existing = store.feed_library(fetched.url.as_str())?;
            let mut hosts: Vec<String> = Vec::new();
            for e in &fetched.feed.episodes {
                for u in e
                    .enclosure
                    .iter()
                    .map(|x| &x.url)
                    .chain(e.alternate_enclosures.iter().flat_map(|a| a.sources.iter()))
                {
                    let h = stowaway_sync::origin_of(u);
                    if !hosts.contains(&h) {
                        hosts.push(h);
                    }
                }
            }
            let mapped = fetched.preview();
            let preview = SubscriptionPreview {
                source: source.clone(),
                library: existing.clone().unwrap_or_else(|| {
                    stowaway_sync::library_id_for(fetched.feed.title.as_deref(), &fetched.url)
                }),
                title: fetched.feed.title.clone(),
                mirrors: hosts,
                new_mirrors: Vec::new(),
                removed_mirrors: Vec::new(),
                access_kept: false,
                private: false,
                already_subscribed: existing.is_some(),
                public_key: String::new(),
                feed: Some(FeedOffer {
                    url: fetched.url.to_string(),
                    episodes: mapped.episodes as u32,
                    skipped: mapped.summary(),
                    description: fetched.feed.description.clone(),
                }),
            };
            state.remember_preview(&source, crate::state::Offer::Feed(fetched));
            return Ok(preview);
        }
    };
    let store = state.engine.store();
    let existing = store.library(&sub.library).ok();
    let already_subscribed = existing.is_some();
    let known = if already_subscribed {
        store.mirrors(&sub.library)?
    } else {
        Vec::new()
    };
    let new_mirrors = if already_subscribed {
        sub.mirrors
            .iter()
            .filter(|m| !known.contains(m))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let removed_mirrors = match &existing {
        Some(_) => store
            .subscription_mirrors(&sub.library)?
            .into_iter()
            .filter(|m| !sub.mirrors.contains(m))
            .collect(),
        None => Vec::new(),
    };
    let was_private = existing.as_ref().is_some_and(|l| l.private);
    // What the member confirms is exactly this: `subscribe` uses it, not a
    // second fetch (which could answer differently).
    state.remember_preview(&source, crate::state::Offer::Library(sub.clone()));
    Ok(SubscriptionPreview {
        source,
        private: was_private || sub.access == stowaway_catalog::Access::Token,
        access_kept: was_private && sub.access == stowaway_catalog::Access::Public,
        library: sub.library,
        title: sub.title,
        mirrors: sub.mirrors,
        new_mirrors,
        removed_mirrors,
        already_subscribed,
        public_key: sub.public_key,
        feed: None,
    })
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct Subscribed {
    pub library: String,
    pub token: Option<TokenSaved>,
}

/// Subscribes to what the member confirmed (the preview of `source`), with
/// the access token of a private library if they gave one; the first sync
/// starts at once.
#[tauri::command]
pub async fn subscribe(
    state: State<'_, AppState>,
    source: String,
    token: Option<String>,
) -> Answer<Subscribed> {
    let source = crate::links::normalize(&source).map_err(|m| CommandError {
        code: "bad_link".into(),
        message: m,
    })?;
    let offer = state.take_preview(&source).ok_or_else(|| CommandError {
        code: "not_previewed".into(),
        message: "open the subscription again: it was not shown for confirmation".into(),
    })?;
    let mut shown = Vec::new();
    let library = match offer {
        crate::state::Offer::Library(sub) => {
            shown.clone_from(&sub.mirrors);
            state.subscribe_confirmed(&sub).await?
        }
        crate::state::Offer::Feed(fetched) => {
            let engine = state.engine.clone();
            tokio::task::spawn_blocking(move || engine.subscribe_feed(&fetched))
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))??
                .library
        }
    };
    let token = match token.filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(state.set_token(&library, &t, &shown).await?),
        None => None,
    };
    state.wake.notify_one();
    Ok(Subscribed { library, token })
}

/// Links and files the desktop handed over, waiting for confirmation.
#[tauri::command]
pub fn take_links(state: State<'_, AppState>) -> Vec<String> {
    state.take_links()
}

/// What an OPML import did.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct OpmlImported {
    /// Titles of the feeds subscribed now.
    pub added: Vec<String>,
    /// Feeds that were already subscribed.
    pub already: u32,
}

/// Subscribes to every feed of an OPML file (its text, as the page read it
/// from the file the member picked); the sync that follows fetches them.
#[tauri::command(async)]
pub fn import_opml(state: State<'_, AppState>, text: String) -> Answer<OpmlImported> {
    if text.len() > 32 << 20 {
        return Err(CommandError {
            code: "too_large".into(),
            message: "that file is larger than 32 MiB: not a subscription list".into(),
        });
    }
    let done = state.engine.import_opml(text.as_bytes())?;
    let added: Vec<String> = done
        .iter()
        .filter(|f| f.new)
        .map(|f| f.title.clone())
        .collect();
    if !added.is_empty() {
        state.wake.notify_one();
    }
    Ok(OpmlImported {
        already: (done.len() - added.len()) as u32,
        added,
    })
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct OpmlExported {
    pub path: String,
    pub feeds: u32,
}

/// Writes every podcast subscription as OPML into the member's Downloads
/// folder (their home folder if there is none), never over another file.
#[tauri::command(async)]
pub fn export_opml(state: State<'_, AppState>) -> Answer<OpmlExported> {
    let (text, n) = state.engine.export_opml()?;
    let dirs = directories::UserDirs::new().ok_or_else(|| CommandError {
        code: "no_home".into(),
        message: "no home folder to save into".into(),
    })?;
    let dir = dirs
        .download_dir()
        .unwrap_or_else(|| dirs.home_dir())
        .to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let path = (1..1000)
        .map(|i| {
            dir.join(if i == 1 {
                "stowaway-podcasts.opml".to_owned()
            } else {
                format!("stowaway-podcasts-{i}.opml")
            })
        })
        .find(|p| !p.exists())
        .ok_or("too many exports in that folder")?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))?;
    Ok(OpmlExported {
        path: path.display().to_string(),
        feeds: n as u32,
    })
}

/// The member's token for `library`, given in a dialog that showed its
/// mirrors (`mirrors`): the token goes to those.
#[tauri::command]
pub async fn set_access_token(
    state: State<'_, AppState>,
    library: String,
    token: String,
    mirrors: Vec<String>,
) -> Answer<TokenSaved> {
    let saved = state.set_token(&library, &token, &mirrors).await?;
    state.wake.notify_one();
    Ok(saved)
}

/// The downloads view: what is queued (with partial bytes) and storage.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct DownloadsView {
    pub usage: StorageUsage,
    pub queue: Vec<QueuedDownload>,
}

#[tauri::command(async)]
pub fn downloads(state: State<'_, AppState>) -> Answer<DownloadsView> {
    let store = state.engine.store();
    Ok(DownloadsView {
        usage: store.storage_usage()?,
        queue: store.download_queue(None)?,
    })
}

/// Download an item now, or (without `item`) a whole course.
#[tauri::command(async)]
pub fn download(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: Option<String>,
) -> Answer<usize> {
    let n = state
        .engine
        .want_download(&library, &collection, item.as_deref())?;
    state.wake.notify_one();
    Ok(n)
}

/// Stop or remove an item's download, freeing its space.
#[tauri::command(async)]
pub fn remove_download(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: String,
) -> Answer<Freed> {
    Ok(state.engine.remove_download(ItemKey {
        library: &library,
        collection: &collection,
        item: &item,
    })?)
}

#[tauri::command(async)]
pub fn set_download_mode(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    mode: DownloadMode,
) -> Answer<()> {
    state
        .engine
        .set_download_mode(&library, &collection, mode)?;
    state.wake.notify_one();
    Ok(())
}

#[tauri::command(async)]
pub fn set_downloads_paused(app: AppHandle, paused: bool) -> Answer<()> {
    crate::state::get(&app).set_paused(&app, paused)?;
    Ok(())
}

#[tauri::command(async)]
pub fn settings(app: AppHandle) -> Answer<AppSettings> {
    use tauri_plugin_autostart::ManagerExt;
    let mut s = AppSettings::load(crate::state::get(&app).engine.store())?;
    s.start_at_login = app.autolaunch().is_enabled().unwrap_or(false);
    Ok(s)
}

#[tauri::command(async)]
pub fn set_settings(app: AppHandle, settings: AppSettings) -> Answer<AppSettings> {
    use tauri_plugin_autostart::ManagerExt;
    let state = crate::state::get(&app);
    settings
        .save(state.engine.store())
        .map_err(|m| CommandError {
            code: "invalid".into(),
            message: m,
        })?;
    let auto = app.autolaunch();
    if auto.is_enabled().unwrap_or(false) != settings.start_at_login {
        if settings.start_at_login {
            auto.enable()?;
        } else {
            auto.disable()?;
        }
    }
    // A new interval or budget takes effect now.
    state.wake.notify_one();
    self::settings(app)
}

/// One mirror of one library, for the at-a-glance health list.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct MirrorView {
    pub library: String,
    pub url: String,
    /// ok | unknown | failing | retry_after | half_open | open | stale
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
}

#[tauri::command(async)]
pub fn mirrors(state: State<'_, AppState>) -> Answer<Vec<MirrorView>> {
    let store = state.engine.store();
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let mut out = Vec::new();
    for lib in store.libraries()? {
        for r in store.mirror_records(&lib.id)? {
            let h = stowaway_mirrors::MirrorHealth::from_stored(r.health.as_deref());
            out.push(MirrorView {
                library: lib.id.clone(),
                url: r.url,
                state: h.state(now_ms).to_owned(),
                serves: h.catalog_sequence,
                newest: h.newest_sequence,
                latency_ms: h.latency_ms,
                throughput_bps: h.throughput_bps,
                last_error: h.last_error,
                last_success_at: h.last_success_at.map(|ms| ms / 1000),
            });
        }
    }
    Ok(out)
}

/// What unsubscribing removed.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct UnsubscribedView {
    pub library: String,
    #[ts(type = "number")]
    pub items: u64,
    pub files: u32,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Removes a library the member confirmed removing (the page asks first):
/// its rows, its files no other library uses, its token in the keyring.
#[tauri::command]
pub async fn unsubscribe(
    app: AppHandle,
    state: State<'_, AppState>,
    library: String,
) -> Answer<UnsubscribedView> {
    let gone = state.unsubscribe(&app, &library).await?;
    Ok(UnsubscribedView {
        library: gone.library,
        items: gone.items,
        files: gone.blobs,
        bytes: gone.bytes,
    })
}

/// Opens an item's attachment (a PDF workbook) with the system's viewer:
/// a copy of the verified blob, found by item, never a path the page gave.
#[tauri::command(async)]
pub fn open_attachment(
    app: AppHandle,
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: String,
    index: u32,
) -> Answer<String> {
    use tauri_plugin_opener::OpenerExt;
    let key = ItemKey {
        library: &library,
        collection: &collection,
        item: &item,
    };
    let path = state
        .engine
        .store()
        .export_attachment(key, index as usize)?
        .ok_or_else(|| CommandError {
            code: "not_downloaded".into(),
            message: "that attachment is not downloaded yet".into(),
        })?;
    let shown = path.display().to_string();
    app.opener()
        .open_path(shown.clone(), None::<&str>)
        .map_err(|e| CommandError {
            code: "no_viewer".into(),
            message: format!("no program could open {shown}: {e}"),
        })?;
    Ok(shown)
}
