// The page around the views: the sync/offline banner, the view tabs, the
// filter chips, and what the page does about a failed command, by its code.
import { api, errorCode, errorLibrary, errorText } from "./api";
import { h, keyed } from "./dom";
import { ago } from "./format";
import { FILTERS } from "./library";
import { banner, filters, nowView, searchBox, sideList, tabs, toast } from "./page";
import { render, state, type View } from "./state";
import { tokenDialog } from "./dialogs/token";

const VIEWS: View[] = ["library", "queue", "ready", "downloads", "settings"];
const LABEL: Record<View, string> = { library: "Library", queue: "Up next", ready: "Ready for the trip", downloads: "Downloads", settings: "Settings" };

/** Shows a view (leaving the search, if any). */
export async function show(v: View) {
  state.view = v;
  state.focus = null;
  if (state.nowOpen) {
    state.nowOpen = false;
    nowView.hidden = true;
  }
  if (state.query) {
    state.query = "";
    searchBox.value = "";
  }
  if (v === "downloads") [state.downloads, state.mirrors] = await Promise.all([api.downloads(), api.mirrors()]);
  render();
}

/** The tabs; a tab that did not change is kept (and a click in progress on it). */
export function renderTabs() {
  const queued = state.downloads?.queue.length ?? 0;
  const upNext = state.queue.length;
  const on = (v: View) => v === state.view && !state.query && !(v === "library" && state.focus);
  const count = (v: View) => (v === "downloads" ? queued : v === "queue" ? upNext : 0);
  keyed(
    tabs,
    VIEWS,
    (v) => v,
    (v) => `${on(v)}|${count(v)}`,
    (v) =>
      h(
        "button",
        {
          type: "button",
          id: `tab-${v}`,
          class: on(v) ? "tab on" : "tab",
          "aria-current": on(v) ? "page" : null,
          onclick: () => void show(v),
        },
        LABEL[v],
        count(v) > 0 ? h("span", { class: "count" }, String(count(v))) : null,
      ),
  );
}

export function renderBanner() {
  const snap = state.snap;
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
    banner.textContent = state.progress || "Syncing…";
  } else if (snap.libraries.some((l) => l.expired)) {
    banner.classList.add("warn");
    banner.textContent = "The publisher has not refreshed this library lately; everything you have still plays.";
  } else {
    banner.textContent = s.last_ok_at ? `Synced ${ago(s.last_ok_at)}${s.last_mirror ? ` from ${new URL(s.last_mirror).host}` : ""}` : "";
  }
  banner.hidden = banner.textContent === "";
}

/** The library's filter chips (shown in the library view, not in a search). */
export function renderFilters() {
  filters.hidden = state.view !== "library" || state.query !== "";
  keyed(
    filters,
    FILTERS,
    (f) => f.id,
    (f) => String(f.id === state.filter),
    (f) =>
      h(
        "button",
        {
          type: "button",
          class: f.id === state.filter ? "chip on" : "chip",
          "aria-pressed": f.id === state.filter ? "true" : "false",
          onclick: () => {
            state.filter = f.id;
            render();
          },
        },
        f.label,
      ),
  );
}

/** What the page does about a failed command, by its stable code. */
export function failed(err: unknown) {
  const snap = state.snap;
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

/** The sidebar's shows and courses, by library: a click shows one on its own. */
export function renderSidebar() {
  const snap = state.snap;
  if (!snap) return;
  const cols = [...snap.collections, ...state.moreCollections];
  const groups = snap.libraries.map((l) => ({ l, cols: cols.filter((c) => c.library_id === l.id) }));
  keyed(
    sideList,
    groups,
    (g) => g.l.id,
    (g) => JSON.stringify([g.l.title, g.cols.map((c) => [c.id, c.title, c.kind]), state.focus, state.view]),
    (g) =>
      h(
        "div",
        { class: "side-library" },
        h("div", { class: "side-library-title", title: g.l.title }, g.l.title),
        h(
          "ul",
          {},
          g.cols.map((c) => {
            const key = `${c.library_id}/${c.id}`;
            const on = state.focus === key && state.view === "library";
            return h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: on ? "side-collection on" : "side-collection",
                  "data-side-collection": key,
                  "aria-current": on ? "page" : null,
                  title: c.title,
                  onclick: () => {
                    void show("library").then(() => {
                      state.focus = key;
                      state.opened.set(key, true);
                      render();
                      document.getElementById("content")?.scrollTo(0, 0);
                    });
                  },
                },
                h("span", { class: "side-kind", "aria-hidden": "true" }, c.kind === "course" ? "◆" : "◉"),
                c.title,
              ),
            );
          }),
        ),
      ),
  );
}
