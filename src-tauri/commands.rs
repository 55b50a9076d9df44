//! The commands the page may call. Each is a thin adapter over one use case
//! of `stowaway-api`: arguments in, a view type out (generated for the page
//! by ts-rs in that crate), or an `ApiError` with a stable code. Those that
//! touch the store are `async` (run off the main thread): a long catalog
//! apply holding the writer must never freeze the window or the tray.

use stowaway_api::{
    ApiError, ApiResult, AppSettings, CollectionAfter, CollectionView, DownloadMode, DownloadsView,
    ErrorCode, Filter, Freed, ItemChapters, ItemDetail, ItemRef, ItemWindow, LibraryPage,
    MirrorView, OpmlExported, OpmlImported, QueuePlace, ReadyScope, ReadyView, SearchHit, Seek,
    ShelfEntry, Subscribed, SubscriptionPreview, TokenSaved, UnsubscribedView, UpNext,
};
use tauri::{AppHandle, State};

use crate::state::AppState;

/// Items one window holds at most.
const WINDOW: usize = 200;

fn bad_link(m: String) -> ApiError {
    ApiError::new(ErrorCode::Invalid, m)
}

/// The library page: libraries, the first collections, the sync status.
#[tauri::command(async)]
pub fn library_page(state: State<'_, AppState>) -> ApiResult<LibraryPage> {
    state.api.library_page()
}

/// The collections after `after` (a page), and whether more follow.
#[tauri::command(async)]
pub fn collections(
    state: State<'_, AppState>,
    after: CollectionAfter,
) -> ApiResult<(Vec<CollectionView>, bool)> {
    state.api.collections(None, Some(&after))
}

#[tauri::command(async)]
pub fn collection(
    state: State<'_, AppState>,
    library: String,
    collection: String,
) -> ApiResult<CollectionView> {
    state.api.collection(&library, &collection)
}

/// A window of a collection's items.
#[tauri::command(async)]
pub fn items(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    filter: Filter,
    seek: Seek,
    limit: usize,
) -> ApiResult<ItemWindow> {
    state
        .api
        .items(&library, &collection, filter, seek, limit.min(WINDOW))
}

#[tauri::command(async)]
pub fn search(state: State<'_, AppState>, query: String) -> ApiResult<Vec<SearchHit>> {
    state.api.search(&query, 50)
}

#[tauri::command(async)]
pub fn item_detail(state: State<'_, AppState>, item: ItemRef) -> ApiResult<ItemDetail> {
    state.api.item_detail(&item, Some(&state.media))
}

/// The member plays an item: one not downloaded starts downloading now,
/// beside any sync, and plays while it arrives when it `streams`.
#[tauri::command(async)]
pub fn play_now(state: State<'_, AppState>, item: ItemRef) -> ApiResult<ItemDetail> {
    let (detail, fetch) = state.api.play_now(&item, Some(&state.media))?;
    if let Some(fetch) = fetch {
        tauri::async_runtime::spawn(async move {
            // Failures reach the page as the download's own events.
            let _ = fetch.run().await;
        });
    }
    Ok(detail)
}

#[tauri::command(async)]
pub fn save_position(
    state: State<'_, AppState>,
    item: ItemRef,
    position_ms: f64,
    duration_ms: Option<f64>,
) -> ApiResult<()> {
    state.api.save_position(&item, position_ms, duration_ms)
}

#[tauri::command(async)]
pub fn set_played(state: State<'_, AppState>, item: ItemRef, played: bool) -> ApiResult<()> {
    state.api.set_played(&item, played)
}

#[tauri::command(async)]
pub fn mark_earlier_played(state: State<'_, AppState>, item: ItemRef) -> ApiResult<u32> {
    state.api.mark_earlier_played(&item)
}

#[tauri::command(async)]
pub fn queue(state: State<'_, AppState>) -> ApiResult<Vec<ShelfEntry>> {
    state.api.queue()
}

#[tauri::command(async)]
pub fn queue_add(state: State<'_, AppState>, item: ItemRef, place: QueuePlace) -> ApiResult<()> {
    state.api.queue_add(&item, place)
}

