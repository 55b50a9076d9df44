// The player: a compact bar at the foot of the window (title, −15, play,
// +30, chapters back and forth, seek, speed, sleep timer, up next) and the
// "now playing" view it opens (artwork, video, the chapter list, show
// notes with their links, attachments, the transcript, and what to do with
// the item: played, earlier played, keep for the trip). Saving the
// position, what plays next (the queue, else a course's next lesson), the
// speed of each show and the desktop's media keys. The decisions are in
// player.ts, chapters.ts, sleep.ts and notes.ts (pure, tested); this wires
// them to the <audio>/<video> element.
import { api, errorText, type ItemRef } from "./api";
import type { ChapterView } from "./bindings/ChapterView";
import type { ItemDetail } from "./bindings/ItemDetail";
import { Chapters } from "./chapters";
import { show } from "./chrome";
import { h } from "./dom";
import { duration } from "./format";
import { notesNodes } from "./notes";
import { closeDialog, nowView, openDialog, player, toast } from "./page";
import { parseCues, PositionSaver, resumeAt, SPEEDS, stepSpeed, type Action, type Cue } from "./player";
import { SLEEP_CHOICES, SleepTimer } from "./sleep";
import { act, refresh, render, state } from "./state";

const saver = new PositionSaver(5000);
/** The element playing the current item (null when it has no media yet). */
let media: HTMLMediaElement | null = null;

/** Whether something plays now (the app is never updated meanwhile). */
export function isPlaying(): boolean {
  return media !== null && !media.paused && !media.ended;
}
let cues: Cue[] = [];
let chapters = new Chapters([]);
const sleep = new SleepTimer();
/** Set by open(): redraws the parts of the bar and view that follow time. */
let tick: () => void = () => undefined;
/** Counts open() calls: one that a later call overtook stops at its next await. */
let opening = 0;
/** The current element's listeners, removed when another item opens. */
let listening: AbortController | null = null;

/** Saves where the member is in the current item (when due, or now if `force`). */
export async function savePosition(force: boolean) {
  if (!media || !state.current) return;
  const ms = media.currentTime * 1000;
  if (!saver.due(Date.now(), ms, force)) return;
  const dur = Number.isFinite(media.duration) ? media.duration * 1000 : null;
  await api.savePosition(state.current.ref, ms, dur);
}

/** Shows or hides the "now playing" view. */
export function showNow(open: boolean) {
  const hadFocus = nowView.contains(document.activeElement);
  state.nowOpen = open && state.current != null;
  nowView.hidden = !state.nowOpen;
  if (!state.nowOpen && hadFocus) document.getElementById("now-open")?.focus();
  document.getElementById("now-open")?.setAttribute("aria-expanded", String(state.nowOpen));
}

