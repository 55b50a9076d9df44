// The unsubscribe question: what leaving a library removes from this laptop.
import { api, errorText } from "../api";
import { h } from "../dom";
import { bytes } from "../format";
import { closeDialog, openDialog, toast } from "../page";
import { refresh } from "../state";

/** Asks before removing a library and what this laptop keeps of it. */
export function unsubscribeDialog(library: string, title: string, items: number, stored: number) {
  const msg = h("p", { class: "msg", role: "alert" });
  const confirm = h("button", { type: "submit", id: "unsubscribe-confirm", class: "danger" }, "Unsubscribe");
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          confirm.setAttribute("disabled", "");
          try {
            const r = await api.unsubscribe(library);
            closeDialog();
            toast(`Unsubscribed from ${title}: ${bytes(Number(r.bytes))} freed.`);
            // The redraw updates the settings' list of libraries (keyed by library).
            await refresh();
          } catch (err) {
            msg.textContent = errorText(err);
            confirm.removeAttribute("disabled");
          }
        },
      },
      h("h2", {}, `Unsubscribe from ${title}?`),
      h("p", {}, `Its ${items} item${items === 1 ? "" : "s"}, ${bytes(stored)} of downloads, your playback positions and its access token are removed from this laptop. Files another library also uses stay.`),
      msg,
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), confirm),
    ),
  );
}
