// "Up next": the queue in the member's order. Play one now, move it up or
// down, take it out, or clear the whole queue. Kept in the cache, so it is
// the same after a restart. Keyed by item: a row that did not change stays.
import { api } from "../api";
import type { ShelfEntry } from "../bindings/ShelfEntry";
import { h, keyed } from "../dom";
import { duration } from "../format";
import { content } from "../page";
import { open } from "../playerview";
import { act, state } from "../state";

const refOf = (e: ShelfEntry) => ({ library: e.item.library_id, collection: e.item.collection_id, item: e.item.id });

export function renderQueue() {
  const q = state.queue;
  keyed(
    content,
    [{ key: "queue", sig: JSON.stringify([q, state.current?.ref.item ?? null]), draw: () => card(q) }],
    (p) => p.key,
    (p) => p.sig,
    (p) => p.draw(),
  );
}

function card(q: ShelfEntry[]) {
  return h(
    "section",
    { class: "collection queue-view", id: "queue" },
    h(
      "header",
      {},
      h("h2", {}, "Up next"),
      h("span", { class: "progress" }, q.length ? `${q.length} ${q.length === 1 ? "item" : "items"}` : ""),
      q.length ? h("button", { type: "button", class: "ghost small", id: "queue-clear", onclick: () => void act(() => api.queueClear()) }, "Clear") : null,
    ),
    q.length
      ? h("ol", { class: "items" }, q.map((e, i) => row(e, i, q.length)))
      : h(
          "p",
          { class: "none" },
          "Nothing queued. Add episodes or lessons with ≡ on their row (shift-click plays it next); a course goes on to its next lesson by itself.",
        ),
  );
}

function row(e: ShelfEntry, i: number, n: number) {
  const it = e.item;
  const ref = refOf(e);
  const dur = it.duration_ms == null ? null : Number(it.duration_ms);
  const pos = Number(it.position_ms);
  return h(
    "li",
    { class: "item queued", "data-up-next": it.id },
    h(
      "button",
      { type: "button", class: "item-main", "aria-label": `Play ${it.title}`, onclick: () => void open(ref, { play: true }) },
      h("span", { class: "num" }, String(i + 1)),
      h("span", { class: "item-text" }, h("span", { class: "item-title" }, it.title), h("span", { class: "item-sub" }, e.collection_title)),
      h("span", { class: "item-meta" }, pos > 0 && dur ? `${duration(dur - pos)} left` : duration(dur)),
      h("span", { class: `dl ${it.state}`, title: it.state === "downloaded" ? "Downloaded" : "Not downloaded yet" }, it.state === "downloaded" ? "●" : "○"),
    ),
    h(
      "span",
      { class: "queue-tools" },
      h("button", { type: "button", class: "icon", "data-queue-up": it.id, title: "Move up", "aria-label": `Move ${it.title} up`, disabled: i === 0, onclick: () => void act(() => api.queueMove(ref, i - 1)) }, "▲"),
      h("button", { type: "button", class: "icon", "data-queue-down": it.id, title: "Move down", "aria-label": `Move ${it.title} down`, disabled: i === n - 1, onclick: () => void act(() => api.queueMove(ref, i + 1)) }, "▼"),
      h("button", { type: "button", class: "icon", "data-queue-remove": it.id, title: "Take out of Up next", "aria-label": `Take ${it.title} out of Up next`, onclick: () => void act(() => api.queueRemove(ref)) }, "×"),
    ),
  );
}
