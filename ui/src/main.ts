// The app's views: library (courses and shows), search, downloads,
// settings, the player, the sync/offline banner, and the subscribe and
// access-token dialogs. State lives in the shell; this renders it.
import { api, errorCode, errorLibrary, errorText, type ItemRef } from "./api";
import type { AppSettings } from "./bindings/AppSettings";
import type { DownloadMode } from "./bindings/DownloadMode";
import type { DownloadsView } from "./bindings/DownloadsView";
import type { FeedOffer } from "./bindings/FeedOffer";
import type { MirrorView } from "./bindings/MirrorView";
import type { CollectionView } from "./bindings/CollectionView";
import type { ItemDetail } from "./bindings/ItemDetail";
import type { ItemView } from "./bindings/ItemView";
import type { LibraryPage } from "./bindings/LibraryPage";
import type { SyncEvent } from "./bindings/SyncEvent";
import { h } from "./dom";
import { ago, bytes, date, duration } from "./format";
import { budgetPercent, DownloadTracker, parseSize, queueRows, storageLabel } from "./downloads";
import { FILTERS, progressLabel, startsOpen, type Filter } from "./library";
import { ItemList } from "./itemlist";
import { keyAction, parseChapters, parseCues, PositionSaver, resumeAt, stepSpeed, type Cue } from "./player";

const app = document.getElementById("app")!;

let snap: LibraryPage | null = null;
/** Collections past the first page, loaded with "More". */
let moreCollections: CollectionView[] = [];
/** Open collections (library/id) and their lists; the member's choice of open or closed. */
const lists = new Map<string, ItemList>();
const opened = new Map<string, boolean>();
type View = "library" | "downloads" | "settings";
let view: View = "library";
let downloadsView: DownloadsView | null = null;
let mirrorsView: MirrorView[] = [];
const tracker = new DownloadTracker();
let filter: Filter = "all";
let query = "";
let progress = "";
let current: { ref: ItemRef; detail: ItemDetail } | null = null;
const saver = new PositionSaver(5000);

const banner = h("div", { class: "banner", role: "status", "aria-live": "polite" });
const content = h("main", { class: "content", id: "content" });
const player = h("section", { class: "player", id: "player", "aria-label": "Player" });
const searchBox = h("input", {
  type: "search",
  id: "search",
  placeholder: "Search lessons, episodes, show notes…  ( / )",
  "aria-label": "Search",
  autocomplete: "off",
});
const syncButton = h("button", { id: "sync-now", class: "ghost", type: "button" }, "Sync now");
const filters = h("nav", { class: "filters", "aria-label": "Filters" });
const tabs = h("nav", { class: "tabs", "aria-label": "Views" });
const toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
const dialog = h("dialog", { id: "dialog", class: "dialog" });

app.append(
  h(
    "header",
    { class: "top" },
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), "Stowaway"),
    tabs,
    searchBox,
    syncButton,
  ),
  banner,
  filters,
  content,
  player,
  toasts,
  dialog,
);

let tabsDrawn = "";
function renderTabs() {
  const label: Record<View, string> = { library: "Library", downloads: "Downloads", settings: "Settings" };
  const queued = downloadsView?.queue.length ?? 0;
  const key = `${view}|${query !== ""}|${queued}`;
  if (key === tabsDrawn) return; // keep the buttons (and a click in progress)
  tabsDrawn = key;
  tabs.replaceChildren(
    ...(Object.keys(label) as View[]).map((v) =>
      h(
        "button",
        {
          type: "button",
          id: `tab-${v}`,
          class: v === view && !query ? "tab on" : "tab",
          "aria-current": v === view && !query ? "page" : null,
          onclick: () => void show(v),
        },
        label[v],
        v === "downloads" && queued > 0 ? h("span", { class: "count" }, String(queued)) : null,
      ),
    ),
  );
}

async function show(v: View) {
  view = v;
  if (query) {
    query = "";
    searchBox.value = "";
  }
  if (v === "downloads") [downloadsView, mirrorsView] = await Promise.all([api.downloads(), api.mirrors()]);
  render();
}

function toast(text: string, kind = "") {
  const t = h("div", { class: `toast ${kind}` }, text);
  toasts.append(t);
  setTimeout(() => t.remove(), 6000);
}

function renderBanner() {
  if (!snap) return;
  const s = snap.sync;
  banner.className = "banner";
  const locked = snap.libraries.filter((l) => s.needs_token.includes(l.id));
  if (locked.length) {
    banner.classList.add("warn");
    banner.replaceChildren(
      `${locked.map((l) => l.title).join(", ")} ${locked.length === 1 ? "is" : "are"} private: your access token is needed. `,
      h("button", { type: "button", class: "link", id: "enter-token", onclick: () => tokenDialog(locked[0].id, locked[0].title, locked[0].mirrors) }, "Enter access token"),
    );
    banner.hidden = false;
    return;
  }
  if (s.offline) {
    banner.classList.add("offline");
    banner.textContent = `Offline — playing from this laptop; last synced ${ago(s.last_ok_at)}`;
  } else if (s.running) {
    banner.classList.add("busy");
    banner.textContent = progress || "Syncing…";
  } else if (snap.libraries.some((l) => l.expired)) {
    banner.classList.add("warn");
    banner.textContent = "The publisher has not refreshed this library lately; everything you have still plays.";
  } else {
    banner.textContent = s.last_ok_at ? `Synced ${ago(s.last_ok_at)}${s.last_mirror ? ` from ${new URL(s.last_mirror).host}` : ""}` : "";
  }
  banner.hidden = banner.textContent === "";
}

