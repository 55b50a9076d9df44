import { describe, expect, it } from "vitest";
import type { CollectionView } from "../src/bindings/CollectionView";
import { OPEN_ALL_UP_TO, progressLabel, startsOpen } from "../src/library";

function col(kind: "course" | "show", items: number, played: number): CollectionView {
  return {
    library_id: "l", id: "c", kind, title: "C", summary: null, download_mode: "all", position: 0,
    items, played, in_progress: 0, downloaded: 0, not_kept: 0, pinned: false,
  artwork: null,
  };
}

describe("library", () => {
  it("course progress and show counts, from the counts alone", () => {
    expect(progressLabel(col("course", 3, 1))).toBe("1 of 3 done");
    expect(progressLabel(col("show", 3, 1))).toBe("3 episodes, 2 unplayed");
    expect(progressLabel(col("show", 1, 0))).toBe("1 episode, 1 unplayed");
  });

  it("opens every collection of a small library, none of a big one", () => {
    expect(startsOpen(7)).toBe(true);
    expect(startsOpen(OPEN_ALL_UP_TO)).toBe(true);
    expect(startsOpen(OPEN_ALL_UP_TO + 1)).toBe(false);
  });
});
