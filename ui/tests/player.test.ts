import { describe, expect, it } from "vitest";
import { keyAction, parseCues, PositionSaver, resumeAt, stepSpeed } from "../src/player";

describe("player", () => {
  it("steps speed within 0.5–3x", () => {
    expect(stepSpeed(1, 1)).toBe(1.25);
    expect(stepSpeed(1, -1)).toBe(0.75);
    expect(stepSpeed(3, 1)).toBe(3);
    expect(stepSpeed(0.5, -1)).toBe(0.5);
  });

  it("maps keys, but not while typing", () => {
    expect(keyAction(" ", false, false)).toEqual({ kind: "toggle" });
    expect(keyAction("ArrowLeft", false, false)).toEqual({ kind: "seek_by", seconds: -15 });
    expect(keyAction("ArrowRight", true, false)).toEqual({ kind: "seek_by", seconds: 30 });
    expect(keyAction(" ", false, true)).toBeNull();
    expect(keyAction("x", false, false)).toBeNull();
  });

  it("saves the position every few seconds, and at once when forced", () => {
    const s = new PositionSaver(5000);
    expect(s.due(0, 1000)).toBe(true);
    expect(s.due(1000, 2000)).toBe(false);
    expect(s.due(6000, 7000)).toBe(true);
    expect(s.due(6500, 7100)).toBe(false); // nothing moved
    expect(s.due(6600, 9000, true)).toBe(true);
  });

  it("resumes where the member stopped, unless finished", () => {
    expect(resumeAt(61_000, 300_000, false)).toBe(61);
    expect(resumeAt(298_000, 300_000, false)).toBe(0);
    expect(resumeAt(61_000, 300_000, true)).toBe(0);
  });

  it("parses WebVTT and SRT cues", () => {
    const vtt = "WEBVTT\n\n1\n00:00:00.700 --> 00:00:03.500\nWelcome.\n\n00:03.500 --> 00:07.000 align:start\nTwo\nlines\n";
    expect(parseCues(vtt)).toEqual([
      { start: 0.7, end: 3.5, text: "Welcome." },
      { start: 3.5, end: 7, text: "Two\nlines" },
    ]);
    const srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nHi\r\n\r\n";
    expect(parseCues(srt)).toEqual([{ start: 1, end: 2.5, text: "Hi" }]);
    expect(parseCues("garbage")).toEqual([]);
  });

  it("parses Podcasting 2.0 JSON transcripts, in time order, ignoring junk", () => {
    const json = JSON.stringify({
      version: "1.0.0",
      segments: [
        { speaker: "Ana", startTime: 4.5, endTime: 6, body: "Second." },
        { startTime: 0, endTime: 4.5, body: " First. " },
        { startTime: "x", body: "no time" },
        { startTime: 7, endTime: 8, body: "" },
      ],
    });
    expect(parseCues(json)).toEqual([
      { start: 0, end: 4.5, text: "First." },
      { start: 4.5, end: 6, text: "Ana: Second." },
    ]);
    expect(parseCues("{ not json")).toEqual([]);
  });

  it("parses HTML transcripts inertly, timed where they say so", () => {
    const html =
      "<html><body><p>Untimed intro</p><cite>Ana:</cite><time>0:05</time><p>Hello <b>there</b></p>" +
      "<time>1:02:03</time><p>Later</p><script>window.hacked = true</script><p><img src=x onerror=alert(1)></p></body></html>";
    expect(parseCues(html)).toEqual([
      { start: -1, end: -1, text: "Untimed intro" },
      { start: 5, end: 5, text: "Hello there" },
      { start: 3723, end: 3723, text: "Later" },
    ]);
    expect((window as unknown as { hacked?: boolean }).hacked).toBeUndefined();
  });
});
