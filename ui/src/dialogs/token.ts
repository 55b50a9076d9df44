// The access-token dialog: a private library's token, kept in the system
// keyring and sent only to the library's mirrors.
import { api, errorText } from "../api";
import { h } from "../dom";
import { closeDialog, openDialog, toast } from "../page";
import { refresh } from "../state";

export function tokenDialog(library: string, title: string, mirrors: string[]) {
  const token = h("input", { type: "password", id: "token-input", autocomplete: "off", placeholder: "Access token" });
  const msg = h("p", { class: "msg", role: "alert" });
  openDialog(
    h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          try {
            const r = await api.setAccessToken(library, token.value, mirrors);
            closeDialog();
            toast(r.warning ?? "Token saved in your keyring. Syncing…", r.warning ? "warn" : "");
            await refresh();
          } catch (err) {
            msg.textContent = errorText(err);
          }
        },
      },
      h("h2", {}, `Access token for ${title}`),
      h("p", {}, "Paste the access token your coach gave you. Stowaway keeps it in your system keyring and sends it only to these mirrors of the library:"),
      h("ul", { class: "token-mirrors" }, mirrors.map((m) => h("li", {}, m))),
      h("label", { class: "field" }, "Access token", token),
      msg,
      h("div", { class: "buttons" }, h("button", { type: "button", class: "ghost", onclick: closeDialog }, "Cancel"), h("button", { type: "submit", id: "token-save" }, "Save")),
    ),
  );
  token.focus();
}
