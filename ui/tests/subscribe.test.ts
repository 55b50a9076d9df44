// The subscribe dialog over a stubbed API: a network share among the
// mirrors is shown, and allowed only when the member ticks it.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { SubscriptionPreview } from "../src/bindings/SubscriptionPreview";

const preview = (mirrors: string[], shares: string[]): SubscriptionPreview => ({
  source: "/tmp/acme.stowaway",
  library: "acme",
  title: "Acme Coaching",
  mirrors,
  new_mirrors: [],
  removed_mirrors: [],
  network_shares: shares.map((url) => ({ url, host: "fileserver" })),
  access_kept: false,
  private: false,
  already_subscribed: false,
  public_key: "RWQ…",
  feed: null,
});

const subscribe = vi.fn(async () => ({ library: "acme", token: null }));
let offered = preview([], []);
vi.mock("../src/api", () => ({
  api: { previewSubscription: vi.fn(async () => offered), subscribe },
  errorText: (e: unknown) => String(e),
}));
vi.mock("../src/state", () => ({ refresh: vi.fn(async () => undefined) }));

const { dialog } = await import("../src/page");
const { subscribeDialog } = await import("../src/dialogs/subscribe");
const $ = (css: string) => dialog.querySelector<HTMLInputElement>(css);

describe("the subscribe dialog", () => {
  beforeEach(() => {
    document.body.replaceChildren(dialog);
    subscribe.mockClear();
  });

  it("says nothing of shares when there are none", async () => {
    offered = preview(["https://cdn.example/acme/"], []);
    await subscribeDialog("acme.stowaway");
    expect($("#network-shares")).toBeNull();
    $("#subscribe-confirm")!.click();
    await vi.waitFor(() => expect(subscribe).toHaveBeenCalledWith("/tmp/acme.stowaway", null, false));
  });

  it("names a share, says what happens without it, and allows it only when ticked", async () => {
    const share = "file://fileserver/share/acme/";
    offered = preview(["https://cdn.example/acme/", share], [share]);
    await subscribeDialog("acme.stowaway");
    const warning = $("#network-shares")!;
    expect(warning.textContent).toContain(share);
    expect(warning.textContent).toContain("on the computer “fileserver”");
    expect(warning.textContent).toContain("offers that computer your sign-in");
    expect(warning.textContent).toContain("syncs from its other mirrors");
    expect($("#allow-shares")!.checked).toBe(false);
    $("#subscribe-confirm")!.click();
    await vi.waitFor(() => expect(subscribe).toHaveBeenCalledWith("/tmp/acme.stowaway", null, false));

    subscribe.mockClear();
    offered = preview([share], [share]);
    await subscribeDialog("acme.stowaway");
    expect($("#network-shares")!.textContent).toContain("only mirror");
    $("#allow-shares")!.click();
    $("#subscribe-confirm")!.click();
    await vi.waitFor(() => expect(subscribe).toHaveBeenCalledWith("/tmp/acme.stowaway", null, true));
  });
});