function renderFilters() {
  filters.hidden = view !== "library" || query !== "";
  filters.replaceChildren(
    ...FILTERS.map((f) =>
      h(
        "button",
        {
          type: "button",
          class: f.id === filter ? "chip on" : "chip",
          "aria-pressed": f.id === filter ? "true" : "false",
          onclick: () => {
            filter = f.id;
            render();
          },
        },
        f.label,
      ),
    ),
  );
}

function itemRow(c: CollectionView, i: ItemView, n: number) {
  const state = i.state;
  const pos = Number(i.position_ms);
  const dur = i.duration_ms == null ? null : Number(i.duration_ms);
  const status = i.played
    ? "Played"
    : pos > 0
      ? `${duration(pos)} of ${duration(dur)}`
      : duration(dur);
  const ref = { library: i.library_id, collection: i.collection_id, item: i.id };
  const playing = current && current.ref.item === i.id && current.ref.collection === i.collection_id;
  const dlTitle: Record<typeof state, string> = {
    downloaded: `Downloaded (${bytes(Number(i.bytes))})`,
    partial: "Downloading",
    queued: "Queued for download",
    not_downloaded: "Not kept offline",
  };
  const action =
    state === "not_downloaded"
      ? h("button", { type: "button", class: "icon act-download", title: "Download", "aria-label": `Download ${i.title}`, onclick: () => void act(() => api.download(i.library_id, i.collection_id, i.id)) }, "↓")
      : h(
          "button",
          {
            type: "button",
            class: "icon act-remove",
            title: state === "downloaded" ? "Remove download" : "Cancel download",
            "aria-label": `${state === "downloaded" ? "Remove download of" : "Cancel download of"} ${i.title}`,
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
        { class: `dl ${state}`, title: dlTitle[state] },
        state === "downloaded" ? "●" : state === "partial" ? "◐" : state === "queued" ? "◌" : "○",
      ),
    ),
    action,
    pos > 0 && dur ? h("div", { class: "bar", style: `--p:${Math.min(100, (pos / dur) * 100)}%` }) : null,
  );
}

const colKey = (c: CollectionView) => `${c.library_id}/${c.id}`;

function allCollections(): CollectionView[] {
  return [...(snap?.collections ?? []), ...moreCollections];
}

function isOpen(c: CollectionView): boolean {
  const libItems = snap?.libraries.reduce((n, l) => n + Number(l.items), 0) ?? 0;
  return opened.get(colKey(c)) ?? startsOpen(libItems);
}

/** The library: every collection with its counts; an open one lists its
 * items as a virtual list (only the rows near the screen exist). */
function renderLibrary() {
  if (!snap) return;
  if (snap.libraries.length === 0) {
    content.replaceChildren(
      h(
        "div",
        { class: "empty" },
        h("h2", {}, "No library yet"),
        h("p", {}, "Open the subscription your coach sent you (a .stowaway file or link), or paste a podcast feed's address."),
        subscribeForm(),
      ),
    );
    lists.clear();
    return;
  }
  const wanted = new Set<string>();
  const sections = allCollections().map((c) => {
    const key = colKey(c);
    const open = isOpen(c);
    let list = lists.get(key);
    if (open) {
      wanted.add(key);
      if (!list || list.filterOf !== filter) {
        list = new ItemList(c, filter, itemRow, content);
        lists.set(key, list);
      } else list.refresh(c);
    }
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
              opened.set(key, !open);
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
      open && list ? list.el : null,
    );
  });
  for (const k of [...lists.keys()]) if (!wanted.has(k)) lists.delete(k);
  const more = moreCollections.length ? moreShown : snap.more;
  const tail = more
    ? [h("button", { type: "button", class: "ghost more-collections", id: "more-collections", onclick: () => void loadMoreCollections() }, "More collections")]
    : [];
  content.replaceChildren(...sections, ...tail);
  updateLists();
}

let moreShown = false;
async function loadMoreCollections() {
  const all = allCollections();
  const last = all[all.length - 1];
  if (!last) return;
  const [page, more] = await api.collections({ library: last.library_id, position: Number(last.position) });
  moreCollections.push(...page);
  moreShown = more;
  renderLibrary();
}

/** Draws the rows of every open list that the screen shows now. */
let listFrame = 0;
function updateLists() {
  if (listFrame) return;
  listFrame = requestAnimationFrame(() => {
    listFrame = 0;
    for (const l of lists.values()) l.update();
  });
}
content.addEventListener("scroll", updateLists, { passive: true });
window.addEventListener("resize", updateLists);

