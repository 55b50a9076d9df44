// The library view: every collection with its counts and download tools;
// an open one lists its items as a virtual list (only the rows near the
// screen exist). Sections are keyed by collection: one whose counts, rule
// and open state did not change is kept as it is.
import { api } from "../api";
import type { CollectionView } from "../bindings/CollectionView";
import type { DownloadMode } from "../bindings/DownloadMode";
import type { ItemView } from "../bindings/ItemView";
import type { LibraryView } from "../bindings/LibraryView";
import type { ShelfEntry } from "../bindings/ShelfEntry";
import { unsubscribeDialog } from "../dialogs/unsubscribe";
import { h, keyed } from "../dom";
import { bytes, date, duration } from "../format";
import { ItemList } from "../itemlist";
import { progressLabel, startsOpen } from "../library";
import { content } from "../page";
import { open } from "../playerview";
import { act, art, state } from "../state";
import { subscribeForm } from "../dialogs/subscribe";

/** The lists of the open collections (library/id). */
const lists = new Map<string, ItemList>();

const colKey = (c: CollectionView) => `${c.library_id}/${c.id}`;

function allCollections(): CollectionView[] {
  return [...(state.snap?.collections ?? []), ...state.moreCollections];
}

function isOpen(c: CollectionView): boolean {
  const libItems = state.snap?.libraries.reduce((n, l) => n + Number(l.items), 0) ?? 0;
  return state.opened.get(colKey(c)) ?? startsOpen(libItems);
}

export function renderLibrary() {
  const snap = state.snap;
  if (!snap) return;
  if (snap.libraries.length === 0) {
    keyed(content, ["empty"], (k) => k, () => "", () => emptyLibrary());
    lists.clear();
    return;
  }
  const wanted = new Set<string>();
  const shown = allCollections().filter((c) => !state.focus || colKey(c) === state.focus);
  const parts: { key: string; sig: string; draw: () => HTMLElement }[] = [];
  if (!state.focus && snap.continue_listening.length) {
    const shelf = snap.continue_listening;
    const current = state.current?.ref.item ?? "";
    parts.push({ key: "continue", sig: JSON.stringify([shelf, current]), draw: () => continueShelf(shelf) });
  }
  let lastLibrary = "";
  for (const c of shown) {
    if (c.library_id !== lastLibrary) {
      lastLibrary = c.library_id;
      const lib = snap.libraries.find((l) => l.id === c.library_id);
      if (lib) parts.push({ key: `library:${lib.id}`, sig: JSON.stringify([lib.title, lib.description, lib.items, lib.bytes_stored, lib.artwork]), draw: () => libraryHeader(lib) });
    }
    const key = colKey(c);
    const open = isOpen(c);
    let list = lists.get(key);
    if (open) {
      wanted.add(key);
      if (!list || list.filterOf !== state.filter) {
        list = new ItemList(c, state.filter, itemRow, content, rowExtra);
        lists.set(key, list);
      } else list.refresh(c);
    }
    const l = open ? list : undefined;
    // What the section shows: the collection's counts and rule, open or not, and which list.
    parts.push({ key: `collection:${key}`, sig: JSON.stringify([c, open, open ? state.filter : null, state.focus === key]), draw: () => section(c, key, open, l) });
  }
  for (const k of [...lists.keys()]) if (!wanted.has(k)) lists.delete(k);
  const more = state.moreCollections.length ? state.moreShown : snap.more;
  if (more && !state.focus) parts.push({ key: "more-collections", sig: "", draw: moreButton });
  keyed(content, parts, (p) => p.key, (p) => p.sig, (p) => p.draw());
  updateLists();
  markFirstCollection();
}

