// "Ready for the trip": one answer to "is everything I keep offline on this
// laptop, whole and playable?". The check hashes every stored byte again
// (in the shell, off the page's thread) with a progress bar; the answer is
// one line and, when something is missing, what and how long fetching it
// takes. Keyed: the card stays the same node while a check runs.
import { api } from "../api";
import type { ReadyView } from "../bindings/ReadyView";
import { h, keyed } from "../dom";
import { bytes } from "../format";
import { content } from "../page";
import { act, render, state } from "../state";

/** The last answer, and the check running now (bytes done of total). */
const ready: { view: ReadyView | null; checking: [number, number] | null } = {
  view: null,
  checking: null,
};

let listening = false;

export function renderReady() {
  if (!listening) {
    listening = true;
    void api.onReadyProgress((done, total) => {
      if (!ready.checking) return;
      ready.checking = [done, total];
      if (state.view === "ready" && !state.query) renderReady();
    });
  }
  const v = ready.view;
  const checking = ready.checking;
  keyed(
    content,
    [
      {
        key: "ready",
        sig: JSON.stringify([v, checking]),
        draw: () => card(v, checking),
      },
    ],
    (p) => p.key,
    (p) => p.sig,
    (p) => p.draw(),
  );
}

function card(v: ReadyView | null, checking: [number, number] | null) {
  const pct = checking && checking[1] > 0 ? Math.round((checking[0] / checking[1]) * 100) : 0;
  return h(
    "section",
    { class: "collection ready", id: "ready" },
    h(
      "header",
      {},
      h("h2", {}, "Ready for the trip"),
      h(
        "button",
        { type: "button", id: "ready-check", class: "primary", disabled: checking != null, onclick: () => void check() },
        checking ? "Checking…" : v ? "Check again" : "Check now",
      ),
    ),
    h(
      "p",
      { class: "summary" },
      "Everything you keep for the trip (pin a course or a show with “Keep for the trip”) and everything your download rules keep: every file is read and checked again, byte by byte.",
    ),
    checking
      ? h(
          "div",
          { class: "ready-progress" },
          h("div", { class: "bar budget", style: `--p:${pct}%` }),
          h("span", { class: "item-sub" }, `Checking ${bytes(checking[0])} of ${bytes(checking[1])}`),
        )
      : null,
    v ? h("p", { id: "ready-summary", class: v.ready ? "ready-yes" : "ready-no" }, v.summary) : null,
    v && v.missing.length
      ? h(
          "ol",
          { class: "items queue" },
          ...v.missing.map((m) =>
            h(
              "li",
              { class: "item", "data-missing": m.item_id },
              h("span", { class: "item-text" }, h("span", { class: "item-title" }, m.title), h("span", { class: "item-sub" }, `${m.library_id}/${m.collection_id} · ${bytes(Number(m.bytes_missing))} missing`)),
            ),
          ),
        )
      : null,
    v && !v.ready
      ? h("button", { type: "button", id: "ready-sync", class: "ghost", onclick: () => void act(() => api.syncNow()) }, "Fetch what is missing now")
      : null,
  );
}

async function check() {
  ready.checking = [0, 0];
  renderReady();
  try {
    ready.view = await api.ready(null);
  } catch (err) {
    ready.checking = null;
    await act(() => Promise.reject(err));
    return;
  }
  ready.checking = null;
  render();
}
