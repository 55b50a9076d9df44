// Subscribing: the form where a link, feed or file is pasted, and the
// dialog that shows what it offers and subscribes only when the member
// says so.
import { api, errorText } from "../api";
import type { FeedOffer } from "../bindings/FeedOffer";
import type { NetworkShare } from "../bindings/NetworkShare";
import { h } from "../dom";
import { closeDialog, openDialog, toast } from "../page";
import { refresh } from "../state";

/** A source to paste; submitting it opens the subscribe dialog. */
export function subscribeForm() {
  const input = h("input", { type: "text", id: "subscribe-source", placeholder: "stowaway:// link, podcast feed URL, or path or URL of a .stowaway file" });
  const msg = h("p", { class: "msg", role: "alert" });
  return h(
    "form",
    {
      class: "subscribe",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        msg.textContent = "";
        try {
          await subscribeDialog(input.value);
        } catch (err) {
          msg.textContent = errorText(err);
        }
      },
    },
    input,
    h("button", { type: "submit" }, "Subscribe"),
    msg,
  );
}

/** Shows what a link or file offers; subscribes only when the member says so. */
export async function subscribeDialog(source: string) {
  const p = await api.previewSubscription(source);
  const token = h("input", { type: "password", id: "token-input", autocomplete: "off", placeholder: "Access token" });
  const msg = h("p", { class: "msg", role: "alert" });
  const confirm = h("button", { type: "submit", id: "subscribe-confirm" }, p.already_subscribed ? "Update" : "Subscribe");
  const allowShares = h("input", { type: "checkbox", id: "allow-shares" });
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          confirm.setAttribute("disabled", "");
          try {
            const r = await api.subscribe(p.source, p.private ? token.value : null, allowShares.checked);
            closeDialog();
            toast(r.token?.warning ?? `Subscribed to ${p.title ?? p.library}. Syncing…`, r.token?.warning ? "warn" : "");
            await refresh();
          } catch (err) {
            msg.textContent = errorText(err);
            confirm.removeAttribute("disabled");
          }
        },
      },
      h("h2", {}, p.feed ? (p.already_subscribed ? "Refresh this podcast?" : "Follow this podcast?") : p.already_subscribed ? "Update subscription" : "Subscribe to this library?"),
      h("p", { class: "lib-title" }, p.title ?? p.library),
      p.feed ? feedFacts(p.feed, p.mirrors) : h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Library"),
        h("dd", {}, p.library),
        h("dt", {}, "Mirrors"),
        h(
          "dd",
          {},
          ...p.mirrors.map((m) => h("div", { class: p.new_mirrors.includes(m) ? "new-mirror" : "" }, m, p.new_mirrors.includes(m) ? " (new)" : "")),
          ...p.removed_mirrors.map((m) => h("div", { class: "removed-mirror" }, h("s", {}, m), " (dropped)")),
        ),
        h("dt", {}, "Signed with"),
        h("dd", { class: "key" }, p.public_key),
      ),
      p.access_kept
        ? h("p", { class: "msg warn", id: "access-kept" }, "This file says the library is public. It stays private: an update can never make a private library public (unsubscribe first if that is really what your coach wants).")
        : null,
      p.private && p.already_subscribed && (p.new_mirrors.length || p.removed_mirrors.length)
        ? h("p", { class: "msg warn", id: "token-dropped" }, "This changes the mirrors of a private library: your access token will be forgotten, and goes to no new mirror until you enter it again. Only do that if these mirrors come from your coach.")
        : null,
      p.network_shares.length ? networkShares(p.network_shares, p.mirrors.length, allowShares) : null,
      p.private
        ? h("label", { class: "field" }, "This library is private. Your access token (kept in your system keyring):", token)
        : null,
      msg,
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), confirm),
    ),
  );
}

/**
 * Network shares among the mirrors: on Windows, connecting to one offers
 * that computer the member's sign-in, so one is used only if they tick it.
 * Each names the computer it connects to, as the app reads the address.
 */
function networkShares(shares: NetworkShare[], mirrors: number, allow: HTMLInputElement) {
  const one = shares.length === 1;
  return h(
    "div",
    { class: "msg warn", id: "network-shares" },
    h("p", {}, one ? "This mirror is a network share:" : "These mirrors are network shares:"),
    ...shares.map((s) => h("div", { class: "key" }, s.url, h("span", { class: "share-host" }, ` on the computer “${s.host}”`))),
    h(
      "p",
      {},
      "On Windows, connecting to a network share offers that computer your sign-in. ",
      shares.length === mirrors ? "It is this library's only mirror: without it, nothing can be synced." : "Without it, the library syncs from its other mirrors.",
    ),
    h("label", { class: "check" }, allow, one ? "Use it: I trust that computer" : "Use them: I trust those computers"),
  );
}

/** What a podcast feed offers. Feeds are not signed: say what protects the member instead. */
function feedFacts(f: FeedOffer, hosts: string[]) {
  return h(
    "div",
    {},
    f.description ? h("p", { class: "feed-description" }, f.description) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Feed"),
      h("dd", { class: "key" }, f.url),
      h("dt", {}, "Episodes"),
      h("dd", { id: "feed-episodes" }, String(f.episodes), ...f.skipped.map((line) => h("div", { class: "skipped" }, line))),
      h("dt", {}, "Files from"),
      h("dd", {}, ...hosts.slice(0, 6).map((m) => h("div", {}, m)), hosts.length > 6 ? h("div", {}, `and ${hosts.length - 6} more`) : null),
    ),
    h("p", { class: "note" }, "A podcast feed is not signed. Each file is checked against the sizes and digests the feed gives, and its fingerprint is kept after the first download, so a later copy from another server must match it."),
  );
}
