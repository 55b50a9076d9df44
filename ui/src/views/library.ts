// The library view: every collection with its counts and download tools;
// an open one lists its items as a virtual list (only the rows near the
// screen exist). Sections are keyed by collection: one whose counts, rule
// and open state did not change is kept as it is.
import { api } from "../api";
import type { CollectionView } from "../bindings/CollectionView";
import type { DownloadMode } from "../bindings/DownloadMode";
import type { ItemView } from "../bindings/ItemView";
import { h, keyed } from "../dom";
import { bytes, date, duration } from "../format";
import { ItemList } from "../itemlist";
import { progressLabel, startsOpen } from "../library";
import { content } from "../page";
import { open } from "../playerview";
import { act, state } from "../state";
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
  const parts = allCollections().map((c) => {
    const key = colKey(c);
    const open = isOpen(c);
    let list = lists.get(key);
    if (open) {
      wanted.add(key);
      if (!list || list.filterOf !== state.filter) {
        list = new ItemList(c, state.filter, itemRow, content);
        lists.set(key, list);
      } else list.refresh(c);
    }
    const shown = open ? list : undefined;
    // What the section shows: the collection's counts and rule, open or not, and which list.
    return { key: `collection:${key}`, sig: JSON.stringify([c, open, open ? state.filter : null]), draw: () => section(c, key, open, shown) };
  });
  for (const k of [...lists.keys()]) if (!wanted.has(k)) lists.delete(k);
  const more = state.moreCollections.length ? state.moreShown : snap.more;
  if (more) parts.push({ key: "more-collections", sig: "", draw: moreButton });
  keyed(content, parts, (p) => p.key, (p) => p.sig, (p) => p.draw());
  updateLists();
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
    { class: "collection", "data-collection": c.id, "data-library": c.library_id },
    h(
      "header",
      {},
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

function itemRow(c: CollectionView, i: ItemView, n: number) {
  const dl = i.state;
  const pos = Number(i.position_ms);
  const dur = i.duration_ms == null ? null : Number(i.duration_ms);
  const status = i.played
    ? "Played"
    : pos > 0
      ? `${duration(pos)} of ${duration(dur)}`
      : duration(dur);
  const ref = { library: i.library_id, collection: i.collection_id, item: i.id };
  const current = state.current;
  const playing = current && current.ref.item === i.id && current.ref.collection === i.collection_id;
  const dlTitle: Record<typeof dl, string> = {
    downloaded: `Downloaded (${bytes(Number(i.bytes))})`,
    partial: "Downloading",
    queued: "Queued for download",
    not_downloaded: "Not kept offline",
  };
  const action =
    dl === "not_downloaded"
      ? h("button", { type: "button", class: "icon act-download", title: "Download", "aria-label": `Download ${i.title}`, onclick: () => void act(() => api.download(i.library_id, i.collection_id, i.id)) }, "↓")
      : h(
          "button",
          {
            type: "button",
            class: "icon act-remove",
            title: dl === "downloaded" ? "Remove download" : "Cancel download",
            "aria-label": `${dl === "downloaded" ? "Remove download of" : "Cancel download of"} ${i.title}`,
            onclick: () => void act(() => api.removeDownload(ref)),
          },
          "×",
        );
  return h(
    "li",
    { class: `item ${i.played ? "played" : ""} ${playing ? "playing" : ""}`, "data-item": i.id },
    h(
      "button",
      { type: "button", class: "item-main", onclick: () => void open(ref), "aria-label": `Play ${i.title}` },
      h("span", { class: "num" }, c.kind === "course" ? String(n + 1) : "▸"),
      h(
        "span",
        { class: "item-text" },
        h("span", { class: "item-title" }, i.explicit ? h("span", { class: "badge explicit", title: "Explicit" }, "E") : null, i.title),
        h("span", { class: "item-sub" }, [c.kind === "show" ? date(i.published_at) : "", i.summary ?? ""].filter(Boolean).join(" · ")),
      ),
      h("span", { class: "item-meta" }, status),
      h(
        "span",
        { class: `dl ${dl}`, title: dlTitle[dl] },
        dl === "downloaded" ? "●" : dl === "partial" ? "◐" : dl === "queued" ? "◌" : "○",
      ),
    ),
    action,
    pos > 0 && dur ? h("div", { class: "bar", style: `--p:${Math.min(100, (pos / dur) * 100)}%` }) : null,
  );
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
  return h(
    "span",
    { class: "tools" },
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
