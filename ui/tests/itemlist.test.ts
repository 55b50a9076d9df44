// The virtual list over a stubbed API: only the rows near the screen exist,
// and rows that leave the screen are refilled with the items that come on
// (a long scroll moves a few dozen elements, it does not build thousands).
import { describe, expect, it, vi } from "vitest";
import type { CollectionView } from "../src/bindings/CollectionView";
import type { ItemView } from "../src/bindings/ItemView";
import type { Seek } from "../src/bindings/Seek";

const TOTAL = 1000;
const item = (n: number): ItemView => ({
  library_id: "big",
  collection_id: "show",
  id: `e${n}`,
  title: `Episode ${n}`,
  summary: null,
  published_at: null,
  duration_ms: 60_000,
  bytes: 1000,
  state: "not_downloaded",
  explicit: null,
  position_ms: 0,
  played: false,
  cursor: { key: n, position: n },
});

vi.mock("../src/api", () => ({
  api: {
    items: vi.fn(async (_l: string, _c: string, _f: string, seek: Seek, limit: number) => {
      const at = seek.from === "first" ? 0 : seek.from === "at" ? Number(seek.index) : seek.from === "after" ? Number(seek.cursor.position) + 1 : 0;
      const items = [];
      for (let n = at; n < Math.min(TOTAL, at + limit); n++) items.push(item(n));
      return { items, total: TOTAL };
    }),
  },
}));

const { ItemList, ROW_HEIGHT } = await import("../src/itemlist");

const collection: CollectionView = {
  library_id: "big",
  id: "show",
  kind: "show",
  title: "Big show",
  summary: null,
  download_mode: "all",
  position: 0,
  items: TOTAL,
  played: 0,
  in_progress: 0,
  downloaded: 0,
  not_kept: TOTAL,
  pinned: false,
  artwork: null,
};

describe("ItemList", () => {
  it("draws the rows near the screen and reuses rows that leave it", async () => {
    const scroller = document.createElement("div");
    Object.defineProperty(scroller, "clientHeight", { value: 580 });
    scroller.getBoundingClientRect = () => ({ top: 0 }) as DOMRect;
    let built = 0;
    let reused = 0;
    const render = (_c: CollectionView, it: ItemView, _i: number, reuse?: HTMLElement) => {
      if (reuse) reused++;
      else built++;
      const el = reuse ?? document.createElement("li");
      el.dataset.item = it.id;
      return el;
    };
    const list = new ItemList(collection, "all", render, scroller);
    let offset = 0;
    list.el.getBoundingClientRect = () => ({ top: -offset }) as DOMRect;
    const settle = async () => {
      list.update();
      await vi.waitFor(() => expect(list.el.children.length).toBeGreaterThan(0));
      await new Promise((r) => setTimeout(r, 0));
    };
    const drawn = () =>
      [...list.el.children].map((el) => [(el as HTMLElement).dataset.item, parseInt((el as HTMLElement).style.top) / ROW_HEIGHT]);

    await settle();
    // Ten rows on screen and ten of overscan below.
    expect(drawn().length).toBe(20);
    expect(drawn().every(([id, row]) => id === `e${row}`)).toBe(true);

    // Down the list, a screen at a time: each row still shows its own item,
    // and after the first screens no row is built any more.
    for (let screen = 1; screen <= 60; screen++) {
      offset = screen * 580;
      await settle();
      expect(drawn().every(([id, row]) => id === `e${row}`)).toBe(true);
    }
    expect(list.el.children.length).toBeLessThanOrEqual(30);
    expect(built).toBeLessThan(60);
    expect(reused).toBeGreaterThan(500);
  });
});
