import { describe, expect, it } from "vitest";
import { ago, bytes, date, duration } from "../src/format";

describe("format", () => {
  it("durations", () => {
    expect(duration(0)).toBe("0:00");
    expect(duration(75_000)).toBe("1:15");
    expect(duration(3_725_000)).toBe("1:02:05");
    expect(duration(null)).toBe("");
    expect(duration(-5)).toBe("");
  });
  it("bytes", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(81_200)).toBe("81.2 kB");
    expect(bytes(533_800_000)).toBe("534 MB");
  });
  it("relative times", () => {
    const now = 1_800_000_000_000;
    const s = now / 1000;
    expect(ago(null, now)).toBe("never");
    expect(ago(s - 10, now)).toBe("just now");
    expect(ago(s - 300, now)).toBe("5 min ago");
    expect(ago(s - 7200, now)).toBe("2 h ago");
    expect(ago(s - 86400 * 1.5, now)).toBe("yesterday");
    expect(ago(s - 86400 * 3, now)).toBe("3 days ago");
  });
  it("dates in UTC", () => {
    expect(date(Date.UTC(2026, 10, 3) / 1000)).toBe("3 Nov 2026");
    expect(date(null)).toBe("");
  });
});