/** "Continue where you left off": items in progress, the latest first. */
function continueShelf(shelf: ShelfEntry[]) {
  return h(
    "section",
    { class: "shelf", id: "continue", "aria-label": "Continue where you left off" },
    h("h2", {}, "Continue where you left off"),
    h(
      "ul",
      {},
      shelf.map((s) => {
        const i = s.item;
        const pos = Number(i.position_ms);
        const dur = i.duration_ms == null ? null : Number(i.duration_ms);
        const ref = { library: i.library_id, collection: i.collection_id, item: i.id };
        return h(
          "li",
          { "data-continue": i.id },
          h(
            "button",
            { type: "button", class: "shelf-item", title: `Resume ${i.title}`, onclick: () => void open(ref, { play: true }) },
            h("span", { class: "shelf-title" }, i.title),
            h("span", { class: "shelf-sub" }, s.collection_title),
            h("span", { class: "shelf-left" }, dur ? `${duration(Math.max(0, dur - pos))} left` : `at ${duration(pos)}`),
            h("span", { class: "bar", style: `--p: ${dur ? Math.min(100, (pos / dur) * 100) : 0}%` }),
          ),
        );
      }),
    ),
  );
}

/** A library's heading: its title and description, and leaving it. */
function libraryHeader(lib: LibraryView) {
  return h(
    "header",
    { class: "library-head", "data-library-head": lib.id },
    art(lib.artwork) ? h("img", { class: "library-art", src: art(lib.artwork)!, alt: "" }) : null,
    h("div", { class: "library-text" }, h("h1", {}, lib.title), lib.description ? h("p", { class: "summary" }, lib.description) : null),
    h(
      "button",
      {
        type: "button",
        class: "ghost small unsubscribe",
        "data-unsubscribe-library": lib.id,
        onclick: () => unsubscribeDialog(lib.id, lib.title, Number(lib.items), Number(lib.bytes_stored)),
      },
      "Unsubscribe…",
    ),
  );
}

/** The frame that first draws a collection, marked for the benchmark
 * (`stowaway-bench-app` reads it over WebDriver): launch to first paint. */
function markFirstCollection() {
  const name = "stowaway:first-collection";
  if (performance.getEntriesByName(name).length || !content.querySelector("[data-collection]")) return;
  requestAnimationFrame(() => {
    if (!performance.getEntriesByName(name).length) performance.mark(name);
  });
}

function emptyLibrary() {
  return h(
    "div",
    { class: "empty" },
    h("h2", {}, "No library yet"),
    h("p", {}, "Open the subscription your coach sent you (a .stowaway file or link), or paste a podcast feed's address."),
    subscribeForm(),
  );
}

function section(c: CollectionView, key: string, open: boolean, list: ItemList | undefined) {
  return h(
    "section",
    { class: state.focus === key ? "collection focused" : "collection", "data-collection": c.id, "data-library": c.library_id },
    h(
      "header",
      {},
      art(c.artwork) ? h("img", { class: "collection-art", src: art(c.artwork)!, alt: "" }) : null,
      h(
        "button",
        {
          type: "button",
          class: "open",
          "aria-expanded": open ? "true" : "false",
          "data-open": c.id,
          onclick: () => {
            state.opened.set(key, !open);
            renderLibrary();
          },
        },
        h("span", { class: "chevron", "aria-hidden": "true" }, open ? "▾ " : "▸ "),
        h("h2", {}, c.title),
      ),
      h("span", { class: "kind" }, c.kind === "course" ? "Course" : "Show"),
      h("span", { class: "progress" }, progressLabel(c)),
      collectionTools(c),
    ),
    c.summary ? h("p", { class: "summary" }, c.summary) : null,
    list ? list.el : null,
  );
}

function moreButton() {
  return h("button", { type: "button", class: "ghost more-collections", id: "more-collections", onclick: () => void loadMoreCollections() }, "More collections");
}

async function loadMoreCollections() {
  const all = allCollections();
  const last = all[all.length - 1];
  if (!last) return;
  const [page, more] = await api.collections({ library: last.library_id, position: Number(last.position) });
  state.moreCollections.push(...page);
  state.moreShown = more;
  renderLibrary();
}