/** Download-all and the auto-download rule of a collection. */
function collectionTools(c: CollectionView) {
  const left = Number(c.not_kept);
  const mode = h(
    "select",
    {
      class: "mode",
      "data-mode-for": c.id,
      "aria-label": `Automatic downloads for ${c.title}`,
      onchange: (e: Event) => void act(() => api.setDownloadMode(c.library_id, c.id, (e.target as HTMLSelectElement).value as DownloadMode)),
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

/** Runs a command, then refreshes; errors become a toast. */
async function act(f: () => Promise<unknown>) {
  try {
    await f();
  } catch (err) {
    failed(err);
  }
  await refresh();
}

/** What the page does about a failed command, by its stable code. */
function failed(err: unknown) {
  const code = errorCode(err);
  const lib = snap?.libraries.find((l) => l.id === errorLibrary(err));
  if (code === "needs_token" && lib) {
    tokenDialog(lib.id, lib.title, lib.mirrors);
  } else if (code === "offline" && snap) {
    snap.sync.offline = true;
    renderBanner();
    toast(errorText(err), "warn");
  } else if (code === "busy") {
    toast("A sync is running on this library; try again when it ends.", "warn");
  } else if (code === "index_corrupt") {
    toast(`The library's index cannot be read: run \`stowaway fsck --repair\`. (${errorText(err)})`, "error");
  } else {
    toast(errorText(err), "error");
  }
}

function subscribeForm() {
  const input = h("input", { type: "text", id: "subscribe-source", placeholder: "stowaway:// link, podcast feed URL, or path or URL of a .stowaway file" });
  const msg = h("p", { class: "msg", role: "alert" });
  return h(
    "form",
    {
      class: "subscribe",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        msg.textContent = "";
        try {
          await subscribeDialog(input.value);
        } catch (err) {
          msg.textContent = errorText(err);
        }
      },
    },
    input,
    h("button", { type: "submit" }, "Subscribe"),
    msg,
  );
}

// ---- dialogs -------------------------------------------------------------

function openDialog(...children: Node[]) {
  dialog.replaceChildren(...children);
  if (!dialog.open) dialog.showModal();
}

function closeDialog() {
  if (dialog.open) dialog.close();
}

/** Shows what a link or file offers; subscribes only when the member says so. */
async function subscribeDialog(source: string) {
  const p = await api.previewSubscription(source);
  const token = h("input", { type: "password", id: "token-input", autocomplete: "off", placeholder: "Access token" });
  const msg = h("p", { class: "msg", role: "alert" });
  const confirm = h("button", { type: "submit", id: "subscribe-confirm" }, p.already_subscribed ? "Update" : "Subscribe");
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          confirm.setAttribute("disabled", "");
          try {
            const r = await api.subscribe(p.source, p.private ? token.value : null);
            closeDialog();
            toast(r.token?.warning ?? `Subscribed to ${p.title ?? p.library}. Syncing…`, r.token?.warning ? "warn" : "");
            await refresh();
          } catch (err) {
            msg.textContent = errorText(err);
            confirm.removeAttribute("disabled");
          }
        },
      },
      h("h2", {}, p.feed ? (p.already_subscribed ? "Refresh this podcast?" : "Follow this podcast?") : p.already_subscribed ? "Update subscription" : "Subscribe to this library?"),
      h("p", { class: "lib-title" }, p.title ?? p.library),
      p.feed ? feedFacts(p.feed, p.mirrors) : h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Library"),
        h("dd", {}, p.library),
        h("dt", {}, "Mirrors"),
        h(
          "dd",
          {},
          ...p.mirrors.map((m) => h("div", { class: p.new_mirrors.includes(m) ? "new-mirror" : "" }, m, p.new_mirrors.includes(m) ? " (new)" : "")),
          ...p.removed_mirrors.map((m) => h("div", { class: "removed-mirror" }, h("s", {}, m), " (dropped)")),
        ),
        h("dt", {}, "Signed with"),
        h("dd", { class: "key" }, p.public_key),
      ),
      p.access_kept
        ? h("p", { class: "msg warn", id: "access-kept" }, "This file says the library is public. It stays private: an update can never make a private library public (unsubscribe first if that is really what your coach wants).")
        : null,
      p.private && p.already_subscribed && (p.new_mirrors.length || p.removed_mirrors.length)
        ? h("p", { class: "msg warn", id: "token-dropped" }, "This changes the mirrors of a private library: your access token will be forgotten, and goes to no new mirror until you enter it again. Only do that if these mirrors come from your coach.")
        : null,
      p.private
        ? h("label", { class: "field" }, "This library is private. Your access token (kept in your system keyring):", token)
        : null,
      msg,
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), confirm),
    ),
  );
}

/** What a podcast feed offers. Feeds are not signed: say what protects the member instead. */
function feedFacts(f: FeedOffer, hosts: string[]) {
  return h(
    "div",
    {},
    f.description ? h("p", { class: "feed-description" }, f.description) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Feed"),
      h("dd", { class: "key" }, f.url),
      h("dt", {}, "Episodes"),
      h("dd", { id: "feed-episodes" }, String(f.episodes), ...f.skipped.map((line) => h("div", { class: "skipped" }, line))),
      h("dt", {}, "Files from"),
      h("dd", {}, ...hosts.slice(0, 6).map((m) => h("div", {}, m)), hosts.length > 6 ? h("div", {}, `and ${hosts.length - 6} more`) : null),
    ),
    h("p", { class: "note" }, "A podcast feed is not signed. Each file is checked against the sizes and digests the feed gives, and its fingerprint is kept after the first download, so a later copy from another server must match it."),
  );
}

