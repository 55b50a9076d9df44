// The settings view: the app's settings (saved as they change), the
// libraries with a way to leave one, subscribing, OPML import and export.
// Keyed: the form is built once per visit and never under the member's
// fingers; the list of libraries follows the library page.
import { SPEEDS } from "../player";
import { api, errorText } from "../api";
import type { AppSettings } from "../bindings/AppSettings";
import type { LibraryView } from "../bindings/LibraryView";
import { h, keyed } from "../dom";
import { bytes } from "../format";
import { parseSize } from "../downloads";
import { content, toast } from "../page";
import { refresh, state } from "../state";
import { subscribeForm } from "../dialogs/subscribe";
import { unsubscribeDialog } from "../dialogs/unsubscribe";

export function renderSettings() {
  const [settings] = keyed(content, ["settings"], (k) => k, () => "", () => h("section", { class: "collection settings", id: "settings" }));
  const libs = state.snap?.libraries ?? [];
  const parts = [
    { key: "header", draw: () => h("header", {}, h("h2", {}, "Settings")) },
    { key: "form", draw: settingsForm },
    { key: "libraries-title", draw: () => h("h3", {}, "Your libraries") },
    libs.length
      ? { key: "libraries", draw: () => h("ul", { class: "libraries", id: "libraries" }) }
      : { key: "no-libraries", draw: () => h("p", { class: "none" }, "No libraries yet.") },
    { key: "subscribe-title", draw: () => h("h3", {}, "Add a library or a podcast") },
    { key: "subscribe", draw: subscribeForm },
    { key: "opml-title", draw: () => h("h3", {}, "Podcasts from other apps (OPML)") },
    { key: "opml", draw: opmlRow },
  ];
  const els = keyed(settings, parts, (p) => p.key, () => "", (p) => p.draw());
  const list = els[parts.findIndex((p) => p.key === "libraries")];
  if (list) keyed(list, libs, (l) => l.id, libraryLine, libraryRow);
}

/** A size as a member would type it, exactly: "5 GB", "750 MB", "123456 B". */
function sizeText(n: number): string {
  if (n % 1e9 === 0) return `${n / 1e9} GB`;
  if (n % 1e6 === 0) return `${n / 1e6} MB`;
  return `${n} B`;
}

/** The form, filled once the settings arrive; each change is saved. */
function settingsForm() {
  const form = h("form", { class: "settings-form" });
  void fill(form);
  return form;
}

async function fill(form: HTMLFormElement) {
  const s = await api.settings();
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
  const speed = h(
    "select",
    { id: "set-speed" },
    SPEEDS.map((v) => h("option", { value: v, selected: Math.abs(s.default_speed - v) < 1e-9 }, `${v}×`)),
  );
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
      default_speed: Number(speed.value),
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
  form.addEventListener("change", () => void save());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void save();
  });
  form.replaceChildren(
    row("Sync in the background", interval, "Also at start-up, and soon after the network comes back."),
    row("Notify me of new episodes and lessons", notify),
    row("Keep running in the tray when the window is closed", tray),
    row("Start Stowaway when I log in", login, "It starts in the tray."),
    row("Default playback speed", speed, "A show or course plays at the speed you last chose for it; the others at this one."),
    row("Storage budget", budget, "Played episodes are removed first to make room; what you download by hand is always kept."),
    msg,
  );
}

/** What a library's line shows: redrawn when that changes. */
function libraryLine(l: LibraryView): string {
  return JSON.stringify([l.title, l.items, l.bytes_stored, l.feed_url != null, l.private]);
}

/** A subscribed library, with a way to unsubscribe (asked first). */
function libraryRow(l: LibraryView) {
  return h(
    "li",
    { class: "library", "data-library": l.id },
    h("span", { class: "item-text" }, h("span", { class: "item-title" }, l.title), h("span", { class: "item-sub" }, `${l.items} items · ${bytes(Number(l.bytes_stored))} on this laptop${l.feed_url ? " · podcast" : l.private ? " · private" : ""}`)),
    h("button", { type: "button", class: "ghost unsubscribe", "data-unsubscribe": l.id, onclick: () => unsubscribeDialog(l.id, l.title, Number(l.items), Number(l.bytes_stored)) }, "Unsubscribe…"),
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
