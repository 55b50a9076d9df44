// The player section: the item opened, its <audio>/<video>, controls,
// notes, attachments, chapters and transcript; saving the position, playing
// what follows, the desktop's media keys. The decisions are player.ts's
// (pure); this wires them to the element.
import { api, errorText, type ItemRef } from "./api";
import type { ItemDetail } from "./bindings/ItemDetail";
import { h } from "./dom";
import { duration } from "./format";
import { player, toast } from "./page";
import { parseChapters, parseCues, PositionSaver, resumeAt, stepSpeed, type Action, type Cue } from "./player";
import { refresh, render, state } from "./state";

const saver = new PositionSaver(5000);
/** The element playing the current item (null when it has no media yet). */
let media: HTMLMediaElement | null = null;
let cues: Cue[] = [];

/** Saves where the member is in the current item (when due, or now if `force`). */
export async function savePosition(force: boolean) {
  if (!media || !state.current) return;
  const ms = media.currentTime * 1000;
  if (!saver.due(Date.now(), ms, force)) return;
  const dur = Number.isFinite(media.duration) ? media.duration * 1000 : null;
  await api.savePosition(state.current.ref, ms, dur);
}

/** Opens an item in the player (saving where the last one was). */
export async function open(ref: ItemRef) {
  await savePosition(true);
  const detail = await api.itemDetail(ref);
  state.current = { ref, detail };
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

/** Continues with what follows in the collection, if it is downloaded. */
async function playNext(d: ItemDetail) {
  if (!d.next) return;
  const next = await api.itemDetail(d.next);
  if (next.media_url) void open(d.next).then(() => media?.play());
}

/** Media keys and the desktop's now-playing controls (MPRIS on Linux), where the engine offers them. */
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
        if (state.current) void playNext(state.current.detail);
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

/** A keyboard shortcut for the player (none without media). */
export function playerKey(a: Exclude<Action, { kind: "search" }>) {
  if (!media) return;
  if (a.kind === "toggle") void (media.paused ? media.play() : media.pause());
  else if (a.kind === "seek_by") seekBy(a.seconds);
  else if (a.kind === "speed") media.playbackRate = stepSpeed(media.playbackRate, a.dir);
}
