import { describe, expect, it } from "vitest";
import type { DownloadsView } from "../src/bindings/DownloadsView";
import type { QueuedDownload } from "../src/bindings/QueuedDownload";
import type { StorageUsage } from "../src/bindings/StorageUsage";
import { budgetPercent, DownloadTracker, parseSize, queueRows, storageLabel } from "../src/downloads";

const usage = (extra: Partial<StorageUsage> = {}): StorageUsage => ({
  bytes_stored: 2_500_000_000,
  blobs_stored: 10,
  bytes_queued: 0,
  files_queued: 0,
  budget: null,
  paused: false,
  ...extra,
});

const entry = (item: string, blobs: string[], missing: number, partial = 0): QueuedDownload => ({
  library_id: "acme",
  collection_id: "show",
  collection_title: "The Deal Room",
  item_id: item,
  title: `Episode ${item}`,
  bytes_missing: missing,
  bytes_partial: partial,
  blobs,
  explicit: false,
});

describe("downloads", () => {
  it("tracks per-file bytes from engine events, across failover and to the end", () => {
    const t = new DownloadTracker();
    expect(t.feed({ event: "download_started", sha256: "a", offset: 0, mirror: "http://m1.example/" })).toBe(true);
    t.feed({ event: "download_progress", sha256: "a", bytes: 400, mirror: "http://m1.example/" });
    expect(t.bytes("a")).toBe(400);
    t.feed({ event: "failover", sha256: "a", to: "http://m2.example/" });
    expect(t.mirror("a")).toBe("http://m2.example/");
    expect(t.feed({ event: "catalog_applied", library: "acme", added: 1 })).toBe(false);
    t.feed({ event: "download_finished", sha256: "a" });
    expect(t.active("a")).toBe(false);
  });

  it("makes one row per item with live progress, partial bytes, or paused", () => {
    const t = new DownloadTracker();
    const view: DownloadsView = {
      usage: usage(),
      queue: [entry("1", ["a", "b"], 1000), entry("2", ["c"], 500, 100), entry("3", ["d"], 800)],
      more: 0,
    };
    t.feed({ event: "download_progress", sha256: "a", bytes: 250, mirror: "http://mirror-a.example:8701/" });
    t.feed({ event: "download_progress", sha256: "b", bytes: 250, mirror: "http://mirror-a.example:8701/" });
    const rows = queueRows(view, t);
    expect(rows.map((r) => [r.percent, r.state])).toEqual([
      [50, "Downloading from mirror-a.example:8701"],
      [20, "Partly downloaded"],
      [0, "Waiting"],
    ]);
    const paused = queueRows({ ...view, usage: usage({ paused: true }) }, new DownloadTracker());
    expect(paused.every((r) => r.state === "Paused")).toBe(true);
  });

  it("describes storage against the budget", () => {
    expect(storageLabel(usage())).toBe("2.5 GB used, no limit");
    expect(storageLabel(usage({ budget: 5_000_000_000 }))).toBe("2.5 GB used of 5.0 GB");
    expect(budgetPercent(usage())).toBeNull();
    expect(budgetPercent(usage({ budget: 5_000_000_000 }))).toBe(50);
    expect(budgetPercent(usage({ budget: 1_000_000_000 }))).toBe(100);
  });

  it("parses sizes the way members type them", () => {
    expect(parseSize("5 GB")).toBe(5_000_000_000);
    expect(parseSize("500M")).toBe(500_000_000);
    expect(parseSize("1.5g")).toBe(1_500_000_000);
    expect(parseSize("")).toBeNull();
    expect(parseSize("none")).toBeNull();
    expect(parseSize("lots")).toBe("invalid");
    expect(parseSize("0")).toBe("invalid");
    expect(parseSize("-5GB")).toBe("invalid");
  });
});
