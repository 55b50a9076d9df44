// Typed calls to the shell's commands. Types come from Rust (ts-rs, src/bindings).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AppSettings } from "./bindings/AppSettings";
import type { DownloadMode } from "./bindings/DownloadMode";
import type { DownloadsView } from "./bindings/DownloadsView";
import type { Freed } from "./bindings/Freed";
import type { ItemDetail } from "./bindings/ItemDetail";
import type { MirrorView } from "./bindings/MirrorView";
import type { NewItems } from "./bindings/NewItems";
import type { SearchHit } from "./bindings/SearchHit";
import type { LibraryPage } from "./bindings/LibraryPage";
import type { CollectionView } from "./bindings/CollectionView";
import type { Filter } from "./bindings/Filter";
import type { ItemWindow } from "./bindings/ItemWindow";
import type { Seek } from "./bindings/Seek";
import type { ItemRef } from "./bindings/ItemRef";
import type { ApiError } from "./bindings/ApiError";
import type { ErrorCode } from "./bindings/ErrorCode";
import type { Subscribed } from "./bindings/Subscribed";
import type { OpmlExported } from "./bindings/OpmlExported";
import type { OpmlImported } from "./bindings/OpmlImported";
import type { SubscriptionPreview } from "./bindings/SubscriptionPreview";
import type { SyncEvent } from "./bindings/SyncEvent";
import type { SyncStatus } from "./bindings/SyncStatus";
import type { TokenSaved } from "./bindings/TokenSaved";
import type { UnsubscribedView } from "./bindings/UnsubscribedView";
import type { ReadyView } from "./bindings/ReadyView";
import type { ShelfEntry } from "./bindings/ShelfEntry";
import type { QueuePlace } from "./bindings/QueuePlace";
import type { UpNext } from "./bindings/UpNext";
import type { ItemChapters } from "./bindings/ItemChapters";
import type { UpdateView } from "./bindings/UpdateView";

export type { ItemRef };

export const api = {
  libraryPage: () => invoke<LibraryPage>("library_page"),
  collections: (after: { library: string; position: number }) => invoke<[CollectionView[], boolean]>("collections", { after }),
  collection: (library: string, collection: string) => invoke<CollectionView>("collection", { library, collection }),
  items: (library: string, collection: string, filter: Filter, seek: Seek, limit: number) =>
    invoke<ItemWindow>("items", { library, collection, filter, seek, limit }),
  search: (query: string) => invoke<SearchHit[]>("search", { query }),
  itemDetail: (item: ItemRef) => invoke<ItemDetail>("item_detail", { item }),
  /** Starts the download of an item not downloaded; its detail, with a media URL when it streams. */
  playNow: (item: ItemRef) => invoke<ItemDetail>("play_now", { item }),
  savePosition: (item: ItemRef, positionMs: number, durationMs: number | null) =>
    invoke<void>("save_position", { item, positionMs, durationMs }),
  setPlayed: (item: ItemRef, played: boolean) => invoke<void>("set_played", { item, played }),
  markEarlierPlayed: (item: ItemRef) => invoke<number>("mark_earlier_played", { item }),
  queue: () => invoke<ShelfEntry[]>("queue"),
  queueAdd: (item: ItemRef, place: QueuePlace) => invoke<void>("queue_add", { item, place }),
  queueMove: (item: ItemRef, index: number) => invoke<boolean>("queue_move", { item, index }),
  queueRemove: (item: ItemRef) => invoke<boolean>("queue_remove", { item }),
  queueClear: () => invoke<number>("queue_clear"),
  upNext: (current: ItemRef | null) => invoke<UpNext | null>("up_next", { current }),
  setCollectionSpeed: (library: string, collection: string, speed: number | null) =>
    invoke<void>("set_collection_speed", { library, collection, speed }),
  chapters: (item: ItemRef) => invoke<ItemChapters>("chapters", { item }),
  openLink: (url: string) => invoke<string>("open_link", { url }),
  mediaBase: () => invoke<string>("media_base"),
  chapterImage: (item: ItemRef, url: string) => invoke<string>("chapter_image", { item, url }),
  syncNow: () => invoke<void>("sync_now"),
  previewSubscription: (source: string) => invoke<SubscriptionPreview>("preview_subscription", { source }),
  subscribe: (source: string, token: string | null, allowShares = false) => invoke<Subscribed>("subscribe", { source, token, allowShares }),
  takeLinks: () => invoke<string[]>("take_links"),
  setAccessToken: (library: string, token: string, mirrors: string[]) =>
    invoke<TokenSaved>("set_access_token", { library, token, mirrors }),
  downloads: () => invoke<DownloadsView>("downloads"),
  download: (library: string, collection: string, item: string | null) =>
    invoke<number>("download", { library, collection, item }),
  removeDownload: (item: ItemRef) => invoke<Freed>("remove_download", { item }),
  setDownloadMode: (library: string, collection: string, mode: DownloadMode) =>
    invoke<void>("set_download_mode", { library, collection, mode }),
  setDownloadsPaused: (paused: boolean) => invoke<void>("set_downloads_paused", { paused }),
  mirrors: () => invoke<MirrorView[]>("mirrors"),
  setPinned: (library: string, collection: string, item: string | null, pinned: boolean) =>
    invoke<boolean>("set_pinned", { library, collection, item, pinned }),
  ready: (library: string | null) => invoke<ReadyView>("ready", { library }),
  onReadyProgress: (f: (done: number, total: number) => void): Promise<UnlistenFn> =>
    listen<[number, number]>("ready-progress", (e) => f(e.payload[0], e.payload[1])),
  importOpml: (text: string) => invoke<OpmlImported>("import_opml", { text }),
  unsubscribe: (library: string) => invoke<UnsubscribedView>("unsubscribe", { library }),
  openAttachment: (item: ItemRef, index: number) => invoke<string>("open_attachment", { item, index }),
  exportOpml: () => invoke<OpmlExported>("export_opml"),
  settings: () => invoke<AppSettings>("settings"),
  setSettings: (settings: AppSettings) => invoke<AppSettings>("set_settings", { settings }),
  onSyncEvent: (f: (e: SyncEvent) => void): Promise<UnlistenFn> =>
    listen<SyncEvent>("sync-event", (e) => f(e.payload)),
  onSyncStatus: (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => f(e.payload)),
  onNewItems: (f: (n: NewItems) => void): Promise<UnlistenFn> => listen<NewItems>("new-items", (e) => f(e.payload)),
  onLinksPending: (f: () => void): Promise<UnlistenFn> => listen("links-pending", () => f()),
  /** The app update downloaded and checked, waiting for a restart, if any. */
  updateStatus: () => invoke<UpdateView | null>("update_status"),
  /** Installs it and starts again; refused ("busy") while something plays or downloads. */
  installUpdate: (playing: boolean) => invoke<void>("install_update", { playing }),
  onUpdateReady: (f: (u: UpdateView) => void): Promise<UnlistenFn> => listen<UpdateView>("update-ready", (e) => f(e.payload)),
};

/** The message of a failed command (an ApiError), or the error as text. */
export function errorText(err: unknown): string {
  return (err as { message?: string })?.message ?? String(err);
}

/** The stable code of a failed command ("internal" for anything else). */
export function errorCode(err: unknown): ErrorCode {
  return (err as Partial<ApiError>)?.code ?? "internal";
}

/** The library a failed command concerns, if it names one. */
export function errorLibrary(err: unknown): string | null {
  return (err as Partial<ApiError>)?.library ?? null;
}