/** Opens an item in the player (saving where the last one was); `play` starts it. */
export async function open(ref: ItemRef, opts: { play?: boolean; view?: boolean } = {}) {
  const gen = ++opening;
  await savePosition(true);
  if (gen !== opening) return;
  // The old element's listeners go first: its pause must not save over the new item.
  listening?.abort();
  listening = new AbortController();
  const signal = listening.signal;
  media?.pause();
  let detail = await api.itemDetail(ref);
  if (gen !== opening) return;
  // Not downloaded, and it plays while it downloads: "play" starts its
  // download now and gives the media server's URL for it.
  if (opts.play && !detail.media_url && detail.streams) {
    try {
      detail = await api.playNow(ref);
      // A sync that took the file a moment ago is still opening it: its
      // URL comes when it runs (a few tries, a third of a second apart).
      for (let k = 0; k < 10 && !detail.media_url && gen === opening; k++) {
        await new Promise((r) => setTimeout(r, 300));
        detail = await api.itemDetail(ref);
      }
      if (!detail.media_url && gen === opening) toast(`“${detail.title}” could not start: no mirror is sending it yet. Try again in a moment.`, "warn");
    } catch (err) {
      toast(errorText(err), "warn");
    }
    if (gen !== opening) return;
  }
  state.current = { ref, detail };
  cues = [];
  chapters = new Chapters([]);
  const isVideo = (detail.media_type ?? "").startsWith("video/");
  media = detail.media_url ? (isVideo ? h("video", { id: "media", preload: "auto" }) : h("audio", { id: "media", preload: "auto" })) : null;
  drawBar(detail);
  drawNow(detail);
  player.classList.add("open");
  showNow(opts.view ?? true);
  render();
  if (!media) return;
  const m = media;
  mediaSession(detail.title, detail.collection_title, detail.artwork_url);
  m.src = detail.media_url!;
  m.playbackRate = detail.speed;
  m.defaultPlaybackRate = detail.speed;
  const start = resumeAt(Number(detail.playback.position_ms), detail.playback.duration_ms == null ? null : Number(detail.playback.duration_ms), detail.playback.played);
  const on = (type: string, f: () => void) => m.addEventListener(type, f, { signal });
  on("loadedmetadata", () => {
    if (start > 0 && start < m.duration) m.currentTime = start;
    m.playbackRate = detail.speed;
  });
  on("timeupdate", () => {
    tick();
    if (sleep.due(Date.now(), m.currentTime)) {
      m.pause();
      sleep.set(null, Date.now());
      toast("Sleep timer: paused.");
      tick();
    }
    void savePosition(false);
  });
  on("play", () => {
    setPlayButton(true);
    // Playing it takes it out of the queue.
    void api.queueRemove(ref).then((was) => was && refreshQueue());
  });
  on("pause", () => {
    setPlayButton(false);
    void savePosition(true);
  });
  on("ended", () => {
    void (async () => {
      await api.setPlayed(ref, true);
      const stop = sleep.endsEpisode();
      if (stop) {
        sleep.set(null, Date.now());
        toast("Sleep timer: stopped at the end of the episode.");
      }
      await refresh();
      // Still this item (the member did not open another meanwhile): go on.
      if (!stop && state.current?.ref === ref) void playNext();
    })();
  });
  on("error", () => {
    // A file still arriving whose next bytes no mirror delivered (the
    // media server cut the response after waiting), or one that cannot play.
    if (state.current?.ref !== ref) return;
    setPlayButton(false);
    toast(
      detail.arriving
        ? `“${detail.title}” stopped: its next part did not arrive. Press play to try again.`
        : `“${detail.title}” cannot be played.`,
      "warn",
    );
  });
  on("ratechange", () => {
    const s = document.getElementById("speed");
    if (s) s.textContent = speedLabel(m.playbackRate);
  });
  void loadTexts(ref, detail);
  if (opts.play) void m.play().catch(() => undefined);
}

function setPlayButton(playing: boolean) {
  const play = document.getElementById("play");
  if (!play) return;
  play.textContent = playing ? "❚❚" : "▶";
  play.setAttribute("aria-label", playing ? "Pause" : "Play");
}

const speedLabel = (s: number) => `${Number(s.toFixed(2))}×`;

