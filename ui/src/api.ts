// Typed calls to the shell's commands. Types come from Rust (ts-rs, src/bindings).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { ItemDetail } from "./bindings/ItemDetail";
import type { SearchHit } from "./bindings/SearchHit";
import type { Snapshot } from "./bindings/Snapshot";
import type { SyncEvent } from "./bindings/SyncEvent";
import type { SyncStatus } from "./bindings/SyncStatus";

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
  subscribe: (source: string) => invoke<string>("subscribe", { source }),
  onSyncEvent: (f: (e: SyncEvent) => void): Promise<UnlistenFn> =>
    listen<SyncEvent>("sync-event", (e) => f(e.payload)),
  onSyncStatus: (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => f(e.payload)),
};