#[tauri::command(async)]
pub fn queue_move(state: State<'_, AppState>, item: ItemRef, index: u32) -> ApiResult<bool> {
    state.api.queue_move(&item, index)
}

#[tauri::command(async)]
pub fn queue_remove(state: State<'_, AppState>, item: ItemRef) -> ApiResult<bool> {
    state.api.queue_remove(&item)
}

#[tauri::command(async)]
pub fn queue_clear(state: State<'_, AppState>) -> ApiResult<u32> {
    state.api.queue_clear()
}

#[tauri::command(async)]
pub fn up_next(state: State<'_, AppState>, current: Option<ItemRef>) -> ApiResult<Option<UpNext>> {
    state.api.up_next(current.as_ref())
}

/// Where the media server's artwork is (`<base>art/<sha256>`): its
/// loopback address and this run's secret.
#[tauri::command]
pub fn media_base(state: State<'_, AppState>) -> String {
    state.media.base_url()
}

/// A chapter's image as a `data:` URL (only one the item's chapters name).
#[tauri::command]
pub async fn chapter_image(
    state: State<'_, AppState>,
    item: ItemRef,
    url: String,
) -> ApiResult<String> {
    state.api.chapter_image(&item, &url).await
}

#[tauri::command(async)]
pub fn chapters(state: State<'_, AppState>, item: ItemRef) -> ApiResult<ItemChapters> {
    state.api.chapters(&item)
}

#[tauri::command(async)]
pub fn set_collection_speed(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    speed: Option<f64>,
) -> ApiResult<()> {
    state.api.set_collection_speed(&library, &collection, speed)
}

#[tauri::command]
pub fn sync_now(state: State<'_, AppState>) {
    state.wake.notify_one();
}

/// What a link, file or feed offers, for the member to confirm.
#[tauri::command]
pub async fn preview_subscription(
    state: State<'_, AppState>,
    source: String,
) -> ApiResult<SubscriptionPreview> {
    let source = crate::links::normalize(&source).map_err(bad_link)?;
    state.api.preview(&source).await
}

/// Subscribes to what the member confirmed (the preview of `source`), with
/// the access token of a private library if they gave one and the network
/// shares it showed if they allowed them; the first sync starts at once.
#[tauri::command]
pub async fn subscribe(
    state: State<'_, AppState>,
    source: String,
    token: Option<String>,
    allow_shares: Option<bool>,
) -> ApiResult<Subscribed> {
    let source = crate::links::normalize(&source).map_err(bad_link)?;
    let done = state
        .api
        .confirm(&source, token.as_deref(), allow_shares.unwrap_or(false))
        .await?;
    state.wake.notify_one();
    Ok(done)
}

/// Links and files the desktop handed over, waiting for confirmation.
#[tauri::command]
pub fn take_links(state: State<'_, AppState>) -> Vec<String> {
    state.take_links()
}

/// Subscribes to every feed of an OPML file (its text, as the page read it
/// from the file the member picked); the sync that follows fetches them.
#[tauri::command(async)]
pub fn import_opml(state: State<'_, AppState>, text: String) -> ApiResult<OpmlImported> {
    let done = state.api.import_opml(&text)?;
    if !done.added.is_empty() {
        state.wake.notify_one();
    }
    Ok(done)
}

/// Writes every podcast subscription as OPML into the member's Downloads
/// folder (their home folder if there is none), never over another file.
#[tauri::command(async)]
pub fn export_opml(state: State<'_, AppState>) -> ApiResult<OpmlExported> {
    let dirs = directories::UserDirs::new()
        .ok_or_else(|| ApiError::new(ErrorCode::Storage, "no home folder to save into"))?;
    let dir = dirs.download_dir().unwrap_or_else(|| dirs.home_dir());
    state.api.export_opml_into(dir)
}

