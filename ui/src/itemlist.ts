// A collection's items as a virtual list: the list is as tall as all its
// rows, but only the rows near the screen exist, fetched a window at a time
// (after a row the page holds, by keyset; or at an index, for a jump).
// Rows are keyed by item: a row whose item did not change is kept as it is
// (never redrawn under the pointer).
import { api } from "./api";
import type { CollectionView } from "./bindings/CollectionView";
import type { Filter } from "./bindings/Filter";
import type { ItemView } from "./bindings/ItemView";
import type { Seek } from "./bindings/Seek";
import { h } from "./dom";
import { farRows, missingRuns, visibleRange } from "./window";

export const ROW_HEIGHT = 58;
const OVERSCAN = 10;
const WINDOW = 100;
const KEEP = 300;

/** Draws an item's row: into `reuse` (a row that left the screen) when given. */
export type RowRenderer = (c: CollectionView, item: ItemView, index: number, reuse?: HTMLElement) => HTMLElement;

/** Rows kept for reuse at most (a screen's worth and its overscan, twice). */
const POOL = 120;

export class ItemList {
  readonly el: HTMLOListElement;
  private rows = new Map<number, ItemView>();
  /** Rows fetched since the last refresh (older ones are drawn until replaced). */
  private fresh = new Set<number>();
  private drawn = new Map<string, { el: HTMLElement; sig: string }>();
  /** Rows that left the screen, to be filled with the next items that come on. */
  private pool: HTMLElement[] = [];
  private total: number;
  private pending = new Set<number>();
  private generation = 0;

  constructor(
    private c: CollectionView,
    private filter: Filter,
    private render: RowRenderer,
    private scroller: HTMLElement,
    /** What a row shows beyond its item (queued, playing): a change redraws it. */
    private extra: (item: ItemView) => string = () => "",
  ) {
    this.total = filter === "all" ? Number(c.items) : 0;
    this.el = h("ol", { class: "items virtual", "data-total": this.total });
    this.el.style.height = `${this.total * ROW_HEIGHT}px`;
    if (filter !== "all") void this.fetch(0);
  }

  get length(): number {
    return this.total;
  }

  get filterOf(): Filter {
    return this.filter;
  }

  /** The rows the screen shows now: fetch what is missing, draw, forget far rows. */
  update() {
    const [first, end] = this.range();
    for (const i of farRows(this.rows.keys(), first, end, KEEP)) {
      this.rows.delete(i);
      this.fresh.delete(i);
    }
    for (const [a] of missingRuns(first, end, (i) => this.fresh.has(i) || this.pending.has(i), WINDOW)) void this.fetch(a);
    this.draw(first, end);
  }

  /** The collection changed (a sync, a download): keep what is on screen, fetch it again. */
  refresh(c: CollectionView) {
    this.c = c;
    this.generation++;
    this.pending.clear();
    this.fresh.clear();
    this.update();
  }

  private range(): [number, number] {
    const top = this.el.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
    return visibleRange(top, this.scroller.clientHeight, ROW_HEIGHT, this.total, OVERSCAN);
  }

  private async fetch(at: number) {
    const gen = this.generation;
    const before = this.fresh.has(at - 1) ? this.rows.get(at - 1) : undefined;
    const seek: Seek = before ? { from: "after", cursor: before.cursor } : at === 0 ? { from: "first" } : { from: "at", index: at };
    for (let i = at; i < at + WINDOW; i++) this.pending.add(i);
    try {
      const w = await api.items(this.c.library_id, this.c.id, this.filter, seek, WINDOW);
      if (gen !== this.generation) return;
      w.items.forEach((item, k) => {
        this.rows.set(at + k, item);
        this.fresh.add(at + k);
      });
      this.setTotal(Number(w.total));
    } finally {
      if (gen === this.generation) for (let i = at; i < at + WINDOW; i++) this.pending.delete(i);
    }
    this.draw(...this.range());
  }

  private setTotal(n: number) {
    if (n === this.total) return;
    this.total = n;
    this.el.dataset.total = String(n);
    this.el.style.height = `${n * ROW_HEIGHT}px`;
    for (const i of [...this.rows.keys()]) if (i >= n) this.rows.delete(i);
    if (n === 0) this.el.replaceChildren(h("li", { class: "none" }, "Nothing here with this filter."));
    else this.el.querySelector(":scope > .none")?.remove();
  }

  private draw(first: number, end: number) {
    const keep = new Set<string>();
    for (let i = first; i < end; i++) {
      const item = this.rows.get(i);
      if (item) keep.add(item.id);
    }
    // Rows leaving the screen first: they are what new rows are made of.
    for (const [id, d] of this.drawn) {
      if (!keep.has(id)) {
        d.el.remove();
        if (this.pool.length < POOL) this.pool.push(d.el);
        this.drawn.delete(id);
      }
    }
    for (let i = first; i < end; i++) {
      const item = this.rows.get(i);
      if (!item) continue;
      const sig = `${i}|${this.extra(item)}|${JSON.stringify(item)}`;
      const had = this.drawn.get(item.id);
      if (had && had.sig === sig) continue;
      const el = this.render(this.c, item, i, had?.el ?? this.pool.pop());
      el.style.top = `${i * ROW_HEIGHT}px`;
      if (had && had.el !== el) had.el.replaceWith(el);
      else if (!had) this.el.append(el);
      this.drawn.set(item.id, { el, sig });
    }
  }
}