/** The bar: what plays and its controls. */
function drawBar(d: ItemDetail) {
  const time = h("span", { class: "time", id: "time" }, "0:00");
  const seek = h("input", { type: "range", id: "seek", min: 0, max: 1000, value: 0, "aria-label": "Seek" });
  const sleepSelect = h(
    "select",
    { id: "sleep", class: "sleep", "aria-label": "Sleep timer", title: "Sleep timer" },
    SLEEP_CHOICES.map((c, i) => h("option", { value: String(i) }, i === 0 ? "Sleep" : c.label)),
  );
  sleepSelect.addEventListener("change", () => {
    const choice = SLEEP_CHOICES[Number(sleepSelect.value)];
    const pos = media?.currentTime ?? 0;
    const end = choice.mode?.kind === "chapter" ? chapters.endOf(pos) : null;
    sleep.set(choice.mode, Date.now(), end);
    const noChapter = choice.mode?.kind === "chapter" && end == null;
    toast(!choice.mode ? "Sleep timer off." : noChapter ? "Sleep timer: at the end of the episode (no chapter ends before it)." : `Sleep timer: ${choice.label.toLowerCase()}.`);
    tick();
  });
  const sleepLeft = h("span", { class: "sleep-left", id: "sleep-left" });
  const art = d.artwork_url ? h("img", { class: "bar-art", src: d.artwork_url, alt: "" }) : h("span", { class: "bar-art none", "aria-hidden": "true" });
  player.replaceChildren(
    h(
      "button",
      { type: "button", class: "bar-what", id: "now-open", "aria-expanded": "true", title: "Now playing", onclick: () => showNow(!state.nowOpen) },
      art,
      h("span", { class: "bar-text" }, h("span", { class: "now-title", id: "now-title" }, d.title), h("span", { class: "now-sub" }, d.collection_title)),
    ),
    media
      ? h(
          "div",
          { class: "controls" },
          h("button", { type: "button", class: "icon", id: "prev-chapter", title: "Previous chapter", "aria-label": "Previous chapter", hidden: true, onclick: () => jumpChapter(-1) }, "|◀"),
          h("button", { type: "button", class: "ghost small", id: "back15", title: "Back 15 seconds", onclick: () => seekBy(-15) }, "−15"),
          h("button", { type: "button", id: "play", class: "play", "aria-label": "Play", onclick: toggle }, "▶"),
          h("button", { type: "button", class: "ghost small", id: "fwd30", title: "Forward 30 seconds", onclick: () => seekBy(30) }, "+30"),
          h("button", { type: "button", class: "icon", id: "next-chapter", title: "Next chapter", "aria-label": "Next chapter", hidden: true, onclick: () => jumpChapter(1) }, "▶|"),
          seek,
          time,
          speedButton(d),
          sleepSelect,
          sleepLeft,
        )
      : notDownloaded(d),
    d.arriving && media ? h("span", { class: "arriving", id: "arriving", title: "Each part is checked as it arrives; it is kept once whole." }, "Downloading as it plays") : "",
    h("button", { type: "button", class: "ghost small", id: "open-queue", onclick: () => void show("queue") }, "Up next"),
    media && !(d.media_type ?? "").startsWith("video/") ? media : "",
  );
  seek.addEventListener("input", () => {
    if (media && Number.isFinite(media.duration)) media.currentTime = (Number(seek.value) / 1000) * media.duration;
  });
  tick = () => {
    const m = media;
    if (!m) return;
    const dur = Number.isFinite(m.duration) ? m.duration : 0;
    time.textContent = `${duration(m.currentTime * 1000)} / ${duration(dur * 1000)}`;
    if (dur > 0 && document.activeElement !== seek) seek.value = String(Math.round((m.currentTime / dur) * 1000));
    const cue = cues.findIndex((c) => m.currentTime >= c.start && m.currentTime < c.end);
    document.querySelectorAll("#transcript .cue").forEach((el, k) => el.classList.toggle("on", k === cue));
    markChapter(m.currentTime);
    const label = sleep.label(Date.now());
    sleepLeft.textContent = sleep.active ? label : "";
    if (!sleep.active && sleepSelect.value !== "0") sleepSelect.value = "0";
  };
}

/** A download finished: the current item may be whole now (its bar then
 * plays it, or stops saying it is still arriving). */
export function downloadFinished(attempt = 0) {
  const cur = state.current;
  if (!cur || !(cur.detail.arriving || !cur.detail.media_url)) return;
  void api.itemDetail(cur.ref).then((d) => {
    if (state.current !== cur) return;
    // The event can come just before the download says it stopped.
    if (d.arriving) {
      if (attempt < 5) setTimeout(() => downloadFinished(attempt + 1), 400);
      return;
    }
    if (!media && d.media_url) void open(cur.ref, { view: state.nowOpen });
    else if (media) {
      cur.detail = d;
      document.getElementById("arriving")?.remove();
    }
  });
}

/** Play or pause; after a network error (a file still arriving whose next
 * part did not come) play opens it again where it was, which asks anew. */
function toggle() {
  const m = media;
  const cur = state.current;
  if (!m || !cur) return;
  if (m.error) void open(cur.ref, { play: true, view: state.nowOpen });
  else if (m.paused) void m.play();
  else m.pause();
}

/** The bar of an item not downloaded: play it while it downloads (when
 * its parts can be checked as they arrive), else download it now. */