function tokenDialog(library: string, title: string, mirrors: string[]) {
  const token = h("input", { type: "password", id: "token-input", autocomplete: "off", placeholder: "Access token" });
  const msg = h("p", { class: "msg", role: "alert" });
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          try {
            const r = await api.setAccessToken(library, token.value, mirrors);
            closeDialog();
            toast(r.warning ?? "Token saved in your keyring. Syncing…", r.warning ? "warn" : "");
            await refresh();
          } catch (err) {
            msg.textContent = errorText(err);
          }
        },
      },
      h("h2", {}, `Access token for ${title}`),
      h("p", {}, "Paste the access token your coach gave you. Stowaway keeps it in your system keyring and sends it only to these mirrors of the library:"),
      h("ul", { class: "token-mirrors" }, mirrors.map((m) => h("li", {}, m))),
      h("label", { class: "field" }, "Access token", token),
      msg,
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), h("button", { type: "submit", id: "token-save" }, "Save")),
    ),
  );
  token.focus();
}

/** Links and files the desktop handed over, one dialog at a time: the
 * rest wait here and the next opens when the dialog closes. */
const linkQueue: string[] = [];
async function takeLinks() {
  linkQueue.push(...(await api.takeLinks()));
  while (!dialog.open && linkQueue.length) {
    const source = linkQueue.shift()!;
    if (/^https?:\/\//i.test(source)) {
      // A link from elsewhere: nothing is fetched until the member agrees.
      askToFetch(source);
      return;
    }
    try {
      await subscribeDialog(source);
    } catch (err) {
      toast(`Cannot open ${source}: ${errorText(err)}`, "error");
    }
  }
}

function askToFetch(url: string) {
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    // shown as it is
  }
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: (e: Event) => {
          e.preventDefault();
          // The confirmation replaces this dialog's content (it stays open).
          subscribeDialog(url).catch((err) => {
            closeDialog();
            toast(`Cannot open ${url}: ${errorText(err)}`, "error");
          });
        },
      },
      h("h2", {}, "Open a subscription link?"),
      h("p", {}, `A link asks Stowaway to fetch a library subscription from ${host}. Nothing is subscribed until you confirm what it offers.`),
      h("p", { class: "facts key" }, url),
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), h("button", { type: "submit", id: "link-continue" }, "Fetch")),
    ),
  );
}

// ---- downloads and settings ------------------------------------------------

let downloadsDrawn = "";
function renderDownloads() {
  const v = downloadsView;
  if (!v) return;
  const rows = queueRows(v, tracker);
  // Same queue as on screen: update the numbers in place, so that a button
  // is never replaced under the member's pointer.
  const key = `${v.usage.paused}|${rows.map((r) => `${r.entry.library_id}/${r.entry.collection_id}/${r.entry.item_id}`).join(",")}|${mirrorsView.map((m) => m.state).join(",")}`;
  if (key === downloadsDrawn && content.querySelector("#downloads")) {
    for (const r of rows) {
      const li = content.querySelector<HTMLElement>(`[data-queued="${CSS.escape(r.entry.item_id)}"]`);
      if (!li) continue;
      li.classList.toggle("active", r.active);
      li.querySelector<HTMLElement>(".bar")?.style.setProperty("--p", `${r.percent}%`);
      const subText = li.querySelector(".item-sub");
      if (subText) subText.textContent = `${r.entry.collection_title} · ${r.state}`;
      const meta = li.querySelector(".item-meta");
      if (meta) meta.textContent = `${bytes(r.done)} of ${bytes(r.total)}`;
    }
    const storage = content.querySelector("#storage");
    if (storage) storage.textContent = storageLabel(v.usage);
    return;
  }
  downloadsDrawn = key;
  const pct = budgetPercent(v.usage);
  content.replaceChildren(
    h(
      "section",
      { class: "collection downloads", id: "downloads" },
      h(
        "header",
        {},
        h("h2", {}, "Downloads"),
        h("span", { class: "progress", id: "storage" }, storageLabel(v.usage)),
        h(
          "span",
          { class: "tools" },
          h(
            "button",
            {
              type: "button",
              class: "ghost small",
              id: "pause-downloads",
              "aria-pressed": v.usage.paused ? "true" : "false",
              onclick: () => void act(() => api.setDownloadsPaused(!v.usage.paused)),
            },
            v.usage.paused ? "Resume downloads" : "Pause downloads",
          ),
        ),
      ),
      pct == null ? null : h("div", { class: "bar budget", style: `--p:${pct}%`, title: `${pct}% of the budget` }),
      rows.length
        ? h(
            "ol",
            { class: "items queue" },
            rows.map((r) =>
              h(
                "li",
                { class: `item ${r.active ? "active" : ""}`, "data-queued": r.entry.item_id },
                h(
                  "div",
                  { class: "item-main static" },
                  h("span", { class: "num" }, r.entry.explicit ? "↓" : "◌"),
                  h(
                    "span",
                    { class: "item-text" },
                    h("span", { class: "item-title" }, r.entry.title),
                    h("span", { class: "item-sub" }, `${r.entry.collection_title} · ${r.state}`),
                  ),
                  h("span", { class: "item-meta" }, `${bytes(r.done)} of ${bytes(r.total)}`),
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "icon act-remove",
                    title: "Cancel download",
                    "aria-label": `Cancel download of ${r.entry.title}`,
                    onclick: () =>
                      void act(() => api.removeDownload({ library: r.entry.library_id, collection: r.entry.collection_id, item: r.entry.item_id })),
                  },
                  "×",
                ),
                h("div", { class: "bar", style: `--p:${r.percent}%` }),
              ),
            ),
          )
        : h("p", { class: "none" }, v.usage.paused ? "Downloads are paused." : "Everything you keep offline is downloaded."),
    ),
    mirrorsCard(),
  );
}

