// Chapters in the player: which one is playing, previous and next, and
// which are listed. Pure (tested); playerview.ts draws them.

/** A chapter as the API gives it (ChapterView), times in milliseconds. */
export interface Chapter {
  start_ms: number;
  end_ms: number | null;
  title: string;
  url: string | null;
  image: string | null;
  /** false: a marker for the player (its image, its link), not listed. */
  toc: boolean;
}

export class Chapters {
  readonly list: Chapter[];
  constructor(list: Chapter[]) {
    this.list = [...list].sort((a, b) => a.start_ms - b.start_ms);
  }

  /** The chapter playing at `seconds` (the last started; toc:false ones
   * too, for their image and link), or -1 before the first. */
  currentIndex(seconds: number): number {
    const ms = seconds * 1000;
    let at = -1;
    for (let i = 0; i < this.list.length; i++) {
      if (this.list[i].start_ms <= ms + 1) at = i;
      else break;
    }
    return at;
  }

  /** The listed chapter playing at `seconds` (for marking the list). */
  currentListed(seconds: number): number {
    const ms = seconds * 1000;
    let at = -1;
    for (let i = 0; i < this.list.length; i++) {
      if (this.list[i].start_ms > ms + 1) break;
      if (this.list[i].toc) at = i;
    }
    return at;
  }

  /** Where "next chapter" goes: the next listed chapter's start (s), or null at the last. */
  next(seconds: number): number | null {
    const ms = seconds * 1000;
    const n = this.list.find((c) => c.toc && c.start_ms > ms + 1);
    return n ? n.start_ms / 1000 : null;
  }

  /** Where "previous chapter" goes: the start of this chapter, or of the one
   * before if this one started less than 3 s ago (as a CD player does). */
  previous(seconds: number): number {
    const ms = seconds * 1000;
    const listed = this.list.filter((c) => c.toc && c.start_ms <= ms + 1);
    if (!listed.length) return 0;
    const cur = listed[listed.length - 1];
    if (ms - cur.start_ms >= 3000) return cur.start_ms / 1000;
    return listed.length >= 2 ? listed[listed.length - 2].start_ms / 1000 : 0;
  }

  /** When the listed chapter playing at `seconds` ends (s): its end, else
   * the next listed chapter's start, else null (it runs to the end of the
   * item). Unlisted markers (toc: false) are not chapter ends. */
  endOf(seconds: number): number | null {
    const listed = this.list.filter((c) => c.toc);
    const ms = seconds * 1000;
    let i = -1;
    while (i + 1 < listed.length && listed[i + 1].start_ms <= ms + 1) i++;
    if (i < 0) return listed.length ? listed[0].start_ms / 1000 : null;
    const c = listed[i];
    if (c.end_ms != null && c.end_ms > c.start_ms) return c.end_ms / 1000;
    const after = listed[i + 1];
    return after ? after.start_ms / 1000 : null;
  }
}
