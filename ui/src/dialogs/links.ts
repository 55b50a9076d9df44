// Links and files the desktop handed over (stowaway:// links, .stowaway
// files, feed addresses), one dialog at a time: the rest wait here and the
// next opens when the dialog closes. A web link is fetched only once the
// member agrees.
import { api, errorText } from "../api";
import { h } from "../dom";
import { closeDialog, dialog, openDialog, toast } from "../page";
import { subscribeDialog } from "./subscribe";

const linkQueue: string[] = [];

/** Takes what the desktop handed over and opens the first waiting one. */
export async function takeLinks() {
  linkQueue.push(...(await api.takeLinks()));
  while (!dialog.open && linkQueue.length) {
    const source = linkQueue.shift()!;
    if (/^https?:\/\//i.test(source)) {
      // A link from elsewhere: nothing is fetched until the member agrees.
      askToFetch(source);
      return;
    }
    try {
      await subscribeDialog(source);
    } catch (err) {
      toast(`Cannot open ${source}: ${errorText(err)}`, "error");
    }
  }
}

function askToFetch(url: string) {
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    // shown as it is
  }
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: (e: Event) => {
          e.preventDefault();
          // The confirmation replaces this dialog's content (it stays open).
          subscribeDialog(url).catch((err) => {
            closeDialog();
            toast(`Cannot open ${url}: ${errorText(err)}`, "error");
          });
        },
      },
      h("h2", {}, "Open a subscription link?"),
      h("p", {}, `A link asks Stowaway to fetch a library subscription from ${host}. Nothing is subscribed until you confirm what it offers.`),
      h("p", { class: "facts key" }, url),
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), h("button", { type: "submit", id: "link-continue" }, "Fetch")),
    ),
  );
}