/** Every mirror of every library, at a glance: answering, slow to, or skipped. */
function mirrorsCard() {
  const word: Record<string, string> = {
    ok: "answering",
    unknown: "not asked yet",
    failing: "failing",
    retry_after: "asked us to wait",
    half_open: "about to be tried again",
    open: "skipped for now",
    stale: "stale",
  };
  const detail = (m: MirrorView) =>
    m.state === "stale" && m.serves != null && m.newest != null ? `serves catalog ${m.serves}, the newest is ${m.newest}` : m.last_error && m.state !== "ok" ? m.last_error : "";
  const titles = new Map(snap?.libraries.map((l) => [l.id, l.title]));
  return h(
    "section",
    { class: "collection mirrors", id: "mirrors" },
    h("header", {}, h("h2", {}, "Mirrors"), h("span", { class: "progress" }, snap?.sync.last_ok_at ? `Last synced ${ago(snap.sync.last_ok_at)}` : "")),
    h(
      "ol",
      { class: "items" },
      mirrorsView.map((m) =>
        h(
          "li",
          { class: "item mirror", "data-mirror-state": m.state },
          h(
            "div",
            { class: "item-main static" },
            h("span", { class: `dot ${m.state}`, "aria-hidden": "true" }, "●"),
            h(
              "span",
              { class: "item-text" },
              h("span", { class: "item-title" }, hostOf(m.url)),
              h("span", { class: "item-sub" }, [titles.get(m.library) ?? m.library, word[m.state] ?? m.state, detail(m)].filter(Boolean).join(" · ")),
            ),
            h(
              "span",
              { class: "item-meta" },
              [m.latency_ms == null ? "" : `${Math.round(m.latency_ms)} ms`, m.throughput_bps == null ? "" : `${bytes(m.throughput_bps)}/s`].filter(Boolean).join(" · "),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A size as a member would type it, exactly: "5 GB", "750 MB", "123456 B". */
function sizeText(n: number): string {
  if (n % 1e9 === 0) return `${n / 1e9} GB`;
  if (n % 1e6 === 0) return `${n / 1e6} MB`;
  return `${n} B`;
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol === "file:" ? u.pathname : u.host;
  } catch {
    return url;
  }
}

let settingsDrawn = 0;
async function renderSettings() {
  const drawing = ++settingsDrawn;
  const s = await api.settings();
  if (drawing !== settingsDrawn) return; // a newer draw is on its way
  const interval = h(
    "select",
    { id: "set-interval" },
    ...(
      [
        [15, "Every 15 minutes"],
        [30, "Every 30 minutes"],
        [60, "Every hour"],
        [360, "Every 6 hours"],
        [1440, "Once a day"],
        [0, "Only when I ask"],
      ] as [number, string][]
    ).map(([m, l]) => h("option", { value: m, selected: s.sync_interval_minutes === m }, l)),
  );
  const check = (id: string, on: boolean) => h("input", { type: "checkbox", id, checked: on });
  const notify = check("set-notify", s.notify_new_items);
  const tray = check("set-tray", s.close_to_tray);
  const login = check("set-login", s.start_at_login);
  const budget = h("input", {
    type: "text",
    id: "set-budget",
    placeholder: "No limit",
    value: s.storage_budget == null ? "" : sizeText(Number(s.storage_budget)),
  });
  const budgetShown = budget.value;
  const msg = h("p", { class: "msg", role: "status" });
  const save = async () => {
    // Only a budget the member edited is parsed and sent back as typed.
    const b = budget.value === budgetShown ? s.storage_budget : parseSize(budget.value);
    if (b === "invalid") {
      msg.textContent = "Storage budget: a size like 5 GB or 500 MB, or empty for no limit.";
      return;
    }
    const next: AppSettings = {
      sync_interval_minutes: Number(interval.value),
      notify_new_items: notify.checked,
      close_to_tray: tray.checked,
      start_at_login: login.checked,
      storage_budget: b,
    };
    try {
      await api.setSettings(next);
      msg.textContent = "Saved.";
    } catch (err) {
      msg.textContent = errorText(err);
    }
  };
  const row = (label: string, control: HTMLElement, hint = "") =>
    h("label", { class: "setting" }, h("span", { class: "setting-label" }, label, hint ? h("small", {}, hint) : null), control);
  content.replaceChildren(
    h(
      "section",
      { class: "collection settings", id: "settings" },
      h("header", {}, h("h2", {}, "Settings")),
      h(
        "form",
        {
          class: "settings-form",
          onchange: () => void save(),
          onsubmit: (e: Event) => {
            e.preventDefault();
            void save();
          },
        },
        row("Sync in the background", interval, "Also at start-up, and soon after the network comes back."),
        row("Notify me of new episodes and lessons", notify),
        row("Keep running in the tray when the window is closed", tray),
        row("Start Stowaway when I log in", login, "It starts in the tray."),
        row("Storage budget", budget, "Played episodes are removed first to make room; what you download by hand is always kept."),
        msg,
      ),
      h("h3", {}, "Your libraries"),
      librariesList(),
      h("h3", {}, "Add a library or a podcast"),
      subscribeForm(),
      h("h3", {}, "Podcasts from other apps (OPML)"),
      opmlRow(),
    ),
  );
}

/** Every subscribed library, with a way to unsubscribe (asked first). */
function librariesList() {
  const libs = snap?.libraries ?? [];
  if (!libs.length) return h("p", { class: "none" }, "No libraries yet.");
  return h(
    "ul",
    { class: "libraries", id: "libraries" },
    libs.map((l) =>
      h(
        "li",
        { class: "library", "data-library": l.id },
        h("span", { class: "item-text" }, h("span", { class: "item-title" }, l.title), h("span", { class: "item-sub" }, `${l.items} items · ${bytes(Number(l.bytes_stored))} on this laptop${l.feed_url ? " · podcast" : l.private ? " · private" : ""}`)),
        h("button", { type: "button", class: "ghost unsubscribe", "data-unsubscribe": l.id, onclick: () => unsubscribeDialog(l.id, l.title, Number(l.items), Number(l.bytes_stored)) }, "Unsubscribe…"),
      ),
    ),
  );
}

/** Asks before removing a library and what this laptop keeps of it. */
function unsubscribeDialog(library: string, title: string, items: number, stored: number) {
  const msg = h("p", { class: "msg", role: "alert" });
  const confirm = h("button", { type: "submit", id: "unsubscribe-confirm", class: "danger" }, "Unsubscribe");
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          confirm.setAttribute("disabled", "");
          try {
            const r = await api.unsubscribe(library);
            closeDialog();
            toast(`Unsubscribed from ${title}: ${bytes(Number(r.bytes))} freed.`);
            await refresh();
            if (view === "settings") void renderSettings();
          } catch (err) {
            msg.textContent = errorText(err);
            confirm.removeAttribute("disabled");
          }
        },
      },
      h("h2", {}, `Unsubscribe from ${title}?`),
      h("p", {}, `Its ${items} item${items === 1 ? "" : "s"}, ${bytes(stored)} of downloads, your playback positions and its access token are removed from this laptop. Files another library also uses stay.`),
      msg,
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), confirm),
    ),
  );
}