/// The member's token for `library`, given in a dialog that showed its
/// mirrors (`mirrors`): the token goes to those.
#[tauri::command]
pub async fn set_access_token(
    state: State<'_, AppState>,
    library: String,
    token: String,
    mirrors: Vec<String>,
) -> ApiResult<TokenSaved> {
    let saved = state.api.set_token(&library, &token, &mirrors).await?;
    state.wake.notify_one();
    Ok(saved)
}

#[tauri::command(async)]
pub fn downloads(state: State<'_, AppState>) -> ApiResult<DownloadsView> {
    state.api.downloads()
}

/// Download an item now, or (without `item`) a whole course.
#[tauri::command(async)]
pub fn download(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: Option<String>,
) -> ApiResult<usize> {
    let n = state.api.download(&library, &collection, item.as_deref())?;
    state.wake.notify_one();
    Ok(n)
}

/// Stop or remove an item's download, freeing its space.
#[tauri::command(async)]
pub fn remove_download(state: State<'_, AppState>, item: ItemRef) -> ApiResult<Freed> {
    state.api.remove_download(&item)
}

#[tauri::command(async)]
pub fn set_download_mode(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    mode: DownloadMode,
) -> ApiResult<()> {
    state.api.set_download_mode(&library, &collection, mode)?;
    state.wake.notify_one();
    Ok(())
}

#[tauri::command(async)]
pub fn set_downloads_paused(app: AppHandle, paused: bool) -> ApiResult<()> {
    crate::state::get(&app).set_paused(&app, paused)
}

/// Keeps a collection (no `item`) or an item for the trip, or (`pinned`
/// false) no longer.
#[tauri::command(async)]
pub fn set_pinned(
    state: State<'_, AppState>,
    library: String,
    collection: String,
    item: Option<String>,
    pinned: bool,
) -> ApiResult<bool> {
    if pinned {
        state.api.pin(&library, &collection, item.as_deref())
    } else {
        state.api.unpin(&library, &collection, item.as_deref())
    }
}

/// The ready check of a library (or everything): every stored byte kept
/// offline hashed again, `ready-progress` events (`[done, total]` bytes, a
/// few a second) while it reads.
#[tauri::command(async)]
pub fn ready(app: AppHandle, library: Option<String>) -> ApiResult<ReadyView> {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    use tauri::Emitter;
    let last = Mutex::new(Instant::now() - Duration::from_secs(1));
    let progress = |done: u64, total: u64| {
        let mut at = last.lock().unwrap_or_else(|p| p.into_inner());
        if at.elapsed() >= Duration::from_millis(200) || done == total {
            *at = Instant::now();
            let _ = app.emit("ready-progress", (done, total));
        }
    };
    let scope = ReadyScope {
        library,
        collection: None,
    };
    crate::state::get(&app).api.ready(&scope, &progress)
}

#[tauri::command(async)]
pub fn settings(app: AppHandle) -> ApiResult<AppSettings> {
    use tauri_plugin_autostart::ManagerExt;
    let mut s = crate::state::get(&app).api.settings()?;
    s.start_at_login = app.autolaunch().is_enabled().unwrap_or(false);
    Ok(s)
}

#[tauri::command(async)]
pub fn set_settings(app: AppHandle, settings: AppSettings) -> ApiResult<AppSettings> {
    use tauri_plugin_autostart::ManagerExt;
    let state = crate::state::get(&app);
    state.api.set_settings(&settings)?;
    let auto = app.autolaunch();
    if auto.is_enabled().unwrap_or(false) != settings.start_at_login {
        let done = if settings.start_at_login {
            auto.enable()
        } else {
            auto.disable()
        };
        done.map_err(|e| {
            ApiError::new(
                ErrorCode::Storage,
                format!("cannot change start at login: {e}"),
            )
        })?;
    }
    // A new interval or budget takes effect now.
    state.wake.notify_one();
    self::settings(app)
}

#[tauri::command(async)]
pub fn mirrors(state: State<'_, AppState>) -> ApiResult<Vec<MirrorView>> {
    state.api.mirrors(None)
}

/// Removes a library the member confirmed removing (the page asks first):
/// its rows, its files no other library uses, its token in the keyring.
#[tauri::command]
pub async fn unsubscribe(
    app: AppHandle,
    state: State<'_, AppState>,
    library: String,
) -> ApiResult<UnsubscribedView> {
    state.unsubscribe(&app, &library).await
}

