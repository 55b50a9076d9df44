// The app's views: library (courses and shows), search, the player, the
// sync/offline banner. State lives in the shell; this renders it.
import { api, type ItemRef } from "./api";
import type { CollectionView } from "./bindings/CollectionView";
import type { ItemDetail } from "./bindings/ItemDetail";
import type { ItemView } from "./bindings/ItemView";
import type { Snapshot } from "./bindings/Snapshot";
import type { SyncEvent } from "./bindings/SyncEvent";
import { h } from "./dom";
import { ago, bytes, date, duration } from "./format";
import { downloadState, FILTERS, matches, nextAfter, ordered, progressLabel, type Filter } from "./library";
import { keyAction, parseChapters, parseCues, PositionSaver, resumeAt, stepSpeed, type Cue } from "./player";

const app = document.getElementById("app")!;

let snap: Snapshot | null = null;
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

app.append(
  h(
    "header",
    { class: "top" },
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), "Stowaway"),
    searchBox,
    syncButton,
  ),
  banner,
  filters,
  content,
  player,
);

function renderBanner() {
  if (!snap) return;
  const s = snap.sync;
  banner.className = "banner";
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
  const state = downloadState(i);
  const pos = Number(i.position_ms);
  const dur = i.duration_ms == null ? null : Number(i.duration_ms);
  const status = i.played
    ? "Played"
    : pos > 0
      ? `${duration(pos)} of ${duration(dur)}`
      : duration(dur);
  const ref = { library: i.library_id, collection: i.collection_id, item: i.id };
  const playing = current && current.ref.item === i.id && current.ref.collection === i.collection_id;
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
        h("span", { class: "item-title" }, i.title),
        h("span", { class: "item-sub" }, [c.kind === "show" ? date(i.published_at) : "", i.summary ?? ""].filter(Boolean).join(" · ")),
      ),
      h("span", { class: "item-meta" }, status),
      h(
        "span",
        { class: `dl ${state}`, title: state === "downloaded" ? `Downloaded (${bytes(Number(i.bytes))})` : state === "partial" ? "Downloading" : "Not downloaded yet" },
        state === "downloaded" ? "●" : state === "partial" ? "◐" : "○",
      ),
    ),
    pos > 0 && dur ? h("div", { class: "bar", style: `--p:${Math.min(100, (pos / dur) * 100)}%` }) : null,
  );
}

function renderLibrary() {
  if (!snap) return;
  if (snap.libraries.length === 0) {
    content.replaceChildren(
      h(
        "div",
        { class: "empty" },
        h("h2", {}, "No library yet"),
        h("p", {}, "Open the subscription your coach sent you (a .stowaway file or link)."),
        subscribeForm(),
      ),
    );
    return;
  }
  const sections = snap.collections.map((c) => {
    const items = ordered(c).filter((i) => matches(i, filter));
    return h(
      "section",
      { class: "collection", "data-collection": c.id },
      h(
        "header",
        {},
        h("h2", {}, c.title),
        h("span", { class: "kind" }, c.kind === "course" ? "Course" : "Show"),
        h("span", { class: "progress" }, progressLabel(c)),
      ),
      c.summary ? h("p", { class: "summary" }, c.summary) : null,
      items.length
        ? h("ol", { class: "items" }, items.map((i) => itemRow(c, i, c.items.indexOf(i))))
        : h("p", { class: "none" }, "Nothing here with this filter."),
    );
  });
  content.replaceChildren(...sections);
}

function subscribeForm() {
  const input = h("input", { type: "text", id: "subscribe-source", placeholder: "Path or URL of a .stowaway file" });
  const msg = h("p", { class: "msg", role: "alert" });
  return h(
    "form",
    {
      class: "subscribe",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await api.subscribe(input.value);
          msg.textContent = "Subscribed. Syncing…";
          await refresh();
        } catch (err) {
          msg.textContent = (err as { message?: string }).message ?? String(err);
        }
      },
    },
    input,
    h("button", { type: "submit" }, "Subscribe"),
    msg,
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
  renderFilters();
  if (query) void renderSearch();
  else renderLibrary();
}

async function refresh() {
  snap = await api.snapshot();
  render();
}

// ---- the player -------------------------------------------------------

let media: HTMLMediaElement | null = null;
let cues: Cue[] = [];

function collectionOf(ref: ItemRef): CollectionView | undefined {
  return snap?.collections.find((c) => c.library_id === ref.library && c.id === ref.collection);
}

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
      h("div", { class: "now-sub" }, collectionOf(ref)?.title ?? ""),
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
              h("li", {}, a.url ? h("a", { href: a.url, target: "_blank", rel: "noopener" }, h("span", { class: "badge" }, a.media_type === "application/pdf" ? "PDF" : "FILE"), a.name) : `${a.name} (not downloaded yet)`),
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
    const c = collectionOf(ref);
    const next = c && nextAfter(c, ref.item);
    await refresh();
    if (next && next.downloaded) void open({ library: next.library_id, collection: next.collection_id, item: next.id }).then(() => media?.play());
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
          ...cues.map((c) => h("p", { class: "cue", onclick: () => (m.currentTime = c.start) }, c.text)),
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
syncButton.addEventListener("click", () => void api.syncNow());
document.addEventListener("keydown", (e) => {
  const t = e.target as HTMLElement;
  const typing = t instanceof HTMLInputElement && t.type !== "range";
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
  if (e.event === "progress") {
    const eta = e.eta_secs == null ? "" : `, about ${duration(Number(e.eta_secs) * 1000)} left`;
    progress = `Downloading ${e.files_done} of ${e.files_total} · ${bytes(Number(e.bytes_done))} of ${bytes(Number(e.bytes_total))} · ${bytes(Number(e.rate_bps))}/s${eta}`;
    renderBanner();
  } else if (e.event === "catalog_applied" || e.event === "download_finished" || e.event === "library_finished") {
    void refresh();
  }
});
void api.onSyncStatus(() => {
  progress = "";
  void refresh();
});

void refresh();
setInterval(() => renderBanner(), 30_000);
