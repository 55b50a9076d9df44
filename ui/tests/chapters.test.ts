import { describe, expect, it } from "vitest";
import { Chapters, type Chapter } from "../src/chapters";
import { SleepTimer } from "../src/sleep";

const ch = (start: number, title: string, toc = true, end: number | null = null): Chapter => ({ start_ms: start * 1000, end_ms: end == null ? null : end * 1000, title, url: null, image: null, toc });

describe("chapters", () => {
  const c = new Chapters([ch(60, "Two"), ch(0, "One"), ch(90, "ad", false), ch(120, "Three", true, 150)]);

  it("knows which plays, listed or not", () => {
    expect(c.list.map((x) => x.title)).toEqual(["One", "Two", "ad", "Three"]);
    expect(c.currentIndex(95)).toBe(2); // the toc:false marker, for its image and link
    expect(c.currentListed(95)).toBe(1); // the list marks "Two"
    expect(c.currentListed(0)).toBe(0);
  });

  it("goes to the next listed chapter, and back like a CD player", () => {
    expect(c.next(10)).toBe(60);
    expect(c.next(61)).toBe(120); // skips the unlisted marker
    expect(c.next(130)).toBeNull();
    expect(c.previous(70)).toBe(60); // 10 s into "Two": its start
    expect(c.previous(61)).toBe(0); // just started "Two": "One"
    expect(c.previous(1)).toBe(0);
  });

  it("says when the chapter playing ends", () => {
    expect(c.endOf(10)).toBe(60);
    expect(c.endOf(125)).toBe(150); // its own end time
    expect(c.endOf(95)).toBe(120); // an unlisted marker is not a chapter's end
    expect(new Chapters([ch(0, "only")]).endOf(5)).toBeNull();
  });
});

describe("sleep timer", () => {
  it("fires after its minutes, and can be cancelled", () => {
    const s = new SleepTimer();
    s.set({ kind: "minutes", minutes: 15 }, 1_000);
    expect(s.due(1_000 + 14 * 60_000, 0)).toBe(false);
    expect(s.label(1_000 + 14 * 60_000)).toBe("Sleep 1:00");
    expect(s.due(1_000 + 15 * 60_000, 0)).toBe(true);
    s.set(null, 0);
    expect(s.due(Number.MAX_SAFE_INTEGER, 0)).toBe(false);
    expect(s.label(0)).toBe("Sleep");
  });

  it("stops at the end of the chapter, or of the episode", () => {
    const s = new SleepTimer();
    s.set({ kind: "chapter" }, 0, 60);
    expect(s.due(0, 59)).toBe(false);
    expect(s.due(0, 59.9)).toBe(true);
    s.set({ kind: "chapter" }, 0, null); // no chapters: the end of the episode
    expect(s.endsEpisode()).toBe(true);
    s.set({ kind: "chapter" }, 0, 60); // the last chapter ends with the episode
    expect(s.endsEpisode()).toBe(true);
    s.set({ kind: "episode" }, 0);
    expect(s.due(0, 1e9)).toBe(false);
    expect(s.endsEpisode()).toBe(true);
  });
});
