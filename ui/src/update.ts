// The app's own update: once its installer is downloaded and checked, a
// notice in the top bar says so; the member restarts now or later. Never in
// the middle of playback or a download: the button waits for both.
import { api, errorText } from "./api";
import type { UpdateView } from "./bindings/UpdateView";
import { h } from "./dom";
import { toast } from "./page";
import { isPlaying } from "./playerview";
import { state } from "./state";

export const updateNotice = h("div", { class: "update", id: "update", role: "status", hidden: true });

let ready: UpdateView | null = null;
/** "Later": hidden until another version is ready (or the app starts again). */
let later: string | null = null;

/** Why the update cannot be installed now, if it cannot. */
export function updateBlocked(playing: boolean, syncing: boolean): string | null {
  if (playing) return "after playback";
  if (syncing) return "after the downloads";
  return null;
}

export function renderUpdate() {
  const u = ready;
  if (!u || later === u.version) {
    updateNotice.hidden = true;
    delete updateNotice.dataset.shown;
    return;
  }
  const blocked = updateBlocked(isPlaying(), state.snap?.sync.running ?? false);
  updateNotice.hidden = false;
  // Drawn again only when what it says changes (it is looked at every
  // second: focus and hover on its buttons stay).
  const shown = `${u.version}|${blocked ?? ""}`;
  if (updateNotice.dataset.shown === shown) return;
  updateNotice.dataset.shown = shown;
  updateNotice.replaceChildren(
    h("span", { class: "update-text" }, `Stowaway ${u.version} is ready: restart to update`),
    h(
      "button",
      {
        type: "button",
        id: "update-restart",
        disabled: blocked !== null,
        title: blocked ? `Restarts ${blocked}` : null,
        onclick: () => void restart(),
      },
      blocked ? `Restart ${blocked}` : "Restart to update",
    ),
    h(
      "button",
      {
        type: "button",
        id: "update-later",
        class: "ghost",
        onclick: () => {
          later = u.version;
          renderUpdate();
        },
      },
      "Later",
    ),
  );
}

async function restart() {
  try {
    await api.installUpdate(isPlaying());
  } catch (e) {
    toast(errorText(e), "error");
    delete updateNotice.dataset.shown;
    renderUpdate();
  }
}

/** Shows an update already waiting, and each one that gets ready. */
export function watchUpdates() {
  void api.updateStatus().then((u) => {
    ready = u;
    renderUpdate();
  });
  void api.onUpdateReady((u) => {
    ready = u;
    renderUpdate();
  });
  // Playback and syncs start and end: the button follows.
  setInterval(renderUpdate, 1000);
}
