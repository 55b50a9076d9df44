// The downloads view: the queue with live progress, storage against the
// budget, pause/resume, and every mirror's health. Keyed: a row stays the
// same node while its item is queued (its numbers change in place), so a
// button is never replaced under the member's pointer.
import { api } from "../api";
import type { MirrorView } from "../bindings/MirrorView";
import type { DownloadsView } from "../bindings/DownloadsView";
import { h, keyed } from "../dom";
import { ago, bytes } from "../format";
import { budgetPercent, queueRows, storageLabel, type QueueRow } from "../downloads";
import { content } from "../page";
import { act, state } from "../state";

export function renderDownloads() {
  const v = state.downloads;
  if (!v) return;
  const [downloads] = keyed(
    content,
    [
      { key: "downloads", sig: "", draw: () => h("section", { class: "collection downloads", id: "downloads" }) },
      { key: "mirrors", sig: mirrorsSig(), draw: mirrorsCard },
    ],
    (p) => p.key,
    (p) => p.sig,
    (p) => p.draw(),
  );
  const rows = queueRows(v, state.tracker);
  const pct = budgetPercent(v.usage);
  const paused = v.usage.paused;
  const parts = [
    { key: "header", sig: String(paused), draw: () => header(v) },
    ...(pct == null ? [] : [{ key: "budget", sig: String(pct), draw: () => h("div", { class: "bar budget", style: `--p:${pct}%`, title: `${pct}% of the budget` }) }]),
    rows.length
      ? { key: "queue", sig: "", draw: () => h("ol", { class: "items queue" }) }
      : { key: "none", sig: String(paused), draw: () => h("p", { class: "none" }, paused ? "Downloads are paused." : "Everything you keep offline is downloaded.") },
  ];
  const els = keyed(downloads, parts, (p) => p.key, (p) => p.sig, (p) => p.draw());
  setText(downloads.querySelector("#storage"), storageLabel(v.usage));
  if (!rows.length) return;
  const lis = keyed(
    els[els.length - 1],
    rows,
    (r) => `${r.entry.library_id}/${r.entry.collection_id}/${r.entry.item_id}`,
    (r) => JSON.stringify([r.entry.title, r.entry.explicit]),
    queueRow,
  );
  lis.forEach((li, k) => showProgress(li, rows[k]));
}

function header(v: DownloadsView) {
  const paused = v.usage.paused;
  return h(
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
          "aria-pressed": paused ? "true" : "false",
          onclick: () => void act(() => api.setDownloadsPaused(!paused)),
        },
        paused ? "Resume downloads" : "Pause downloads",
      ),
    ),
  );
}

/** A queued item; its numbers are showProgress's. */
function queueRow(r: QueueRow) {
  return h(
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
        onclick: () => void act(() => api.removeDownload({ library: r.entry.library_id, collection: r.entry.collection_id, item: r.entry.item_id })),
      },
      "×",
    ),
    h("div", { class: "bar", style: `--p:${r.percent}%` }),
  );
}

/** The live numbers of a queued item, updated in place (only what changed). */
function showProgress(li: HTMLElement, r: QueueRow) {
  if (li.classList.contains("active") !== r.active) li.classList.toggle("active", r.active);
  const bar = li.querySelector<HTMLElement>(".bar");
  if (bar && bar.style.getPropertyValue("--p") !== `${r.percent}%`) bar.style.setProperty("--p", `${r.percent}%`);
  setText(li.querySelector(".item-sub"), `${r.entry.collection_title} · ${r.state}`);
  setText(li.querySelector(".item-meta"), `${bytes(r.done)} of ${bytes(r.total)}`);
}

function setText(el: Element | null, text: string) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** What the mirrors card shows: redrawn when that changes (it has no buttons). */
function mirrorsSig(): string {
  const snap = state.snap;
  return JSON.stringify([state.mirrors, snap?.libraries.map((l) => [l.id, l.title]), snap?.sync.last_ok_at]);
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
    not_allowed: "not used",
    unusable: "cannot be opened here",
  };
  const detail = (m: MirrorView) =>
    m.state === "stale" && m.serves != null && m.newest != null ? `serves catalog ${m.serves}, the newest is ${m.newest}` : m.last_error && m.state !== "ok" ? m.last_error : "";
  const snap = state.snap;
  const titles = new Map(snap?.libraries.map((l) => [l.id, l.title]));
  return h(
    "section",
    { class: "collection mirrors", id: "mirrors" },
    h("header", {}, h("h2", {}, "Mirrors"), h("span", { class: "progress" }, snap?.sync.last_ok_at ? `Last synced ${ago(snap.sync.last_ok_at)}` : "")),
    h(
      "ol",
      { class: "items" },
      state.mirrors.map((m) =>
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

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol === "file:" ? u.pathname : u.host;
  } catch {
    return url;
  }
}
