// The library view's logic: ordering, progress and filters. Pure and tested.
import type { CollectionView } from "./bindings/CollectionView";
import type { ItemView } from "./bindings/ItemView";

export type Filter = "all" | "downloaded" | "unplayed" | "in_progress";

export const FILTERS: { id: Filter; label: string }[] = [
  { id: "all", label: "All" },
  { id: "downloaded", label: "Downloaded" },
  { id: "unplayed", label: "Unplayed" },
  { id: "in_progress", label: "In progress" },
];

/** An item has been started but not finished. */
export function inProgress(i: ItemView): boolean {
  return !i.played && Number(i.position_ms) > 0;
}

export function matches(i: ItemView, f: Filter): boolean {
  switch (f) {
    case "all":
      return true;
    case "downloaded":
      return i.downloaded;
    case "unplayed":
      return !i.played;
    case "in_progress":
      return inProgress(i);
  }
}

/** Courses keep the publisher's lesson order; shows list newest first. */
export function ordered(c: CollectionView): ItemView[] {
  if (c.kind !== "show") return c.items;
  return [...c.items].sort((a, b) => Number(b.published_at ?? 0) - Number(a.published_at ?? 0));
}

/** "4 of 12 done" for a course; "3 episodes, 1 new" style for a show. */
export function progressLabel(c: CollectionView): string {
  const total = c.items.length;
  if (c.kind === "course") {
    const done = c.items.filter((i) => i.played).length;
    return `${done} of ${total} done`;
  }
  const unplayed = c.items.filter((i) => !i.played).length;
  return `${total} episode${total === 1 ? "" : "s"}, ${unplayed} unplayed`;
}

/** The next item to play after `id` in a collection's order (lessons in sequence). */
export function nextAfter(c: CollectionView, id: string): ItemView | undefined {
  const items = c.kind === "course" ? c.items : ordered(c);
  const at = items.findIndex((i) => i.id === id);
  return at >= 0 ? items[at + 1] : undefined;
}

export type DownloadState = "downloaded" | "partial" | "queued" | "not_downloaded";

/** Downloaded; partly there; queued (the next sync fetches it); or not kept offline. */
export function downloadState(i: ItemView): DownloadState {
  if (i.downloaded) return "downloaded";
  if (!i.wanted) return "not_downloaded"; // even if a file it shares is stored
  return i.assets_stored > 0 ? "partial" : "queued";
}

/** Items of a collection not yet offline that a "Download all" would fetch. */
export function missing(c: CollectionView): ItemView[] {
  return c.items.filter((i) => !i.downloaded);
}
