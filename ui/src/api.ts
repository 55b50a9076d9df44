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
import type { Snapshot } from "./bindings/Snapshot";
import type { Subscribed } from "./bindings/Subscribed";
import type { OpmlExported } from "./bindings/OpmlExported";
import type { OpmlImported } from "./bindings/OpmlImported";
import type { SubscriptionPreview } from "./bindings/SubscriptionPreview";
import type { SyncEvent } from "./bindings/SyncEvent";
import type { SyncStatus } from "./bindings/SyncStatus";
import type { TokenSaved } from "./bindings/TokenSaved";
import type { UnsubscribedView } from "./bindings/UnsubscribedView";

export interface ItemRef {
  library: string;
  collection: string;
  item: string;
}

export const api = {
  snapshot: () => invoke<Snapshot>("snapshot"),
  search: (query: string) => invoke<SearchHit[]>("search", { query }),
  itemDetail: (r: ItemRef) => invoke<ItemDetail>("item_detail", { ...r }),
  savePosition: (r: ItemRef, positionMs: number, durationMs: number | null) =>
    invoke<void>("save_position", { ...r, positionMs, durationMs }),
  setPlayed: (r: ItemRef, played: boolean) => invoke<void>("set_played", { ...r, played }),
  syncNow: () => invoke<void>("sync_now"),
  previewSubscription: (source: string) => invoke<SubscriptionPreview>("preview_subscription", { source }),
  subscribe: (source: string, token: string | null) => invoke<Subscribed>("subscribe", { source, token }),
  takeLinks: () => invoke<string[]>("take_links"),
  setAccessToken: (library: string, token: string, mirrors: string[]) =>
    invoke<TokenSaved>("set_access_token", { library, token, mirrors }),
  downloads: () => invoke<DownloadsView>("downloads"),
  download: (library: string, collection: string, item: string | null) =>
    invoke<number>("download", { library, collection, item }),
  removeDownload: (r: ItemRef) => invoke<Freed>("remove_download", { ...r }),
  setDownloadMode: (library: string, collection: string, mode: DownloadMode) =>
    invoke<void>("set_download_mode", { library, collection, mode }),
  setDownloadsPaused: (paused: boolean) => invoke<void>("set_downloads_paused", { paused }),
  mirrors: () => invoke<MirrorView[]>("mirrors"),
  importOpml: (text: string) => invoke<OpmlImported>("import_opml", { text }),
  unsubscribe: (library: string) => invoke<UnsubscribedView>("unsubscribe", { library }),
  openAttachment: (r: ItemRef, index: number) => invoke<string>("open_attachment", { ...r, index }),
  exportOpml: () => invoke<OpmlExported>("export_opml"),
  settings: () => invoke<AppSettings>("settings"),
  setSettings: (settings: AppSettings) => invoke<AppSettings>("set_settings", { settings }),
  onSyncEvent: (f: (e: SyncEvent) => void): Promise<UnlistenFn> =>
    listen<SyncEvent>("sync-event", (e) => f(e.payload)),
  onSyncStatus: (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => f(e.payload)),
  onNewItems: (f: (n: NewItems) => void): Promise<UnlistenFn> => listen<NewItems>("new-items", (e) => f(e.payload)),
  onLinksPending: (f: () => void): Promise<UnlistenFn> => listen("links-pending", () => f()),
};

/** The message of a failed command (a CommandError), or the error as text. */
export function errorText(err: unknown): string {
  return (err as { message?: string })?.message ?? String(err);
}
