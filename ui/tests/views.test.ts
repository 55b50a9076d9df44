// The views' redraws through keyed(): what must stay the same node does.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { AppSettings } from "../src/bindings/AppSettings";
import type { DownloadsView } from "../src/bindings/DownloadsView";
import type { LibraryView } from "../src/bindings/LibraryView";
import type { LibraryPage } from "../src/bindings/LibraryPage";

const settings: AppSettings = { sync_interval_minutes: 60, notify_new_items: true, close_to_tray: false, start_at_login: false, storage_budget: null, default_speed: 1 };
vi.mock("../src/api", () => ({
  api: { settings: vi.fn(async () => settings) },
  errorText: (e: unknown) => String(e),
}));

const { renderTabs } = await import("../src/chrome");
const { content, tabs } = await import("../src/page");
const { state } = await import("../src/state");
const { renderDownloads } = await import("../src/views/downloads");
const { renderSettings } = await import("../src/views/settings");
const { api } = await import("../src/api");

function downloadsView(paused: boolean, ...items: string[]): DownloadsView {
  return {
    usage: { bytes_stored: 1000, blobs_stored: 1, bytes_queued: 0, files_queued: items.length, budget: null, paused },
    queue: items.map((id) => ({
      library_id: "lib",
      collection_id: "col",
      collection_title: "Course",
      item_id: id,
      title: `Lesson ${id}`,
      bytes_missing: 1000,
      bytes_partial: 0,
      blobs: [`sha-${id}`],
      explicit: false,
    })),
    more: 0,
  };
}

function library(id: string, items: number): LibraryView {
  return {
    id,
    title: id.toUpperCase(),
    private: false,
    sequence: 1,
    expires_at: null,
    expired: false,
    last_sync_at: null,
    last_sync_ok: null,
    last_sync_mirror: null,
    last_sync_error: null,
    mirrors: [],
    feed_url: null,
    collections: 1,
    items,
    blobs_wanted: 0,
    blobs_stored: 0,
    bytes_wanted: 0,
    bytes_stored: 0,
    description: null,
    artwork: null,
  };
}

function page(...libraries: LibraryView[]): LibraryPage {
  return {
    libraries,
    collections: [],
    more: false,
    continue_listening: [],
    sync: { running: false, last_ok_at: null, offline: false, last_error: null, last_mirror: null, needs_token: [], paused: false },
  };
}

const q = <E extends Element = HTMLElement>(css: string) => content.querySelector<E & HTMLElement>(css);

beforeEach(() => {
  content.replaceChildren();
  tabs.replaceChildren();
  state.view = "library";
  state.query = "";
  state.mirrors = [];
  state.downloads = null;
  state.snap = page();
});

describe("tabs", () => {
  it("keep a tab that did not change; the one with a new count is redrawn", () => {
    state.downloads = downloadsView(false, "a");
    renderTabs();
    const [library, queue, ready, downloads, settings] = [...tabs.children];
    expect(downloads.textContent).toBe("Downloads1");
    expect(queue.textContent).toBe("Up next");
    renderTabs();
    expect([...tabs.children]).toEqual([library, queue, ready, downloads, settings]);
    state.downloads = downloadsView(false, "a", "b");
    renderTabs();
    expect(tabs.children[0]).toBe(library);
    expect(tabs.children[2]).toBe(ready);
    expect(tabs.children[3]).not.toBe(downloads);
    expect(tabs.children[3].textContent).toBe("Downloads2");
    expect(tabs.children[4]).toBe(settings);
    expect(library.className).toBe("tab on");
    expect(library.getAttribute("aria-current")).toBe("page");
  });
});

describe("downloads view", () => {
  it("updates a queued row's numbers in place, keeping its button", () => {
    state.view = "downloads";
    state.downloads = downloadsView(false, "a", "b");
    renderDownloads();
    const cancel = q("[data-queued='a'] .act-remove");
    const pause = q("#pause-downloads");
    expect(q("[data-queued='a'] .item-sub")?.textContent).toBe("Course · Waiting");
    state.tracker.feed({ event: "download_started", sha256: "sha-a", offset: 0, mirror: "https://m.example/" });
    state.tracker.feed({ event: "download_progress", sha256: "sha-a", bytes: 500, mirror: "https://m.example/" });
    renderDownloads();
    expect(q("[data-queued='a'] .act-remove")).toBe(cancel);
    expect(q("#pause-downloads")).toBe(pause);
    expect(q("[data-queued='a'] .item-sub")?.textContent).toBe("Course · Downloading from m.example");
    expect(q("[data-queued='a']")?.classList.contains("active")).toBe(true);
    expect(q("[data-queued='a'] .bar")?.style.getPropertyValue("--p")).toBe("50%");
    // One finishes: its row goes, the other's button stays.
    state.tracker.feed({ event: "download_finished", sha256: "sha-a" });
    const other = q("[data-queued='b'] .act-remove");
    state.downloads = downloadsView(false, "b");
    renderDownloads();
    expect(q("[data-queued='a']")).toBeNull();
    expect(q("[data-queued='b'] .act-remove")).toBe(other);
    // Paused, then nothing left: the button and the line change.
    state.downloads = downloadsView(true);
    renderDownloads();
    expect(q("#pause-downloads")?.textContent).toBe("Resume downloads");
    expect(q("#downloads .none")?.textContent).toBe("Downloads are paused.");
    expect(q("#mirrors")).not.toBeNull();
  });
});

describe("settings view", () => {
  it("builds the form once per visit; the libraries follow the page", async () => {
    state.view = "settings";
    state.snap = page(library("acme", 3), library("open", 5));
    renderSettings();
    await vi.waitFor(() => expect(q("#set-login")).not.toBeNull());
    const form = q("form.settings-form");
    const login = q("#set-login");
    const open = q("[data-unsubscribe='open']");
    renderSettings();
    state.snap = page(library("open", 5));
    renderSettings();
    expect(q("form.settings-form")).toBe(form);
    expect(q("#set-login")).toBe(login);
    expect(q("[data-unsubscribe='acme']")).toBeNull();
    expect(q("[data-unsubscribe='open']")).toBe(open);
    expect(api.settings).toHaveBeenCalledTimes(1);
    // Another view in between: a new visit builds the form again.
    content.replaceChildren();
    renderSettings();
    expect(q("form.settings-form")).not.toBe(form);
    expect(api.settings).toHaveBeenCalledTimes(2);
  });
});
