// The page's state, in one place: the library page last fetched, what the
// member chose (view, filter, query, open collections), the downloads and
// mirrors views, live progress, the item in the player. Fetching it again
// (refresh) lives here too. Views and dialogs ask for a redraw with
// render(), which main.ts connects to the page: no module imports main.ts
// or a view it does not draw.
import { api, type ItemRef } from "./api";
import type { CollectionView } from "./bindings/CollectionView";
import type { DownloadsView } from "./bindings/DownloadsView";
import type { ItemDetail } from "./bindings/ItemDetail";
import type { LibraryPage } from "./bindings/LibraryPage";
import type { MirrorView } from "./bindings/MirrorView";
import type { ShelfEntry } from "./bindings/ShelfEntry";
import { DownloadTracker } from "./downloads";
import type { Filter } from "./library";

export type View = "library" | "queue" | "ready" | "downloads" | "settings";

export interface PageState {
  /** The library page: libraries, the first collections, the sync status. */
  snap: LibraryPage | null;
  /** Collections past the first page, loaded with "More". */
  moreCollections: CollectionView[];
  /** More collections follow the ones loaded with "More". */
  moreShown: boolean;
  /** The member's choice of open or closed, per collection (library/id). */
  opened: Map<string, boolean>;
  view: View;
  downloads: DownloadsView | null;
  mirrors: MirrorView[];
  /** Live bytes per file, from the engine's events. */
  tracker: DownloadTracker;
  filter: Filter;
  /** The search box's text, trimmed; "" when not searching. */
  query: string;
  /** The banner's line while a sync downloads. */
  progress: string;
  /** The item in the player. */
  current: { ref: ItemRef; detail: ItemDetail } | null;
  /** The "now playing" view is open. */
  nowOpen: boolean;
  /** The collection shown on its own (library/id), from the sidebar; null: all. */
  focus: string | null;
  /** The up-next queue, fetched with the page. */
  queue: ShelfEntry[];
  /** The media server's address for artwork ("" until known). */
  mediaBase: string;
}

export const state: PageState = {
  snap: null,
  moreCollections: [],
  moreShown: false,
  opened: new Map(),
  view: "library",
  downloads: null,
  mirrors: [],
  tracker: new DownloadTracker(),
  filter: "all",
  query: "",
  progress: "",
  current: null,
  nowOpen: false,
  focus: null,
  queue: [],
  mediaBase: "",
};

/** The URL of stored artwork by its hash (null: none stored, or no server). */
export function art(sha: string | null | undefined): string | null {
  return sha && state.mediaBase ? `${state.mediaBase}art/${sha}` : null;
}

/** What main.ts (the shell) lends the modules: drawing the page, telling a failure. */
export interface Shell {
  render(): void;
  failed(err: unknown): void;
}

let shell: Shell = { render: () => undefined, failed: (err) => console.error(err) };

export function connect(s: Shell) {
  shell = s;
}

/** Redraws the page from the state. */
export function render() {
  shell.render();
}

/** Refreshes at most a few times a second however many events arrive. */
let refreshTimer: number | null = null;
export function scheduleRefresh() {
  if (refreshTimer != null) return;
  refreshTimer = window.setTimeout(() => {
    refreshTimer = null;
    void refresh();
  }, 250);
}

/** Fetches the page's state again and redraws; a failure is told, not thrown. */
export async function refresh() {
  try {
    await fetchState();
  } catch (err) {
    shell.failed(err);
  }
}

async function fetchState() {
  if (!state.mediaBase) state.mediaBase = await api.mediaBase().catch(() => "");
  state.snap = await api.libraryPage();
  if (state.moreCollections.length) {
    // Counts of the further pages, fetched again.
    state.moreCollections = await Promise.all(state.moreCollections.map((c) => api.collection(c.library_id, c.id).catch(() => c)));
  }
  [state.downloads, state.queue] = await Promise.all([api.downloads(), api.queue()]);
  if (state.view === "downloads") state.mirrors = await api.mirrors();
  // The settings form is kept as it is (keyed), never rebuilt under the member's fingers.
  render();
}

/** Runs a command, then refreshes; an error is told. True if the command succeeded. */
export async function act(f: () => Promise<unknown>): Promise<boolean> {
  let done = true;
  try {
    await f();
  } catch (err) {
    done = false;
    shell.failed(err);
  }
  await refresh();
  return done;
}
