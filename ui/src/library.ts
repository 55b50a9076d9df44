// The library view's logic: filters, progress from counts, which
// collections start open. Pure and tested.
import type { CollectionView } from "./bindings/CollectionView";
import type { Filter } from "./bindings/Filter";

export type { Filter };

export const FILTERS: { id: Filter; label: string }[] = [
  { id: "all", label: "All" },
  { id: "downloaded", label: "Downloaded" },
  { id: "unplayed", label: "Unplayed" },
  { id: "in_progress", label: "In progress" },
];

/** "4 of 12 done" for a course; "3 episodes, 1 unplayed" for a show. */
export function progressLabel(c: CollectionView): string {
  const total = Number(c.items);
  const played = Number(c.played);
  if (c.kind === "course") return `${played} of ${total} done`;
  return `${total} episode${total === 1 ? "" : "s"}, ${total - played} unplayed`;
}

/** Libraries up to this many items open every collection; a bigger one
 * starts with them closed (a click opens one). */
export const OPEN_ALL_UP_TO = 500;

export function startsOpen(libraryItems: number): boolean {
  return libraryItems <= OPEN_ALL_UP_TO;
}