/** Draws the rows of every open list that the screen shows now (once a frame). */
let listFrame = 0;
export function updateLists() {
  if (listFrame) return;
  listFrame = requestAnimationFrame(() => {
    listFrame = 0;
    for (const l of lists.values()) l.update();
  });
}

/** What a row shows beyond its item: in Up next, playing now. */
function rowExtra(i: ItemView): string {
  const queued = isQueued(i);
  const cur = state.current?.ref;
  const playing = cur != null && cur.item === i.id && cur.collection === i.collection_id && cur.library === i.library_id;
  return `${queued ? "q" : ""}${playing ? "p" : ""}`;
}

function isQueued(i: ItemView): boolean {
  return state.queue.some((q) => q.item.id === i.id && q.item.collection_id === i.collection_id && q.item.library_id === i.library_id);
}

/** The parts of a row that change with its item (a row is filled in place). */
interface RowParts {
  main: HTMLButtonElement;
  num: HTMLElement;
  titleLine: HTMLElement;
  badge: HTMLElement;
  title: Text;
  sub: HTMLElement;
  meta: HTMLElement;
  dl: HTMLElement;
  action: HTMLButtonElement;
  queue: HTMLButtonElement;
  bar: HTMLElement;
}

const rowParts = new WeakMap<HTMLElement, RowParts>();

/** An empty row: the same elements for every item, filled by fillRow(). */
function rowSkeleton(): HTMLElement {
  const p: RowParts = {
    main: h("button", { type: "button", class: "item-main" }),
    num: h("span", { class: "num" }),
    titleLine: h("span", { class: "item-title" }),
    badge: h("span", { class: "badge explicit", title: "Explicit" }, "E"),
    title: document.createTextNode(""),
    sub: h("span", { class: "item-sub" }),
    meta: h("span", { class: "item-meta" }),
    dl: h("span", { class: "dl" }),
    action: h("button", { type: "button", class: "icon" }),
    queue: h("button", { type: "button", class: "icon act-queue" }, "≡"),
    bar: h("div", { class: "bar" }),
  };
  p.titleLine.append(p.title);
  p.main.append(p.num, h("span", { class: "item-text" }, p.titleLine, p.sub), p.meta, p.dl);
  const li = h("li", { class: "item" }, p.main, p.queue, p.action, p.bar);
  rowParts.set(li, p);
  return li;
}

/**
 * An item's row: `reuse` (a row that left the screen) filled in place, or
 * a new one. A scroll through thousands of items then moves a few dozen
 * rows instead of building and dropping thousands: measured over 5,000
 * rows, the web process grew by about 230 MB with new rows each time.
 */
