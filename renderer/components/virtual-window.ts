/** Which rows of a fixed-row-height list are on screen (plus a margin), and where they go. */
export interface WindowInput {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  count: number;
  /** Extra rows rendered above and below, so fast scrolling shows no gaps. */
  overscan?: number;
}

export interface ListWindow {
  /** First and last row index to render (inclusive); last < first when there are no rows. */
  first: number;
  last: number;
  /** Height of the whole (virtual) list in pixels. */
  totalHeight: number;
}

export function computeWindow({ scrollTop, viewportHeight, rowHeight, count, overscan = 5 }: WindowInput): ListWindow {
  const totalHeight = Math.max(0, count) * rowHeight;
  if (count <= 0 || rowHeight <= 0) return { first: 0, last: -1, totalHeight };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, totalHeight - viewportHeight));
  const firstVisible = Math.floor(top / rowHeight);
  const lastVisible = Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) - 1;
  return {
    first: Math.max(0, firstVisible - overscan),
    last: Math.min(count - 1, Math.max(firstVisible, lastVisible) + overscan),
    totalHeight,
  };
}
