// The page acts on a failed command's stable code (docs/API.md): a library
// that wants its token opens the token dialog, offline shows the banner,
// busy and an unreadable index say what to do, anything else says the message.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { LibraryPage } from "../src/bindings/LibraryPage";

vi.mock("../src/api", async (real) => {
  const actual = await real<typeof import("../src/api")>();
  return { ...actual, api: {} };
});

const { failed } = await import("../src/chrome");
const { banner, dialog, toasts } = await import("../src/page");
const { state } = await import("../src/state");

function page(): LibraryPage {
  return {
    libraries: [
      { id: "acme", title: "Acme Coaching", private: true, sequence: 1, expires_at: null, expired: false, last_sync_at: null, last_sync_ok: null, last_sync_mirror: null, last_sync_error: null, mirrors: ["https://a.example/"], feed_url: null, collections: 1, items: 2, blobs_wanted: 2, blobs_stored: 0, bytes_wanted: 2000, bytes_stored: 0, description: null, artwork: null },
    ],
    collections: [],
    more: false,
    continue_listening: [],
    sync: { running: false, last_ok_at: null, offline: false, last_error: null, last_mirror: null, needs_token: [], paused: false },
  };
}

const err = (code: string, message: string, library: string | null = null) => ({ code, detail: code, message, library });

beforeEach(() => {
  state.snap = page();
  toasts.replaceChildren();
  dialog.replaceChildren();
  banner.replaceChildren();
});

describe("a failed command, by its code", () => {
  it("needs_token asks for the library's token", () => {
    failed(err("needs_token", "the mirrors want a token", "acme"));
    expect(dialog.querySelector("#token-input")).not.toBeNull();
    expect(dialog.textContent).toContain("Acme Coaching");
    expect(toasts.children.length).toBe(0);
  });

  it("offline shows the offline banner", () => {
    failed(err("offline", "no mirror answered"));
    expect(state.snap?.sync.offline).toBe(true);
    expect(banner.textContent).toMatch(/offline/i);
  });

  it("busy and index_corrupt say what to do; anything else says the message", () => {
    failed(err("busy", "locked"));
    expect(toasts.lastElementChild?.textContent).toContain("try again when it ends");
    failed(err("index_corrupt", "not a database"));
    expect(toasts.lastElementChild?.textContent).toContain("stowaway fsck --repair");
    failed(err("untrusted", "the signature does not verify"));
    expect(toasts.lastElementChild?.textContent).toBe("the signature does not verify");
  });
});