function itemRow(c: CollectionView, i: ItemView, n: number, reuse?: HTMLElement): HTMLElement {
  const li = reuse && rowParts.has(reuse) ? reuse : rowSkeleton();
  const p = rowParts.get(li)!;
  const dl = i.state;
  const pos = Number(i.position_ms);
  const dur = i.duration_ms == null ? null : Number(i.duration_ms);
  const status = i.played
    ? "✓ Played"
    : pos > 0
      ? `${duration(pos)} of ${duration(dur)}`
      : duration(dur);
  const ref = { library: i.library_id, collection: i.collection_id, item: i.id };
  const current = state.current;
  const playing = current && current.ref.item === i.id && current.ref.collection === i.collection_id && current.ref.library === i.library_id;
  const dlTitle: Record<typeof dl, string> = {
    downloaded: `Downloaded (${bytes(Number(i.bytes))})`,
    partial: "Downloading",
    queued: "Queued for download",
    not_downloaded: "Not kept offline",
  };
  li.className = `item with-queue ${i.played ? "played" : ""} ${playing ? "playing" : ""}`;
  li.dataset.item = i.id;
  p.main.onclick = () => void open(ref);
  p.main.setAttribute("aria-label", `Play ${i.title}`);
  p.num.textContent = c.kind === "course" ? String(n + 1) : "▸";
  // The badge is in the row only for an explicit item (its "E" would be part of the title's text).
  if (i.explicit && !p.badge.isConnected) p.titleLine.prepend(p.badge);
  else if (!i.explicit) p.badge.remove();
  p.title.data = i.title;
  p.sub.textContent = [c.kind === "show" ? date(i.published_at) : "", i.summary ?? ""].filter(Boolean).join(" · ");
  p.meta.textContent = status;
  p.dl.className = `dl ${dl}`;
  p.dl.title = dlTitle[dl];
  p.dl.textContent = dl === "downloaded" ? "●" : dl === "partial" ? "◐" : dl === "queued" ? "◌" : "○";
  if (dl === "not_downloaded") {
    p.action.className = "icon act-download";
    p.action.title = "Download";
    p.action.setAttribute("aria-label", `Download ${i.title}`);
    p.action.textContent = "↓";
    p.action.onclick = () => void act(() => api.download(i.library_id, i.collection_id, i.id));
  } else {
    const remove = dl === "downloaded" ? "Remove download" : "Cancel download";
    p.action.className = "icon act-remove";
    p.action.title = remove;
    p.action.setAttribute("aria-label", `${remove} of ${i.title}`);
    p.action.textContent = "×";
    p.action.onclick = () => void act(() => api.removeDownload(ref));
  }
  const queued = isQueued(i);
  p.queue.classList.toggle("on", queued);
  p.queue.title = queued ? "In Up next (click to take it out)" : "Add to Up next (shift-click: play next)";
  p.queue.setAttribute("aria-label", queued ? `Remove ${i.title} from Up next` : `Add ${i.title} to Up next`);
  p.queue.setAttribute("aria-pressed", queued ? "true" : "false");
  p.queue.onclick = (e) =>
    void act(async () => {
      if (queued) await api.queueRemove(ref);
      else await api.queueAdd(ref, (e as MouseEvent).shiftKey ? "next" : "end");
    });
  const progress = pos > 0 && dur ? Math.min(100, (pos / dur) * 100) : null;
  p.bar.hidden = progress == null;
  if (progress == null) p.bar.style.removeProperty("--p");
  else p.bar.style.setProperty("--p", `${progress}%`);
  return li;
}

/** Download-all and the auto-download rule of a collection. */
function collectionTools(c: CollectionView) {
  const left = Number(c.not_kept);
  const mode = h(
    "select",
    {
      class: "mode",
      "data-mode-for": c.id,
      "aria-label": `Automatic downloads for ${c.title}`,
      onchange: (e: Event) => {
        const select = e.target as HTMLSelectElement;
        // A failed change leaves the section as it was (keyed): show the rule in force again.
        void act(() => api.setDownloadMode(c.library_id, c.id, select.value as DownloadMode)).then((done) => {
          if (!done) select.value = c.download_mode;
        });
      },
    },
    ...(
      [
        ["all", c.kind === "course" ? "Keep every lesson offline" : "Download every episode"],
        ["new", "Download new ones only"],
        ["off", "Download by hand"],
      ] as [DownloadMode, string][]
    ).map(([v, label]) => h("option", { value: v, selected: c.download_mode === v }, label)),
  );
  const pin = h(
    "button",
    {
      type: "button",
      class: c.pinned ? "ghost small pinned" : "ghost small",
      "data-pin": c.id,
      "aria-pressed": c.pinned ? "true" : "false",
      title: c.pinned ? "Kept for the trip: downloaded whatever the rule says, never removed to make room" : "Keep every item of this collection on this laptop for the trip",
      onclick: () => void act(() => api.setPinned(c.library_id, c.id, null, !c.pinned)),
    },
    c.pinned ? "✓ Kept for the trip" : "Keep for the trip",
  );
  return h(
    "span",
    { class: "tools" },
    pin,
    left
      ? h(
          "button",
          {
            type: "button",
            class: "ghost small",
            "data-download-all": c.id,
            onclick: () => void act(() => api.download(c.library_id, c.id, null)),
          },
          c.kind === "course" ? `Download course (${left})` : `Download all (${left})`,
        )
      : null,
    mode,
  );
}