function notDownloaded(d: ItemDetail) {
  const ref = { library: d.library_id, collection: d.collection_id, item: d.id };
  if (d.streams) {
    return h(
      "div",
      { class: "controls" },
      h("button", { type: "button", id: "play", class: "play", "aria-label": "Play", title: "Play (it downloads as it plays)", onclick: () => void open(ref, { play: true, view: state.nowOpen }) }, "▶"),
      h("p", { class: "none" }, "Not downloaded yet: it plays while it downloads."),
    );
  }
  return h(
    "div",
    { class: "controls" },
    h("p", { class: "none" }, "Not downloaded yet: it plays once downloaded and checked."),
    h(
      "button",
      {
        type: "button",
        class: "ghost small",
        id: "download-now",
        onclick: () =>
          void act(async () => {
            await api.playNow(ref);
            toast(`Downloading “${d.title}” now.`);
          }),
      },
      "Download now",
    ),
  );
}

/** The speed button: a click steps up (shift: down); kept for the show. */
function speedButton(d: ItemDetail) {
  const b = h("button", { type: "button", class: "ghost small", id: "speed", title: d.collection_speed ? `Speed for ${d.collection_title}` : "Speed (the default)" }, speedLabel(d.speed));
  b.addEventListener("click", (e) => {
    if (!media) return;
    const next = stepSpeed(media.playbackRate, (e as MouseEvent).shiftKey ? -1 : 1);
    setSpeed(next === media.playbackRate ? SPEEDS[0] : next);
  });
  return b;
}

/** Plays at `speed`, and keeps it for the current item's show or course. */
function setSpeed(speed: number) {
  const cur = state.current;
  if (!media || !cur) return;
  media.playbackRate = speed;
  media.defaultPlaybackRate = speed;
  const b = document.getElementById("speed");
  if (b) b.title = `Speed for ${cur.detail.collection_title}`;
  void api.setCollectionSpeed(cur.ref.library, cur.ref.collection, speed).catch((err) => toast(errorText(err), "error"));
}

/** The "now playing" view. */
function drawNow(d: ItemDetail) {
  markedChapter = -2;
  markedAny = -2;
  const ref = { library: d.library_id, collection: d.collection_id, item: d.id };
  const played = d.playback.played;
  const isVideo = (d.media_type ?? "").startsWith("video/");
  nowView.replaceChildren(
    h(
      "header",
      { class: "now-head" },
      d.artwork_url ? h("img", { class: "now-art", id: "now-art", src: d.artwork_url, alt: "" }) : h("img", { class: "now-art", id: "now-art", alt: "", hidden: true }),
      h(
        "div",
        { class: "now-text" },
        h("h2", { id: "now-heading" }, d.title),
        h("div", { class: "now-sub" }, d.collection_title, d.duration_ms != null ? ` · ${duration(Number(d.duration_ms))}` : ""),
        h("div", { class: "chapter-now", id: "chapter-now" }),
        h(
          "div",
          { class: "now-actions" },
          h(
            "button",
            { type: "button", class: "ghost small", id: "mark-played", "aria-pressed": played ? "true" : "false", onclick: () => void setPlayed(ref, !played) },
            played ? "Mark unplayed" : "Mark played",
          ),
          h(
            "button",
            {
              type: "button",
              class: "ghost small",
              id: "mark-earlier",
              onclick: () =>
                void act(async () => {
                  const n = await api.markEarlierPlayed(ref);
                  toast(n === 0 ? "Nothing earlier was unplayed." : `${n} earlier ${n === 1 ? "item" : "items"} marked played.`);
                }),
            },
            d.course ? "Mark earlier lessons played" : "Mark older episodes played",
          ),
          h(
            "button",
            {
              type: "button",
              class: d.pinned ? "ghost small pinned" : "ghost small",
              id: "pin-item",
              "aria-pressed": d.pinned ? "true" : "false",
              disabled: d.pinned && !d.pinned_itself,
              title: d.pinned && !d.pinned_itself ? "Its whole collection is kept for the trip" : "Keep this item on this laptop for the trip",
              onclick: () =>
                void act(async () => {
                  await api.setPinned(d.library_id, d.collection_id, d.id, !d.pinned);
                  await reopenDetail();
                }),
            },
            d.pinned ? "✓ Kept for the trip" : "Keep for the trip",
          ),
          h("button", { type: "button", class: "ghost small", id: "now-close", onclick: () => showNow(false) }, "Close"),
        ),
      ),
    ),
    isVideo && media ? media : "",
    h(
      "div",
      { class: "detail" },
      h(
        "div",
        { class: "detail-main" },
        h("section", { class: "notes", id: "notes" }, notesNodes(d.notes_html, d.notes, { seek: (s) => seekTo(s), link: (u) => confirmLink(u) })),
        attachments(ref, d),
      ),
      h("div", { class: "detail-side" }, h("ol", { class: "chapters", id: "chapters" }), h("div", { class: "transcript", id: "transcript" })),
    ),
  );
}

