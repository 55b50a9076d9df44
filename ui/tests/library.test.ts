import { describe, expect, it } from "vitest";
import type { CollectionView } from "../src/bindings/CollectionView";
import type { ItemView } from "../src/bindings/ItemView";
import { downloadState, matches, nextAfter, ordered, progressLabel } from "../src/library";

function item(id: string, extra: Partial<ItemView> = {}): ItemView {
  return {
    library_id: "l", collection_id: "c", id, kind: "episode", title: id, summary: null,
    published_at: null, duration_ms: 60_000, assets: 1, assets_stored: 1, bytes: 10,
    downloaded: true, explicit: null, wanted: true, position_ms: 0, played: false, ...extra,
  };
}

function col(kind: "course" | "show", items: ItemView[]): CollectionView {
  return { library_id: "l", id: "c", kind, title: "C", summary: null, download_mode: "all", items };
}

describe("library", () => {
  const a = item("a", { published_at: 100, played: true });
  const b = item("b", { published_at: 300, position_ms: 5000 });
  const c = item("c", { published_at: 200, downloaded: false, assets_stored: 0 });

  it("keeps lesson order in a course, newest first in a show", () => {
    expect(ordered(col("course", [a, b, c])).map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(ordered(col("show", [a, b, c])).map((i) => i.id)).toEqual(["b", "c", "a"]);
  });

  it("filters", () => {
    const all = [a, b, c];
    expect(all.filter((i) => matches(i, "downloaded")).map((i) => i.id)).toEqual(["a", "b"]);
    expect(all.filter((i) => matches(i, "unplayed")).map((i) => i.id)).toEqual(["b", "c"]);
    expect(all.filter((i) => matches(i, "in_progress")).map((i) => i.id)).toEqual(["b"]);
    expect(all.filter((i) => matches(i, "all"))).toHaveLength(3);
  });

  it("course progress and show counts", () => {
    expect(progressLabel(col("course", [a, b, c]))).toBe("1 of 3 done");
    expect(progressLabel(col("show", [a, b, c]))).toBe("3 episodes, 2 unplayed");
  });

  it("continues with the next lesson", () => {
    expect(nextAfter(col("course", [a, b, c]), "a")?.id).toBe("b");
    expect(nextAfter(col("course", [a, b, c]), "c")).toBeUndefined();
    expect(nextAfter(col("show", [a, b, c]), "b")?.id).toBe("c");
  });

  it("download state", () => {
    expect(downloadState(a)).toBe("downloaded");
    expect(downloadState(c)).toBe("queued");
    expect(downloadState(item("n", { downloaded: false, assets_stored: 0, wanted: false }))).toBe("not_downloaded");
    // A removed item whose workbook another lesson still uses: offer Download.
    expect(downloadState(item("s", { downloaded: false, assets: 2, assets_stored: 1, wanted: false }))).toBe("not_downloaded");
    expect(downloadState(item("p", { downloaded: false, assets: 3, assets_stored: 1 }))).toBe("partial");
  });
});