/** Import the subscription list another podcast app exported; export ours. */
function opmlRow() {
  const file = h("input", { type: "file", id: "opml-file", accept: ".opml,.xml,text/x-opml,text/xml" }) as HTMLInputElement;
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (!f) return;
    try {
      const r = await api.importOpml(await f.text());
      const added = r.added.length;
      toast(
        added
          ? `Following ${added} more podcast${added === 1 ? "" : "s"}${r.already ? ` (${r.already} already)` : ""}. Syncing…`
          : `Nothing new: ${r.already} already followed.`,
      );
      await refresh();
    } catch (err) {
      toast(errorText(err), "error");
    }
    file.value = "";
  });
  return h(
    "div",
    { class: "opml" },
    h("label", { class: "button ghost" }, "Import…", file),
    h(
      "button",
      {
        type: "button",
        class: "ghost",
        id: "opml-export",
        onclick: async () => {
          try {
            const r = await api.exportOpml();
            toast(`Saved ${r.feeds} podcast${r.feeds === 1 ? "" : "s"} to ${r.path}`);
          } catch (err) {
            toast(errorText(err), "error");
          }
        },
      },
      "Export",
    ),
  );
}

async function renderSearch() {
  const hits = await api.search(query);
  if (query !== searchBox.value.trim()) return; // a newer query is on its way
  content.replaceChildren(
    h(
      "section",
      { class: "collection results" },
      h("header", {}, h("h2", {}, `Results for “${query}”`)),
      hits.length
        ? h(
            "ol",
            { class: "items" },
            hits.map((hit) =>
              h(
                "li",
                { class: "item", "data-item": hit.item_id },
                h(
                  "button",
                  {
                    type: "button",
                    class: "item-main",
                    onclick: () => void open({ library: hit.library_id, collection: hit.collection_id, item: hit.item_id }),
                  },
                  h("span", { class: "num" }, hit.downloaded ? "●" : "○"),
                  h(
                    "span",
                    { class: "item-text" },
                    h("span", { class: "item-title" }, hit.title),
                    h("span", { class: "item-sub snippet" }, ...snippet(hit.snippet)),
                    h("span", { class: "item-sub" }, hit.collection_title),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "none" }, "No matches in your library."),
    ),
  );
}

/** "a [match] b" → text nodes with <mark>, never HTML from the catalog. */
function snippet(s: string): Node[] {
  return s.split(/(\[[^\]]*\])/).map((part) =>
    part.startsWith("[") && part.endsWith("]") ? h("mark", {}, part.slice(1, -1)) : document.createTextNode(part),
  );
}

function render() {
  renderBanner();
  renderTabs();
  renderFilters();
  if (query) void renderSearch();
  else if (view === "downloads") renderDownloads();
  else if (view === "settings") {
    // Build the form once per visit: never under the member's fingers.
    if (!content.querySelector("#settings")) void renderSettings();
  }
  else renderLibrary();
}

/** Refreshes at most a few times a second however many events arrive. */
let refreshTimer: number | null = null;
function scheduleRefresh() {
  if (refreshTimer != null) return;
  refreshTimer = window.setTimeout(() => {
    refreshTimer = null;
    void refresh();
  }, 250);
}

/** Fetches the page's state again and redraws; a failure is told, not thrown. */
async function refresh() {
  try {
    await fetchState();
  } catch (err) {
    failed(err);
  }
}

async function fetchState() {
  snap = await api.libraryPage();
  if (moreCollections.length) {
    // Counts of the further pages, fetched again.
    moreCollections = await Promise.all(moreCollections.map((c) => api.collection(c.library_id, c.id).catch(() => c)));
  }
  downloadsView = await api.downloads();
  if (view === "downloads") mirrorsView = await api.mirrors();
  if (view === "settings" && !query) {
    // Do not rebuild a form the member may be typing in.
    renderBanner();
    renderTabs();
    return;
  }
  render();
}

// ---- the player -------------------------------------------------------

let media: HTMLMediaElement | null = null;
let cues: Cue[] = [];


async function savePosition(force: boolean) {
  if (!media || !current) return;
  const ms = media.currentTime * 1000;
  if (!saver.due(Date.now(), ms, force)) return;
  const dur = Number.isFinite(media.duration) ? media.duration * 1000 : null;
  await api.savePosition(current.ref, ms, dur);
}

async function open(ref: ItemRef) {
  await savePosition(true);
  const detail = await api.itemDetail(ref);
  current = { ref, detail };
  cues = [];
  const isVideo = (detail.media_type ?? "").startsWith("video/");
  media = detail.media_url ? (isVideo ? h("video", { id: "media", preload: "auto" }) : h("audio", { id: "media", preload: "auto" })) : null;
  const transcript = h("div", { class: "transcript", id: "transcript" });
  const chapters = h("ol", { class: "chapters", id: "chapters" });
  const speed = h("button", { type: "button", class: "ghost", id: "speed", title: "Speed" }, "1×");
  const time = h("span", { class: "time", id: "time" }, "0:00");
  const seek = h("input", { type: "range", id: "seek", min: 0, max: 1000, value: 0, "aria-label": "Seek" });
  const play = h("button", { type: "button", id: "play", class: "play", "aria-label": "Play" }, "▶");

  player.replaceChildren(
    h(
      "div",
      { class: "now" },
      h("div", { class: "now-title", id: "now-title" }, detail.title),
      h("div", { class: "now-sub" }, detail.collection_title),
    ),
    media
      ? h(
          "div",
          { class: "controls" },
          h("button", { type: "button", class: "ghost", id: "back15", onclick: () => seekBy(-15) }, "−15"),
          play,
          h("button", { type: "button", class: "ghost", id: "fwd30", onclick: () => seekBy(30) }, "+30"),
          seek,
          time,
          speed,
          h(
            "button",
            {
              type: "button",
              class: "ghost",
              id: "mark-played",
              onclick: async () => {
                await api.setPlayed(ref, true);
                await refresh();
              },
            },
            "Mark played",
          ),
        )
      : h("p", { class: "none" }, "Not downloaded yet — it will play here once the next sync has fetched it."),
    media ?? "",
    h(
      "div",
      { class: "detail" },
      detail.notes ? h("div", { class: "notes" }, ...detail.notes.split(/\n\n+/).map((p) => h("p", {}, p))) : null,
      detail.attachments.length
        ? h(
            "ul",
            { class: "attachments" },
            detail.attachments.map((a) =>
              h(
                "li",
                {},
                a.url
                  ? h(
                      "button",
                      {
                        type: "button",
                        class: "link attachment",
                        "data-attachment": a.index,
                        title: "Open with your system's viewer",
                        onclick: async () => {
                          try {
                            await api.openAttachment(ref, a.index);
                            toast(`Opened ${a.name}`);
                          } catch (err) {
                            toast(errorText(err), "error");
                          }
                        },
                      },
                      h("span", { class: "badge" }, a.media_type === "application/pdf" ? "PDF" : "FILE"),
                      a.name,
                    )
                  : `${a.name} (not downloaded yet)`,
              ),
            ),
          )
        : null,
      chapters,
      transcript,
    ),
  );
  player.classList.add("open");
  render();
  if (!media) return;
  const m = media;
  mediaSession(detail.title, detail.collection_title);
  m.src = detail.media_url!;
  const start = resumeAt(Number(detail.playback.position_ms), detail.playback.duration_ms == null ? null : Number(detail.playback.duration_ms), detail.playback.played);
  m.addEventListener("loadedmetadata", () => {
    if (start > 0 && start < m.duration) m.currentTime = start;
  });
  m.addEventListener("timeupdate", () => {
    const d = Number.isFinite(m.duration) ? m.duration : 0;
    time.textContent = `${duration(m.currentTime * 1000)} / ${duration(d * 1000)}`;
    if (d > 0 && document.activeElement !== seek) seek.value = String(Math.round((m.currentTime / d) * 1000));
    const cue = cues.findIndex((c) => m.currentTime >= c.start && m.currentTime < c.end);
    transcript.querySelectorAll(".cue").forEach((el, k) => el.classList.toggle("on", k === cue));
    void savePosition(false);
  });
  m.addEventListener("play", () => {
    play.textContent = "❚❚";
    play.setAttribute("aria-label", "Pause");
  });
  m.addEventListener("pause", () => {
    play.textContent = "▶";
    play.setAttribute("aria-label", "Play");
    void savePosition(true);
  });
  m.addEventListener("ended", async () => {
    await api.setPlayed(ref, true);
    await refresh();
    void playNext(detail);
  });
  play.addEventListener("click", () => (m.paused ? void m.play() : m.pause()));
  seek.addEventListener("input", () => {
    if (Number.isFinite(m.duration)) m.currentTime = (Number(seek.value) / 1000) * m.duration;
  });
  speed.addEventListener("click", (e) => {
    const next = stepSpeed(m.playbackRate, (e as MouseEvent).shiftKey ? -1 : 1);
    m.playbackRate = next === m.playbackRate ? 0.5 : next;
    speed.textContent = `${m.playbackRate}×`;
  });
  if (detail.transcript_url) {
    fetch(detail.transcript_url)
      .then((r) => r.text())
      .then((t) => {
        cues = parseCues(t);
        transcript.replaceChildren(
          h("h3", {}, "Transcript"),
          ...cues.map((c) => h("p", { class: "cue", onclick: () => c.start >= 0 && (m.currentTime = c.start) }, c.text)),
        );
      })
      .catch(() => undefined);
  }
  if (detail.chapters_url) {
    fetch(detail.chapters_url)
      .then((r) => r.json())
      .then((j) => {
        const list = parseChapters(j);
        chapters.replaceChildren(
          ...(list.length ? [h("h3", {}, "Chapters")] : []),
          ...list.map((c) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => (m.currentTime = c.start) }, `${duration(c.start * 1000)}  ${c.title}`))),
        );
      })
      .catch(() => undefined);
  }
}

