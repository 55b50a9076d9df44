import { describe, expect, it } from "vitest";
import { farRows, missingRuns, visibleRange } from "../src/window";

describe("virtual list", () => {
  it("finds the rows on screen, with overscan, clamped to the list", () => {
    // A list starting 100 px below the viewport's top, 580 px of viewport, 58 px rows.
    expect(visibleRange(100, 580, 58, 1000, 0)).toEqual([0, 9]);
    // Scrolled 58,000 px into a 100,000-row list: rows 1000 to 1010.
    expect(visibleRange(-58_000, 580, 58, 100_000, 0)).toEqual([1000, 1010]);
    expect(visibleRange(-58_000, 580, 58, 100_000, 10)).toEqual([990, 1020]);
    // Past the end, or a list below the screen, or empty.
    expect(visibleRange(-58 * 2000, 580, 58, 1000, 5)).toEqual([1000, 1000]);
    expect(visibleRange(2000, 580, 58, 1000, 0)).toEqual([0, 0]);
    expect(visibleRange(0, 580, 58, 0, 10)).toEqual([0, 0]);
  });

  it("fetches the missing runs, a window at most each", () => {
    const have = new Set([0, 1, 2, 7]);
    expect(missingRuns(0, 10, (i) => have.has(i), 100)).toEqual([[3, 7], [8, 10]]);
    expect(missingRuns(0, 250, () => false, 100)).toEqual([[0, 100], [100, 200], [200, 250]]);
    expect(missingRuns(5, 5, () => false, 100)).toEqual([]);
  });

  it("forgets rows far from the screen", () => {
    expect(farRows([0, 50, 400, 401, 2000], 500, 520, 100)).toEqual([0, 50, 2000]);
  });
});