/// Opens an item's attachment (a PDF workbook) with the system's viewer:
/// a copy of the verified blob, found by item, never a path the page gave.
#[tauri::command(async)]
pub fn open_attachment(
    app: AppHandle,
    state: State<'_, AppState>,
    item: ItemRef,
    index: u32,
) -> ApiResult<String> {
    use tauri_plugin_opener::OpenerExt;
    let path = state
        .engine()
        .store()
        .export_attachment(item.key(), index as usize)?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotDownloaded,
                "that attachment is not downloaded yet",
            )
        })?;
    let shown = path.display().to_string();
    app.opener()
        .open_path(shown.clone(), None::<&str>)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::NoViewer,
                format!("no program could open {shown}: {e}"),
            )
        })?;
    Ok(shown)
}

/// Opens a link from an item's notes in the system's browser, after the
/// page has shown the member where it goes. Only `http`, `https` and
/// `mailto` links are opened (a `file:`, `javascript:` or custom scheme
/// from a feed never reaches the desktop), and only as the URL parser
/// normalises them, at most 2,000 characters.
#[tauri::command(async)]
pub fn open_link(app: AppHandle, url: String) -> ApiResult<String> {
    use tauri_plugin_opener::OpenerExt;
    let url = safe_link(&url)?;
    app.opener()
        .open_url(url.clone(), None::<&str>)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::NoViewer,
                format!("no browser could open {url}: {e}"),
            )
        })?;
    Ok(url)
}

/// The link as it will be opened, or why it is not.
fn safe_link(url: &str) -> ApiResult<String> {
    let invalid = |m: String| ApiError::new(ErrorCode::Invalid, m);
    if url.len() > 2000 {
        return Err(invalid("that link is too long to open".into()));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|e| invalid(format!("not a link: {e}")))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host().is_some() => Ok(parsed.to_string()),
        "mailto" => {
            // An address, a subject and a body: never `attach=` or other
            // fields some mail programs act on (attaching a local file).
            let mut mail = parsed.clone();
            let kept: Vec<(String, String)> = parsed
                .query_pairs()
                .filter(|(k, _)| matches!(k.to_ascii_lowercase().as_str(), "subject" | "body"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            mail.set_query(None);
            if !kept.is_empty() {
                mail.query_pairs_mut().extend_pairs(kept);
            }
            Ok(mail.to_string())
        }
        s => Err(invalid(format!(
            "Stowaway opens web and mail links only, not {s}: links"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_web_and_mail_links_are_opened() {
        use super::safe_link;
        assert_eq!(
            safe_link("https://example.com/a b").unwrap(),
            "https://example.com/a%20b"
        );
        assert_eq!(
            safe_link("mailto:coach@example.com?subject=Hi&attach=/home/m/.ssh/id_rsa&body=x")
                .unwrap(),
            "mailto:coach@example.com?subject=Hi&body=x"
        );
        assert_eq!(
            safe_link("mailto:coach@example.com?Attach=x").unwrap(),
            "mailto:coach@example.com"
        );
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "smb://host/share",
            "https://",
            "ftp://x.example/",
            "not a url",
        ] {
            assert!(safe_link(bad).is_err(), "{bad}");
        }
        assert!(safe_link(&format!("https://x.example/{}", "a".repeat(2000))).is_err());
    }
}

/// The app update downloaded and checked, waiting for a restart, if any.
#[tauri::command(async)]
pub fn update_status(
    updates: State<'_, crate::updates::Updates>,
) -> Option<stowaway_api::UpdateView> {
    updates.view()
}

/// Installs the update waiting and starts again: refused while something
/// plays (`playing`, as the page knows) or a sync or download runs.
#[tauri::command]
pub async fn install_update(
    app: AppHandle,
    updates: State<'_, crate::updates::Updates>,
    playing: bool,
) -> ApiResult<()> {
    updates.install(&app, playing).await
}