/** Media keys and the desktop's now-playing controls (MPRIS on Linux), where the engine offers them. */
/** Continues with what follows in the collection, if it is downloaded. */
async function playNext(d: ItemDetail) {
  if (!d.next) return;
  const next = await api.itemDetail(d.next);
  if (next.media_url) void open(d.next).then(() => media?.play());
}

function mediaSession(title: string, album: string) {
  if (!("mediaSession" in navigator) || typeof MediaMetadata === "undefined") return;
  const ms = navigator.mediaSession;
  ms.metadata = new MediaMetadata({ title, album, artist: "Stowaway" });
  const handlers: [MediaSessionAction, MediaSessionActionHandler][] = [
    ["play", () => void media?.play()],
    ["pause", () => media?.pause()],
    ["seekbackward", () => seekBy(-15)],
    ["seekforward", () => seekBy(30)],
    [
      "nexttrack",
      () => {
        if (current) void playNext(current.detail);
      },
    ],
  ];
  for (const [action, f] of handlers) {
    try {
      ms.setActionHandler(action, f);
    } catch {
      // not supported by this engine
    }
  }
}

function seekBy(seconds: number) {
  if (!media) return;
  const d = Number.isFinite(media.duration) ? media.duration : Infinity;
  media.currentTime = Math.max(0, Math.min(d, media.currentTime + seconds));
}

