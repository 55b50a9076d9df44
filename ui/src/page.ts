// The page's fixed elements (main.ts lays them out) and the small verbs on
// them: a toast, the one <dialog> opened and closed. Imports nothing of
// the app, so that every view and dialog may use it.
import { h } from "./dom";

export const banner = h("div", { class: "banner", role: "status", "aria-live": "polite" });
export const content = h("main", { class: "content", id: "content" });
export const player = h("section", { class: "player", id: "player", "aria-label": "Player" });
export const nowView = h("section", { class: "now-view", id: "now", "aria-label": "Now playing", hidden: true });
export const sidebar = h("aside", { class: "sidebar", id: "sidebar" });
export const sideList = h("nav", { class: "side-list", id: "side-list", "aria-label": "Shows and courses" });
export const searchBox = h("input", {
  type: "search",
  id: "search",
  placeholder: "Search lessons, episodes, show notes…  ( / )",
  "aria-label": "Search",
  autocomplete: "off",
});
export const syncButton = h("button", { id: "sync-now", class: "ghost", type: "button" }, "Sync now");
export const filters = h("nav", { class: "filters", "aria-label": "Filters" });
export const tabs = h("nav", { class: "tabs", "aria-label": "Views" });
export const toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
export const dialog = h("dialog", { id: "dialog", class: "dialog" });

/** A line at the corner that goes after a few seconds. */
export function toast(text: string, kind = "") {
  // At most three at a time: the oldest goes first.
  while (toasts.children.length >= 3) toasts.firstElementChild?.remove();
  const t = h("div", { class: `toast ${kind}` }, text);
  toasts.append(t);
  setTimeout(() => t.remove(), 6000);
}

/** Shows `children` in the dialog (replacing what it showed), modal. */
export function openDialog(...children: Node[]) {
  dialog.replaceChildren(...children);
  if (!dialog.open) dialog.showModal();
}

export function closeDialog() {
  if (dialog.open) dialog.close();
}