async function setPlayed(ref: ItemRef, played: boolean) {
  await act(() => api.setPlayed(ref, played));
  await reopenDetail();
}

/** Draws the view again from a fresh detail (after a change to the item). */
async function reopenDetail() {
  const cur = state.current;
  if (!cur) return;
  cur.detail = await api.itemDetail(cur.ref);
  drawNow(cur.detail);
  if (chapters.list.length) drawChapters();
  if (cues.length) drawTranscript();
}

function attachments(ref: ItemRef, d: ItemDetail) {
  if (!d.attachments.length) return null;
  return h(
    "ul",
    { class: "attachments" },
    d.attachments.map((a) =>
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
  );
}

/** The transcript and the chapters, once fetched. */
async function loadTexts(ref: ItemRef, d: ItemDetail) {
  if (d.transcript_url) {
    fetch(d.transcript_url)
      .then((r) => r.text())
      .then((t) => {
        if (state.current?.ref !== ref) return;
        cues = parseCues(t);
        drawTranscript();
      })
      .catch(() => undefined);
  }
  try {
    const c = await api.chapters(ref);
    if (state.current?.ref !== ref) return;
    chapters = new Chapters(c.chapters.map((x: ChapterView) => ({ ...x, start_ms: Number(x.start_ms), end_ms: x.end_ms == null ? null : Number(x.end_ms) })));
    drawChapters();
  } catch {
    // no chapters: the list stays empty
  }
}

function drawTranscript() {
  const el = document.getElementById("transcript");
  if (!el) return;
  el.replaceChildren(
    h("h3", {}, "Transcript"),
    ...cues.map((c) => h("p", { class: "cue", onclick: () => c.start >= 0 && seekTo(c.start) }, c.text)),
  );
}

function drawChapters() {
  const el = document.getElementById("chapters");
  if (!el) return;
  markedChapter = -2;
  markedAny = -2;
  const listed = chapters.list.map((c, i) => ({ c, i })).filter(({ c }) => c.toc);
  el.replaceChildren(
    ...(listed.length ? [h("h3", {}, "Chapters")] : []),
    ...listed.map(({ c, i }) =>
      h(
        "li",
        { "data-chapter": i },
        h(
          "button",
          { type: "button", class: "link chapter", onclick: () => seekTo(c.start_ms / 1000) },
          h("span", { class: "chapter-time" }, duration(c.start_ms)),
          " ",
          c.title,
        ),
        c.url ? h("a", { href: "#", class: "note-link chapter-link", title: c.url, onclick: (e: Event) => (e.preventDefault(), confirmLink(c.url!)) }, "link") : null,
      ),
    ),
  );
  const show = listed.length > 1 && media != null;
  document.getElementById("prev-chapter")?.toggleAttribute("hidden", !show);
  document.getElementById("next-chapter")?.toggleAttribute("hidden", !show);
  markChapter(media?.currentTime ?? 0);
}

/** The chapters marked last (listed, and any): -2 before the first mark. */
let markedChapter = -2;
let markedAny = -2;

function markChapter(t: number) {
  const listed = chapters.currentListed(t);
  const any = chapters.currentIndex(t);
  if (listed === markedChapter && any === markedAny) return;
  markedChapter = listed;
  markedAny = any;
  document.querySelectorAll("#chapters li").forEach((li) => {
    const on = Number((li as HTMLElement).dataset.chapter) === listed;
    li.classList.toggle("on", on);
    if (on) li.setAttribute("aria-current", "true");
    else li.removeAttribute("aria-current");
  });
  const now = document.getElementById("chapter-now");
  if (!now) return;
  const c = any >= 0 ? chapters.list[any] : null;
  showChapterArt(c?.image ?? null);
  now.replaceChildren(
    ...(c
      ? [
          h("span", { class: "chapter-label" }, "Chapter: "),
          c.title,
          c.url ? h("a", { href: "#", class: "note-link", title: c.url, onclick: (e: Event) => (e.preventDefault(), confirmLink(c.url!)) }, " link") : "",

        ]
      : []),
  );
}
/** Chapter images fetched this run (data: URLs), by address. */
const chapterArt = new Map<string, string | null>();

/** The now-playing artwork: the chapter's image while it plays, else the item's. */
function showChapterArt(url: string | null) {
  const img = document.getElementById("now-art") as HTMLImageElement | null;
  const cur = state.current;
  if (!img || !cur) return;
  const fallback = () => {
    if (cur.detail.artwork_url) {
      img.src = cur.detail.artwork_url;
      img.hidden = false;
    } else img.hidden = true;
    img.removeAttribute("data-chapter-art");
  };
  if (!url) return fallback();
  const known = chapterArt.get(url);
  if (known) {
    img.src = known;
    img.hidden = false;
    img.dataset.chapterArt = url;
    return;
  }
  fallback();
  if (known === null) return; // failed before: not asked again this run
  const ref = cur.ref;
  void api
    .chapterImage(ref, url)
    .then((data) => {
      chapterArt.set(url, data);
      // Still this item, still this chapter: show it.
      if (state.current?.ref === ref && chapters.list[markedAny]?.image === url) showChapterArt(url);
    })
    .catch(() => chapterArt.set(url, null));
}

function jumpChapter(dir: 1 | -1) {
  if (!media) return;
  const to = dir > 0 ? chapters.next(media.currentTime) : chapters.previous(media.currentTime);
  if (to != null) seekTo(to);
}

function seekTo(seconds: number) {
  if (!media) return;
  const d = Number.isFinite(media.duration) ? media.duration : Infinity;
  media.currentTime = Math.max(0, Math.min(d, seconds));
  tick();
}

/** Shows where a link goes; it opens in the system's browser only when the member says so. */
function confirmLink(url: string) {
  let host = url;
  try {
    const u = new URL(url);
    host = u.protocol === "mailto:" ? u.pathname : u.host;
  } catch {
    // shown as it is
  }
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        class: "link-dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          closeDialog();
          try {
            await api.openLink(url);
          } catch (err) {
            toast(errorText(err), "error");
          }
        },
      },
      h("h2", {}, "Open this link in your browser?"),
      h("p", { class: "link-host", id: "link-host" }, host),
      h("p", { class: "link-url", id: "link-url" }, url),
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "button", class: "ghost", onclick: () => closeDialog() }, "Cancel"),
        h("button", { type: "submit", id: "link-open" }, "Open in browser"),
      ),
    ),
  );
}

