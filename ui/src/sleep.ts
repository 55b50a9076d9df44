// The sleep timer's policy: pause after some minutes, or at the end of the
// chapter or the episode playing. Pure (tested); playerview.ts asks it on
// every time update and pauses when it says so.

export type SleepMode = { kind: "minutes"; minutes: number } | { kind: "chapter" } | { kind: "episode" };

export const SLEEP_CHOICES: { label: string; mode: SleepMode | null }[] = [
  { label: "Off", mode: null },
  { label: "5 minutes", mode: { kind: "minutes", minutes: 5 } },
  { label: "15 minutes", mode: { kind: "minutes", minutes: 15 } },
  { label: "30 minutes", mode: { kind: "minutes", minutes: 30 } },
  { label: "45 minutes", mode: { kind: "minutes", minutes: 45 } },
  { label: "1 hour", mode: { kind: "minutes", minutes: 60 } },
  { label: "End of chapter", mode: { kind: "chapter" } },
  { label: "End of episode", mode: { kind: "episode" } },
];

export class SleepTimer {
  private mode: SleepMode | null = null;
  /** Wall time (ms) a minutes timer fires at. */
  private deadline = 0;
  /** The media time (s) the chapter playing when it was set ends at. */
  private chapterEnd: number | null = null;

  /** Sets (or with null, cancels) the timer at wall time `now`; for "end of
   * chapter", `chapterEnd` is when the current chapter ends (null: none, so
   * the end of the episode). */
  set(mode: SleepMode | null, now: number, chapterEnd: number | null = null) {
    this.mode = mode;
    this.deadline = mode?.kind === "minutes" ? now + mode.minutes * 60_000 : 0;
    this.chapterEnd = mode?.kind === "chapter" ? chapterEnd : null;
  }

  get active(): SleepMode | null {
    return this.mode;
  }

  /** Whether to pause now: at wall time `now`, media time `position` (s). */
  due(now: number, position: number): boolean {
    const m = this.mode;
    if (!m) return false;
    if (m.kind === "minutes") return now >= this.deadline;
    if (m.kind === "chapter" && this.chapterEnd != null) return position >= this.chapterEnd - 0.25;
    return false; // the end of the episode: `ended` says so (see endsEpisode)
  }

  /** Whether the item ending should stop here (no next item plays): the
   * end of the episode, or of a chapter (the last one ends with it). */
  endsEpisode(): boolean {
    const m = this.mode;
    return m?.kind === "episode" || m?.kind === "chapter";
  }

  /** The timer's label on its button: "Sleep 14:59", "End of chapter", "Sleep". */
  label(now: number): string {
    const m = this.mode;
    if (!m) return "Sleep";
    if (m.kind === "minutes") {
      const s = Math.max(0, Math.ceil((this.deadline - now) / 1000));
      return `Sleep ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }
    return m.kind === "chapter" ? "Sleep: end of chapter" : "Sleep: end of episode";
  }
}
