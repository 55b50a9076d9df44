// The app's shell: lays out the page, draws it from the state (state.ts)
// through the views, and wires the shell's events, the search box and the
// keyboard. The views, dialogs and player are in their own modules; none
// imports this one.
import { api } from "./api";
import type { SyncEvent } from "./bindings/SyncEvent";
import { failed, renderBanner, renderFilters, renderSidebar, renderTabs } from "./chrome";
import { takeLinks } from "./dialogs/links";
import { h } from "./dom";
import { bytes, duration } from "./format";
import { banner, content, dialog, filters, nowView, player, searchBox, sideList, sidebar, syncButton, tabs, toast, toasts } from "./page";
import { keyAction } from "./player";
import { downloadFinished, playerKey, savePosition, showNow } from "./playerview";
import { connect, refresh, scheduleRefresh, state } from "./state";
import { renderDownloads } from "./views/downloads";
import { renderLibrary, updateLists } from "./views/library";
import { renderQueue } from "./views/queue";
import { renderReady } from "./views/ready";
import { renderSearch } from "./views/search";
import { renderSettings } from "./views/settings";
import { renderUpdate, updateNotice, watchUpdates } from "./update";

sidebar.append(h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), "Stowaway"), tabs, sideList);
document.getElementById("app")!.append(
  sidebar,
  h("header", { class: "top" }, searchBox, updateNotice, syncButton),
  banner,
  filters,
  content,
  nowView,
  player,
  toasts,
  dialog,
);

function render() {
  renderBanner();
  renderUpdate();
  renderTabs();
  renderSidebar();
  renderFilters();
  if (state.query) void renderSearch();
  else if (state.view === "downloads") renderDownloads();
  else if (state.view === "queue") renderQueue();
  else if (state.view === "ready") renderReady();
  else if (state.view === "settings") renderSettings();
  else renderLibrary();
}

connect({ render, failed });

content.addEventListener("scroll", updateLists, { passive: true });
window.addEventListener("resize", updateLists);
searchBox.addEventListener("input", () => {
  state.query = searchBox.value.trim();
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
  else if (a.kind === "close") showNow(false);
  else playerKey(a);
});
window.addEventListener("beforeunload", () => void savePosition(true));

void api.onSyncEvent((e: SyncEvent) => {
  if (state.tracker.feed(e) && state.view === "downloads" && !state.query) renderDownloads();
  if (e.event === "progress") {
    const eta = e.eta_secs == null ? "" : `, about ${duration(Number(e.eta_secs) * 1000)} left`;
    state.progress = `Downloading ${e.files_done} of ${e.files_total} · ${bytes(Number(e.bytes_done))} of ${bytes(Number(e.bytes_total))} · ${bytes(Number(e.rate_bps))}/s${eta}`;
    renderBanner();
  } else if (
    e.event === "catalog_applied" ||
    e.event === "download_finished" ||
    e.event === "download_cancelled" ||
    e.event === "library_finished"
  ) {
    scheduleRefresh();
    if (e.event === "download_finished" || e.event === "download_cancelled") downloadFinished();
  } else if (e.event === "download_failed") {
    downloadFinished();
  }
});
void api.onNewItems((n) => {
  const count = n.titles.length;
  toast(count === 1 ? `New in ${n.library_title}: ${n.titles[0]}` : `${count} new in ${n.library_title}`);
});
void api.onLinksPending(() => void (dialog.open ? undefined : takeLinks()));
void api.onSyncStatus(() => {
  state.progress = "";
  scheduleRefresh();
});

void refresh().then(() => takeLinks());
watchUpdates();
setInterval(() => renderBanner(), 30_000);
