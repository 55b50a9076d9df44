// The downloads view's logic: live progress per file from the engine's
// events, per item from its files, storage and budget text. Pure and tested.
import type { DownloadsView } from "./bindings/DownloadsView";
import type { QueuedDownload } from "./bindings/QueuedDownload";
import type { StorageUsage } from "./bindings/StorageUsage";
import type { SyncEvent } from "./bindings/SyncEvent";
import { bytes } from "./format";

/** Bytes received so far per file (sha256), from `download_*` events. */
export class DownloadTracker {
  private done = new Map<string, number>();
  private mirrors = new Map<string, string>();

  /** Feeds one event; true if it changed what the view shows. */
  feed(e: SyncEvent): boolean {
    switch (e.event) {
      case "download_started":
        this.done.set(e.sha256, Number(e.offset));
        this.mirrors.set(e.sha256, e.mirror);
        return true;
      case "download_resumed":
        this.done.set(e.sha256, Number(e.offset));
        return true;
      case "download_progress":
        this.done.set(e.sha256, Number(e.bytes));
        this.mirrors.set(e.sha256, e.mirror);
        return true;
      case "failover":
        this.mirrors.set(e.sha256, e.to);
        return true;
      case "download_finished":
      case "download_failed":
      case "download_cancelled":
        this.done.delete(e.sha256);
        this.mirrors.delete(e.sha256);
        return true;
      default:
        return false;
    }
  }

  active(sha: string): boolean {
    return this.done.has(sha);
  }

  bytes(sha: string): number | undefined {
    return this.done.get(sha);
  }

  mirror(sha: string): string | undefined {
    return this.mirrors.get(sha);
  }
}

export interface QueueRow {
  entry: QueuedDownload;
  /** 0–100 */
  percent: number;
  done: number;
  total: number;
  /** "Downloading from mirror-a.example", "Waiting", "Paused". */
  state: string;
  active: boolean;
}

/** One row per queued item, with live bytes where a file is in flight. */
export function queueRows(view: DownloadsView, t: DownloadTracker): QueueRow[] {
  return view.queue.map((entry) => {
    const total = Number(entry.bytes_missing);
    let done = 0;
    let active = false;
    let mirror: string | undefined;
    for (const sha of entry.blobs) {
      const b = t.bytes(sha);
      if (b !== undefined) {
        active = true;
        done += b;
        mirror ??= t.mirror(sha);
      }
    }
    if (!active) done = Number(entry.bytes_partial);
    const percent = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
    const state = view.usage.paused
      ? "Paused"
      : active
        ? `Downloading${mirror ? ` from ${host(mirror)}` : ""}`
        : done > 0
          ? "Partly downloaded"
          : "Waiting";
    return { entry, percent, done, total, state, active };
  });
}

function host(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** "1.2 GB used of 5 GB" / "1.2 GB used, no limit". */
export function storageLabel(u: StorageUsage): string {
  const used = `${bytes(Number(u.bytes_stored))} used`;
  return u.budget == null ? `${used}, no limit` : `${used} of ${bytes(Number(u.budget))}`;
}

/** How full the budget is, 0–100 (null without a budget). */
export function budgetPercent(u: StorageUsage): number | null {
  if (u.budget == null || Number(u.budget) <= 0) return null;
  return Math.min(100, Math.round((Number(u.bytes_stored) / Number(u.budget)) * 100));
}

/** Parses "5 GB", "500M", "1.5g" into bytes (decimal units); "" → null. */
export function parseSize(text: string): number | null | "invalid" {
  const s = text.trim().toLowerCase().replace(/\s+/g, "");
  if (s === "" || s === "none" || s === "unlimited") return null;
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)b?$/.exec(s);
  if (!m) return "invalid";
  const mult = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[m[2] as "" | "k" | "m" | "g" | "t"];
  const n = Math.round(Number(m[1]) * mult);
  return n > 0 ? n : "invalid";
}
