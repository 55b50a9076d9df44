// When the app may restart into its update: never while something plays
// or a sync or its downloads run.
import { describe, expect, it } from "vitest";
import { updateBlocked } from "../src/update";

describe("the update's restart", () => {
  it("waits for playback and for downloads", () => {
    expect(updateBlocked(false, false)).toBeNull();
    expect(updateBlocked(true, false)).toBe("after playback");
    expect(updateBlocked(false, true)).toBe("after the downloads");
    expect(updateBlocked(true, true)).toBe("after playback");
  });
});
