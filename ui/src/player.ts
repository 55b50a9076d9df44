// Player policy: keyboard shortcuts, speeds, skips and when to save the
// position. Pure decisions, tested; playerview.ts wires them to the <audio>/<video>.

export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3];

/** The next playback speed up or down the list, clamped to 0.5–3×. */
export function stepSpeed(current: number, dir: 1 | -1): number {
  const i = SPEEDS.findIndex((s) => s >= current - 1e-9);
  const at = i < 0 ? SPEEDS.length - 1 : i;
  return SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, at + dir))];
}

export type Action =
  | { kind: "toggle" }
  | { kind: "seek_by"; seconds: number }
  | { kind: "speed"; dir: 1 | -1 }
  | { kind: "search" }
  | { kind: "close" };

/** Keyboard shortcuts. None fire while typing in a text field. */
export function keyAction(key: string, shift: boolean, inTextField: boolean): Action | null {
  if (inTextField) return null;
  switch (key) {
    case " ":
    case "k":
      return { kind: "toggle" };
    case "ArrowLeft":
      return { kind: "seek_by", seconds: shift ? -30 : -15 };
    case "ArrowRight":
      return { kind: "seek_by", seconds: shift ? 30 : 15 };
    case "j":
      return { kind: "seek_by", seconds: -15 };
    case "l":
      return { kind: "seek_by", seconds: 30 };
    case ">":
      return { kind: "speed", dir: 1 };
    case "<":
      return { kind: "speed", dir: -1 };
    case "/":
      return { kind: "search" };
    case "Escape":
      return { kind: "close" };
    default:
      return null;
  }
}

/** Saves the position every few seconds of playback, and on pause/close. */
export class PositionSaver {
  private lastSavedMs = -1;
  private lastSaveAt = -Infinity;
  constructor(private readonly everyMs = 5000) {}

  /** Whether a save is due at wall time `now` for position `positionMs`. */
  due(now: number, positionMs: number, force = false): boolean {
    if (Math.abs(positionMs - this.lastSavedMs) < 500) return false;
    if (!force && now - this.lastSaveAt < this.everyMs) return false;
    this.lastSavedMs = positionMs;
    this.lastSaveAt = now;
    return true;
  }
}

/** Where to start: the saved position unless the item was (nearly) finished. */
export function resumeAt(positionMs: number, durationMs: number | null, played: boolean): number {
  if (played) return 0;
  if (durationMs != null && durationMs > 0 && positionMs > durationMs - 5000) return 0;
  return Math.max(0, positionMs) / 1000;
}

/** A transcript cue. */
export interface Cue {
  start: number;
  end: number;
  text: string;
}

/** Parses a transcript: WebVTT, SRT (which differs only in its header and
 * commas), or the Podcasting 2.0 JSON format ({"segments": [{startTime, endTime, body}]}). */
export function parseCues(text: string): Cue[] {
  const head = text.trimStart();
  if (head.startsWith("{")) return jsonCues(text);
  if (head.startsWith("<")) return htmlCues(text);
  const ts = (t: string) => {
    const m = t.trim().replace(",", ".").match(/^(?:(\d+):)?(\d{1,2}):(\d{2})(?:\.(\d{1,3}))?$/);
    if (!m) return NaN;
    const [, h, mi, s, f] = m;
    return Number(h ?? 0) * 3600 + Number(mi) * 60 + Number(s) + Number((f ?? "0").padEnd(3, "0")) / 1000;
  };
  const cues: Cue[] = [];
  for (const block of text.replace(/\r/g, "").split(/\n\n+/)) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    const at = lines.findIndex((l) => l.includes("-->"));
    if (at < 0) continue;
    const [a, b] = lines[at].split("-->");
    const start = ts(a);
    const end = ts(b.trim().split(/\s+/)[0]);
    if (Number.isNaN(start) || Number.isNaN(end)) continue;
    cues.push({ start, end, text: lines.slice(at + 1).join("\n") });
  }
  return cues;
}

function jsonCues(text: string): Cue[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [];
  }
  const segments = (json as { segments?: unknown })?.segments;
  if (!Array.isArray(segments)) return [];
  const cues: Cue[] = [];
  for (const s of segments as { startTime?: unknown; endTime?: unknown; body?: unknown; speaker?: unknown }[]) {
    const start = Number(s?.startTime);
    const end = Number(s?.endTime);
    const body = typeof s?.body === "string" ? s.body.trim() : "";
    if (!Number.isFinite(start) || start < 0 || !body) continue;
    const speaker = typeof s.speaker === "string" && s.speaker ? `${s.speaker}: ` : "";
    cues.push({ start, end: Number.isFinite(end) ? end : start, text: speaker + body });
  }
  return cues.sort((a, b) => a.start - b.start);
}

/** An HTML transcript (Podcasting 2.0 allows text/html): one cue per
 * paragraph, timed by the `<time>` before it where there is one, else
 * untimed (start −1: shown, not seekable). Parsed inertly: text only. */
function htmlCues(text: string): Cue[] {
  const doc = new DOMParser().parseFromString(text, "text/html");
  const clock = (t: string) => {
    const parts = t.trim().split(":").map(Number);
    if (parts.length < 2 || parts.length > 3 || parts.some((n) => !Number.isFinite(n) || n < 0)) return NaN;
    return parts.reduce((acc, n) => acc * 60 + n, 0);
  };
  const cues: Cue[] = [];
  let at = -1;
  for (const el of Array.from(doc.body.querySelectorAll("time, p"))) {
    const body = (el.textContent ?? "").replace(/\s+/g, " ").trim();
    if (el.tagName === "TIME") {
      const t = clock(body);
      if (!Number.isNaN(t)) at = t;
    } else if (body) {
      cues.push({ start: at, end: at, text: body });
    }
  }
  return cues;
}
