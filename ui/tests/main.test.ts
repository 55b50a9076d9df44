// The shell end to end in a DOM, over a stubbed API: main.ts lays out the
// page, draws the library from the first refresh, and switches views.
import { describe, expect, it, vi } from "vitest";
import type { CollectionView } from "../src/bindings/CollectionView";
import type { ItemView } from "../src/bindings/ItemView";
import type { LibraryPage } from "../src/bindings/LibraryPage";

const collection: CollectionView = {
  library_id: "acme",
  id: "first-deal",
  kind: "course",
  title: "Your first deal",
  summary: null,
  download_mode: "all",
  position: 0,
  items: 2,
  played: 0,
  in_progress: 0,
  downloaded: 1,
  not_kept: 1,
  pinned: false,
  artwork: null,
};
const item = (id: string, state: ItemView["state"]): ItemView => ({
  library_id: "acme",
  collection_id: "first-deal",
  id,
  title: `Lesson ${id}`,
  summary: null,
  published_at: null,
  duration_ms: 60_000,
  bytes: 1000,
  state,
  explicit: null,
  position_ms: 0,
  played: false,
  cursor: { key: 0, position: 0 },
});
const snap: LibraryPage = {
  libraries: [
    { id: "acme", title: "Acme Coaching", private: false, sequence: 1, expires_at: null, expired: false, last_sync_at: null, last_sync_ok: null, last_sync_mirror: null, last_sync_error: null, mirrors: [], feed_url: null, collections: 1, items: 2, blobs_wanted: 2, blobs_stored: 1, bytes_wanted: 2000, bytes_stored: 1000, description: null, artwork: null },
  ],
  collections: [collection],
  more: false,
  continue_listening: [],
  sync: { running: false, last_ok_at: null, offline: false, last_error: null, last_mirror: null, needs_token: [], paused: false },
};
const hits = [{ library_id: "acme", collection_id: "first-deal", collection_title: "Your first deal", item_id: "02", title: "Lesson 02", snippet: "the [escrow] part", downloaded: false }];

vi.mock("../src/api", () => ({
  api: {
    libraryPage: vi.fn(async () => structuredClone(snap)),
    downloads: vi.fn(async () => ({ usage: { bytes_stored: 1000, blobs_stored: 1, bytes_queued: 0, files_queued: 0, budget: null, paused: false }, queue: [], more: 0 })),
    mirrors: vi.fn(async () => [{ library: "acme", url: "https://a.example/", state: "ok", serves: 1, newest: 1, latency_ms: 12, throughput_bps: null, last_error: null, last_success_at: null }]),
    items: vi.fn(async () => ({ items: [item("01", "downloaded"), item("02", "not_downloaded")], total: 2 })),
    search: vi.fn(async () => hits),
    settings: vi.fn(async () => ({ sync_interval_minutes: 60, notify_new_items: true, close_to_tray: false, start_at_login: false, storage_budget: null, default_speed: 1 })),
    takeLinks: vi.fn(async () => []),
    queue: vi.fn(async () => []),
    mediaBase: vi.fn(async () => "http://127.0.0.1:9/t/"),
    onSyncEvent: vi.fn(async () => () => undefined),
    onSyncStatus: vi.fn(async () => () => undefined),
    onNewItems: vi.fn(async () => () => undefined),
    onLinksPending: vi.fn(async () => () => undefined),
    updateStatus: vi.fn(async () => ({ version: "0.2.0", current: "0.1.0", notes: null, mirror: "https://a.example/" })),
    installUpdate: vi.fn(async () => undefined),
    onUpdateReady: vi.fn(async () => () => undefined),
  },
  errorText: (e: unknown) => String(e),
  errorCode: () => "internal",
  errorLibrary: () => null,
}));

const $ = (css: string) => document.querySelector<HTMLElement>(css);

describe("the shell", () => {
  it("draws the library, then each view, with the journey's selectors", async () => {
    document.body.replaceChildren(Object.assign(document.createElement("div"), { id: "app" }));
    await import("../src/main");
    await vi.waitFor(() => expect($("[data-item='02'] .act-download")).not.toBeNull());
    expect($("[data-collection='first-deal'] [data-open='first-deal']")?.getAttribute("aria-expanded")).toBe("true");
    expect($("[data-item='01'] .dl")?.className).toBe("dl downloaded");
    expect($("[data-item='01'] .act-remove")?.getAttribute("aria-label")).toBe("Remove download of Lesson 01");
    expect($("#tab-library")?.getAttribute("aria-current")).toBe("page");
    const section = $("[data-collection='first-deal']");
    // The sidebar lists the collection; the library's heading offers to leave it; rows queue.
    expect($("[data-side-collection='acme/first-deal']")?.textContent).toContain("Your first deal");
    expect($("[data-unsubscribe-library='acme']")?.textContent).toBe("Unsubscribe…");
    expect($("[data-item='01'] .act-queue")?.getAttribute("aria-label")).toBe("Add Lesson 01 to Up next");

    $("#tab-queue")!.click();
    await vi.waitFor(() => expect($("#queue .none")).not.toBeNull());
    expect($("#queue .none")?.textContent).toContain("Nothing queued");

    $("#tab-downloads")!.click();
    await vi.waitFor(() => expect($("#mirrors [data-mirror-state='ok']")).not.toBeNull());
    expect($("#pause-downloads")?.textContent).toBe("Pause downloads");
    expect($("#downloads .none")?.textContent).toBe("Everything you keep offline is downloaded.");
    expect($(".filters")?.hidden).toBe(true);

    $("#tab-settings")!.click();
    await vi.waitFor(() => expect($("#set-login")).not.toBeNull());
    expect($("[data-unsubscribe='acme']")?.textContent).toBe("Unsubscribe…");
    expect($("form.subscribe #subscribe-source")).not.toBeNull();

    const search = $("#search") as HTMLInputElement;
    search.value = "escrow";
    search.dispatchEvent(new Event("input"));
    await vi.waitFor(() => expect($(".results [data-item='02'] .item-main")).not.toBeNull());
    expect($(".results mark")?.textContent).toBe("escrow");
    expect($("#tab-settings")?.className).toBe("tab");

    $("#tab-library")!.click();
    await vi.waitFor(() => expect($("[data-collection='first-deal']")).not.toBeNull());
    expect(search.value).toBe("");
    expect($("[data-collection='first-deal']")).not.toBe(section);
    await vi.waitFor(() => expect($("[data-item='02'] .act-download")).not.toBeNull());

    // An update downloaded and checked: offered in the top bar; restarting
    // tells the shell nothing plays; "Later" hides it.
    const { api } = await import("../src/api");
    await vi.waitFor(() => expect($("#update")?.hidden).toBe(false));
    expect($("#update .update-text")?.textContent).toBe("Stowaway 0.2.0 is ready: restart to update");
    $("#update-restart")!.click();
    await vi.waitFor(() => expect(api.installUpdate).toHaveBeenCalledWith(false));
    $("#update-later")!.click();
    expect($("#update")?.hidden).toBe(true);
  });
});