/** Continues with what is next: the queue, else a course's next lesson. */
export async function playNext() {
  const cur = state.current;
  const next = await api.upNext(cur?.ref ?? null);
  if (!next) return;
  // Not downloaded: one that plays while it downloads starts so (open with
  // play asks for it); any other waits for its download.
  if (!next.playable && !next.streams) {
    toast(`Up next: “${next.title}” is not downloaded yet.`, "warn");
    return;
  }
  await open(next.item, { play: true, view: state.nowOpen });
}

/** Re-reads the queue if its view is showing. */
function refreshQueue() {
  if (state.view === "queue") void refresh();
}

/** Media keys and the desktop's now-playing controls (MPRIS on Linux), where the engine offers them. */
function mediaSession(title: string, album: string, artwork: string | null) {
  if (!("mediaSession" in navigator) || typeof MediaMetadata === "undefined") return;
  const ms = navigator.mediaSession;
  ms.metadata = new MediaMetadata({ title, album, artist: "Stowaway", artwork: artwork ? [{ src: artwork }] : [] });
  const handlers: [MediaSessionAction, MediaSessionActionHandler][] = [
    ["play", () => void media?.play()],
    ["pause", () => media?.pause()],
    ["seekbackward", () => seekBy(-15)],
    ["seekforward", () => seekBy(30)],
    ["nexttrack", () => void playNext()],
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
  seekTo(media.currentTime + seconds);
}

/** A keyboard shortcut for the player (none without media). */
export function playerKey(a: Exclude<Action, { kind: "search" } | { kind: "close" }>) {
  if (!media) return;
  if (a.kind === "toggle") toggle();
  else if (a.kind === "seek_by") seekBy(a.seconds);
  else if (a.kind === "speed") setSpeed(stepSpeed(media.playbackRate, a.dir));
}
