// The arithmetic of a virtual list: which rows are on screen, which
// windows to fetch, which rows to forget. Pure and tested.

/** Rows [first, end) of a list whose top is `listTop` px below the top of
 * the viewport (negative once scrolled past), `viewport` px tall. */
export function visibleRange(listTop: number, viewport: number, rowHeight: number, total: number, overscan: number): [number, number] {
  if (total <= 0 || rowHeight <= 0) return [0, 0];
  const first = Math.floor(-listTop / rowHeight) - overscan;
  const end = Math.ceil((viewport - listTop) / rowHeight) + overscan;
  const a = Math.max(0, Math.min(total, first));
  const b = Math.max(a, Math.min(total, end));
  return [a, b];
}

/** Runs of missing rows in [first, end), each at most `max` long. */
export function missingRuns(first: number, end: number, have: (i: number) => boolean, max: number): [number, number][] {
  const runs: [number, number][] = [];
  let i = first;
  while (i < end) {
    if (have(i)) {
      i++;
      continue;
    }
    const start = i;
    while (i < end && !have(i) && i - start < max) i++;
    runs.push([start, i]);
  }
  return runs;
}

/** Indices of cached rows farther than `keep` rows from [first, end). */
export function farRows(cached: Iterable<number>, first: number, end: number, keep: number): number[] {
  const out: number[] = [];
  for (const i of cached) if (i < first - keep || i >= end + keep) out.push(i);
  return out;
}