// ---- wiring ------------------------------------------------------------

searchBox.addEventListener("input", () => {
  query = searchBox.value.trim();
  render();
});
dialog.addEventListener("close", () => void takeLinks());
syncButton.addEventListener("click", () => void api.syncNow());
document.addEventListener("keydown", (e) => {
  const t = e.target as HTMLElement;
  const typing = (t instanceof HTMLInputElement && t.type !== "range") || t instanceof HTMLSelectElement || dialog.open;
  const a = keyAction(e.key, e.shiftKey, typing);
  if (!a) return;
  e.preventDefault();
  if (a.kind === "search") searchBox.focus();
  else if (!media) return;
  else if (a.kind === "toggle") void (media.paused ? media.play() : media.pause());
  else if (a.kind === "seek_by") seekBy(a.seconds);
  else if (a.kind === "speed") media.playbackRate = stepSpeed(media.playbackRate, a.dir);
});
window.addEventListener("beforeunload", () => void savePosition(true));

void api.onSyncEvent((e: SyncEvent) => {
  if (tracker.feed(e) && view === "downloads" && !query) renderDownloads();
  if (e.event === "progress") {
    const eta = e.eta_secs == null ? "" : `, about ${duration(Number(e.eta_secs) * 1000)} left`;
    progress = `Downloading ${e.files_done} of ${e.files_total} · ${bytes(Number(e.bytes_done))} of ${bytes(Number(e.bytes_total))} · ${bytes(Number(e.rate_bps))}/s${eta}`;
    renderBanner();
  } else if (
    e.event === "catalog_applied" ||
    e.event === "download_finished" ||
    e.event === "download_cancelled" ||
    e.event === "library_finished"
  ) {
    scheduleRefresh();
  }
});
void api.onNewItems((n) => {
  const count = n.titles.length;
  toast(count === 1 ? `New in ${n.library_title}: ${n.titles[0]}` : `${count} new in ${n.library_title}`);
});
void api.onLinksPending(() => void (dialog.open ? undefined : takeLinks()));
void api.onSyncStatus(() => {
  progress = "";
  scheduleRefresh();
});

void refresh().then(() => takeLinks());
setInterval(() => renderBanner(), 30_000);
